"""Live readings: check a batch (flagging bad input), bucket it on the step grid, store it."""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Protocol

import numpy as np

from citysentinel.traffic.io import parse_time
from citysentinel.traffic.series import SensorSeries, SeriesError


class Flag(StrEnum):
    """Why a reading of a batch was dropped, or kept with a warning."""

    UNKNOWN_SENSOR = "unknown_sensor"  # dropped
    BAD_TIME = "bad_time"  # dropped
    NOT_A_NUMBER = "not_a_number"  # dropped
    NEGATIVE = "negative"  # dropped
    FUTURE = "future"  # dropped
    OUT_OF_ORDER = "out_of_order"  # kept: older than an earlier reading of the sensor
    DUPLICATE = "duplicate"  # the earlier reading of the same step is dropped, the last kept


DROPPED = frozenset(
    {Flag.UNKNOWN_SENSOR, Flag.BAD_TIME, Flag.NOT_A_NUMBER, Flag.NEGATIVE, Flag.FUTURE}
)


@dataclass(frozen=True)
class Reading:
    """One sensor reading at the start of its step bucket; `None` is a reported gap."""

    sensor: str
    time: datetime
    value: float | None


@dataclass(frozen=True)
class RawReading:
    """A reading as it arrived (HTTP, MQTT, CSV): text or numbers, not yet checked."""

    sensor: str
    time: str | float | datetime
    value: float | str | None


@dataclass(frozen=True)
class Flagged:
    """A flagged item of a batch: its position, sensor, what was wrong and details."""

    index: int
    sensor: str
    flag: Flag
    detail: str


@dataclass(frozen=True)
class CheckedBatch:
    """The readings to store (one per sensor and step, last wins) and the flagged items."""

    accepted: list[Reading]
    flagged: list[Flagged] = field(default_factory=list)
    received: int = 0

    @property
    def dropped(self) -> int:
        """Items not stored: invalid ones and earlier duplicates of a step."""
        return self.received - len(self.accepted)


def bucket(t: datetime, step_s: float) -> datetime:
    """The start of the `step_s` step holding `t` (steps are aligned to the Unix epoch).

    Example:
        >>> bucket(datetime(2026, 11, 25, 8, 3, 10, tzinfo=UTC), 300).isoformat()
        '2026-11-25T08:00:00+00:00'
    """
    seconds = math.floor(t.timestamp() / step_s) * step_s
    return datetime.fromtimestamp(seconds, UTC)


def check_readings(
    raw: Sequence[RawReading],
    known: Collection[str],
    step_s: float,
    *,
    now: datetime,
    latest: Mapping[str, datetime] | None = None,
    max_future_s: float = 300.0,
) -> CheckedBatch:
    """Check a batch against the sensor registry and put it on the step grid.

    `latest` holds each sensor's newest stored step: readings before it are
    kept but flagged out of order (a late delivery fills its step).

    Example:
        >>> now = datetime(2026, 11, 25, 8, 10, tzinfo=UTC)
        >>> b = check_readings([RawReading("a", "2026-11-25T08:00:00Z", 50),
        ...                     RawReading("a", "2026-11-25T08:01:00Z", "NaN"),
        ...                     RawReading("x", "2026-11-25T08:00:00Z", 1)], {"a"}, 300, now=now)
        >>> [r.value for r in b.accepted], [f.flag.value for f in b.flagged]
        ([50.0], ['not_a_number', 'unknown_sensor'])
    """
    latest = latest or {}
    flagged: list[Flagged] = []
    kept: dict[tuple[str, datetime], tuple[int, Reading]] = {}
    newest: dict[str, datetime] = dict(latest)
    horizon = now + timedelta(seconds=max_future_s)
    for i, item in enumerate(raw):
        reading = _parse(i, item, known, horizon, flagged)
        if reading is None:
            continue
        step = bucket(reading.time, step_s)
        seen = newest.get(reading.sensor)
        if seen is not None and step < seen:
            flagged.append(
                Flagged(i, reading.sensor, Flag.OUT_OF_ORDER, f"{step.isoformat()} after {seen}")
            )
        else:
            newest[reading.sensor] = step
        key = (reading.sensor, step)
        if key in kept:
            first = kept[key][0]
            detail = f"same step {step.isoformat()} as item {first}; the last one is kept"
            flagged.append(Flagged(i, reading.sensor, Flag.DUPLICATE, detail))
        kept[key] = (i, Reading(reading.sensor, step, reading.value))
    flagged.sort(key=lambda f: f.index)
    accepted = [r for _, r in sorted(kept.values(), key=lambda p: p[0])]
    return CheckedBatch(accepted, flagged, len(raw))


