"""The forecaster contract, sliding windows and the chronological split of the benchmarks."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol, Self, runtime_checkable

import numpy as np

from citysentinel.traffic.series import FloatArray, SensorSeries

N_IN = 12  # an hour of 5-minute steps in
N_OUT = 12  # an hour out: horizons 3, 6, 12 are 15, 30 and 60 minutes
HORIZONS = (3, 6, 12)


class ForecastError(ValueError):
    """A history of the wrong shape, a series too short to fit, an unfitted forecaster."""


@runtime_checkable
class Forecaster(Protocol):
    """Fit on a history of every sensor, then forecast `horizon` steps for every sensor.

    `forecast(history, t)` takes the last `n_in` steps ([n_in, N], NaN for
    missing) whose last row is at time `t`, and returns [horizon, N] finite
    values for the steps after `t`.
    """

    name: str
    n_in: int
    horizon: int

    def fit(self, series: SensorSeries, validation: SensorSeries | None = None) -> Self:
        """Learn from `series`; `validation` (later steps) may pick hyperparameters."""
        ...

    def forecast(self, history: FloatArray, t: datetime) -> FloatArray:
        """[horizon, N] values for the steps after `t`, the time of `history[-1]`."""
        ...


@dataclass(frozen=True)
class Split:
    """Chronological split of the sliding windows: window i reads steps i..i+n_in-1.

    Example:
        >>> s = Split.of(2016)
        >>> len(s.train), len(s.val), len(s.test)
        (1395, 199, 399)
        >>> s.steps(s.test)
        (1594, 2016)
    """

    train: range
    val: range
    test: range
    n_in: int = N_IN
    n_out: int = N_OUT

    @classmethod
    def of(
        cls,
        n_steps: int,
        n_in: int = N_IN,
        n_out: int = N_OUT,
        fractions: tuple[float, float] = (0.7, 0.2),
    ) -> Split:
        """Windows over the whole series, the first 70% train, the last 20% test (DCRNN)."""
        n = n_steps - n_in - n_out + 1
        if n < 10:
            raise ForecastError(f"{n_steps} steps give {max(n, 0)} windows; need at least 10")
        n_train, n_test = round(n * fractions[0]), round(n * fractions[1])
        n_val = n - n_train - n_test
        return cls(
            range(0, n_train),
            range(n_train, n_train + n_val),
            range(n - n_test, n),
            n_in,
            n_out,
        )

    def steps(self, windows: range) -> tuple[int, int]:
        """The series steps (begin, end exclusive) the `windows` read and predict."""
        return windows.start, windows.stop - 1 + self.n_in + self.n_out


def windows(
    values: FloatArray, n_in: int = N_IN, n_out: int = N_OUT
) -> tuple[FloatArray, FloatArray]:
    """Every sliding window of `values` [T, N]: inputs [W, n_in, N] and targets [W, n_out, N].

    Example:
        >>> x, y = windows(np.zeros((30, 2)))
        >>> x.shape, y.shape
        ((7, 12, 2), (7, 12, 2))
    """
    count = values.shape[0] - n_in - n_out + 1
    if count <= 0:
        raise ForecastError(f"{values.shape[0]} steps are fewer than {n_in + n_out}")
    view = np.lib.stride_tricks.sliding_window_view(values, n_in + n_out, axis=0)
    both = np.moveaxis(view, -1, 1)[:count]
    return np.ascontiguousarray(both[:, :n_in]), np.ascontiguousarray(both[:, n_in:])


def check_history(history: FloatArray, n_in: int, n_sensors: int) -> None:
    """Raise `ForecastError` unless `history` is [n_in, n_sensors]."""
    if history.shape != (n_in, n_sensors):
        raise ForecastError(f"history must be [{n_in}, {n_sensors}], got {list(history.shape)}")


def future_times(t: datetime, step_s: float, horizon: int) -> list[datetime]:
    """The `horizon` step times after `t`."""
    return [t + timedelta(seconds=step_s * k) for k in range(1, horizon + 1)]


def fill_history(history: FloatArray, fallback: FloatArray) -> FloatArray:
    """Carry the last reading forward (then back) per sensor; a sensor with none gets `fallback`.

    Example:
        >>> fill_history(np.array([[np.nan, np.nan], [1.0, np.nan], [np.nan, np.nan]]),
        ...              np.array([9.0, 7.0])).tolist()
        [[1.0, 7.0], [1.0, 7.0], [1.0, 7.0]]
    """
    out = history.copy()
    for i in range(1, out.shape[0]):
        gap = np.isnan(out[i])
        out[i, gap] = out[i - 1, gap]
    for i in range(out.shape[0] - 2, -1, -1):
        gap = np.isnan(out[i])
        out[i, gap] = out[i + 1, gap]
    rows, cols = np.nonzero(np.isnan(out))
    out[rows, cols] = fallback[cols]
    return out


def sensor_means(values: FloatArray) -> FloatArray:
    """Each sensor's mean reading ignoring gaps; the overall mean for sensors with none."""
    finite = np.isfinite(values)
    counts = finite.sum(axis=0)
    sums = np.where(finite, values, 0.0).sum(axis=0)
    overall = float(sums.sum() / counts.sum()) if counts.sum() else 0.0
    return np.where(counts > 0, sums / np.maximum(counts, 1), overall)
