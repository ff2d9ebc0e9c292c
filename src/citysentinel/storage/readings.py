"""Live traffic readings on SQLite or PostgreSQL: upsert by (sensor, step), window reads."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime

import numpy as np
from sqlalchemy import Engine, delete, func, select
from sqlalchemy.dialects import postgresql, sqlite

from citysentinel.storage.tables import traffic_readings
from citysentinel.traffic.readings import Reading, bucket
from citysentinel.traffic.series import SensorSeries, SeriesError

CHUNK = 10_000  # parameter sets per executemany call
T = traffic_readings


class SqlReadingStore:
    """`ReadingStore` on the `traffic_readings` table; every method is one transaction.

    Example:
        >>> from datetime import UTC
        >>> from citysentinel.storage.db import make_engine
        >>> from citysentinel.storage.tables import metadata
        >>> engine = make_engine("sqlite://"); metadata.create_all(engine)
        >>> store = SqlReadingStore(engine)
        >>> t = datetime(2026, 11, 25, 8, tzinfo=UTC)
        >>> store.upsert([Reading("a", t, 50.0), Reading("a", t, 40.0)])
        2
        >>> store.latest(["a"])["a"][1]
        40.0
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name

    def upsert(self, readings: Sequence[Reading]) -> int:
        """Store readings; a stored step of the same sensor is replaced (last write wins)."""
        if not readings:
            return 0
        # The last reading per key: a batch may hold one step twice.
        rows = list(
            {
                (r.sensor, r.time): {
                    "sensor": r.sensor,
                    "time_s": _seconds(r.time),
                    "value": r.value,
                }
                for r in readings
            }.values()
        )
        insert = postgresql.insert if self.dialect == "postgresql" else sqlite.insert
        stmt = insert(T)
        # One statement executed for many parameter sets: the drivers batch it (SQLite's
        # executemany, psycopg's pipeline), far faster than one VALUES list per chunk.
        stmt = stmt.on_conflict_do_update(
            index_elements=[T.c.sensor, T.c.time_s], set_={"value": stmt.excluded.value}
        )
        with self.engine.begin() as conn:
            for start in range(0, len(rows), CHUNK):
                conn.execute(stmt, rows[start : start + CHUNK])
        return len(readings)

    def latest(self, sensors: Sequence[str]) -> dict[str, tuple[datetime, float | None]]:
        """Each sensor's newest stored step and its value (None for a reported gap).

        One primary-key lookup per sensor: a GROUP BY over the whole table grows with it.
        """
        out: dict[str, tuple[datetime, float | None]] = {}
        with self.engine.connect() as conn:
            for sensor in sensors:
                query = (
                    select(T.c.time_s, T.c.value)
                    .where(T.c.sensor == sensor)
                    .order_by(T.c.time_s.desc())
                    .limit(1)
                )
                row = conn.execute(query).first()
                if row is not None:
                    out[sensor] = (_time(row.time_s), row.value)
        return out

    def window(
        self, sensors: Sequence[str], since: datetime, until: datetime, step_s: float
    ) -> SensorSeries:
        """[steps, sensors] from the step holding `since` up to `until` (exclusive); NaN = none.

        Rows off the grid of `step_s` (stored under another step) go to the step holding them.
        """
        if not sensors:
            raise SeriesError("a window needs at least one sensor")
        start = bucket(since, step_s)
        steps = max(0, math.ceil((until - start).total_seconds() / step_s))
        values = np.full((steps, len(sensors)), np.nan)
        column = {s: j for j, s in enumerate(sensors)}
        first = _seconds(start)
        query = select(T.c.sensor, T.c.time_s, T.c.value).where(
            T.c.sensor.in_(list(sensors)),
            T.c.time_s >= first,
            T.c.time_s < math.ceil(until.timestamp()),
        )
        with self.engine.connect() as conn:
            for row in conn.execute(query):
                i = int((row.time_s - first) // step_s)
                if 0 <= i < steps and row.value is not None:
                    values[i, column[row.sensor]] = row.value
        return SensorSeries(values, tuple(sensors), start, step_s)

    def delete_before(self, before: datetime) -> int:
        """Delete readings of steps before `before`; returns how many rows went."""
        with self.engine.begin() as conn:
            cutoff = math.ceil(before.timestamp())
            return int(conn.execute(delete(T).where(T.c.time_s < cutoff)).rowcount or 0)

    def count(self) -> int:
        """How many readings are stored."""
        with self.engine.connect() as conn:
            return int(conn.scalar(select(func.count()).select_from(T)) or 0)


def _seconds(t: datetime) -> int:
    """A step start as whole Unix seconds (steps are whole seconds from the epoch)."""
    return math.floor(t.timestamp())


def _time(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)
