"""The dashboard in a real browser: sign in, live incidents, actions, detail, languages, a11y."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.conftest import LiveServer
from tests.web.conftest import (
    Pages,
    axe_violations,
    incident_for,
    post_event,
    screenshot,
    sign_in,
)


def row(incident_id: str) -> str:
    return f'tr[data-incident-id="{incident_id}"]'


def api_get(server: LiveServer, path: str) -> Any:
    with server.client() as c:
        r = c.get(path)
        r.raise_for_status()
        return r.json()


def test_a_wrong_key_is_refused_with_a_message(pages: Pages, site_server: LiveServer) -> None:
    page = pages.new()
    page.goto(f"{site_server.url}/")
    page.check("#signin-mode-key")
    page.fill("#api-key", "not-a-key")
    page.click("form button[type=submit]")
    page.wait_for_selector("#signin-status.error-box")
    assert "unknown or has been revoked" in page.inner_text("#signin-status")
    screenshot(page, "signin")
    assert axe_violations(page) == []


def test_an_incident_appears_live_and_is_acknowledged_in_place(
    pages: Pages, site_server: LiveServer
) -> None:
    page = pages.new()
    sign_in(page, site_server)
    page.evaluate("window.__sameDocument = true")
    post_event(site_server, kind="video.fall", source="cam-1", labels=["person"], confidence=0.9)
    inc = incident_for(site_server, "cam-1")
    page.wait_for_selector(row(inc["id"]), timeout=5000)
    assert page.evaluate("window.__sameDocument") is True  # no reload happened
    page.click(f'{row(inc["id"])} button[data-action="acknowledge"]')
    page.wait_for_selector(f'{row(inc["id"])}[data-status="acknowledged"]')
    assert api_get(site_server, f"/api/v1/incidents/{inc['id']}")["status"] == "acknowledged"
    screenshot(page, "incidents")
    assert axe_violations(page) == []


def test_assign_and_note_go_through_the_dialog(pages: Pages, site_server: LiveServer) -> None:
    post_event(site_server, kind="manual.report", source="hotline", labels=["noise"])
    inc = incident_for(site_server, "hotline")
    page = pages.new()
    sign_in(page, site_server)
    page.click(f'{row(inc["id"])} button[data-action="assign"]')
    page.fill('#action-dialog input[name="assignee"]', "warden-7")
    page.click('#action-dialog button[type="submit"]')
    page.wait_for_selector(f"{row(inc['id'])} >> text=warden-7")
    page.click(f'{row(inc["id"])} button[data-action="note"]')
    page.fill('#action-dialog textarea[name="text"]', "warden on the way")
    screenshot(page, "action-dialog")
    page.click('#action-dialog button[type="submit"]')
    page.wait_for_selector("#toasts >> text=Note added")
    current = api_get(site_server, f"/api/v1/incidents/{inc['id']}")
    assert current["assignee"] == "warden-7"
    timeline = api_get(site_server, f"/api/v1/incidents/{inc['id']}/timeline")
    assert [e["action"] for e in timeline][-2:] == ["assigned", "note"]


def test_a_resolve_after_someone_else_resolved_says_so_and_refreshes(
    pages: Pages, site_server: LiveServer
) -> None:
    post_event(site_server, kind="video.fall", source="cam-2", labels=["person"])
    inc = incident_for(site_server, "cam-2")
    page = pages.new()
    # Hold back the live stream so this page keeps showing the incident as open.
    page.route("**/api/v1/stream/incidents**", lambda route: route.abort())
    sign_in(page, site_server)
    page.wait_for_selector("#banner:not([hidden])")
    assert "Reconnecting" in page.inner_text("#banner")
    with site_server.client() as c:
        r = c.post(f"/api/v1/incidents/{inc['id']}/resolve", json={"resolution": "done"})
        assert r.status_code == 200, r.text
    page.click(f'{row(inc["id"])} button[data-action="resolve"]')
    page.fill('#action-dialog textarea[name="resolution"]', "sent the warden")
    page.click('#action-dialog button[type="submit"]')
    page.wait_for_selector("#alerts .toast-error")
    assert "Someone else changed this incident" in page.inner_text("#alerts")
    page.wait_for_selector(row(inc["id"]), state="detached")  # refreshed: now resolved
    # The stream comes back and catches up with what happened meanwhile.
    post_event(
        site_server,
        kind="video.fall",
        source="cam-1",
        labels=["person"],
        confidence=0.8,
        location={"zone": "riverside-park"},
    )
    caught = incident_for(site_server, "cam-1")
    page.unroute("**/api/v1/stream/incidents**")
    page.wait_for_selector(f"{row(caught['id'])}", timeout=10_000)
    page.wait_for_selector("#live-state[data-state=live]", timeout=10_000)


def test_detail_shows_evidence_timeline_map_and_cap(pages: Pages, site_server: LiveServer) -> None:
    post_event(
        site_server,
        kind="traffic.incident",
        source="loop-1",
        labels=["stopped"],
        location={"zone": "riverside-park"},
        evidence=[
            {"type": "snapshot", "path": "snapshots/fall.png", "caption": "camera view"},
            {"type": "text", "text": "Car stopped on the bridge, caller [PHONE]"},
            {
                "type": "series",
                "series": {
                    "sensor": "loop-1",
                    "start": "2026-01-01T08:00:00Z",
                    "step_s": 300,
                    "values": [30, 28, 9, 4, None, 3],
                    "expected": [30, 30, 29, 29, 30, 30],
                },
            },
        ],
    )
    inc = incident_for(site_server, "loop-1")
    page = pages.new()
    sign_in(page, site_server)
    page.click(f"{row(inc['id'])} a")
    page.wait_for_selector("#timeline li")
    page.wait_for_function(
        "document.querySelector('#evidence img')?.naturalWidth > 0", timeout=5000
    )
    assert "[PHONE]" in page.inner_text("#evidence blockquote")
    page.wait_for_selector("#evidence .uplot canvas")
    page.wait_for_selector("#incident-map path.leaflet-interactive")
    with page.expect_download() as info:
        page.click("#cap-download")
    assert info.value.suggested_filename == f"incident-{inc['id']}.cap.xml"
    screenshot(page, "incident-detail")
    assert axe_violations(page) == []


def test_chinese_labels_and_the_choice_persists(pages: Pages, site_server: LiveServer) -> None:
    page = pages.new()
    sign_in(page, site_server)
    page.select_option("#lang-select", "zh-CN")
    page.wait_for_selector('nav a[data-route="incidents"] >> text=事件')
    assert page.inner_text("h1") == "实时事件"
    assert page.evaluate("document.documentElement.lang") == "zh-CN"
    screenshot(page, "incidents-zh")
    assert axe_violations(page) == []
    page.reload()
    page.wait_for_selector("#incident-body[data-state=ready]")
    assert page.inner_text("h1") == "实时事件"
    page.select_option("#lang-select", "en")
    page.wait_for_selector("h1 >> text=Live incidents")


def test_a_viewer_sees_everything_but_cannot_act(pages: Pages, site_server: LiveServer) -> None:
    post_event(site_server, kind="manual.report", source="hotline", labels=["viewer"])
    page = pages.new()
    sign_in(page, site_server, site_server.key("viewer"))
    assert "signed in as a viewer" in page.inner_text("#viewer-note")
    buttons = page.locator("#incident-table button[data-action]")
    assert buttons.count() > 0
    for i in range(buttons.count()):
        assert buttons.nth(i).is_disabled()
        assert "operator" in (buttons.nth(i).get_attribute("title") or "")
    screenshot(page, "incidents-viewer")


def test_a_revoked_key_returns_to_sign_in(pages: Pages, site_server: LiveServer) -> None:
    with site_server.client() as c:
        created = c.post("/api/v1/keys", json={"name": "short-lived", "role": "operator"}).json()
    page = pages.new()
    sign_in(page, site_server, created["key"])
    with site_server.client() as c:
        assert c.delete(f"/api/v1/keys/{created['info']['id']}").status_code == 204
    page.click('nav a[data-route="cameras"]')
    page.wait_for_selector("#api-key", timeout=10_000)
    assert "no longer valid" in page.inner_text("#signin-status")


def test_an_api_error_shows_a_message_not_a_blank_page(
    pages: Pages, site_server: LiveServer
) -> None:
    page = pages.new()
    sign_in(page, site_server)
    page.route(
        "**/api/v1/incidents?**",
        lambda route: route.fulfill(status=500, json={"detail": "database is down"}),
    )
    page.select_option("#f-time", "24h")
    page.wait_for_selector("#incident-body .error-box")
    text = page.inner_text("#incident-body")
    assert "database is down" in text and "Retry" in text


@pytest.mark.parametrize(
    ("name", "ready"),
    [
        ("cameras", "#camera-grid[data-state=ready]"),
        ("text", "#text-messages[data-state=ready]"),
        ("traffic", "#traffic-events[data-state=ready]"),
        ("map", "#site-map[data-state=ready]"),
    ],
)
def test_every_page_renders_without_errors_or_serious_a11y_violations(
    pages: Pages, site_server: LiveServer, name: str, ready: str
) -> None:
    page = pages.new()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    sign_in(page, site_server)
    page.goto(f"{site_server.url}/ui/#/{name}")
    page.wait_for_selector(ready, timeout=10_000)
    time.sleep(0.3)  # let charts and map tiles settle for the screenshot
    screenshot(page, name)
    assert axe_violations(page) == []
    assert errors == []


def test_a_wall_screen_layout(pages: Pages, site_server: LiveServer) -> None:
    page = pages.new(width=2560, height=1440)
    sign_in(page, site_server)
    size = page.evaluate("getComputedStyle(document.documentElement).fontSize")
    assert size == "24px"
    screenshot(page, "incidents-wall")
