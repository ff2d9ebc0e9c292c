"""GET /api/v1/text/opinion on a live server: buckets by category and area, errors, roles."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from citysentinel.api.routers.opinion import parse_window
from tests.conftest import LiveServer, make_runtime, make_site, start_live

URL = "/api/v1/text/opinion"
HOUR0 = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=3)


@pytest.fixture
def live_opinion(database_url: str, tmp_path: Path) -> Iterator[LiveServer]:
    site = make_site(
        text_feeds=[{"id": "tips", "type": "http", "area": "north"}],
        text_surges={"enabled": False},
    )
    server = start_live(make_runtime(database_url, tmp_path, site))
    try:
        yield server
    finally:
        server.stop()


def post(server: LiveServer, messages: list[dict[str, object]]) -> None:
    with server.client(server.key("operator")) as c:
        r = c.post("/api/v1/text/tips/messages", json={"messages": messages})
        assert r.status_code == 202, r.text


def at(hour: int, minute: int) -> str:
    return (HOUR0 + timedelta(hours=hour, minutes=minute)).isoformat()


def test_opinion_buckets_by_window_and_group(live_opinion: LiveServer) -> None:
    post(
        live_opinion,
        [
            {"text": "Terrible flood, we are scared and angry", "time": at(0, 5)},
            {"text": "Thank you rescuers, wonderful work", "time": at(0, 40)},
            {"text": "Awful smoke everywhere, horrible", "time": at(1, 10)},
            {"text": "市中心着火了", "time": at(1, 20)},  # Chinese without a model: not scored
        ],
    )
    with live_opinion.client(live_opinion.key("viewer")) as c:
        r = c.get(URL, params={"window": "1h", "since": at(0, 0), "until": at(3, 0)})
        assert r.status_code == 200, r.text
        body = r.json()
        area = c.get(URL, params={"window": "1d", "by": "area", "since": at(0, 0)}).json()
    assert (body["by"], body["window_s"], body["scanned"], body["truncated"]) == (
        "category",
        3600.0,
        4,
        False,
    )
    first, second = body["buckets"]
    assert first["start"] == HOUR0.isoformat().replace("+00:00", "Z")
    assert (first["key"], first["count"], first["scored"], first["share_negative"]) == (
        None,
        2,
        2,
        0.5,
    )
    assert -1 <= first["mean_polarity"] <= 1
    assert (second["count"], second["scored"], second["share_negative"]) == (2, 1, 1.0)
    assert second["mean_polarity"] < 0 and second["emotions"] == {}
    assert sum(b["count"] for b in area["buckets"]) == 4
    assert {b["key"] for b in area["buckets"]} == {"north"}
    assert body["tz"] == "UTC"


def test_opinion_windows_tile_the_requested_time_zone(live_opinion: LiveServer) -> None:
    """1d windows start at Shanghai midnight (16:00 UTC) with tz=Asia/Shanghai, UTC by default."""
    post(live_opinion, [{"text": "Terrible flood", "time": at(0, 5)}])
    params = {"window": "1d", "since": at(-48, 0), "until": at(3, 0)}
    with live_opinion.client(live_opinion.key("viewer")) as c:
        utc = c.get(URL, params=params).json()
        shanghai = c.get(URL, params={**params, "tz": "Asia/Shanghai"}).json()
    assert shanghai["tz"] == "Asia/Shanghai"
    [day_utc], [day_sh] = utc["buckets"], shanghai["buckets"]
    assert day_utc["start"].endswith("T00:00:00Z") and day_sh["start"].endswith("T16:00:00Z")
    for day in (day_utc, day_sh):
        start, end = (datetime.fromisoformat(day[k]) for k in ("start", "end"))
        assert end - start == timedelta(days=1)
        assert start <= HOUR0 + timedelta(minutes=5) < end


BAD_REQUESTS = [
    ({"window": "5 parsecs"}, 422),
    ({"window": "10s"}, 422),
    ({"window": "1m", "since": "2020-01-01T00:00:00Z"}, 422),  # too many windows
    ({"since": "2024-05-02T00:00:00Z", "until": "2024-05-01T00:00:00Z"}, 422),
    ({"by": "feed"}, 422),
    ({"window": "15m"}, 200),
    ({"tz": "Nope/Zone"}, 422),
    ({"tz": "Asia"}, 422),  # a folder of the zone database, not a zone
    ({"tz": "../etc/passwd"}, 422),
    ({"tz": "site"}, 200),
]


def test_opinion_errors_and_auth(live_opinion: LiveServer) -> None:
    # One server for the whole table: each request is independent of the others.
    with live_opinion.client(live_opinion.key("viewer")) as c:
        got = [(params, c.get(URL, params=params).status_code) for params, _ in BAD_REQUESTS]
    assert got == BAD_REQUESTS
    with live_opinion.client("not-a-key") as c:
        assert c.get(URL).status_code == 401


@pytest.mark.parametrize(("text", "seconds"), [("1h", 3600), ("15m", 900), ("1d", 86400)])
def test_parse_window(text: str, seconds: float) -> None:
    assert parse_window(text) == seconds


@pytest.mark.parametrize(
    ("limit", "read", "truncated"), [(7, 7, True), (12, 12, False), (11, 11, True)]
)
def test_the_scan_cap_is_exact_and_reported(
    database_url: str, limit: int, read: int, truncated: bool
) -> None:
    """12 stored reports: a cap below reads exactly `limit` and says truncated; 12 is complete."""
    from citysentinel.api.routers.opinion import _reports
    from citysentinel.events import Event
    from citysentinel.storage import db
    from citysentinel.storage.store import Store

    db.upgrade(database_url)
    store = Store(db.make_engine(database_url))
    try:
        store.insert_events(
            [
                Event(kind="text.report", source="f", time=HOUR0 + timedelta(minutes=i))
                for i in range(12)
            ]
        )
        events, cut = _reports(store, HOUR0, HOUR0 + timedelta(hours=1), limit)
    finally:
        store.engine.dispose()
    assert (len(events), cut) == (read, truncated)
    assert [e.time for e in events] == [HOUR0 + timedelta(minutes=i) for i in range(read)]
