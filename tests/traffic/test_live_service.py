"""The live traffic service: forecast refresh (debounced and on demand), stale flags, events."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from citysentinel.events import Event
from citysentinel.storage import db
from citysentinel.storage.readings import SqlReadingStore
from citysentinel.traffic.detect import LiveDetector
from citysentinel.traffic.forecasting import Forecaster, ForecastError
from citysentinel.traffic.graph import Sensor, SensorGraph
from citysentinel.traffic.live import TrafficConfig, status_of
from citysentinel.traffic.readings import RawReading, readings_of
from citysentinel.traffic.series import SensorSeries
from citysentinel.traffic.service import TrafficService
from tests.traffic.conftest import make_series

T0 = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
SENSORS = (
    Sensor("a", "speed", "mph", free_flow=60.0),
    Sensor("b", "speed", "mph"),
    Sensor("c", "occupancy", "%"),
)


@dataclass
class Clock:
    now: datetime

    def __call__(self) -> datetime:
        return self.now


@dataclass
class RecordingDetector:
    """Fake detector: records what it was given, reports one event per call to `detect`."""

    learnt: list[tuple[int, str]] = field(default_factory=list)
    seen: list[datetime] = field(default_factory=list)

    def learn(self, series: SensorSeries, forecaster: Forecaster) -> None:
        self.learnt.append((series.shape[0], forecaster.name))

    def detect(self, history: SensorSeries, now: datetime) -> list[Event]:
        self.seen.append(now)
        return [Event(kind="traffic.incident", source="a", time=history.time_at(0))]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqlReadingStore]:
    url = f"sqlite:///{tmp_path / 'traffic.sqlite'}"
    db.upgrade(url)
    engine = db.make_engine(url)
    yield SqlReadingStore(engine)
    engine.dispose()


def service(
    store: SqlReadingStore, clock: Clock, **config: object
) -> tuple[TrafficService, list[list[Event]]]:
    emitted: list[list[Event]] = []

    async def emit(events: list[Event]) -> None:
        emitted.append(events)

    cfg = TrafficConfig.model_validate({"debounce_s": 0, **config})
    graph = SensorGraph.build(SENSORS)
    return TrafficService(cfg, graph, store, emit=emit, clock=clock), emitted


def post(minutes: int, a: float, b: float, c: float) -> list[RawReading]:
    t = T0 + timedelta(minutes=minutes)
    return [RawReading("a", t, a), RawReading("b", t, b), RawReading("c", t, c)]


def test_refresh_forecasts_every_sensor_and_flags_stale(store: SqlReadingStore) -> None:
    clock = Clock(T0 + timedelta(minutes=11))
    svc, _ = service(store, clock, stale_after_s=600)

    async def run() -> None:
        assert await svc.refresh() is None  # nothing stored yet
        await svc.ingest(post(0, 50, 40, 10) + post(5, 20, 41, 30) + [RawReading("b", T0, 99)])
        snap = await svc.refresh()
        assert snap is not None and snap.model == "last_value"
        assert snap.issued_at == T0 + timedelta(minutes=5)
        assert snap.values.shape == (12, 3)
        assert snap.of("a") == [20.0] * 12 and snap.of("b") == [41.0] * 12
        assert snap.times()[2] == T0 + timedelta(minutes=20)

    asyncio.run(run())
    states = {s.sensor.id: s for s in svc.states()}
    assert states["a"].status == "congested"  # 20 of a configured 60 mph free flow
    assert states["c"].status == "congested"  # 30% occupancy
    assert states["b"].status == "unknown"  # too little history for a free-flow reference
    assert not svc.stale("a") and not svc.forecast_stale("a")
    clock.now = T0 + timedelta(minutes=21)  # the 08:05 step ended 11 minutes ago
    assert svc.stale("a") and svc.forecast_stale("a")
    assert {s.status for s in svc.states()} == {"unknown"}


def test_readings_trigger_a_debounced_refresh(store: SqlReadingStore) -> None:
    clock = Clock(T0 + timedelta(minutes=6))
    svc, _ = service(store, clock, refresh_interval_s=3600, debounce_s=0.05)

    async def run() -> int:
        await svc.start()
        try:
            for _ in range(200):
                if svc.refreshes:
                    break
                await asyncio.sleep(0.01)
            first = svc.refreshes
            await svc.ingest(post(0, 50, 40, 10))
            await svc.ingest(post(5, 50, 40, 10))  # a burst: one refresh
            for _ in range(200):
                if svc.snapshot is not None:
                    break
                await asyncio.sleep(0.01)
            await asyncio.sleep(0.2)
            return svc.refreshes - first
        finally:
            await svc.stop()

    assert asyncio.run(run()) == 1
    assert svc.snapshot is not None and svc.snapshot.issued_at == T0 + timedelta(minutes=5)


def test_unfittable_forecaster_falls_back_to_last_value(store: SqlReadingStore) -> None:
    svc, _ = service(store, Clock(T0 + timedelta(minutes=30)), forecaster="ridge")

    async def run() -> None:
        await svc.ingest(post(0, 50, 40, 10))
        snap = await svc.refresh()
        assert snap is not None and snap.model == "last_value"

    asyncio.run(run())
    assert svc.model_error is not None and "ridge could not be fitted" in svc.model_error


def test_unknown_forecaster_is_reported(store: SqlReadingStore) -> None:
    svc, _ = service(store, Clock(T0 + timedelta(minutes=30)), forecaster="no/such/model")

    async def run() -> None:
        await svc.ingest(post(0, 50, 40, 10))
        await svc.refresh()

    asyncio.run(run())
    assert svc.snapshot is not None and svc.snapshot.model == "last_value"
    assert svc.model_error is not None and "neither one of" in svc.model_error


def test_ridge_is_fitted_on_stored_history(store: SqlReadingStore) -> None:
    series = make_series(steps=400, sensors=3)
    series = SensorSeries(series.values, ("a", "b", "c"), T0 - timedelta(days=2), series.step_s)
    svc, _ = service(store, Clock(series.time_at(400)), forecaster="ridge")

    async def run() -> None:
        await svc.ingest(list(readings_of(series)))
        await svc.refresh()

    asyncio.run(run())
    assert svc.model_error is None
    assert svc.snapshot is not None and svc.snapshot.model == "ridge"
    assert np.isfinite(svc.snapshot.values).all()
    assert svc.states()[1].free_flow is not None  # 85th percentile of b's history


def test_detector_learns_at_fit_and_events_are_emitted(store: SqlReadingStore) -> None:
    clock = Clock(T0 + timedelta(minutes=11))
    svc, emitted = service(store, clock)
    detector = RecordingDetector()
    svc.detector = detector

    async def run() -> None:
        await svc.ingest(post(0, 50, 40, 10))
        await svc.refresh()
        await svc.refresh()

    asyncio.run(run())
    assert detector.learnt == [(1, "last_value")]  # from the first reading on, fitted once
    assert len(detector.seen) == 2
    assert [e[0].kind.value for e in emitted] == ["traffic.incident"] * 2


@pytest.mark.parametrize(
    ("kind", "value", "free_flow", "expected"),
    [
        ("speed", 55.0, 60.0, "free"),
        ("speed", 40.0, 60.0, "slow"),
        ("speed", 20.0, 60.0, "congested"),
        ("speed", 20.0, None, "unknown"),
        ("travel_time", 100.0, 90.0, "free"),
        ("travel_time", 200.0, 90.0, "congested"),
        ("occupancy", 5.0, None, "free"),
        ("occupancy", 18.0, None, "slow"),
        ("flow", 1200.0, None, "unknown"),
        ("speed", None, 60.0, "unknown"),
    ],
)
def test_status(kind: str, value: float | None, free_flow: float | None, expected: str) -> None:
    assert status_of(kind, value, free_flow, TrafficConfig()) == expected


def test_a_local_drop_becomes_a_traffic_incident_event(store: SqlReadingStore) -> None:
    """The real detector behind the service: history first, then sensor a drops alone."""
    located = (
        Sensor("a", "speed", "mph", lat=51.4796, lon=-0.1679),
        Sensor("b", "speed", "mph", lat=51.4790, lon=-0.1675),
        Sensor("c", "speed", "mph", lat=51.4785, lon=-0.1671),
    )
    graph = SensorGraph.build(located)
    emitted: list[list[Event]] = []

    async def emit(events: list[Event]) -> None:
        emitted.append(events)

    clock = Clock(T0)
    svc = TrafficService(
        TrafficConfig(debounce_s=0),
        graph,
        store,
        emit=emit,
        clock=clock,
        detector=LiveDetector(graph),
    )
    rng = np.random.default_rng(0)
    start = T0 - timedelta(days=1)

    def readings(k0: int, k1: int, a: float) -> list[RawReading]:
        out = []
        for k in range(k0, k1):
            t = start + timedelta(minutes=5 * k)
            noisy = np.array([a, 58, 62]) + rng.normal(0, 1, 3)
            out += [RawReading(s, t, v) for s, v in zip("abc", noisy, strict=True)]
        return out

    async def run() -> None:
        await svc.ingest(readings(0, 288, 60))  # a normal day: the usual profile
        await svc.refresh()
        clock.now = T0 + timedelta(minutes=25)
        await svc.ingest(readings(288, 293, 20))  # a falls to 20 mph, b and c do not
        await svc.refresh()

    asyncio.run(run())
    events = [e for batch in emitted for e in batch]
    assert [(e.kind.value, e.state.value, e.source) for e in events] == [
        ("traffic.incident", "start", "a")
    ]
    event = events[0]
    assert event.severity_hint is not None and event.evidence[0].series is not None
    assert event.evidence[0].series.sensor == "a"
    assert event.id.startswith("traffic:a:incident:start:")


def test_sensor_health_events_when_a_sensor_goes_quiet_and_returns(
    store: SqlReadingStore,
) -> None:
    clock = Clock(T0 + timedelta(minutes=6))
    svc, emitted = service(store, clock, stale_after_s=600)

    async def run() -> None:
        await svc.ingest([RawReading("a", T0, 50), RawReading("b", T0, 50)])
        await svc.refresh()  # both fresh: nothing
        clock.now = T0 + timedelta(minutes=20)
        await svc.ingest([RawReading("b", T0 + timedelta(minutes=15), 50)])
        await svc.refresh()  # a quiet for 15 minutes: down
        await svc.refresh()  # still down: no second event
        await svc.ingest([RawReading("a", T0 + timedelta(minutes=20), 50)])
        await svc.refresh()  # a is back

    asyncio.run(run())
    health = [e for batch in emitted for e in batch if e.kind.value == "sensor.health"]
    assert [(e.source, e.state.value, e.payload.model_dump()["status"]) for e in health] == [
        ("a", "start", "down"),
        ("a", "end", "ok"),
    ]
    assert health[0].id == "sensor-health:a:down:20261125T080000"


def test_a_trained_model_folder_is_served_in_site_order(tmp_path: Path) -> None:
    """A model trained on the site's sensors in another order gives each sensor its column."""
    torch = pytest.importorskip("torch")
    from citysentinel.traffic.forecasting.stid import StidForecaster, build_stid
    from citysentinel.traffic.live import load_live_forecaster

    torch.manual_seed(0)
    hyper = {"n_in": 12, "n_out": 12, "dim": 4, "layers": 1, "dropout": 0.0}
    model = StidForecaster(
        build_stid(3, 300.0, hyper),
        ("c", "a", "b"),
        mean=50.0,
        std=10.0,
        fallback=np.array([50.0, 50.0, 50.0]),
        step_s=300.0,
        hyper=hyper,
    )
    model.save(tmp_path / "stid", card={})
    served = load_live_forecaster(str(tmp_path / "stid"), ("a", "b", "c"))
    history = np.random.default_rng(0).normal(50, 5, (12, 3))  # columns a, b, c
    got = served.forecast(history, T0)
    want = model.forecast(history[:, [2, 0, 1]], T0)  # the model's own order c, a, b
    np.testing.assert_allclose(got, want[:, [1, 2, 0]], rtol=1e-6)
    with pytest.raises(ForecastError, match="other sensors"):
        load_live_forecaster(str(tmp_path / "stid"), ("a", "b", "d"))
