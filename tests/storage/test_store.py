"""Storage repositories, migrations and retention on SQLite and PostgreSQL alike."""

from __future__ import annotations

from datetime import timedelta

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from citysentinel.events import Event
from citysentinel.events.model import utcnow
from citysentinel.incidents import (
    IncidentEngine,
    IncidentStatus,
    RuleConfig,
    Silence,
    SilenceMatchers,
)
from citysentinel.sinks.base import DeadLetter
from citysentinel.storage import db
from citysentinel.storage.admin import AdminStore, Role
from citysentinel.storage.store import IncidentQuery, Store
from citysentinel.storage.tables import metadata

RULE = RuleConfig.model_validate(
    {
        "id": "fall",
        "match": {"kind": "video.fall"},
        "incident": {"category": "health", "sub_category": "fallenPatient"},
    }
)


def stores(url: str) -> tuple[Store, AdminStore]:
    db.upgrade(url)
    engine = db.make_engine(url)
    return Store(engine), AdminStore(engine)


def test_migrations_match_the_tables(database_url: str) -> None:
    store, _ = stores(database_url)
    assert db.current_revision(store.engine) == db.head_revision()
    with store.engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), metadata) == []
    db.upgrade(database_url)  # idempotent
    store.engine.dispose()


def test_events_are_idempotent_and_pending_until_folded(database_url: str) -> None:
    store, _ = stores(database_url)
    events = [Event(kind="video.fall", source=f"cam-{i % 2}") for i in range(5)]
    stored = store.insert_events(events)
    assert [s.seq for s in stored] == sorted(s.seq for s in stored)
    assert store.insert_events(events[:2]) == []
    assert store.count_events() == 5
    assert [p.event.id for p in store.pending_events()] == [e.id for e in events]
    engine = IncidentEngine([RULE], utcnow().tzinfo)  # type: ignore[arg-type]
    changes, links = [], []
    for s in stored:
        r = engine.process(s.event)
        changes += r.changes
        links += r.links
    written = store.commit_engine_batch(changes, links, [s.seq for s in stored])
    assert all(c.seq is not None for c in written)
    assert store.pending_events() == []
    assert store.not_done([s.seq for s in stored]) == set()
    incidents = store.list_incidents(IncidentQuery()).items
    assert sorted(i.event_count for i in incidents) == [2, 3]
    timeline = store.timeline(incidents[0].id)
    assert (
        timeline[0].action == "opened"
        and timeline[-1].diff["event_count"][1] == incidents[0].event_count
    )
    store.engine.dispose()


def test_incident_filters_sorting_and_cursor(database_url: str) -> None:
    store, _ = stores(database_url)
    engine = IncidentEngine([RULE], utcnow().tzinfo)  # type: ignore[arg-type]
    base = utcnow()
    changes = []
    for i in range(7):
        r = engine.process(
            Event(kind="video.fall", source=f"cam-{i}", time=base + timedelta(seconds=i))
        )
        changes += r.changes
    ack = engine.acknowledge(engine.active()[0], "op")
    store.commit_changes([*changes, ack])
    page1 = store.list_incidents(IncidentQuery(limit=3))
    page2 = store.list_incidents(IncidentQuery(limit=3, cursor=page1.next_cursor))
    page3 = store.list_incidents(IncidentQuery(limit=3, cursor=page2.next_cursor))
    ids = [i.id for p in (page1, page2, page3) for i in p.items]
    assert len(ids) == len(set(ids)) == 7 and page3.next_cursor is None
    times = [i.last_seen for p in (page1, page2, page3) for i in p.items]
    assert times == sorted(times, reverse=True)
    acked = store.list_incidents(IncidentQuery(status=[IncidentStatus.ACKNOWLEDGED])).items
    assert [i.id for i in acked] == [ack.incident_id]
    assert [i.source for i in store.list_incidents(IncidentQuery(source="cam-3")).items] == [
        "cam-3"
    ]
    asc = store.list_incidents(IncidentQuery(order="asc", sort="first_seen", limit=2))
    assert asc.items[0].source == "cam-0"
    store.engine.dispose()


def test_retention_keeps_events_of_active_incidents(database_url: str) -> None:
    store, _ = stores(database_url)
    old = utcnow() - timedelta(days=40)
    kept = Event(kind="video.fall", source="cam-1", time=old)
    dropped = Event(kind="video.intrusion", source="cam-1", time=old)
    fresh = Event(kind="video.intrusion", source="cam-1")
    stored = store.insert_events([kept, dropped, fresh])
    engine = IncidentEngine([RULE], utcnow().tzinfo)  # type: ignore[arg-type]
    r = engine.process(kept)
    store.commit_engine_batch(r.changes, r.links, [s.seq for s in stored])
    assert store.delete_events_before(utcnow() - timedelta(days=30)) == 1
    assert store.get_event(dropped.id) is None
    assert store.get_event(kept.id) is not None and store.get_event(fresh.id) is not None
    store.engine.dispose()


def test_keys_are_hashed_and_revocable(database_url: str) -> None:
    _, admin = stores(database_url)
    info, plain = admin.create_key("ops", Role.OPERATOR, created_by="test")
    assert plain.startswith("cs_") and len(plain) > 40
    with admin.engine.connect() as conn:
        stored = conn.exec_driver_sql("SELECT hash FROM api_keys").scalar()
    assert stored != plain and plain not in str(stored)
    assert admin.authenticate(plain) is not None
    assert admin.revoke_key(info.id) and not admin.revoke_key(info.id)
    assert admin.authenticate(plain) is None
    admin.engine.dispose()


def test_silences_and_dead_letters(database_url: str) -> None:
    _, admin = stores(database_url)
    now = utcnow()
    s = Silence(
        matchers=SilenceMatchers(rule="fall"),
        starts_at=now,
        ends_at=now + timedelta(hours=1),
        created_by="op",
        created_at=now,
    )
    admin.add_silence(s)
    assert [x.id for x in admin.silences()] == [s.id]
    ended = admin.expire_silence(s.id, "boss")
    assert ended is not None and ended.expired_by == "boss"
    assert admin.silences() == [] and len(admin.silences(current_only=False)) == 1
    assert admin.expire_silence(s.id, "boss") is None
    letter = DeadLetter(
        sink="webhook:x",
        target="http://127.0.0.1:1/",
        payload="{}",
        error="refused",
        attempts=3,
        first_attempt_at=now,
        last_attempt_at=now,
    )
    admin.add_dead_letter(letter)
    assert admin.dead_letters() == [letter]
    admin.engine.dispose()
