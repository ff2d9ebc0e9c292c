"""`SensorSeries`: a regular grid of sensor readings (time x sensors) with NaN for missing."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

import numpy as np
import numpy.typing as npt

from citysentinel.events.model import SeriesWindow

FloatArray = npt.NDArray[np.float64]

DEFAULT_STEP_S = 300.0  # the 5-minute steps of loop-detector benchmarks
SECONDS_PER_DAY = 86_400.0


class SeriesError(ValueError):
    """Readings that cannot be put on a grid: no sensors, unparsable times, a bad step."""


class IssueKind(StrEnum):
    """What was wrong with some input readings; the readings are dropped or kept as missing."""

    UNKNOWN_SENSOR = "unknown_sensor"
    OUT_OF_ORDER = "out_of_order"
    DUPLICATE = "duplicate"
    NOT_A_NUMBER = "not_a_number"
    NEGATIVE = "negative"
    OFF_GRID = "off_grid"
    GAP = "gap"


@dataclass(frozen=True)
class Issue:
    """A flagged kind of bad input: how many readings, and the first one as an example."""

    kind: IssueKind
    count: int
    example: str


@dataclass(frozen=True)
class SensorSeries:
    """Readings of N sensors at T regular steps; NaN marks a missing reading, never zero.

    Example:
        >>> from datetime import UTC
        >>> s = SensorSeries(np.array([[50.0, np.nan], [48.0, 61.0]]), ("a", "b"),
        ...                  datetime(2012, 3, 1, tzinfo=UTC), 300.0)
        >>> s.shape, s.missing_fraction
        ((2, 2), 0.25)
        >>> float(s.time_of_day()[1])
        0.003472222222222222
    """

    values: FloatArray
    sensors: tuple[str, ...]
    start: datetime
    step_s: float = DEFAULT_STEP_S
    issues: tuple[Issue, ...] = field(default=())

    def __post_init__(self) -> None:
        if self.values.ndim != 2 or self.values.shape[1] != len(self.sensors):
            raise SeriesError(
                f"values must be [T, {len(self.sensors)}] for {len(self.sensors)} sensors,"
                f" got {self.values.shape}"
            )
        if not self.sensors:
            raise SeriesError("a series needs at least one sensor")
        if len(set(self.sensors)) != len(self.sensors):
            raise SeriesError("sensor ids must be unique")
        if self.step_s <= 0:
            raise SeriesError(f"step must be positive, got {self.step_s} s")
        if self.start.tzinfo is None:
            raise SeriesError("start must be timezone-aware")

    @property
    def shape(self) -> tuple[int, int]:
        """(steps, sensors)."""
        return (int(self.values.shape[0]), int(self.values.shape[1]))

    @property
    def missing_fraction(self) -> float:
        """Share of readings that are missing."""
        return float(np.isnan(self.values).mean()) if self.values.size else 0.0

    def time_at(self, index: int) -> datetime:
        """The time of step `index`."""
        return self.start + timedelta(seconds=self.step_s * index)

    def time_of_day(self) -> FloatArray:
        """Fraction of the day (0 to 1) at each step."""
        return time_of_day(self.start, self.step_s, np.arange(self.shape[0]))

    def day_of_week(self) -> npt.NDArray[np.int64]:
        """Day of the week (Monday 0) at each step."""
        return day_of_week(self.start, self.step_s, np.arange(self.shape[0]))

    def slice(self, begin: int, end: int) -> SensorSeries:
        """Steps `begin` to `end` (exclusive) as a series of their own."""
        return SensorSeries(
            self.values[begin:end], self.sensors, self.time_at(begin), self.step_s, self.issues
        )

    def window(
        self, sensor: str, begin: int, end: int, expected: FloatArray | None = None
    ) -> SeriesWindow:
        """One sensor's steps `begin` to `end` as event evidence (missing becomes None).

        Example:
            >>> from datetime import UTC
            >>> s = SensorSeries(np.array([[50.0], [np.nan]]), ("a",),
            ...                  datetime(2012, 3, 1, tzinfo=UTC))
            >>> s.window("a", 0, 2).values
            [50.0, None]
        """
        try:
            j = self.sensors.index(sensor)
        except ValueError as exc:
            raise SeriesError(f"unknown sensor {sensor!r}") from exc
        exp = None if expected is None else _nullable(expected)
        return SeriesWindow(
            sensor=sensor,
            start=self.time_at(begin),
            step_s=self.step_s,
            values=_nullable(self.values[begin:end, j]),
            expected=exp,
        )


def time_of_day(start: datetime, step_s: float, index: npt.NDArray[np.int64]) -> FloatArray:
    """Fraction of the day (0 to 1) at steps `index` of a grid starting at `start`.

    Example:
        >>> from datetime import UTC
        >>> float(time_of_day(datetime(2012, 3, 1, 12, tzinfo=UTC), 300.0, np.array([0]))[0])
        0.5
    """
    midnight = start.replace(hour=0, minute=0, second=0, microsecond=0)
    offset = (start - midnight).total_seconds()
    seconds = offset + step_s * index.astype(np.float64)
    return np.asarray(np.mod(seconds, SECONDS_PER_DAY) / SECONDS_PER_DAY, dtype=np.float64)


def day_of_week(
    start: datetime, step_s: float, index: npt.NDArray[np.int64]
) -> npt.NDArray[np.int64]:
    """Day of the week (Monday 0) at steps `index` of a grid starting at `start`.

    Example:
        >>> from datetime import UTC
        >>> int(day_of_week(datetime(2012, 3, 1, tzinfo=UTC), 300.0, np.array([288]))[0])
        4
    """
    midnight = start.replace(hour=0, minute=0, second=0, microsecond=0)
    offset = (start - midnight).total_seconds()
    days = np.floor((offset + step_s * index.astype(np.float64)) / SECONDS_PER_DAY)
    return np.asarray((start.weekday() + days.astype(np.int64)) % 7, dtype=np.int64)


def _nullable(values: FloatArray) -> list[float | None]:
    return [None if np.isnan(v) else float(v) for v in values]