def _parse(
    i: int, item: RawReading, known: Collection[str], horizon: datetime, flagged: list[Flagged]
) -> Reading | None:
    """One raw item as a reading, or None with a flag saying why it was dropped."""
    sensor = item.sensor.strip()
    if sensor not in known:
        flagged.append(Flagged(i, sensor, Flag.UNKNOWN_SENSOR, f"{sensor!r} is not configured"))
        return None
    try:
        when = _time(item.time)
    except (SeriesError, OverflowError, OSError, ValueError) as exc:
        flagged.append(Flagged(i, sensor, Flag.BAD_TIME, str(exc)))
        return None
    if when > horizon:
        flagged.append(Flagged(i, sensor, Flag.FUTURE, f"{when.isoformat()} is in the future"))
        return None
    if item.value is None:
        return Reading(sensor, when, None)
    try:
        value = float(item.value)
    except (TypeError, ValueError):
        value = math.nan
    if not math.isfinite(value):
        flagged.append(Flagged(i, sensor, Flag.NOT_A_NUMBER, f"value {item.value!r}"))
        return None
    if value < 0:
        flagged.append(Flagged(i, sensor, Flag.NEGATIVE, f"value {value}"))
        return None
    return Reading(sensor, when, value)


def _time(value: str | float | datetime) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, int | float):
        if not math.isfinite(value):
            raise ValueError(f"unparsable time {value!r}")
        return datetime.fromtimestamp(value, UTC)
    return parse_time(value)


def store_batch(
    store: ReadingStore,
    raw: Sequence[RawReading],
    known: Collection[str],
    step_s: float,
    *,
    now: datetime,
    latest: Mapping[str, datetime] | None = None,
    max_future_s: float = 300.0,
) -> CheckedBatch:
    """Check `raw` (see `check_readings`) and store what passes; returns the checked batch.

    Example:
        >>> # checked = store_batch(SqlReadingStore(engine), raw, {"loop-1"}, 300, now=utcnow())
    """
    checked = check_readings(raw, known, step_s, now=now, latest=latest, max_future_s=max_future_s)
    store.upsert(checked.accepted)
    return checked


def readings_of(series: SensorSeries) -> Iterable[RawReading]:
    """Every present reading of a gridded series (CSV import), in time order."""
    rows, cols = np.nonzero(np.isfinite(series.values))
    for i, j in zip(rows.tolist(), cols.tolist(), strict=True):
        yield RawReading(series.sensors[j], series.time_at(i), float(series.values[i, j]))


class ReadingStore(Protocol):
    """Where live readings are kept (implemented by `storage.readings.SqlReadingStore`)."""

    def upsert(self, readings: Sequence[Reading]) -> int:
        """Store readings, replacing stored ones of the same sensor and step; returns the count."""
        ...

    def latest(self, sensors: Sequence[str]) -> dict[str, tuple[datetime, float | None]]:
        """Each sensor's newest stored step and value."""
        ...

    def window(
        self, sensors: Sequence[str], since: datetime, until: datetime, step_s: float
    ) -> SensorSeries:
        """[steps, sensors] from the step of `since` to the step before `until`; NaN = missing."""
        ...

    def delete_before(self, before: datetime) -> int:
        """Delete readings older than `before`; returns how many."""
        ...
