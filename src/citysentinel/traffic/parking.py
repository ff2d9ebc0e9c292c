"""Parking: occupancy per lot from gate line crossings or a count sensor; free-space forecast.

A lot is counted one of three ways (`counts.type` in the site config):

- `lines`: camera counting lines at its gates; each `video.line_crossing`
  event in the entering direction adds a car, the other direction removes one.
  The count starts from `initial_occupied` at the lot's daily `reset_at` time
  and is clamped to [0, capacity]; each clamp is counted as drift, since it
  means a missed or double crossing.
- `zone`: the vehicles a camera sees now in a zone drawn over the spaces (live
  only: zone counts are not stored, so its forecast is the last value).
- `sensor`: a road sensor whose readings are occupied (or free) spaces.

The free-space forecast goes through the traffic `Forecaster` interface: the
occupancy is sampled on a 15-minute grid, a forecaster is fitted on it (the
time-of-day average once a day of history exists, else the last value) and
its 12 steps (3 hours) become free spaces, clamped to [0, capacity].

Example:
    >>> from datetime import UTC, datetime, timedelta
    >>> lot = ParkingLotConfig(id="p1", capacity=3, counts=LineCounts(
    ...     type="lines", camera="cam", lines=["gate"]))
    >>> t0 = datetime(2026, 1, 5, 4, tzinfo=UTC)
    >>> crossings = [Crossing(t0 + timedelta(minutes=m), e) for m, e in
    ...              [(1, True), (2, True), (3, True), (4, True), (5, False)]]
    >>> track = occupancy_track(crossings, lot, since=t0)
    >>> track.values, track.drift
    ([1, 2, 3, 3, 2], 1)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Annotated, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator

from citysentinel.events import Point
from citysentinel.traffic.forecasting import Forecaster, HistoricalAverage, LastValue
from citysentinel.traffic.series import SECONDS_PER_DAY, SensorSeries

GRID_S = 900.0  # 15-minute occupancy steps: 12 forecast steps are 3 hours
VEHICLES = ("car", "truck", "bus", "motorcycle")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LineCounts(_Strict):
    """Occupancy from a camera's counting lines at the lot's gates."""

    type: Literal["lines"] = Field(description="Count cars crossing camera lines.")
    camera: str = Field(description="Camera id whose line-crossing events count.")
    lines: list[str] = Field(min_length=1, description="Counting line names at the gates.")
    entering: Literal["in", "out"] = Field(
        default="in", description="The crossing direction that means a car enters the lot."
    )
    labels: list[str] = Field(
        default_factory=lambda: list(VEHICLES), description="Object labels that count as vehicles."
    )


class ZoneCounts(_Strict):
    """Occupancy as the vehicles a camera sees in a zone drawn over the lot, now."""

    type: Literal["zone"] = Field(description="Count vehicles in a camera zone.")
    camera: str = Field(description="Camera id.")
    zone: str = Field(description="Name of the camera zone covering the spaces.")
    labels: list[str] = Field(
        default_factory=lambda: list(VEHICLES), description="Object labels that count as vehicles."
    )


def zone_occupied(zones: Mapping[str, Mapping[str, int]], counts: ZoneCounts) -> int | None:
    """Vehicles in the lot's zone from a camera's live zone counts; None if the zone is absent.

    Example:
        >>> c = ZoneCounts(type="zone", camera="cam", zone="bays")
        >>> zone_occupied({"bays": {"car": 7, "person": 2, "truck": 1}}, c)
        8
    """
    found = zones.get(counts.zone)
    if found is None:
        return None
    return sum(n for label, n in found.items() if label in counts.labels)


class SensorCounts(_Strict):
    """Occupancy from a count sensor (loop counters, bay sensors, the lot's own system)."""

    type: Literal["sensor"] = Field(description="Read a sensor's series.")
    sensor: str = Field(description="Sensor id (declared under sensors).")
    measures: Literal["occupied", "free"] = Field(
        default="occupied", description="Whether readings are occupied or free spaces."
    )


class ParkingLotConfig(_Strict):
    """A parking lot: capacity and how its occupancy is counted."""

    id: str = Field(pattern=r"^[A-Za-z0-9._-]+$", description="Lot id used in the API.")
    name: str = Field(default="", description="Human-readable name.")
    location: Point | None = Field(default=None, description="Where it is, on the map.")
    capacity: int = Field(gt=0, description="Number of spaces.")
    counts: Annotated[LineCounts | ZoneCounts | SensorCounts, Field(discriminator="type")] = Field(
        description="How occupancy is counted: `lines`, `zone` or `sensor`."
    )
    initial_occupied: int = Field(
        default=0, ge=0, description="Cars assumed parked at the daily reset (line counts)."
    )
    reset_at: str = Field(
        default="04:00", description="Time of day (site time zone) the line count restarts."
    )

    @field_validator("reset_at")
    @classmethod
    def _clock_time(cls, value: str) -> str:
        try:
            time.fromisoformat(value)
        except ValueError as exc:
            raise ValueError(f"reset_at must be HH:MM, got {value!r}") from exc
        return value

    def last_reset(self, now: datetime) -> datetime:
        """The most recent reset time at or before `now` (in `now`'s time zone)."""
        at = time.fromisoformat(self.reset_at)
        today = now.replace(hour=at.hour, minute=at.minute, second=0, microsecond=0)
        return today if today <= now else today - timedelta(days=1)


@dataclass(frozen=True)
class Crossing:
    """A vehicle crossing a gate line: entering the lot or leaving it."""

    time: datetime
    entering: bool


@dataclass(frozen=True)
class Track:
    """Occupancy after each change, and how often the count had to be clamped."""

    times: list[datetime]
    values: list[int]
    drift: int


def occupancy_track(crossings: Iterable[Crossing], lot: ParkingLotConfig, since: datetime) -> Track:
    """Running occupancy from `initial_occupied` at `since`; resets at each `reset_at` after it."""
    times: list[datetime] = []
    values: list[int] = []
    drift = 0
    occupied = min(lot.initial_occupied, lot.capacity)
    next_reset = lot.last_reset(since) + timedelta(days=1)
    for c in sorted(crossings, key=lambda c: c.time):
        if c.time < since:
            continue
        while c.time >= next_reset:
            occupied, next_reset = (
                min(lot.initial_occupied, lot.capacity),
                next_reset + timedelta(days=1),
            )
        wanted = occupied + (1 if c.entering else -1)
        occupied = min(max(wanted, 0), lot.capacity)
        drift += int(occupied != wanted)
        times.append(c.time)
        values.append(occupied)
    return Track(times, values, drift)


def occupancy_grid(
    times: Sequence[datetime],
    values: Sequence[float],
    start: datetime,
    end: datetime,
    initial: float,
) -> SensorSeries:
    """Occupancy at each 15-minute step from `start` to `end`: the last value known by then."""
    n = max(int((end - start).total_seconds() // GRID_S) + 1, 1)
    steps = [start + timedelta(seconds=GRID_S * k) for k in range(n)]
    grid = np.empty((n, 1))
    j, current = 0, initial
    for k, t in enumerate(steps):
        while j < len(times) and times[j] <= t:
            current = values[j]
            j += 1
        grid[k, 0] = current
    return SensorSeries(grid, ("occupied",), start, GRID_S)


@dataclass(frozen=True)
class FreeForecast:
    """Free spaces expected at a time."""

    time: datetime
    free: int


def forecast_free(
    series: SensorSeries, capacity: int, forecaster: Forecaster | None = None
) -> list[FreeForecast]:
    """Free spaces for the steps after the series' last one, through a `Forecaster`.

    Without `forecaster`: the time-of-day average when the series covers a day, else
    the last value.

    Example:
        >>> from datetime import UTC
        >>> s = SensorSeries(np.full((20, 1), 30.0), ("occupied",),
        ...                  datetime(2026, 1, 5, tzinfo=UTC), GRID_S)
        >>> [f.free for f in forecast_free(s, 100)][:3]
        [70, 70, 70]
    """
    if forecaster is None:
        day = series.shape[0] * series.step_s >= SECONDS_PER_DAY
        forecaster = HistoricalAverage() if day else LastValue()
    forecaster.fit(series)
    n_in = forecaster.n_in
    history = np.full((n_in, 1), np.nan)
    tail = series.values[-n_in:]
    history[n_in - len(tail) :] = tail
    last = series.time_at(series.shape[0] - 1)
    pred = forecaster.forecast(history, last)[:, 0]
    return [
        FreeForecast(
            last + timedelta(seconds=series.step_s * (k + 1)),
            int(np.clip(round(capacity - float(v)), 0, capacity)),
        )
        for k, v in enumerate(pred)
    ]


@dataclass(frozen=True)
class LotStatus:
    """A lot now: occupied and free spaces, since when, counting drift, and the forecast."""

    id: str
    name: str
    capacity: int
    occupied: int | None
    free: int | None
    updated_at: datetime | None
    source: str
    drift: int
    forecast: list[FreeForecast]
    message: str | None = None


def lot_status(
    lot: ParkingLotConfig,
    times: Sequence[datetime],
    occupied: Sequence[float],
    *,
    now: datetime,
    since: datetime,
    drift: int = 0,
    forecaster: Forecaster | None = None,
) -> LotStatus:
    """The status of `lot` from its occupancy changes (`times`, `occupied`) since `since`.

    Example:
        >>> from datetime import UTC
        >>> lot = ParkingLotConfig(id="p", capacity=10,
        ...                        counts=SensorCounts(type="sensor", sensor="s"))
        >>> now = datetime(2026, 1, 5, 12, tzinfo=UTC)
        >>> s = lot_status(lot, [now - timedelta(minutes=5)], [4.0], now=now,
        ...                since=now - timedelta(hours=2))
        >>> s.occupied, s.free, len(s.forecast)
        (4, 6, 12)
    """
    source = lot.counts.type
    initial = float(lot.initial_occupied) if source == "lines" else float("nan")
    if isinstance(lot.counts, SensorCounts) and not times:
        message = f"no readings from sensor {lot.counts.sensor!r} yet"
        return LotStatus(lot.id, lot.name, lot.capacity, None, None, None, source, 0, [], message)
    grid = occupancy_grid(times, occupied, since, now, initial)
    current = float(occupied[-1]) if times else float(lot.initial_occupied)
    value = int(np.clip(round(current), 0, lot.capacity))
    return LotStatus(
        id=lot.id,
        name=lot.name,
        capacity=lot.capacity,
        occupied=value,
        free=lot.capacity - value,
        updated_at=times[-1] if times else None,
        source=source,
        drift=drift,
        forecast=forecast_free(grid, lot.capacity, forecaster),
    )
