"""Classical baselines: the last reading, and the historical average by time of day or week."""

from __future__ import annotations

from datetime import datetime
from typing import Literal, Self

import numpy as np

from citysentinel.traffic.forecasting.base import (
    N_IN,
    N_OUT,
    ForecastError,
    check_history,
    future_times,
    sensor_means,
)
from citysentinel.traffic.series import SECONDS_PER_DAY, FloatArray, SensorSeries


class LastValue:
    """Every future step repeats each sensor's last reading (its mean if it has none).

    Example:
        >>> from datetime import UTC
        >>> s = SensorSeries(np.arange(40.0).reshape(20, 2), ("a", "b"),
        ...                  datetime(2012, 3, 1, tzinfo=UTC))
        >>> f = LastValue(horizon=2).fit(s)
        >>> f.forecast(s.values[-12:], s.time_at(19)).tolist()
        [[38.0, 39.0], [38.0, 39.0]]
    """

    name = "last_value"

    def __init__(self, n_in: int = N_IN, horizon: int = N_OUT) -> None:
        self.n_in = n_in
        self.horizon = horizon
        self._fallback: FloatArray | None = None

    def fit(
        self,
        series: SensorSeries,
        validation: SensorSeries | None = None,  # noqa: ARG002 (nothing to tune)
    ) -> Self:
        """Remember each sensor's mean for sensors whose whole history is missing."""
        self._fallback = sensor_means(series.values)
        return self

    def forecast(self, history: FloatArray, t: datetime) -> FloatArray:  # noqa: ARG002
        """[horizon, N]: the last finite reading of each sensor, repeated."""
        if self._fallback is None:
            raise ForecastError("fit the forecaster first")
        check_history(history, self.n_in, self._fallback.shape[0])
        last = self._fallback.copy()
        for row in history:  # later rows overwrite earlier ones where they are finite
            seen = np.isfinite(row)
            last[seen] = row[seen]
        return np.repeat(last[None, :], self.horizon, axis=0)


class HistoricalAverage:
    """The mean reading of each sensor at the same time of day (or of the week).

    Slots never seen in training fall back to the time-of-day profile, then the
    sensor's mean, so a week-long profile on a few days of data stays defined.

    Example:
        >>> from datetime import UTC
        >>> s = SensorSeries(np.ones((600, 1)), ("a",), datetime(2012, 3, 1, tzinfo=UTC))
        >>> f = HistoricalAverage(horizon=3).fit(s)
        >>> f.forecast(np.ones((12, 1)), s.time_at(11)).ravel().tolist()
        [1.0, 1.0, 1.0]
    """

    name = "historical_average"

    def __init__(
        self, by: Literal["day", "week"] = "day", n_in: int = N_IN, horizon: int = N_OUT
    ) -> None:
        self.by = by
        self.n_in = n_in
        self.horizon = horizon
        self._profile: FloatArray | None = None
        self._step_s = 0.0

    def fit(
        self,
        series: SensorSeries,
        validation: SensorSeries | None = None,  # noqa: ARG002 (nothing to tune)
    ) -> Self:
        """Average the readings of every slot (time of day, or of the week) per sensor."""
        self._step_s = series.step_s
        per_day = self._per_day(series.step_s)
        slots = self._slot_index(series.start, np.arange(series.shape[0]))
        n_slots = per_day * (7 if self.by == "week" else 1)
        self._profile = _slot_means(series.values, slots, n_slots)
        if self.by == "week":
            day = _slot_means(series.values, slots % per_day, per_day)
            week_of_day = np.tile(day, (7, 1))
            self._profile = np.where(np.isnan(self._profile), week_of_day, self._profile)
        gaps = np.isnan(self._profile)
        self._profile[gaps] = np.broadcast_to(sensor_means(series.values), gaps.shape)[gaps]
        return self

    def forecast(self, history: FloatArray, t: datetime) -> FloatArray:
        """[horizon, N]: the profile at the steps after `t` (the history is not used)."""
        profile = self.profile(future_times(t, self._step_s, self.horizon))
        check_history(history, self.n_in, profile.shape[1])
        return profile

    def profile(self, times: list[datetime]) -> FloatArray:
        """The usual reading of every sensor at each of `times`: [len(times), N]."""
        if self._profile is None:
            raise ForecastError("fit the forecaster first")
        origin = times[0] if times else datetime.now().astimezone()
        offsets = np.array([(x - origin).total_seconds() for x in times]) / self._step_s
        slots = self._slot_index(origin, np.rint(offsets).astype(np.int64))
        return np.asarray(self._profile[slots], dtype=np.float64)

    def _per_day(self, step_s: float) -> int:
        per_day = SECONDS_PER_DAY / step_s
        if abs(per_day - round(per_day)) > 1e-9:
            raise ForecastError(f"a day is not a whole number of {step_s} s steps")
        return round(per_day)

    def _slot_index(self, start: datetime, index: np.ndarray) -> np.ndarray:
        per_day = self._per_day(self._step_s)
        midnight = start.replace(hour=0, minute=0, second=0, microsecond=0)
        first = round((start - midnight).total_seconds() / self._step_s)
        slot = (first + index) % per_day
        if self.by == "day":
            return np.asarray(slot)
        days = (first + index) // per_day
        return np.asarray(((start.weekday() + days) % 7) * per_day + slot)


def _slot_means(values: FloatArray, slots: np.ndarray, n_slots: int) -> FloatArray:
    finite = np.isfinite(values)
    sums = np.zeros((n_slots, values.shape[1]))
    counts = np.zeros((n_slots, values.shape[1]))
    np.add.at(sums, slots, np.where(finite, values, 0.0))
    np.add.at(counts, slots, finite.astype(np.float64))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, sums / counts, np.nan)
