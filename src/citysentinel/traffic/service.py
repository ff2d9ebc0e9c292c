"""The live traffic service: ingest readings, refresh forecasts, flag stale sensors, detect.

One concurrency model: the service lives on the event loop (ingest, debounce,
interval), every database read and every fit or forecast runs in a worker
thread, and the results are swapped in as one immutable `Snapshot`, so API
reads never wait on a refresh.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

import numpy as np

from citysentinel.events import Event
from citysentinel.events.model import utcnow
from citysentinel.traffic.detect import SensorHealth
from citysentinel.traffic.forecasting import Forecaster, ForecastError, LastValue
from citysentinel.traffic.graph import Sensor, SensorGraph
from citysentinel.traffic.live import (
    Status,
    TrafficConfig,
    free_flow_of,
    load_live_forecaster,
    needs_fit,
    status_of,
)
from citysentinel.traffic.mqtt import MqttReadings
from citysentinel.traffic.readings import CheckedBatch, RawReading, ReadingStore, store_batch
from citysentinel.traffic.series import SECONDS_PER_DAY, FloatArray, SensorSeries

log = logging.getLogger(__name__)
Emit = Callable[[list[Event]], Awaitable[object]]
Clock = Callable[[], datetime]
Latest = dict[str, tuple[datetime, float | None]]  # sensor -> newest step and its value
MQTT_QUEUE_MESSAGES = 10_000  # MQTT messages held while storage is busy


class Detector(Protocol):
    """Turns the recent readings into congestion / incident events (see `traffic.anomaly`)."""

    def learn(self, series: SensorSeries, forecaster: Forecaster) -> None:
        """Warm up on a long history (called at each refit, with the fitted forecaster)."""
        ...

    def detect(self, history: SensorSeries, now: datetime) -> list[Event]:
        """Events for the steps of `history` that ended by `now` and were not seen before."""
        ...


@dataclass(frozen=True)
class Snapshot:
    """The latest forecast of every sensor: `values` [horizon, N] after `issued_at`."""

    issued_at: datetime
    refreshed_at: datetime
    model: str
    step_s: float
    sensors: tuple[str, ...]
    values: FloatArray
    inputs_at: dict[str, datetime]  # each sensor's newest step in the history it came from
    free_flow: dict[str, float] = field(default_factory=dict)

    def times(self) -> list[datetime]:
        """The forecast step times."""
        return [
            self.issued_at + timedelta(seconds=self.step_s * k)
            for k in range(1, self.values.shape[0] + 1)
        ]

    def of(self, sensor: str) -> list[float]:
        """One sensor's forecast values."""
        return [float(v) for v in self.values[:, self.sensors.index(sensor)]]


@dataclass(frozen=True)
class SensorState:
    """What the API shows of one sensor now."""

    sensor: Sensor
    latest_time: datetime | None
    latest_value: float | None
    stale: bool
    status: Status
    free_flow: float | None = None


