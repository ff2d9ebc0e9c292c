"""SQLAlchemy tables: the one schema for SQLite and PostgreSQL (migrated by Alembic)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    text,
)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out, on SQLite (naive storage) as on PostgreSQL."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to storage; use timezone-aware UTC")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:  # noqa: ARG002
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"expected a datetime from the database, got {type(value).__name__}")
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# SQLite only auto-increments INTEGER PRIMARY KEY; PostgreSQL gets a 64-bit sequence.
SeqType = BigInteger().with_variant(Integer(), "sqlite")

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

events = Table(
    "events",
    metadata,
    Column("seq", SeqType, primary_key=True, autoincrement=True),
    Column("id", String(64), nullable=False, unique=True),
    Column("kind", String(50), nullable=False),
    Column("state", String(10), nullable=False),
    Column("time", UTCDateTime, nullable=False),
    Column("source", String(200), nullable=False),
    Column("zone", String(200)),
    Column("lon", Float),
    Column("lat", Float),
    Column("confidence", Float, nullable=False),
    Column("severity_hint", String(20)),
    Column("doc", JSON, nullable=False),
    Column("received_at", UTCDateTime, nullable=False),
    Column("engine_done", Boolean, nullable=False, default=False),
    Index("ix_events_time", "time"),
    Index("ix_events_kind_time", "kind", "time"),
    Index("ix_events_source_time", "source", "time"),
)

# Events the incident engine has yet to fold; small, so a partial index keeps replay cheap.
PENDING = text("engine_done = false")
Index("ix_events_pending", events.c.seq, sqlite_where=PENDING, postgresql_where=PENDING)

incidents = Table(
    "incidents",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("key", String(700), nullable=False),
    Column("rule", String(100), nullable=False),
    Column("category", String(50), nullable=False),
    Column("sub_category", String(50), nullable=False),
    Column("severity", String(20), nullable=False),
    Column("severity_rank", Integer, nullable=False),
    Column("status", String(20), nullable=False),
    Column("source", String(200), nullable=False),
    Column("zone", String(200)),
    Column("assignee", String(200)),
    Column("silenced", Boolean, nullable=False),
    Column("first_seen", UTCDateTime, nullable=False),
    Column("last_seen", UTCDateTime, nullable=False),
    Column("resolved_at", UTCDateTime),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("event_count", Integer, nullable=False),
    Column("version", Integer, nullable=False),
    Column("doc", JSON, nullable=False),
    # Pages are ordered by (sort column, id): every sortable column gets that pair, and
    # the common filters get it behind them, so a page is an index range scan, not a sort.
    Index("ix_incidents_last_seen_id", "last_seen", "id"),
    Index("ix_incidents_first_seen_id", "first_seen", "id"),
    Index("ix_incidents_updated_at_id", "updated_at", "id"),
    Index("ix_incidents_severity_rank_id", "severity_rank", "id"),
    Index("ix_incidents_status_last_seen_id", "status", "last_seen", "id"),
    Index("ix_incidents_status_first_seen_id", "status", "first_seen", "id"),
    Index("ix_incidents_category_last_seen_id", "category", "last_seen", "id"),
    Index("ix_incidents_category_severity_rank_id", "category", "severity_rank", "id"),
    Index("ix_incidents_source_last_seen_id", "source", "last_seen", "id"),
    Index("ix_incidents_key", "key"),
)

incident_events = Table(
    "incident_events",
    metadata,
    Column(
        "incident_id",
        String(64),
        ForeignKey("incidents.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("event_id", String(64), primary_key=True),
    Index("ix_incident_events_event_id", "event_id"),
)

incident_changes = Table(
    "incident_changes",
    metadata,
    Column("seq", SeqType, primary_key=True, autoincrement=True),
    Column(
        "incident_id",
        String(64),
        ForeignKey("incidents.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("at", UTCDateTime, nullable=False),
    Column("type", String(10), nullable=False),
    Column("action", String(20), nullable=False),
    Column("actor", String(200), nullable=False),
    Column("note", Text),
    Column("event_id", String(64)),
    Column("diff", JSON, nullable=False),
    Index("ix_incident_changes_incident_id", "incident_id", "seq"),
)

silences = Table(
    "silences",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("starts_at", UTCDateTime, nullable=False),
    Column("ends_at", UTCDateTime, nullable=False),
    Column("doc", JSON, nullable=False),
    Index("ix_silences_ends_at", "ends_at"),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("prefix", String(16), nullable=False),
    Column("hash", String(128), nullable=False, unique=True),
    Column("role", String(20), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("created_by", String(200), nullable=False),
    Column("revoked_at", UTCDateTime),
    Column("last_used_at", UTCDateTime),
    # A dashboard sign-in session is a key bound to a user that expires (migration 0002).
    Column("user_id", String(32), ForeignKey("users.id", ondelete="CASCADE")),
    Column("expires_at", UTCDateTime),
    Index("ix_api_keys_user_id", "user_id"),
)

users = Table(
    "users",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("username", String(100), nullable=False, unique=True),
    # "scrypt$n$r$p$salt$hash", see storage/users.py for the cost.
    Column("password_hash", String(255), nullable=False),
    Column("role", String(20), nullable=False),
    Column("disabled", Boolean, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("last_login", UTCDateTime),
    Column("failed_logins", Integer, nullable=False),
    Column("locked_until", UTCDateTime),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("seq", SeqType, primary_key=True, autoincrement=True),
    Column("at", UTCDateTime, nullable=False),
    Column("actor", String(200), nullable=False),
    Column("role", String(20)),
    Column("method", String(10), nullable=False),
    Column("path", String(500), nullable=False),
    Column("status", Integer, nullable=False),
    Column("detail", JSON),
    Index("ix_audit_log_at", "at"),
)

dead_letters = Table(
    "dead_letters",
    metadata,
    Column("seq", SeqType, primary_key=True, autoincrement=True),
    Column("sink", String(200), nullable=False),
    Column("target", String(2000), nullable=False),
    Column("payload", Text, nullable=False),
    Column("error", Text, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("first_attempt_at", UTCDateTime, nullable=False),
    Column("last_attempt_at", UTCDateTime, nullable=False),
)

engine_state = Table(
    "engine_state",
    metadata,
    Column("name", String(100), primary_key=True),
    Column("value", Text, nullable=False),
)

# Live traffic readings: one row per sensor and step, keyed by the step's start in Unix
# seconds (an integer keeps rows small: about 40 bytes on SQLite), last write wins. No row
# means no reading; a NULL value is a gap the sensor reported. The primary key serves every
# window read (a range per sensor); retention's hourly delete scans, which is cheap enough.
traffic_readings = Table(
    "traffic_readings",
    metadata,
    Column("sensor", String(200), primary_key=True),
    Column("time_s", BigInteger, primary_key=True),
    Column("value", Float),
    sqlite_with_rowid=False,  # rows live in the primary-key b-tree, stored once
)
