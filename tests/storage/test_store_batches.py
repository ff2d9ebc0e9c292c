"""Batch writes keep their order, idempotency and values on SQLite and PostgreSQL alike.

PostgreSQL stores a batch as one JSON array parameter (see store._PG_INSERT_EVENTS);
these tests pin what that must not change.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest

from citysentinel.events import Event
from citysentinel.events.model import utcnow
from citysentinel.incidents import IncidentEngine, RuleConfig
from citysentinel.storage import db
from citysentinel.storage.store import EventQuery, Store

RULE = RuleConfig.model_validate(
    {
        "id": "fall",
        "match": {"kind": "video.fall"},
        "incident": {"category": "health", "sub_category": "fallenPatient"},
    }
)


@pytest.fixture
def store(database_url: str) -> Store:
    db.upgrade(database_url)
    return Store(db.make_engine(database_url))


def test_a_mixed_batch_stores_only_new_ids_in_batch_order(store: Store) -> None:
    old = [Event(kind="video.fall", source="cam-1") for _ in range(3)]
    store.insert_events(old)
    new = [Event(kind="video.intrusion", source=f"cam-{i}") for i in range(4)]
    batch = [new[0], old[1], new[1], new[1], old[0], new[2], new[3]]
    stored = store.insert_events(batch)
    assert [s.event.id for s in stored] == [e.id for e in new]
    assert [s.seq for s in stored] == sorted(s.seq for s in stored)
    assert store.count_events() == 7
    store.engine.dispose()


def test_concurrent_batches_with_the_same_ids_store_each_once(store: Store) -> None:
    batch = [Event(kind="video.fall", source=f"cam-{i}") for i in range(50)]
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(store.insert_events, [batch] * 4))
    assert sorted(s.event.id for r in results for s in r) == sorted(e.id for e in batch)
    assert store.count_events() == 50
    store.engine.dispose()


def test_column_values_round_trip_exactly(store: Store) -> None:
    when = utcnow().replace(microsecond=123457) - timedelta(days=1)
    e = Event.model_validate(
        {
            "kind": "text.report",
            "source": '热线 "12345" \\ 😀',
            "time": when.isoformat(),
            "location": {"zone": "区域-1", "point": {"type": "Point", "coordinates": [0.1, -0.3]}},
            "confidence": 0.1 + 0.2,
            "labels": ["fire"],
        }
    )
    store.insert_events([e])
    assert store.get_event(e.id) == e
    found = store.list_events(EventQuery(source=e.source, zone="区域-1", since=when)).items
    assert [s.event.id for s in found] == [e.id]
    later = when + timedelta(microseconds=1)
    assert store.list_events(EventQuery(source=e.source, since=later)).items == []
    store.engine.dispose()


def test_engine_batch_changes_get_sequence_numbers_in_order(store: Store) -> None:
    events = [Event(kind="video.fall", source=f"cam-{i % 3}") for i in range(9)]
    stored = store.insert_events(events)
    engine = IncidentEngine([RULE], utcnow().tzinfo)  # type: ignore[arg-type]
    changes, links = [], []
    for s in stored:
        result = engine.process(s.event)
        changes += result.changes
        links += result.links
    written = store.commit_engine_batch(changes, [*links, *links], [s.seq for s in stored])
    assert [(c.incident_id, c.event_id) for c in written] == [
        (c.incident_id, c.event_id) for c in changes
    ]
    seqs = [c.seq or 0 for c in written]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs) and 0 not in seqs
    for inc in engine.active():
        assert [t.seq for t in store.timeline(inc.id)] == [
            c.seq for c in written if c.incident_id == inc.id
        ]
        assert store.get_incident(inc.id) == inc
    linked = store.list_events(EventQuery(incident_id=engine.active()[0].id)).items
    assert len(linked) == 3
    assert store.pending_events() == []
    store.engine.dispose()