class TrafficService:
    """Owns the live side of the configured sensors; `start` it on the event loop.

    Example:
        >>> # service = TrafficService(config, graph, SqlReadingStore(engine), emit=pipeline.ingest)
        >>> # await service.start(); checked = await service.ingest(raw); await service.stop()
    """

    def __init__(
        self,
        config: TrafficConfig,
        graph: SensorGraph,
        store: ReadingStore,
        *,
        emit: Emit | None = None,
        clock: Clock = utcnow,
        detector: Detector | None = None,
    ) -> None:
        self.config = config
        self.graph = graph
        self.store = store
        self.emit = emit
        self.clock = clock
        self.detector = detector
        self.snapshot: Snapshot | None = None
        self.model_error: str | None = None
        self.refreshes = 0
        self._latest: Latest = {}
        self._inflight: asyncio.Future[tuple[Latest, Snapshot | None, list[Event]]] | None = None
        self._forecaster: Forecaster | None = None  # in use: the configured one or last value
        self._configured: Forecaster | None = None
        self._fallback: Forecaster | None = None  # set when the configured one cannot load
        self._fitted_at: datetime | None = None
        self._refit_after = timedelta(seconds=config.refit_interval_s)
        self._free_flow: dict[str, float] = {}
        self.health = (
            SensorHealth(graph.ids, config.step_s, config.stale_after_s)
            if config.health_events
            else None
        )
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.mqtt: MqttReadings | None = None
        self.mqtt_flags: Counter[str] = Counter()  # flagged MQTT readings by flag
        self._mqtt_task: asyncio.Task[None] | None = None
        self._mqtt_queue: asyncio.Queue[list[RawReading]] = asyncio.Queue()
        self._lock = asyncio.Lock()  # one refresh at a time

    # -- lifecycle --------------------------------------------------------
    async def start(self) -> None:
        """Load each sensor's latest reading, refresh once, then run the refresh loop."""
        ids = self.graph.ids
        self._latest = await asyncio.to_thread(self.store.latest, ids)
        self._task = asyncio.create_task(self._loop(), name="traffic-refresh")
        self.notify()
        mqtt = self.config.mqtt
        if mqtt is not None and mqtt.enabled:
            loop = asyncio.get_running_loop()

            def deliver(readings: list[RawReading]) -> None:  # on paho's thread
                loop.call_soon_threadsafe(self._enqueue, readings)

            self.mqtt = MqttReadings(mqtt, deliver, clock=self.clock)
            self._mqtt_task = asyncio.create_task(self._mqtt_loop(), name="traffic-mqtt")
            self.mqtt.start()

    async def stop(self) -> None:
        """Stop the subscription and the refresh loop (a refresh under way finishes first)."""
        if self.mqtt is not None:
            await asyncio.to_thread(self.mqtt.stop)
        for task in (self._mqtt_task, self._task):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._task = self._mqtt_task = None
        if self._inflight is not None:
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await self._inflight

    def notify(self) -> None:
        """New readings arrived: refresh after `debounce_s` (once for a burst)."""
        self._wake.set()

    # -- ingest -----------------------------------------------------------
    async def ingest(self, raw: Sequence[RawReading]) -> CheckedBatch:
        """Check and store a batch; flagged items are reported, never raised."""
        latest = {s: t for s, (t, _) in self._latest.items()}
        checked = await asyncio.to_thread(
            store_batch,
            self.store,
            raw,
            set(self.graph.ids),
            self.config.step_s,
            now=self.clock(),
            latest=latest,
            max_future_s=self.config.max_future_s,
        )
        self._merge_latest(
            {r.sensor: (r.time, r.value) for r in sorted(checked.accepted, key=lambda r: r.time)}
        )
        if checked.accepted:
            self.notify()
        return checked

    def _enqueue(self, readings: list[RawReading]) -> None:
        # Bounded: while storage is stuck, newer messages are dropped and counted.
        if self._mqtt_queue.qsize() >= MQTT_QUEUE_MESSAGES:
            self.mqtt_flags["dropped_queue_full"] += len(readings)
            return
        self._mqtt_queue.put_nowait(readings)

    async def _mqtt_loop(self) -> None:
        """Store what MQTT delivered, a batch per `batch_s`, so a busy broker costs few commits."""
        assert self.config.mqtt is not None
        while True:
            batch = await self._mqtt_queue.get()
            await asyncio.sleep(self.config.mqtt.batch_s)
            while not self._mqtt_queue.empty():
                batch.extend(self._mqtt_queue.get_nowait())
            try:
                checked = await self.ingest(batch)
            except Exception:
                log.exception("traffic MQTT: could not store %d readings", len(batch))
                continue
            for f in checked.flagged:
                self.mqtt_flags[f.flag.value] += 1
            if checked.flagged:
                first = checked.flagged[0]
                log.warning(
                    "traffic MQTT: %d of %d readings flagged, e.g. %s %s: %s",
                    len(checked.flagged),
                    len(batch),
                    first.sensor,
                    first.flag.value,
                    first.detail,
                )

    # -- views ------------------------------------------------------------
    def stale(self, sensor: str, now: datetime | None = None) -> bool:
        """Whether `sensor`'s newest step ended longer than `stale_after_s` ago (or never)."""
        seen = self._latest.get(sensor)
        return seen is None or self._age(seen[0], now) > self.config.stale_after_s

    def forecast_stale(self, sensor: str, now: datetime | None = None) -> bool:
        """Whether the forecast of `sensor` was made from inputs older than `stale_after_s`."""
        snap = self.snapshot
        seen = snap.inputs_at.get(sensor) if snap is not None else None
        return seen is None or self._age(seen, now) > self.config.stale_after_s

    def _age(self, step: datetime, now: datetime | None) -> float:
        end = step + timedelta(seconds=self.config.step_s)
        return ((now or self.clock()) - end).total_seconds()

    def states(self) -> list[SensorState]:
        """Every configured sensor with its latest reading, stale flag and status."""
        now = self.clock()
        free = self.snapshot.free_flow if self.snapshot is not None else {}
        out = []
        for sensor in self.graph.sensors:
            seen = self._latest.get(sensor.id)
            stale = self.stale(sensor.id, now)
            value = seen[1] if seen is not None else None
            ref = sensor.free_flow if sensor.free_flow is not None else free.get(sensor.id)
            status = "unknown" if stale else status_of(sensor.kind, value, ref, self.config)
            out.append(SensorState(sensor, seen[0] if seen else None, value, stale, status, ref))
        return out

    async def observed(self, sensor: str, since: datetime, until: datetime) -> SensorSeries:
        """One sensor's stored readings on the step grid from `since` to `until`."""
        return await asyncio.to_thread(
            self.store.window, [sensor], since, until, self.config.step_s
        )

    # -- refresh ----------------------------------------------------------
    async def refresh(self) -> Snapshot | None:
        """Refresh forecasts now (in a worker thread) and publish any detections."""
        async with self._lock:
            work = asyncio.ensure_future(asyncio.to_thread(self._refresh_sync, self.clock()))
            self._inflight = work  # `stop` waits for it: the thread may not outlive the store
            stored, snapshot, events = await asyncio.shield(work)
        self._merge_latest(stored)  # readings stored by others too, e.g. `traffic import`
        self.snapshot = snapshot or self.snapshot
        self.refreshes += 1
        if events and self.emit is not None:
            await self.emit(events)
        return self.snapshot

    def _merge_latest(self, found: Latest) -> None:
        for sensor, (t, value) in found.items():
            seen = self._latest.get(sensor)
            if seen is None or t >= seen[0]:
                self._latest[sensor] = (t, value)

    async def _loop(self) -> None:
        last_retention: datetime | None = None
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.config.refresh_interval_s)
                await asyncio.sleep(self.config.debounce_s)  # let a burst of readings land
            self._wake.clear()
            try:
                await self.refresh()
                now = self.clock()
                if last_retention is None or now - last_retention > timedelta(hours=1):
                    cutoff = now - timedelta(days=self.config.retention_days)
                    await asyncio.to_thread(self.store.delete_before, cutoff)
                    last_retention = now
            except Exception:
                log.exception("traffic refresh failed; trying again at the next one")

    def _refresh_sync(self, now: datetime) -> tuple[Latest, Snapshot | None, list[Event]]:
        ids, step = self.graph.ids, self.config.step_s
        stored = self.store.latest(ids)
        newest = [t for t, _ in (*stored.values(), *dict(self._latest).values()) if t <= now]
        if not newest:
            return stored, None, []
        t = max(newest)
        health = self.health.check({**stored, **self._latest}, now) if self.health else []
        forecaster = self._ready_forecaster(t, now)
        history = self.store.window(
            ids,
            t - timedelta(seconds=step * (forecaster.n_in - 1)),
            t + timedelta(seconds=step),
            step,
        )
        values = forecaster.forecast(history.values, t)
        snap = Snapshot(
            issued_at=t,
            refreshed_at=now,
            model=forecaster.name,
            step_s=step,
            sensors=ids,
            values=values,
            inputs_at=_last_seen(history),
            free_flow=dict(self._free_flow),
        )
        events = self.detector.detect(history, now) if self.detector is not None else []
        return stored, snap, health + events

    def _ready_forecaster(self, t: datetime, now: datetime) -> Forecaster:
        """The forecaster, fitted again when due; a failed fit uses last value for an hour."""
        due = self._fitted_at is None or now >= self._fitted_at + self._refit_after
        if self._forecaster is not None and not due:
            return self._forecaster
        ids, step = self.graph.ids, self.config.step_s
        fit_on = self.store.window(
            ids, t - timedelta(days=self.config.fit_days), t + timedelta(seconds=step), step
        )
        self._free_flow = {
            s.id: ff
            for j, s in enumerate(self.graph.sensors)
            if (ff := free_flow_of(s.kind, fit_on.values[:, j])) is not None
        }
        if self._configured is None:
            self._configured = self._load()
        forecaster: Forecaster = self._configured
        self._fitted_at, self._refit_after = now, timedelta(seconds=self.config.refit_interval_s)
        fit_on = _trim(fit_on)
        if needs_fit(forecaster):
            try:
                _enough(forecaster, fit_on)
                forecaster.fit(fit_on)
                if forecaster is not self._fallback:
                    self.model_error = None
            except ForecastError as exc:
                self.model_error = f"{forecaster.name} could not be fitted: {exc}; using last_value"
                log.warning("traffic: %s", self.model_error)
                forecaster = LastValue().fit(fit_on)
                self._refit_after = min(self._refit_after, timedelta(hours=1))
        self._forecaster = forecaster
        if self.detector is not None:
            self.detector.learn(fit_on, forecaster)
        return forecaster

    def _load(self) -> Forecaster:
        try:
            return load_live_forecaster(self.config.forecaster, self.graph.ids)
        except (ForecastError, OSError, ValueError) as exc:
            self.model_error = f"{exc}; using last_value"
            log.error("traffic: %s", self.model_error)
            self._fallback = LastValue()
            return self._fallback


def _last_seen(series: SensorSeries) -> dict[str, datetime]:
    """Each sensor's newest step with a reading in `series`."""
    out: dict[str, datetime] = {}
    finite = np.isfinite(series.values)
    for j, sensor in enumerate(series.sensors):
        rows = np.nonzero(finite[:, j])[0]
        if rows.size:
            out[sensor] = series.time_at(int(rows[-1]))
    return out


def _trim(series: SensorSeries) -> SensorSeries:
    """`series` from its first step with any reading (a young site has a long empty past)."""
    rows = np.nonzero(np.isfinite(series.values).any(axis=1))[0]
    return series.slice(int(rows[0]), series.shape[0]) if rows.size else series.slice(0, 1)


def _enough(forecaster: Forecaster, series: SensorSeries) -> None:
    """Models that learn patterns need a day of readings; last value needs none."""
    if forecaster.name == LastValue.name:
        return
    per_day = round(SECONDS_PER_DAY / series.step_s)
    if series.shape[0] < per_day:
        raise ForecastError(f"{series.shape[0]} steps of readings; it needs a day ({per_day})")
