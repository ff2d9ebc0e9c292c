"""A live site with evidence on disk, one headless Chromium per module, signed-in pages."""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.conftest import SITE, LiveServer, make_runtime, make_site, start_live

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
ROOT = Path(__file__).resolve().parents[2]
STATIC = ROOT / "src" / "citysentinel" / "web" / "static"
AXE = Path(__file__).parent / "vendor" / "axe.min.js"
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
# A 1x1 PNG is enough to prove the evidence image is fetched with the key and shown.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360f8cfc0f01f0005000201e2a15a7c0000000049454e44ae426082"
)

if not CHROMIUM.exists():
    pytest.skip(
        "Debian's Chromium is not installed at /usr/bin/chromium (apt-get install chromium)",
        allow_module_level=True,
    )
if importlib.util.find_spec("playwright") is None:
    pytest.skip("the playwright package is not installed (dev extra)", allow_module_level=True)
if not (STATIC / "vendor" / "leaflet" / "leaflet.js").exists():
    pytest.skip(
        "the dashboard's npm assets are missing: run scripts/web-assets", allow_module_level=True
    )

WEB_SITE: dict[str, Any] = {
    "zones": [
        {
            "name": "riverside-park",
            "polygon": [[-0.1633, 51.4822], [-0.1512, 51.4822], [-0.1512, 51.4768]],
        }
    ],
    "sensors": [
        {
            "id": "loop-1",
            "kind": "speed",
            "road": "Bridge Road",
            "unit": "mph",
            "location": {"coordinates": [-0.1679, 51.4796]},
        },
    ],
    "rules": [
        *SITE["rules"],
        {
            "id": "reports",
            "match": {"kind": "manual.report"},
            "incident": {
                "category": "security",
                "sub_category": "suspiciousAction",
                "severity": "medium",
            },
        },
        {
            "id": "road",
            "match": {"kind": "traffic.incident"},
            "incident": {
                "category": "traffic",
                "sub_category": "carAccident",
                "severity": "critical",
            },
        },
    ],
}


@pytest.fixture(scope="module")
def site_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    tmp = tmp_path_factory.mktemp("web")
    site = make_site(**WEB_SITE)
    evidence = tmp / site.storage.evidence_dir / "snapshots"
    evidence.mkdir(parents=True)
    (evidence / "fall.png").write_bytes(PNG)
    server = start_live(make_runtime(f"sqlite:///{tmp / 'cs.sqlite'}", tmp, site))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


class Pages:
    """Opens browser tabs, each in a fresh context (own sessionStorage), and closes them all.

    Closing matters: an open live stream would keep the server from stopping.
    """

    def __init__(self, browser: Browser) -> None:
        self.browser = browser
        self.contexts: list[BrowserContext] = []

    def new(self, *, width: int = 1366, height: int = 900) -> Page:
        context = self.browser.new_context(
            viewport={"width": width, "height": height}, locale="en-GB"
        )
        self.contexts.append(context)
        return context.new_page()

    def close(self) -> None:
        for context in self.contexts:
            context.close()


@pytest.fixture
def pages(browser: Browser) -> Iterator[Pages]:
    opened = Pages(browser)
    try:
        yield opened
    finally:
        opened.close()


def sign_in(page: Page, server: LiveServer, key: str | None = None) -> None:
    page.goto(f"{server.url}/")
    page.check("#signin-mode-key")
    page.fill("#api-key", key or server.admin_key)
    page.click("form button[type=submit]")
    page.wait_for_selector("#incident-body[data-state=ready]")


def post_event(server: LiveServer, **event: Any) -> str:
    with server.client() as c:
        r = c.post(
            "/api/v1/events",
            content=json.dumps(event),
            headers={"Content-Type": "application/json"},
        )
        r.raise_for_status()
        ids: list[str] = r.json()["ids"]
    return ids[0]


def incident_for(server: LiveServer, source: str) -> dict[str, Any]:
    """The newest incident of `source`, once the engine has made it."""
    server.drain()
    with server.client() as c:
        items: list[dict[str, Any]] = c.get("/api/v1/incidents", params={"source": source}).json()[
            "items"
        ]
    assert items, f"no incident for {source}"
    return items[0]


def screenshot(page: Page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def axe_violations(page: Page) -> list[dict[str, Any]]:
    """Serious and critical axe-core violations on the current page."""
    if not AXE.exists():
        pytest.skip("axe-core is missing: run scripts/web-assets")
    page.add_script_tag(path=str(AXE))
    found: list[dict[str, Any]] = page.evaluate(
        """async () => (await axe.run(document, {resultTypes: ['violations']})).violations
            .map(v => ({id: v.id, impact: v.impact, help: v.help,
                        nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))}))"""
    )
    return [v for v in found if v["impact"] in ("serious", "critical")]
