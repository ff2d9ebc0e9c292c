"""The Text page on a live site with http text feeds: masked messages, filters, paging, Chinese."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest

from tests.conftest import SITE, LiveServer, make_runtime, make_site, start_live
from tests.text.test_analyzer import make_classifier
from tests.web.conftest import SCREENSHOTS, Pages, axe_violations, screenshot, sign_in

if TYPE_CHECKING:
    from playwright.sync_api import Page

ROWS = "#text-table tbody tr"


@pytest.fixture(scope="module")
def text_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    tmp = tmp_path_factory.mktemp("web-text")
    model = tmp / "models" / "hazard"
    make_classifier().save(model)
    site = make_site(
        text_feeds=[
            {"id": "tips", "type": "http", "models": [str(model)], "channel": "hotline"},
            {"id": "bulk", "type": "http", "models": [str(model)]},
        ],
        rules=[
            *SITE["rules"],
            {
                "id": "fire-report",
                "match": {"kind": "text.report", "labels": ["fire"]},
                "incident": {
                    "category": "naturalDisaster",
                    "sub_category": "fire",
                    "severity": "high",
                },
            },
        ],
    )
    server = start_live(make_runtime(f"sqlite:///{tmp / 'cs.sqlite'}", tmp, site))
    try:
        yield server
    finally:
        server.stop()


def post(server: LiveServer, feed: str, messages: list[dict[str, Any]]) -> None:
    with server.client(server.key("operator")) as c:
        r = c.post(f"/api/v1/text/{feed}/messages", json={"messages": messages})
        assert r.status_code == 202, r.text
        assert r.json()["accepted"] == len(messages)
    server.drain()


def rows(page: Page, n: int, timeout: float = 5_000) -> None:
    page.wait_for_function(
        "n => document.querySelectorAll('#text-table tbody tr').length === n",
        arg=n,
        timeout=timeout,
    )


def test_messages_filters_paging_live_refresh_and_chinese(
    pages: Pages, text_server: LiveServer
) -> None:
    now = datetime.now(UTC)

    def ago(minutes: int) -> str:
        return (now - timedelta(minutes=minutes)).isoformat()

    flooded = [
        {"text": f"the street is flooded, water rising {i}", "time": ago(240 + i)}
        for i in range(50)
    ]
    post(text_server, "bulk", flooded)
    post(text_server, "tips", [
        {"text": "Big fire and smoke at the market, call 138-1234-5678", "time": ago(90),
         "location": "Main St"},
        {"text": "the street is flooded near the bridge", "time": ago(30)},
        {"text": "上海永嘉路老式洋房突发火灾，浓烟很大", "time": ago(10)},
    ])  # fmt: skip

    page = pages.new()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    sign_in(page, text_server)
    page.goto(f"{text_server.url}/ui/#/text")
    page.wait_for_selector("#text-messages[data-state=ready]")
    rows(page, 50)  # one page, newest first
    assert "Covers the 50 messages" in page.inner_text("#text-chart-covers")
    page.click("#text-more")
    rows(page, 53)
    assert page.is_hidden("#text-more")
    assert "Covers the 53 messages" in page.inner_text("#text-chart-covers")
    # Opinion over time: volume per category in the last 24 h (all 53 messages), surges listed.
    page.wait_for_selector("#text-opinion[data-state=ready] #opinion-volume")
    assert "53 messages," in page.inner_text("#opinion-volume figcaption")
    assert "No message surges" in page.inner_text("#opinion-surges")

    page.select_option("#tf-feed", "tips")
    rows(page, 3)
    table = page.inner_text("#text-table")
    assert "call [PHONE]" in table and "138-1234-5678" not in page.content()
    assert "channel hotline" in table and "about: Main St" in table
    fire = page.locator(ROWS).nth(2)
    assert "English" in fire.inner_text() and "fire 0." in fire.locator(".msg-labels").inner_text()
    assert "Chinese" in page.inner_text(f"{ROWS}[data-lang=zh]")
    page.focus("#tf-lang")  # the filters are reachable from the keyboard
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "tf-time"

    # A new message shows up without a reload (incident stream activity, or the 10 s refresh).
    post(text_server, "tips", [{"text": "Fire spreading, flames on the roof", "time": ago(1)}])
    rows(page, 4, timeout=12_000)
    time.sleep(0.3)  # let the chart settle for the screenshot
    screenshot(page, "text-page")
    assert axe_violations(page) == []

    page.select_option("#tf-lang", "zh")
    rows(page, 1)
    assert "上海永嘉路" in page.inner_text("#text-table")

    page.select_option("#lang-select", "zh-CN")
    page.wait_for_selector("h1 >> text=文本信息")
    rows(page, 1)  # the filters survive the language switch
    assert page.input_value("#tf-lang") == "zh"
    assert "中文" in page.inner_text("#text-table")
    page.wait_for_selector("#text-opinion[data-state=ready]")
    assert page.inner_text("#h-opinion") == "舆情随时间变化"
    assert "1 条消息" in page.inner_text("#text-chart-covers")
    screenshot(page, "text-page-zh")
    assert axe_violations(page) == []

    page.select_option("#tf-lang", "other")
    page.wait_for_selector("#text-list .empty")
    assert "没有符合条件的消息" in page.inner_text("#text-list")
    assert errors == []


def test_an_api_error_shows_a_message_with_retry(pages: Pages, text_server: LiveServer) -> None:
    page = pages.new()
    sign_in(page, text_server)
    calls = {"n": 0}

    def fail_once(route: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 1:
            route.fulfill(status=503, json={"detail": "text store is down"})
        else:
            route.continue_()

    page.route("**/api/v1/text/messages*", fail_once)
    page.goto(f"{text_server.url}/ui/#/text")
    page.wait_for_selector("#text-problem .error-box")
    assert "text store is down" in page.inner_text("#text-problem")
    page.click("#text-problem button >> text=Retry")
    page.wait_for_selector("#text-messages[data-state=ready]")
    assert page.inner_text("#text-problem") == ""


def test_opinion_charts_mark_surges_and_follow_their_controls(
    pages: Pages, text_server: LiveServer
) -> None:
    now = datetime.now(UTC)
    post(text_server, "tips", [
        {"text": f"Terrible flooding again, awful, everything ruined {i}",
         "time": (now - timedelta(minutes=20 + i)).isoformat()}
        for i in range(4)
    ])  # fmt: skip
    surge = {
        "kind": "text.surge",
        "source": "text-surges",
        "time": (now - timedelta(minutes=15)).isoformat(),
        "payload": {"category": "flood", "area": "Riverside", "observed": 9, "expected": 1.5,
                    "score": 6.2, "window_s": 3600},
    }  # fmt: skip
    with text_server.client() as c:
        assert c.post("/api/v1/events", json=surge).status_code == 202, "surge event refused"
    text_server.drain()
    page = pages.new(height=1200)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    sign_in(page, text_server)
    page.goto(f"{text_server.url}/ui/#/text")
    page.wait_for_selector("#text-opinion[data-state=ready] #opinion-volume")
    surges = page.inner_text("#opinion-surges")
    assert "flood" in surges and "Riverside" in surges and "9" in surges
    assert "surge (text.surge)" in page.inner_text("#opinion-volume")  # marked on the chart
    assert page.locator("#opinion-volume canvas").count() >= 1
    sentiment = page.locator("#opinion-sentiment")
    if sentiment.count():
        assert "polarity" in page.inner_text("#opinion-sentiment").lower()
    page.select_option("#op-window", "15m")
    page.select_option("#op-by", "area")
    page.wait_for_function(
        "() => document.querySelector('#opinion-volume') !== null"
        " && document.querySelector('#op-by').value === 'area'"
    )
    page.reload()
    page.wait_for_selector("#text-opinion[data-state=ready]")
    assert page.input_value("#op-window") == "15m"  # kept for the tab
    page.select_option("#op-window", "1h")
    page.select_option("#op-by", "category")
    page.wait_for_selector("#text-opinion[data-state=ready] #opinion-volume")
    time.sleep(0.3)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)  # just the panel: the page is long
    page.locator("#text-opinion").screenshot(path=str(SCREENSHOTS / "text-opinion.png"))
    assert axe_violations(page) == []
    assert errors == []


def test_opinion_without_the_api_says_so(pages: Pages, text_server: LiveServer) -> None:
    page = pages.new()
    sign_in(page, text_server)
    page.route(
        "**/api/v1/text/opinion*",
        lambda route: route.fulfill(status=404, json={"detail": "Not Found"}),
    )
    page.goto(f"{text_server.url}/ui/#/text")
    page.wait_for_selector("#text-opinion[data-state=empty]")
    assert "not available" in page.inner_text("#text-opinion")
