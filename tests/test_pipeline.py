"""The pipeline survives restarts: every event the API acknowledged ends up in an incident."""

from __future__ import annotations

import asyncio
from pathlib import Path

from citysentinel.events import Event
from citysentinel.storage.store import IncidentQuery
from tests.conftest import make_runtime


def test_restart_replays_events_acknowledged_but_not_processed(
    database_url: str, tmp_path: Path
) -> None:
    first = make_runtime(database_url, tmp_path)

    async def ingest_then_crash() -> None:
        # The engine never runs: the process "dies" after the API acknowledged the events.
        stored = await first.pipeline.ingest(
            [Event(kind="video.fall", source="cam-1") for _ in range(5)]
        )
        assert len(stored) == 5

    asyncio.run(ingest_then_crash())
    assert first.store.list_incidents(IncidentQuery()).items == []
    first.store.engine.dispose()

    second = make_runtime(database_url, tmp_path)

    async def restart() -> None:
        await second.start()
        await second.pipeline.ingest([Event(kind="video.fall", source="cam-1")])
        await second.pipeline.drain()
        await second.stop()

    asyncio.run(restart())
    third = make_runtime(database_url, tmp_path)
    items = third.store.list_incidents(IncidentQuery()).items
    assert len(items) == 1, "the replayed and the new events fold into one incident"
    assert items[0].event_count == 6
    assert third.store.pending_events() == []
    third.store.engine.dispose()


def test_engine_state_is_rebuilt_so_repeats_update_the_open_incident(
    database_url: str, tmp_path: Path
) -> None:
    async def session(n: int) -> None:
        rt = make_runtime(database_url, tmp_path)
        await rt.start()
        await rt.pipeline.ingest(
            [
                Event(
                    kind="video.intrusion",
                    source="cam-gate",
                    labels=["person"],
                    location={"zone": "yard"},
                )
                for _ in range(n)
            ]
        )
        await rt.pipeline.drain()
        await rt.stop()

    asyncio.run(session(2))
    asyncio.run(session(2))
    rt = make_runtime(database_url, tmp_path)
    items = rt.store.list_incidents(IncidentQuery()).items
    assert [(i.event_count, i.severity.value) for i in items] == [(4, "high")]
    rt.store.engine.dispose()
