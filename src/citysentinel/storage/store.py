"""Repository for events, incidents and their changes (SQLite or PostgreSQL)."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import (
    Column,
    ColumnElement,
    Connection,
    Engine,
    Select,
    any_,
    bindparam,
    delete,
    func,
    or_,
    select,
    tuple_,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from citysentinel.events import Event, Severity
from citysentinel.incidents import Incident, IncidentChange, IncidentStatus
from citysentinel.storage.pgbatch import (
    PG_INSERT_CHANGES,
    PG_INSERT_EVENTS,
    PG_INSERT_LINKS,
    PG_UPSERT_INCIDENTS,
    recordset,
)
from citysentinel.storage.tables import (
    engine_state,
    events,
    incident_changes,
    incident_events,
    incidents,
)

T = TypeVar("T")
_DIFF_SKIP = {"summary_en", "summary_zh", "updated_at", "version"}


@dataclass(frozen=True)
class StoredEvent:
    """An event with its storage sequence number (the engine's processing order)."""

    seq: int
    event: Event


@dataclass
class Page(Generic[T]):
    items: list[T]
    next_cursor: str | None = None


@dataclass(frozen=True)
class TimelineEntry:
    seq: int
    incident_id: str
    at: datetime
    type: str
    action: str
    actor: str
    note: str | None
    event_id: str | None
    diff: dict[str, Any] = field(default_factory=dict)


class InvalidCursor(ValueError):
    """A paging cursor that was not produced by this query."""


class IncidentQuery(BaseModel):
    """Filters, sort order and page of an incident listing."""

    model_config = ConfigDict(extra="forbid")

    status: list[IncidentStatus] = Field(default_factory=list)
    min_severity: Severity | None = None
    category: list[str] = Field(default_factory=list)
    sub_category: list[str] = Field(default_factory=list)
    source: str | None = None
    zone: str | None = None
    rule: str | None = None
    assignee: str | None = None
    silenced: bool | None = None
    since: datetime | None = Field(default=None, description="last_seen at or after")
    until: datetime | None = Field(default=None, description="last_seen before")
    sort: Literal["last_seen", "first_seen", "updated_at", "severity"] = "last_seen"
    order: Literal["asc", "desc"] = "desc"
    limit: int = Field(default=50, ge=1, le=500)
    cursor: str | None = None


class EventQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: list[str] = Field(default_factory=list)
    source: str | None = None
    zone: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    incident_id: str | None = None
    order: Literal["asc", "desc"] = "desc"
    limit: int = Field(default=100, ge=1, le=1000)
    cursor: str | None = None


class Store:
    """Events, incidents and changes; every method is one transaction.

    Example:
        >>> from citysentinel.storage.db import make_engine
        >>> from citysentinel.storage.tables import metadata
        >>> engine = make_engine("sqlite://"); metadata.create_all(engine)
        >>> store = Store(engine)
        >>> [s.seq for s in store.insert_events([Event(kind="video.fall", source="c")])]
        [1]
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name

    # -- events -----------------------------------------------------------
    def insert_events(
        self, batch: Sequence[Event], received_at: datetime | None = None
    ) -> list[StoredEvent]:
        """Store new events in one transaction; ids already stored are skipped (idempotent)."""
        if not batch:
            return []
        now = received_at or _now()
        unique = list({e.id: e for e in batch}.values())
        try:
            with self.engine.begin() as conn:
                return self._insert_new(conn, unique, now)
        except IntegrityError:
            # SQLite: a concurrent request stored one of these ids between our check and
            # insert. (PostgreSQL skips stored ids inside the INSERT itself.)
            with self.engine.begin() as conn:
                return self._insert_new(conn, unique, now)

    def _insert_new(self, conn: Connection, batch: list[Event], now: datetime) -> list[StoredEvent]:
        if self.dialect == "postgresql":
            rows = [_event_row(e, now) for e in batch]
            result = conn.execute(PG_INSERT_EVENTS, {"rows": recordset(rows)})
            seq_by_id = {r.id: r.seq for r in result}
            return [StoredEvent(seq_by_id[e.id], e) for e in batch if e.id in seq_by_id]
        ids = [e.id for e in batch]
        existing: set[str] = set()
        for chunk in _chunks(ids, 500):
            existing.update(conn.scalars(select(events.c.id).where(events.c.id.in_(chunk))))
        fresh = [e for e in batch if e.id not in existing]
        if not fresh:
            return []
        rows = [_event_row(e, now) for e in fresh]
        result = conn.execute(events.insert().returning(events.c.seq, events.c.id), rows)
        seq_by_id = {r.id: r.seq for r in result}
        return [StoredEvent(seq_by_id[e.id], e) for e in fresh]

    def pending_events(self, after_seq: int = 0, limit: int = 1000) -> list[StoredEvent]:
        """Stored events the incident engine has not folded yet, in storage order."""
        q = (
            select(events.c.seq, events.c.doc)
            .where(events.c.engine_done.is_(False), events.c.seq > after_seq)
            .order_by(events.c.seq)
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [StoredEvent(r.seq, Event.model_validate(r.doc)) for r in conn.execute(q)]

    def not_done(self, seqs: Sequence[int]) -> set[int]:
        """Which of `seqs` the engine has not processed yet."""
        out: set[int] = set()
        with self.engine.connect() as conn:
            for chunk in _chunks(list(seqs), 500):
                q = select(events.c.seq).where(
                    self._in(events.c.seq, chunk), events.c.engine_done.is_(False)
                )
                out.update(conn.scalars(q))
        return out

    def processed_events_since(self, since: datetime) -> list[Event]:
        q = (
            select(events.c.doc)
            .where(events.c.engine_done.is_(True), events.c.time >= since)
            .order_by(events.c.seq)
        )
        with self.engine.connect() as conn:
            return [Event.model_validate(d) for d in conn.scalars(q)]

    def get_event(self, event_id: str) -> Event | None:
        with self.engine.connect() as conn:
            doc = conn.scalar(select(events.c.doc).where(events.c.id == event_id))
        return Event.model_validate(doc) if doc is not None else None

    def list_events(self, q: EventQuery) -> Page[StoredEvent]:
        stmt = select(events.c.seq, events.c.doc)
        conds: list[Any] = []
        if q.kind:
            conds.append(events.c.kind.in_(q.kind))
        if q.source:
            conds.append(events.c.source == q.source)
        if q.zone:
            conds.append(events.c.zone == q.zone)
        if q.since:
            conds.append(events.c.time >= q.since)
        if q.until:
            conds.append(events.c.time < q.until)
        if q.incident_id:
            linked = select(incident_events.c.event_id).where(
                incident_events.c.incident_id == q.incident_id
            )
            conds.append(events.c.id.in_(linked))
        if q.cursor:
            (after,) = _decode_cursor(q.cursor, 1)
            conds.append(events.c.seq < after if q.order == "desc" else events.c.seq > after)
        order = events.c.seq.desc() if q.order == "desc" else events.c.seq.asc()
        stmt = stmt.where(*conds).order_by(order).limit(q.limit + 1)
        with self.engine.connect() as conn:
            rows = conn.execute(stmt).all()
        items = [StoredEvent(r.seq, Event.model_validate(r.doc)) for r in rows[: q.limit]]
        nxt = _encode_cursor([items[-1].seq]) if len(rows) > q.limit else None
        return Page(items, nxt)

    def count_events(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.scalar(select(func.count()).select_from(events)) or 0)

    # -- engine -----------------------------------------------------------
    def commit_engine_batch(
        self,
        changes: Sequence[IncidentChange],
        links: Iterable[tuple[str, str]],
        done_seqs: Sequence[int],
    ) -> list[IncidentChange]:
        """Persist what the engine made of a batch and mark the batch processed, atomically.

        Returns the changes with their `seq` filled in.
        """
        with self.engine.begin() as conn:
            stored = self._write_changes(conn, changes)
            link_rows = [{"incident_id": i, "event_id": e} for i, e in dict.fromkeys(links)]
            if link_rows and self.dialect == "postgresql":
                conn.execute(PG_INSERT_LINKS, {"rows": recordset(link_rows)})
            elif link_rows:
                conn.execute(self._insert_ignore(incident_events), link_rows)
            for chunk in _chunks(list(done_seqs), 500):
                done = update(events).where(self._in(events.c.seq, chunk))
                conn.execute(done.values(engine_done=True))
        return stored

    def commit_changes(self, changes: Sequence[IncidentChange]) -> list[IncidentChange]:
        """Persist operator or timer changes in one transaction."""
        with self.engine.begin() as conn:
            return self._write_changes(conn, changes)

    def _write_changes(
        self, conn: Connection, changes: Sequence[IncidentChange]
    ) -> list[IncidentChange]:
        if not changes:
            return []
        latest: dict[str, Incident] = {}
        for ch in changes:
            latest[ch.incident_id] = ch.after
        rows = [_incident_row(inc) for inc in latest.values()]
        change_rows = [_change_row(ch) for ch in changes]
        if self.dialect == "postgresql":
            conn.execute(PG_UPSERT_INCIDENTS, {"rows": recordset(rows)})
            result = conn.execute(PG_INSERT_CHANGES, {"rows": recordset(change_rows)})
            # Sequence values were drawn in batch order, whatever order RETURNING uses.
            seqs = sorted(result.scalars())
        else:
            conn.execute(self._upsert(incidents, ["id"]), rows)
            result = conn.execute(
                incident_changes.insert().returning(incident_changes.c.seq), change_rows
            )
            seqs = list(result.scalars())
        return [ch.model_copy(update={"seq": s}) for ch, s in zip(changes, seqs, strict=True)]

    def _upsert(self, table: Any, keys: list[str]) -> Any:
        dialect_insert = postgresql.insert if self.dialect == "postgresql" else sqlite.insert
        stmt = dialect_insert(table)
        cols = {c.name: stmt.excluded[c.name] for c in table.columns if c.name not in keys}
        return stmt.on_conflict_do_update(index_elements=keys, set_=cols)

    def _in(self, col: Column[Any], values: list[Any]) -> ColumnElement[bool]:
        """`col IN values`; one array parameter on PostgreSQL (see PG_INSERT_EVENTS for why)."""
        if self.dialect == "postgresql":
            return col == any_(bindparam(None, values, type_=postgresql.ARRAY(col.type)))
        return col.in_(values)

    def _insert_ignore(self, table: Any) -> Any:
        dialect_insert = postgresql.insert if self.dialect == "postgresql" else sqlite.insert
        return dialect_insert(table).on_conflict_do_nothing()

    def engine_incidents(self, resolved_since: datetime) -> list[Incident]:
        """Active incidents, and those resolved after `resolved_since` (for cooldowns)."""
        q = select(incidents.c.doc).where(
            or_(
                incidents.c.status != IncidentStatus.RESOLVED.value,
                incidents.c.resolved_at >= resolved_since,
            )
        )
        with self.engine.connect() as conn:
            return [Incident.model_validate(d) for d in conn.scalars(q)]

    def get_state(self, name: str) -> str | None:
        with self.engine.connect() as conn:
            return conn.scalar(select(engine_state.c.value).where(engine_state.c.name == name))

    def set_state(self, name: str, value: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(self._upsert(engine_state, ["name"]), [{"name": name, "value": value}])

    # -- incidents --------------------------------------------------------
    def get_incident(self, incident_id: str) -> Incident | None:
        with self.engine.connect() as conn:
            doc = conn.scalar(select(incidents.c.doc).where(incidents.c.id == incident_id))
        return Incident.model_validate(doc) if doc is not None else None

    def list_incidents(self, q: IncidentQuery) -> Page[Incident]:
        sort_col = {
            "last_seen": incidents.c.last_seen,
            "first_seen": incidents.c.first_seen,
            "updated_at": incidents.c.updated_at,
            "severity": incidents.c.severity_rank,
        }[q.sort]
        stmt: Select[Any] = select(incidents.c.doc, sort_col.label("k"), incidents.c.id)
        stmt = stmt.where(*_incident_filters(q))
        desc = q.order == "desc"
        if q.cursor:
            value, last_id = _decode_cursor(q.cursor, 2)
            if q.sort != "severity":
                value = datetime.fromisoformat(value)
            # A row-value comparison lets both databases seek the (column, id) index.
            key = tuple_(sort_col, incidents.c.id)
            stmt = stmt.where(
                key < tuple_(value, last_id) if desc else key > tuple_(value, last_id)
            )
        order = (
            [sort_col.desc(), incidents.c.id.desc()]
            if desc
            else [sort_col.asc(), incidents.c.id.asc()]
        )
        stmt = stmt.order_by(*order).limit(q.limit + 1)
        with self.engine.connect() as conn:
            rows = conn.execute(stmt).all()
        items = [Incident.model_validate(r.doc) for r in rows[: q.limit]]
        nxt = None
        if len(rows) > q.limit:
            last = rows[q.limit - 1]
            last_key = last.k.isoformat() if isinstance(last.k, datetime) else last.k
            nxt = _encode_cursor([last_key, last.id])
        return Page(items, nxt)

    def count_incidents(self, status: IncidentStatus | None = None) -> int:
        stmt = select(func.count()).select_from(incidents)
        if status is not None:
            stmt = stmt.where(incidents.c.status == status.value)
        with self.engine.connect() as conn:
            return int(conn.scalar(stmt) or 0)

    def timeline(self, incident_id: str) -> list[TimelineEntry]:
        q = (
            select(incident_changes)
            .where(incident_changes.c.incident_id == incident_id)
            .order_by(incident_changes.c.seq)
        )
        with self.engine.connect() as conn:
            return [TimelineEntry(**r._mapping) for r in conn.execute(q)]

    def changes_since(self, seq: int, limit: int = 500) -> list[TimelineEntry]:
        """Changes after `seq`, to let a live stream catch up after a reconnect."""
        q = (
            select(incident_changes)
            .where(incident_changes.c.seq > seq)
            .order_by(incident_changes.c.seq)
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [TimelineEntry(**r._mapping) for r in conn.execute(q)]

    def last_change_seq(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.scalar(select(func.max(incident_changes.c.seq))) or 0)

    def optimize(self) -> None:
        """Refresh the query planner's statistics (SQLite's PRAGMA optimize, PostgreSQL ANALYZE)."""
        # Outside a transaction: SQLite would otherwise start a read transaction and
        # fail with "database is locked" when ANALYZE upgrades it while others write.
        with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            if self.dialect == "sqlite":
                conn.exec_driver_sql("PRAGMA optimize=0x10002")
            else:
                conn.exec_driver_sql("ANALYZE incidents")
                conn.exec_driver_sql("ANALYZE events")

    def delete_events_before(self, before: datetime) -> int:
        """Retention: drop old events unless an active incident still points at them."""
        active_links = (
            select(incident_events.c.event_id)
            .join(incidents, incidents.c.id == incident_events.c.incident_id)
            .where(incidents.c.status != IncidentStatus.RESOLVED.value)
        )
        with self.engine.begin() as conn:
            result = conn.execute(
                delete(events).where(
                    events.c.time < before,
                    events.c.engine_done.is_(True),
                    events.c.id.not_in(active_links),
                )
            )
            return int(result.rowcount or 0)

    def delete_resolved_before(self, before: datetime) -> int:
        with self.engine.begin() as conn:
            old = select(incidents.c.id).where(
                incidents.c.status == IncidentStatus.RESOLVED.value,
                incidents.c.resolved_at < before,
            )
            conn.execute(delete(incident_events).where(incident_events.c.incident_id.in_(old)))
            conn.execute(delete(incident_changes).where(incident_changes.c.incident_id.in_(old)))
            result = conn.execute(delete(incidents).where(incidents.c.id.in_(old)))
            return int(result.rowcount or 0)


def _incident_filters(q: IncidentQuery) -> list[Any]:
    c = incidents.c
    conds: list[Any] = []
    if q.status:
        conds.append(c.status.in_([s.value for s in q.status]))
    if q.min_severity is not None:
        conds.append(c.severity_rank >= q.min_severity.rank)
    if q.category:
        conds.append(c.category.in_(q.category))
    if q.sub_category:
        conds.append(c.sub_category.in_(q.sub_category))
    for col, value in (
        (c.source, q.source),
        (c.zone, q.zone),
        (c.rule, q.rule),
        (c.assignee, q.assignee),
    ):
        if value is not None:
            conds.append(col == value)
    if q.silenced is not None:
        conds.append(c.silenced.is_(q.silenced))
    if q.since is not None:
        conds.append(c.last_seen >= q.since)
    if q.until is not None:
        conds.append(c.last_seen < q.until)
    return conds


def _event_row(e: Event, now: datetime) -> dict[str, Any]:
    point = e.location.point
    return {
        "id": e.id,
        "kind": e.kind.value,
        "state": e.state.value,
        "time": e.time,
        "source": e.source,
        "zone": e.location.zone,
        "lon": point.lon if point else None,
        "lat": point.lat if point else None,
        "confidence": e.confidence,
        "severity_hint": e.severity_hint.value if e.severity_hint else None,
        "doc": e.model_dump(mode="json"),
        "received_at": now,
        "engine_done": False,
    }


def _incident_row(inc: Incident) -> dict[str, Any]:
    return {
        "id": inc.id,
        "key": inc.key,
        "rule": inc.rule,
        "category": inc.category.value,
        "sub_category": inc.sub_category,
        "severity": inc.severity.value,
        "severity_rank": inc.severity.rank,
        "status": inc.status.value,
        "source": inc.source,
        "zone": inc.zone,
        "assignee": inc.assignee,
        "silenced": inc.silenced,
        "first_seen": inc.first_seen,
        "last_seen": inc.last_seen,
        "resolved_at": inc.resolved_at,
        "updated_at": inc.updated_at,
        "event_count": inc.event_count,
        "version": inc.version,
        "doc": inc.model_dump(mode="json"),
    }


def _change_row(ch: IncidentChange) -> dict[str, Any]:
    return {
        "incident_id": ch.incident_id,
        "at": ch.at,
        "type": ch.type.value,
        "action": ch.action.value,
        "actor": ch.actor,
        "note": ch.note,
        "event_id": ch.event_id,
        "diff": diff(ch.before, ch.after),
    }


def diff(before: Incident | None, after: Incident) -> dict[str, Any]:
    """Changed fields as {field: [before, after]}; every field for a new incident."""
    a = after.model_dump(mode="json", exclude=_DIFF_SKIP)
    if before is None:
        return {k: [None, v] for k, v in a.items() if v not in (None, [], "")}
    b = before.model_dump(mode="json", exclude=_DIFF_SKIP)
    return {k: [b.get(k), v] for k, v in a.items() if b.get(k) != v}


def _encode_cursor(values: list[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


def _decode_cursor(cursor: str, n: int) -> list[Any]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidCursor("cursor is not valid") from exc
    if not isinstance(values, list) or len(values) != n:
        raise InvalidCursor("cursor does not belong to this query")
    return values


def _chunks(items: list[T], size: int) -> Iterable[list[T]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _now() -> datetime:
    from citysentinel.events.model import utcnow

    return utcnow()
