"""The live service's events: congestion and incidents per ended step, and sensor health."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta, tzinfo
from typing import Literal

import numpy as np

from citysentinel.events import Event, EventKind, EventState
from citysentinel.events.payloads import HealthPayload
from citysentinel.traffic.anomaly import AnomalyConfig, Direction, TrafficAnomalyDetector
from citysentinel.traffic.forecasting import Forecaster
from citysentinel.traffic.graph import SensorGraph
from citysentinel.traffic.series import SensorSeries

HIGH_IS_BAD = frozenset({"occupancy", "travel_time"})  # for these a rise is the slowdown


class LiveDetector:
    """Congestion and incident events from the live readings, one step at a time.

    Steps are fed in time order once they have ended, each once; the event id
    is made of sensor, kind, state and step, so a restart that sees a step again
    stores nothing twice. Flow sensors are left out: a drop in flow is as often
    a quiet hour as a jam.

    Example:
        >>> # det = LiveDetector(graph); det.learn(week, forecaster)
        >>> # events = det.detect(history, now)   # traffic.congestion / traffic.incident
    """

    def __init__(
        self,
        graph: SensorGraph,
        config: AnomalyConfig | None = None,
        tz: tzinfo | None = None,
    ) -> None:
        self.graph = graph
        self.config = config
        self.tz = tz  # the site's: time-of-week slots follow local rush hours
        keep = [j for j, s in enumerate(graph.sensors) if s.kind != "flow"]
        self.columns = keep
        self.sensors = tuple(graph.sensors[j].id for j in keep)
        self.units = {s.id: s.unit for s in graph.sensors}
        self._detector: TrafficAnomalyDetector | None = None
        self._fed_until: datetime | None = None

    def learn(self, series: SensorSeries, forecaster: Forecaster | None = None) -> None:
        """Warm the usual profile on `series` the first time; later the detector learns online."""
        del forecaster  # the service's forecaster covers every sensor; see `_build` for why
        if self._detector is not None or not self.sensors:
            return
        self._detector = self._build(series.step_s)
        self._detector.learn_series(self._own(series))
        if series.shape[0]:
            self._fed_until = series.time_at(series.shape[0] - 1)

    def _build(self, step_s: float) -> TrafficAnomalyDetector:
        directions: dict[str, Direction] = {
            s.id: "high"
            for s in self.graph.sensors
            if s.id in self.sensors and s.kind in HIGH_IS_BAD
        }
        free_flow = {
            s.id: s.free_flow
            for s in self.graph.sensors
            if s.id in self.sensors and s.free_flow is not None
        }
        adjacency = self.graph.adjacency[np.ix_(self.columns, self.columns)]
        # No forecaster: the service's model forecasts every column, flow ones included,
        # and the detector's own expected value (the median of the last readings, frozen at
        # onset) is what its thresholds were tuned on.
        return TrafficAnomalyDetector(
            self.sensors,
            adjacency=adjacency,
            config=self.config,
            directions=directions,
            free_flow=free_flow,
            step_s=step_s,
            tz=self.tz,
        )

    def _own(self, series: SensorSeries) -> SensorSeries:
        return SensorSeries(
            series.values[:, self.columns], self.sensors, series.start, series.step_s
        )

    def detect(self, history: SensorSeries, now: datetime) -> list[Event]:
        """Events of the steps of `history` that ended by `now` and were not fed before."""
        if self._detector is None:
            return []
        events: list[Event] = []
        step = timedelta(seconds=history.step_s)
        own = self._own(history)
        for i in range(own.shape[0]):
            t = own.time_at(i)
            if (self._fed_until is not None and t <= self._fed_until) or t + step > now:
                continue
            for found in self._detector.update(t, own.values[i]):
                event = found.to_event(unit=self.units.get(found.sensor, "mph"))
                key = event_id(
                    "traffic", found.sensor, f"{found.kind.value}:{found.state.value}", t
                )
                events.append(event.model_copy(update={"id": key}))
            self._fed_until = t
        return events


def event_id(prefix: str, sensor: str, what: str, step: datetime) -> str:
    """A deterministic event id, e.g. `traffic:loop-1:incident:start:20261125T080500`.

    Example:
        >>> from datetime import UTC
        >>> event_id("traffic", "a", "incident:start", datetime(2026, 11, 25, 8, 5, tzinfo=UTC))
        'traffic:a:incident:start:20261125T080500'
    """
    key = f"{prefix}:{sensor}:{what}:{step:%Y%m%dT%H%M%S}"
    if len(key) > 64:  # event ids are at most 64 characters
        key = f"{prefix}:{hashlib.sha1(key.encode()).hexdigest()}"
    return key


class SensorHealth:
    """`sensor.health` events: start when a sensor that reported goes stale, end on its return.

    A sensor that never reported gives none (not installed yet rather than
    broken). The id holds the sensor's newest step, so a restart that reports a
    sensor still down again stores nothing twice.

    Example:
        >>> from datetime import UTC
        >>> health = SensorHealth(("a",), step_s=300, stale_after_s=600)
        >>> t = datetime(2026, 11, 25, 8, tzinfo=UTC)
        >>> [e.state.value for e in health.check({"a": (t, 50.0)}, t + timedelta(minutes=20))]
        ['start']
    """

    def __init__(self, sensors: Sequence[str], step_s: float, stale_after_s: float) -> None:
        self.sensors = tuple(sensors)
        self.step = timedelta(seconds=step_s)
        self.stale_after_s = stale_after_s
        self.down: set[str] = set()

    def check(
        self, latest: Mapping[str, tuple[datetime, float | None]], now: datetime
    ) -> list[Event]:
        """Events for the sensors whose stale state changed since the last check."""
        events = []
        for sensor in self.sensors:
            seen = latest.get(sensor)
            if seen is None:
                continue
            age = (now - (seen[0] + self.step)).total_seconds()
            down = age > self.stale_after_s
            if down == (sensor in self.down):
                continue
            if down:
                self.down.add(sensor)
            else:
                self.down.discard(sensor)
            status: Literal["ok", "down"] = "down" if down else "ok"
            events.append(
                Event(
                    id=event_id("sensor-health", sensor, status, seen[0]),
                    kind=EventKind.SENSOR_HEALTH,
                    state=EventState.START if down else EventState.END,
                    time=now,
                    source=sensor,
                    payload=HealthPayload(status=status, stale_s=max(age, 0.0)),
                )
            )
        return events
