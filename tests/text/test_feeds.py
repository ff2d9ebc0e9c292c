"""File and folder text feeds: idempotent import across restarts, a watched folder."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from citysentinel.app import Runtime
from citysentinel.config import TextFeedConfig
from citysentinel.events.payloads import TextReportPayload
from citysentinel.storage.store import EventQuery
from citysentinel.text.feeds import FileFeed, FolderFeed, parse_time, read_messages
from tests.conftest import make_runtime, make_site

CSV = (
    "id,when,place,body\n"
    "1,2024-05-01 08:30,Main St,Fire at the market call 138-1234-5678\n"
    "2,2024-05-01T09:00:00+08:00,,上海永嘉路发生火灾\n"
    "3,,,\n"
    "4,1714552200,,Flood near the bridge\n"
)
RECENT = datetime.now(UTC).replace(microsecond=0).isoformat()
RECENT_CSV = CSV.replace("2024-05-01 08:30", RECENT).replace("2024-05-01T09:00:00+08:00", RECENT)
COLUMNS = {"text": "body", "id": "id", "time": "when", "location": "place"}


def feed_site(**feed: Any) -> Any:
    return make_site(text_feeds=[{"columns": COLUMNS, **feed}])


def text_events(runtime: Runtime) -> list[Any]:
    q = EventQuery(kind=["text.report"], order="asc", limit=1000)
    return [s.event for s in runtime.store.list_events(q).items]


async def run_file_feed(runtime: Runtime) -> None:
    await runtime.start()
    try:
        feed = runtime.text_feeds["calls"]
        assert isinstance(feed, FileFeed)
        await asyncio.wait_for(feed.done.wait(), 10)
        await runtime.pipeline.drain()
    finally:
        await runtime.stop()


def test_read_messages_maps_columns_and_times(tmp_path: Path) -> None:
    path = tmp_path / "calls.csv"
    path.write_text(CSV, encoding="utf-8")
    config = TextFeedConfig.model_validate(
        {"id": "calls", "type": "file", "path": str(path), "columns": COLUMNS}
    )
    messages = list(read_messages(path, config, UTC))
    assert [m.id for m in messages] == ["1", "2", "3", "4"]
    assert messages[0].place is not None and messages[0].place.name == "Main St"
    assert [m.time.isoformat() if m.time else None for m in messages] == [
        "2024-05-01T08:30:00+00:00",
        "2024-05-01T09:00:00+08:00",
        None,
        "2024-05-01T08:30:00+00:00",
    ]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("", None),
        ("later", None),
        ("2024-05-01T08:30:00Z", "2024-05-01T08:30:00+00:00"),
    ],
)
def test_parse_time(value: str | None, expected: str | None) -> None:
    parsed = parse_time(value, UTC)
    assert (parsed.isoformat() if parsed else None) == expected


def test_file_feed_import_is_idempotent_across_restarts(tmp_path: Path) -> None:
    path = tmp_path / "calls.csv"
    path.write_text(RECENT_CSV, encoding="utf-8")
    url = f"sqlite:///{tmp_path / 'cs.sqlite'}"
    site = feed_site(id="calls", type="file", path=str(path), channel="hotline")
    first = make_runtime(url, tmp_path, site)
    asyncio.run(run_file_feed(first))
    stats = first.text_feeds["calls"].stats
    # Row 4 is from 2024: older than the event retention, so not imported at all.
    expected_skips = {"empty": 1, "older_than_retention": 1}
    assert (stats.rows, stats.stored, dict(stats.skipped)) == (4, 2, expected_skips)
    events = text_events(first)
    assert len(events) == 2
    assert events[0].evidence[0].text == "Fire at the market call [PHONE]"
    assert events[0].location.address == "Main St"
    assert isinstance(events[0].payload, TextReportPayload)
    assert events[0].payload.channel == "hotline"

    second = make_runtime(url, tmp_path, site)
    asyncio.run(run_file_feed(second))
    again = second.text_feeds["calls"].stats
    assert (again.stored, again.duplicates) == (0, 2)
    assert [e.id for e in text_events(second)] == [e.id for e in events]


def test_missing_file_is_logged_not_fatal(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    site = feed_site(id="calls", type="file", path=str(tmp_path / "absent.csv"))
    runtime = make_runtime(f"sqlite:///{tmp_path / 'cs.sqlite'}", tmp_path, site)
    asyncio.run(run_file_feed(runtime))
    assert "absent.csv" in caplog.text and text_events(runtime) == []


def test_folder_feed_picks_up_a_new_file(tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    site = feed_site(id="inbox", type="folder", path=str(inbox), format="jsonl", poll_s=0.05)
    runtime = make_runtime(f"sqlite:///{tmp_path / 'cs.sqlite'}", tmp_path, site)
    lines = [{"id": "a", "body": "Fire on the bridge"}, {"id": "b", "body": "Smoke downtown"}]

    async def main() -> None:
        await runtime.start()
        try:
            await asyncio.sleep(0.1)
            (inbox / "ignored.csv").write_text("body\nnot my format\n", encoding="utf-8")
            (inbox / "batch1.jsonl").write_text(
                "\n".join(json.dumps(x) for x in lines), encoding="utf-8"
            )
            deadline = time.monotonic() + 10
            while (inbox / "batch1.jsonl").exists() and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
            await runtime.pipeline.drain()
        finally:
            await runtime.stop()

    asyncio.run(main())
    assert (inbox / "processed" / "batch1.jsonl").is_file()
    assert (inbox / "ignored.csv").is_file()
    assert sorted(e.evidence[0].text for e in text_events(runtime)) == [
        "Fire on the bridge",
        "Smoke downtown",
    ]
    feed = runtime.text_feeds["inbox"]
    assert isinstance(feed, FolderFeed) and feed.stats.stored == 2
