"""Congestion vs incident: live readings against the forecast, the usual profile and neighbours.

One synchronous, pure object per sensor network, with river's verbs:
`learn_series(history)` warms the time-of-week profile (optional), then
`update(t, readings) -> list[Detection]` is called once per step and returns
what started, changed severity or ended at `t`. Readings missing at a step
are NaN (or left out of the mapping); they neither fire nor end anything.

At each step and sensor the detector compares the reading with

- the **expected** value: the forecast made just before the slowdown began
  (frozen at onset, so a persistent drop is not forecast away), by the injected
  `Forecaster` or, without one, the median of the last readings;
- the **usual** value for this time of week (15-minute slots in the site's
  time zone `tz`; while a slot has fewer than two days of data, the
  weekday/weekend slot, then the time-of-day slot);
- its **neighbours** (adjacency weights > 0): the weighted share that are slow
  or clearly below their own usual value at the same step.

A sensor is *unusual* when it is at least `incident_drop` below both the
expected and the usual value and `min_z` scales below the usual one (a scale
is 1.25 x the slot's mean absolute deviation, about one standard deviation);
it is *slow* when it is below `congestion_ratio` of its free-flow value (the
fastest usual time-of-day value). After `persist_steps` consecutive such
steps a detection starts: an **incident** if the sensor is unusual and fewer
than `neighbour_share` of its neighbours share the drop (univariate series:
unusual is enough), else **congestion** (slow as usual, or shared by its
neighbours). The kind is kept until the end, so the queue an incident spills
onto its neighbours does not turn it into congestion. It ends after
`recover_steps` steps back within `recover_ratio` of its start thresholds.
For sensors where high is bad (occupancy, travel time) every ratio is taken on
the inverse, so a doubled travel time is a 50% drop, as for speed.

Example (the traffic-live service feeds one row of readings per step):
    >>> from datetime import UTC, datetime, timedelta
    >>> from citysentinel.traffic import SensorSeries
    >>> t0 = datetime(2012, 3, 1, tzinfo=UTC)
    >>> days = np.full((288 * 7, 3), 60.0) + np.tile([0.0, 1.0, -1.0], (288 * 7, 1))
    >>> det = TrafficAnomalyDetector(("a", "b", "c"), adjacency=np.ones((3, 3)))
    >>> det.learn_series(SensorSeries(days, ("a", "b", "c"), t0))
    >>> t = t0 + timedelta(days=7)
    >>> found = []
    >>> for k in range(4):  # sensor a drops to 20 mph, b and c do not
    ...     found += det.update(t + timedelta(minutes=5 * k), {"a": 20.0, "b": 61.0, "c": 59.0})
    >>> [(d.kind.value, d.state.value, d.sensor, d.severity.value) for d in found]
    [('incident', 'start', 'a', 'high')]
    >>> round(found[0].drop_ratio, 2), found[0].neighbours_affected
    (0.67, 0.0)
    >>> event = found[0].to_event(unit="mph")  # a traffic.incident Event with the series evidence
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from enum import IntEnum

import numpy as np
import numpy.typing as npt

from citysentinel.events import EventState, SeriesWindow, Severity
from citysentinel.traffic.detections import (
    AnomalyConfig,
    AnomalyError,
    Detection,
    DetectionKind,
    Direction,
)
from citysentinel.traffic.forecasting.base import Forecaster
from citysentinel.traffic.profile import Profile, ProfileError
from citysentinel.traffic.series import FloatArray, SensorSeries

__all__ = [
    "AnomalyConfig",
    "AnomalyError",
    "Detection",
    "DetectionKind",
    "Direction",
    "TrafficAnomalyDetector",
]


class _Phase(IntEnum):
    IDLE = 0
    CANDIDATE = 1
    ACTIVE = 2


@dataclass
class _Step:
    """What one step looks like to every sensor: [N] arrays of the comparisons."""

    t: datetime
    x: FloatArray
    expected: FloatArray
    usual: FloatArray
    drop_expected: FloatArray
    drop_usual: FloatArray
    slowdown: FloatArray
    free: FloatArray
    slow: np.ndarray
    unusual: np.ndarray
    share: FloatArray


class TrafficAnomalyDetector:
    """Congestion and incident detections from one row of sensor readings per step.

    `adjacency` is an [N, N] non-negative weight matrix (0 = not neighbours; the
    diagonal is ignored); `forecaster` is a fitted `Forecaster` over the same
    sensors in the same order; `directions` marks sensors where high readings are
    bad ("high": occupancy, travel time), the rest are "low" (speed, flow);
    `free_flow` sets a sensor's free-flow value (for occupancy, say, the
    occupancy of free traffic) instead of its best usual time-of-day value;
    `tz` is the site's time zone, in which the usual profile's time-of-week slots
    are taken (default: the zone each given time carries). Times must increase;
    a step skipped leaves missing readings behind.
    See the module docstring for the rules and an example.
    """

    def __init__(
        self,
        sensors: Sequence[str],
        *,
        adjacency: FloatArray | None = None,
        forecaster: Forecaster | None = None,
        config: AnomalyConfig | None = None,
        directions: Mapping[str, Direction] | None = None,
        free_flow: Mapping[str, float] | None = None,
        step_s: float = 300.0,
        tz: tzinfo | None = None,
    ) -> None:
        self.sensors = tuple(sensors)
        n = len(self.sensors)
        if n == 0 or len(set(self.sensors)) != n:
            raise AnomalyError("sensor ids must be given, each once")
        if step_s <= 0:
            raise AnomalyError(f"step must be positive, got {step_s} s")
        self.config = config or AnomalyConfig()
        self.forecaster = forecaster
        self.step_s = step_s
        self._index = {s: j for j, s in enumerate(self.sensors)}
        self._weights = _neighbour_weights(adjacency, n)
        unknown = sorted(set(directions or {}) - set(self.sensors))
        if unknown:
            raise AnomalyError(f"directions name unknown sensors {unknown}")
        self._sign = np.array(
            [-1.0 if (directions or {}).get(s) == "high" else 1.0 for s in sensors]
        )
        unknown = sorted(set(free_flow or {}) - set(self.sensors))
        if unknown:
            raise AnomalyError(f"free_flow names unknown sensors {unknown}")
        self._free = np.array([(free_flow or {}).get(s, np.nan) for s in self.sensors], dtype=float)
        try:
            self.profile = Profile(n, self.config.slot_s, tz=tz)
        except ProfileError as exc:
            raise AnomalyError(str(exc)) from exc
        self._scale: FloatArray = np.full(n, np.nan)
        self._n_in = forecaster.n_in if forecaster is not None else self.config.level_steps
        self._horizon = forecaster.horizon if forecaster is not None else 12
        keep = max(self._n_in, self.config.window_steps)
        self._buf: FloatArray = np.full((keep, n), np.nan)
        self._usual_buf: FloatArray = np.full((keep, n), np.nan)
        self._t: datetime | None = None
        self._path: FloatArray | None = None  # forecast [H, N] for the steps after ...
        self._path_t0: datetime | None = None  # ... this time of its first row
        self._phase = np.zeros(n, dtype=np.int64)
        self._count = np.zeros(n, dtype=np.int64)
        self._recover = np.zeros(n, dtype=np.int64)
        self._frozen: FloatArray = np.full((n, self._horizon), np.nan)
        self._frozen_t0: list[datetime | None] = [None] * n
        self._onset: list[datetime | None] = [None] * n
        self._kind: list[DetectionKind | None] = [None] * n
        self._severity: list[Severity | None] = [None] * n

    def learn_series(self, history: SensorSeries) -> None:
        """Warm the usual profile and residual scale on past readings; the next step follows it."""
        if abs(history.step_s - self.step_s) > 1e-9:
            raise AnomalyError(
                f"history steps are {history.step_s} s, the detector's {self.step_s}"
            )
        if history.shape[0] == 0:
            raise AnomalyError("the history has no steps")
        last = history.time_at(history.shape[0] - 1)
        if self._t is not None and last <= self._t:
            # Times must increase: an older history would let the next update go back.
            raise AnomalyError(
                f"the history ends at {last.isoformat()}, not after {self._t.isoformat()}"
            )
        cols = [history.sensors.index(s) if s in history.sensors else -1 for s in self.sensors]
        if all(c < 0 for c in cols):
            raise AnomalyError("the history has none of the detector's sensors")
        values = np.where(np.array(cols) >= 0, history.values[:, cols], np.nan)
        for i, row in enumerate(values):
            t = history.time_at(i)
            self._learn(t, row, self.profile.predict_one(t))
        keep = min(len(values), self._buf.shape[0])
        self._buf[-keep:] = values[-keep:]
        self._usual_buf[-keep:] = np.array(
            [
                self.profile.predict_one(last - timedelta(seconds=self.step_s * k))
                for k in range(keep)
            ][::-1]
        )
        self._t = last
        self._path, self._path_t0 = self._forecast_next(), last + timedelta(seconds=self.step_s)

    def update(self, t: datetime, readings: Mapping[str, float] | FloatArray) -> list[Detection]:
        """Readings of step `t` (by sensor id, or an [N] array; NaN = missing) -> detections."""
        x = self._row(readings)
        k = self._advance(t)
        step = self._compare(t, x, k)
        self._buf[-1], self._usual_buf[-1] = x, step.usual
        out = self._transitions(step)
        self._learn(t, np.where(self._learning(), x, np.nan), step.usual)
        self._path, self._path_t0 = self._forecast_next(), t + timedelta(seconds=self.step_s)
        return out

    def _row(self, readings: Mapping[str, float] | FloatArray) -> FloatArray:
        if isinstance(readings, np.ndarray):
            if readings.shape != (len(self.sensors),):
                raise AnomalyError(f"readings must be [{len(self.sensors)}], got {readings.shape}")
            try:
                x = readings.astype(np.float64)
            except (TypeError, ValueError):
                raise AnomalyError("readings must be numbers (NaN for missing)") from None
        else:
            x = np.full(len(self.sensors), np.nan)
            for sensor, value in readings.items():
                j = self._index.get(sensor)
                if j is None:
                    raise AnomalyError(f"unknown sensor {sensor!r}")
                try:
                    x[j] = float(value)
                except (TypeError, ValueError):
                    x[j] = np.nan  # not a number: a missing reading, like NaN or negative
        return np.where(np.isfinite(x) & (x >= 0), x, np.nan)

    def _advance(self, t: datetime) -> int:
        """Steps since the last update (1 the first time); shift the history buffers."""
        if t.tzinfo is None:
            raise AnomalyError("times must be timezone-aware")
        k = 1
        if self._t is not None:
            gap = (t - self._t).total_seconds() / self.step_s
            if gap <= 0.5:
                raise AnomalyError(
                    f"readings at {t.isoformat()} do not follow {self._t.isoformat()}"
                )
            k = max(1, round(gap))
        shift = min(k, self._buf.shape[0])
        for buf in (self._buf, self._usual_buf):
            buf[:] = np.roll(buf, -shift, axis=0)
            buf[-shift:] = np.nan
        self._t = t
        return k

    def _compare(self, t: datetime, x: FloatArray, k: int) -> _Step:
        cfg = self.config
        usual = self.profile.predict_one(t)
        rolling = np.full(len(self.sensors), np.nan)
        if self._path is not None and k <= self._path.shape[0]:
            rolling = self._path[k - 1].copy()  # the path starts one step after the last update
        for i in map(int, np.nonzero(self._phase != _Phase.IDLE)[0]):
            t0 = self._frozen_t0[i]
            if t0 is not None:  # judged against the forecast made before the drop began
                idx = round((t - t0).total_seconds() / self.step_s)
                rolling[i] = self._frozen[i, idx] if 0 <= idx < self._horizon else np.nan
        expected = np.where(np.isnan(rolling), usual, rolling)
        drop_e, drop_u = self._drop(x, expected), self._drop(x, usual)
        free = np.where(np.isnan(self._free), self.profile.free_flow(self._sign), self._free)
        slowdown = self._drop(x, free)
        # The spread of this time slot: rush hours vary from day to day, nights do not.
        # Floors keep a slot seen on two near-equal days from calling everything unusual.
        floor = np.fmax(0.5 * self._scale, 0.02 * np.abs(usual)) + 1e-9
        scale = 1.25 * np.fmax(self.profile.spread_one(t), floor)
        z = self._sign * (usual - x) / scale
        slow = slowdown >= 1.0 - cfg.congestion_ratio
        unusual = (drop_e >= cfg.incident_drop) & (drop_u >= cfg.incident_drop) & (z >= cfg.min_z)
        seen = np.isfinite(x)
        affected = seen & (slow | unusual | (drop_u >= cfg.neighbour_drop))
        total = self._weights @ seen.astype(np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            share = np.where(total > 0, (self._weights @ affected) / total, np.nan)
        return _Step(t, x, expected, usual, drop_e, drop_u, slowdown, free, slow, unusual, share)

    def _drop(self, x: FloatArray, ref: FloatArray) -> FloatArray:
        """How far `x` is below `ref` as a share of it, on the inverse where high is bad."""
        with np.errstate(divide="ignore", invalid="ignore"):
            d = np.where(self._sign > 0, 1.0 - x / ref, 1.0 - ref / x)
        return np.where(np.isfinite(d), d, np.nan)

    def _transitions(self, s: _Step) -> list[Detection]:
        """Advance each sensor's idle -> candidate -> active -> idle machine by one step."""
        out: list[Detection] = []
        candidate = s.slow | s.unusual
        for i in map(int, np.nonzero(candidate | (self._phase != _Phase.IDLE))[0]):
            if np.isnan(s.x[i]):
                continue  # a missing reading neither fires nor ends anything
            if self._phase[i] == _Phase.ACTIVE:
                out += self._active(i, s)
                continue
            if self._phase[i] == _Phase.IDLE:
                self._phase[i], self._count[i], self._onset[i] = _Phase.CANDIDATE, 0, s.t
                self._frozen_t0[i] = self._freeze(i)
            if not candidate[i]:
                self._reset(i)
                continue
            self._count[i] += 1
            if self._count[i] >= self.config.persist_steps:
                out.append(self._start(i, s))
        return out

    def _active(self, i: int, s: _Step) -> list[Detection]:
        """An active detection: end it, escalate congestion to an incident, or grade it."""
        cfg = self.config
        if self._recovered(i, s):
            self._recover[i] += 1
            if self._recover[i] < cfg.recover_steps:
                return []
            end = self._detection(i, s, EventState.END)
            self._reset(i)
            return [end]
        self._recover[i] = 0
        if self._kind[i] is DetectionKind.CONGESTION:
            # An incident inside a congestion (a crash in the rush hour): a local
            # unusual drop for persist_steps ends the congestion and starts it.
            if s.unusual[i] and self._local(i, s):
                if self._count[i] == 0:
                    self._frozen_t0[i] = self._freeze(i)
                self._count[i] += 1
            else:
                self._count[i], self._frozen_t0[i] = 0, None
            if self._count[i] >= cfg.persist_steps:
                end = self._detection(i, s, EventState.END)
                self._onset[i] = s.t
                return [end, self._start(i, s)]
        # Severity only rises during a detection (its peak), so a reading near a grade
        # boundary does not flap between two grades.
        severity = self._grade(i, s)
        current = self._severity[i]
        if current is not None and severity.rank <= current.rank:
            return []
        self._severity[i] = severity
        return [self._detection(i, s, EventState.UPDATE)]

    def _local(self, i: int, s: _Step) -> bool:
        share = s.share[i]
        return bool(np.isnan(share)) or share < self.config.neighbour_share

    def _learning(self) -> npt.NDArray[np.bool_]:
        """Sensors whose readings are usual enough to learn from: idle, or in plain congestion."""
        learn: npt.NDArray[np.bool_] = np.asarray(self._phase == _Phase.IDLE)
        for i in map(int, np.nonzero(self._phase == _Phase.ACTIVE)[0]):
            learn[i] = self._kind[i] is DetectionKind.CONGESTION and self._count[i] == 0
        return learn

    def _freeze(self, i: int) -> datetime | None:
        """Keep the forecast made before the onset, so the drop is judged against it."""
        if self._path is None or self._path_t0 is None:
            self._frozen[i] = np.nan
            return None
        self._frozen[i] = self._path[:, i]
        return self._path_t0

    def _start(self, i: int, s: _Step) -> Detection:
        incident = bool(s.unusual[i]) and self._local(i, s)
        self._kind[i] = DetectionKind.INCIDENT if incident else DetectionKind.CONGESTION
        self._phase[i], self._recover[i], self._count[i] = _Phase.ACTIVE, 0, 0
        if not incident:
            self._frozen_t0[i] = None  # congestion follows the rolling forecast
        self._severity[i] = self._grade(i, s)
        return self._detection(i, s, EventState.START)

    def _recovered(self, i: int, s: _Step) -> bool:
        cfg = self.config
        back = not s.drop_usual[i] >= cfg.incident_drop * cfg.recover_ratio
        if self._kind[i] is DetectionKind.INCIDENT:
            return back  # the usual rush hour after an incident is not the incident
        return back and not s.slowdown[i] >= (1.0 - cfg.congestion_ratio) * cfg.recover_ratio

    def _grade(self, i: int, s: _Step) -> Severity:
        if self._kind[i] is DetectionKind.INCIDENT:
            d = s.drop_expected[i]
            levels = (Severity.MEDIUM, Severity.HIGH, Severity.CRITICAL)
        else:
            d = s.slowdown[i]
            levels = (Severity.LOW, Severity.MEDIUM, Severity.HIGH)
        if not d >= 0.5:
            return levels[0]
        return levels[1] if d < 0.7 else levels[2]

    def _detection(self, i: int, s: _Step, state: EventState) -> Detection:
        kind, onset, severity = self._kind[i], self._onset[i], self._severity[i]
        assert kind is not None and onset is not None and severity is not None
        w = self.config.window_steps
        window = SeriesWindow(
            sensor=self.sensors[i],
            start=s.t - timedelta(seconds=self.step_s * (w - 1)),
            step_s=self.step_s,
            values=_nullable(self._buf[-w:, i]),
            expected=_nullable(self._usual_buf[-w:, i]),
        )
        return Detection(
            kind=kind,
            state=state,
            sensor=self.sensors[i],
            time=s.t,
            started=onset,
            severity=severity,
            observed=_opt(s.x[i]),
            expected=_opt(s.expected[i]),
            usual=_opt(s.usual[i]),
            drop_ratio=_opt(s.drop_expected[i]),
            free_flow=_opt(s.free[i]),
            neighbours_affected=_opt(s.share[i]),
            window=window,
        )

    def _reset(self, i: int) -> None:
        self._phase[i], self._count[i], self._recover[i] = _Phase.IDLE, 0, 0
        self._frozen[i] = np.nan
        self._frozen_t0[i] = self._onset[i] = self._kind[i] = self._severity[i] = None

    def _learn(self, t: datetime, x: FloatArray, usual: FloatArray) -> None:
        """Fold normal readings into the profile and the residual scale (EW mean |x - usual|)."""
        resid = np.abs(x - usual)
        ok = np.isfinite(resid)
        first = ok & np.isnan(self._scale)
        self._scale[first] = resid[first]
        more = ok & ~first
        self._scale[more] += 0.02 * (resid[more] - self._scale[more])
        self.profile.learn_one(t, x)

    def _forecast_next(self) -> FloatArray:
        """[H, N] forecast for the steps after the last one, from the readings buffer."""
        history = self._buf[-self._n_in :]
        if self.forecaster is None:
            level = np.full(history.shape[1], np.nan)
            seen = np.isfinite(history).any(axis=0)
            level[seen] = np.nanmedian(history[:, seen], axis=0)
            return np.repeat(level[None, :], self._horizon, axis=0)
        assert self._t is not None
        try:
            path = self.forecaster.forecast(history, self._t)
        except ValueError as exc:
            raise AnomalyError(f"the forecaster does not fit these sensors: {exc}") from None
        return np.asarray(path, dtype=np.float64)


def _neighbour_weights(adjacency: FloatArray | None, n: int) -> FloatArray:
    if adjacency is None:
        return np.zeros((n, n))
    a = np.asarray(adjacency, dtype=np.float64)
    if a.shape != (n, n):
        raise AnomalyError(f"adjacency must be [{n}, {n}] for {n} sensors, got {list(a.shape)}")
    if not np.isfinite(a).all() or (a < 0).any():
        raise AnomalyError("adjacency weights must be finite and non-negative")
    a = a.copy()
    np.fill_diagonal(a, 0.0)
    return a


def _opt(v: float) -> float | None:
    return None if math.isnan(v) else float(v)


def _nullable(values: FloatArray) -> list[float | None]:
    return [None if math.isnan(v) else float(v) for v in values]
