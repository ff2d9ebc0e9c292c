"""Congestion vs incident: the rules on fakes, the classification on real LOS-loop series."""

from __future__ import annotations

import copy
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from citysentinel.events import EventKind, EventState, Severity
from citysentinel.traffic import SensorSeries, load_adjacency, read_wide_csv
from citysentinel.traffic.anomaly import (
    AnomalyConfig,
    AnomalyError,
    Detection,
    DetectionKind,
    TrafficAnomalyDetector,
)
from citysentinel.traffic.forecasting import RidgeAR
from citysentinel.traffic.profile import Profile

from .conftest import LOS_LOOP

T0 = datetime(2012, 3, 1, tzinfo=UTC)  # a Thursday
STEP = timedelta(minutes=5)
IDS = ("a", "b", "c")


def flat_week(level: float = 60.0, ids: tuple[str, ...] = IDS, seed: int = 0) -> SensorSeries:
    """A week of 5-minute readings around `level` with 1 mph noise."""
    rng = np.random.default_rng(seed)
    values = level + rng.normal(0, 1.0, (288 * 7, len(ids)))
    return SensorSeries(values, ids, T0)


def run(detector: TrafficAnomalyDetector, rows: list[dict[str, float]]) -> list[Detection]:
    t = T0 + timedelta(days=7)
    out: list[Detection] = []
    for k, row in enumerate(rows):
        out += detector.update(t + k * STEP, row)
    return out


def warmed(**kwargs: object) -> TrafficAnomalyDetector:
    det = TrafficAnomalyDetector(IDS, adjacency=np.ones((3, 3)), **kwargs)  # type: ignore[arg-type]
    det.learn_series(flat_week())
    return det


NORMAL = {"a": 60.0, "b": 60.0, "c": 60.0}


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        # one noisy reading does not fire
        ([NORMAL, {**NORMAL, "a": 20.0}, NORMAL, NORMAL, NORMAL], []),
        # a sudden local drop that neighbours do not share: incident
        ([NORMAL] + [{**NORMAL, "a": 25.0}] * 4, [("incident", "start", "a")]),
        # the same drop at every sensor: congestion at each
        (
            [NORMAL] + [{"a": 25.0, "b": 25.0, "c": 25.0}] * 3,
            [("congestion", "start", s) for s in IDS],
        ),
        # a drop, then recovery: start then end after recover_steps normal readings
        (
            [{**NORMAL, "a": 25.0}] * 3 + [NORMAL] * 3,
            [("incident", "start", "a"), ("incident", "end", "a")],
        ),
        # missing readings neither fire nor end
        (
            [{**NORMAL, "a": 25.0}] * 3 + [{"b": 60.0, "c": 60.0}] * 5,
            [("incident", "start", "a")],
        ),
    ],
)
def test_persistence_kind_and_end(
    rows: list[dict[str, float]], expected: list[tuple[str, str, str]]
) -> None:
    got = [(d.kind.value, d.state.value, d.sensor) for d in run(warmed(), rows)]
    assert got == expected


def test_severity_update_and_detection_fields() -> None:
    rows = [{**NORMAL, "a": 35.0}] * 3 + [{**NORMAL, "a": 10.0}]
    found = run(warmed(), rows)
    assert [(d.state, d.severity) for d in found] == [
        (EventState.START, Severity.MEDIUM),
        (EventState.UPDATE, Severity.CRITICAL),
    ]
    start = found[0]
    assert start.observed == 35.0 and start.expected is not None and start.usual is not None
    assert start.drop_ratio == pytest.approx(1 - 35.0 / start.expected)
    assert start.neighbours_affected == 0.0
    assert start.started == T0 + timedelta(days=7)
    assert start.window.values[-1] == 35.0 and len(start.window.values) == 24
    assert start.window.expected is not None and start.window.expected[-1] is not None
    event = start.to_event(unit="mph")
    assert event.kind is EventKind.TRAFFIC_INCIDENT and event.source == "a"
    assert event.evidence[0].series == start.window


def test_without_neighbours_an_unusual_drop_is_an_incident() -> None:
    det = TrafficAnomalyDetector(("a",))
    det.learn_series(flat_week(ids=("a",)))
    found = run(det, [{"a": 60.0}] + [{"a": 20.0}] * 3)
    assert [(d.kind, d.neighbours_affected) for d in found] == [(DetectionKind.INCIDENT, None)]


def test_high_is_bad_sensors_fire_on_a_rise() -> None:
    det = TrafficAnomalyDetector(("tt",), directions={"tt": "high"})
    det.learn_series(flat_week(level=300.0, ids=("tt",)))  # travel time, seconds
    found = run(det, [{"tt": 300.0}] * 2 + [{"tt": 700.0}] * 3 + [{"tt": 200.0}] * 3)
    assert [(d.kind.value, d.state.value) for d in found] == [
        ("incident", "start"),
        ("incident", "end"),
    ]
    assert found[0].drop_ratio == pytest.approx(1 - found[0].expected / 700.0)  # type: ignore[operator]


def test_recurring_slowdown_is_congestion_not_incident() -> None:
    # Every day the three sensors slow to 30 mph from 08:00 to 09:00; the eighth day too.
    t = np.arange(288 * 7)
    rush = ((t % 288) >= 96) & ((t % 288) < 108)
    values = np.where(rush[:, None], 30.0, 62.0) + np.random.default_rng(1).normal(
        0, 1, (t.size, 3)
    )
    det = TrafficAnomalyDetector(IDS, adjacency=np.ones((3, 3)))
    det.learn_series(SensorSeries(values, IDS, T0))
    rows = [dict.fromkeys(IDS, 62.0)] * 96 + [{"a": 31.0, "b": 62.0, "c": 62.0}] * 12
    found = run(det, rows)
    assert found and {d.kind for d in found} == {DetectionKind.CONGESTION}


@pytest.mark.parametrize(("free_flow", "congested"), [(None, True), ({"occ": 20.0}, False)])
def test_free_flow_sets_what_counts_as_slow(
    free_flow: dict[str, float] | None, congested: bool
) -> None:
    # Occupancy: 5% at night, 15% from 08:00 to 18:00 every day, the eighth day too.
    t = np.arange(288 * 7)
    day = ((t % 288) >= 96) & ((t % 288) < 216)
    values = np.where(day, 15.0, 5.0)[:, None] + np.random.default_rng(2).normal(
        0, 0.3, (t.size, 1)
    )
    det = TrafficAnomalyDetector(("occ",), directions={"occ": "high"}, free_flow=free_flow)
    det.learn_series(SensorSeries(values, ("occ",), T0))
    found = run(det, [{"occ": 5.0}] * 96 + [{"occ": 15.0}] * 12)
    # Against the night's 5% a usual 15% is congestion; against a free flow of 20% it is not.
    assert bool(found) is congested
    assert all(d.kind is DetectionKind.CONGESTION for d in found)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: TrafficAnomalyDetector(()), "sensor ids"),
        (lambda: TrafficAnomalyDetector(IDS, adjacency=np.ones((2, 2))), r"\[3, 3\]"),
        (lambda: TrafficAnomalyDetector(IDS, adjacency=-np.ones((3, 3))), "non-negative"),
        (lambda: TrafficAnomalyDetector(IDS, directions={"x": "high"}), "unknown sensors"),
        (lambda: TrafficAnomalyDetector(IDS, free_flow={"x": 9.0}), "unknown sensors"),
    ],
)
def test_bad_construction_is_a_clear_error(make: object, message: str) -> None:
    with pytest.raises(AnomalyError, match=message):
        make()  # type: ignore[operator]


def test_profile_slots_are_taken_in_the_site_time_zone() -> None:
    """Friday 19:00 in Los Angeles is Saturday 03:00 UTC: a weekday, not a weekend slot."""
    from zoneinfo import ZoneInfo

    la = ZoneInfo("America/Los_Angeles")
    friday, saturday = datetime(2026, 1, 9, 19, tzinfo=la), datetime(2026, 1, 10, 19, tzinfo=la)
    thursday = (friday - timedelta(days=1)).astimezone(UTC)
    by_zone = {}
    for tz in (la, None):
        profile = Profile(1, min_week=1, tz=tz)
        profile.learn_one(friday.astimezone(UTC), np.array([40.0]))
        profile.learn_one(saturday.astimezone(UTC), np.array([10.0]))
        by_zone[tz] = profile.predict_one(thursday).tolist()
    # Local: Thursday 19:00 shares Friday 19:00's weekday slot. UTC: Friday 03:00 has no
    # weekday data (both readings fell on a UTC weekend), so it falls back to the day mean.
    assert by_zone == {la: [40.0], None: [25.0]}
    det = TrafficAnomalyDetector(("a",), tz=la)
    assert det.profile.tz is la


def test_bad_readings_are_clear_errors_or_missing() -> None:
    det = warmed()
    t = T0 + timedelta(days=7)
    with pytest.raises(AnomalyError, match="unknown sensor"):
        det.update(t, {"zz": 1.0})
    assert det.update(t, {"a": float("nan"), "b": -5.0, "c": "x"}) == []  # type: ignore[dict-item]
    with pytest.raises(AnomalyError, match="do not follow"):
        det.update(t, NORMAL)
    with pytest.raises(AnomalyError, match="readings must be"):
        det.update(t + STEP, np.ones(2))
    with pytest.raises(AnomalyError, match="must be numbers"):
        det.update(t + STEP, np.array(["1", "x", "3"], dtype=object))
    with pytest.raises(AnomalyError, match="not after"):  # a history older than the last step
        det.learn_series(flat_week())


# --- real series: LOS-loop, 207 sensors, 7 days; learn 5 days, detect on the last 2 ---

WARM = 288 * 5


@pytest.fixture(scope="module")
def los() -> tuple[SensorSeries, np.ndarray, TrafficAnomalyDetector]:
    """The series, its adjacency, and a detector warmed on the first five days."""
    speed = LOS_LOOP / "los_speed.csv"
    if not speed.is_file():
        pytest.skip(f"LOS-loop data not found at {speed} (../shared/data is absent)")
    series = read_wide_csv(speed)
    adjacency = load_adjacency(Path(LOS_LOOP / "los_adj.csv"), series.shape[1])
    detector = TrafficAnomalyDetector(series.sensors, adjacency=adjacency)
    detector.learn_series(series.slice(0, WARM))
    return series, adjacency, detector


def detect(
    series: SensorSeries, warmed_detector: TrafficAnomalyDetector, values: np.ndarray
) -> list[Detection]:
    det = copy.deepcopy(warmed_detector)
    out: list[Detection] = []
    for i in range(values.shape[0]):
        out += det.update(series.time_at(WARM + i), values[i])
    return out


def test_los_rush_hour_slowdowns_are_congestion(
    los: tuple[SensorSeries, np.ndarray, TrafficAnomalyDetector],
) -> None:
    series, _, detector = los
    starts = [
        d
        for d in detect(series, detector, series.values[WARM:])
        if d.state is EventState.START and (6 <= d.time.hour < 9 or 15 <= d.time.hour < 19)
    ]
    kinds = Counter(d.kind for d in starts)
    assert kinds[DetectionKind.CONGESTION] > 100  # rush hours do slow many sensors
    assert kinds[DetectionKind.INCIDENT] <= 0.1 * len(starts)


# Off-peak injections (11:00 on the first test day), 40 minutes at half speed, into
# sensors with no detection of their own that day in the plain data.
INJECT_AT, INJECT_STEPS = 132, 8


@pytest.mark.parametrize(
    ("shared", "kind"), [(False, DetectionKind.INCIDENT), (True, DetectionKind.CONGESTION)]
)
def test_los_injected_drop_local_is_incident_shared_is_congestion(
    los: tuple[SensorSeries, np.ndarray, TrafficAnomalyDetector],
    shared: bool,
    kind: DetectionKind,
) -> None:
    series, adjacency, detector = los
    end = INJECT_AT + INJECT_STEPS
    plain = series.values[WARM : WARM + end]
    busy = {d.sensor for d in detect(series, detector, plain)}
    free = [
        j for j in np.nonzero((adjacency > 0).sum(axis=1) > 1)[0] if series.sensors[j] not in busy
    ]
    chosen = np.random.default_rng(0).choice(free, 10, replace=False)
    kinds: Counter[DetectionKind | None] = Counter()
    for j in chosen:
        values = plain.copy()
        cols = np.nonzero(adjacency[j] > 0)[0] if shared else np.array([j])
        values[INJECT_AT:end, cols] *= 0.5
        found = [
            d
            for d in detect(series, detector, values)
            if d.sensor == series.sensors[j] and d.state is EventState.START
        ]
        kinds[found[-1].kind if found else None] += 1
    assert kinds[kind] >= 9, kinds
    assert kinds[DetectionKind.INCIDENT if shared else DetectionKind.CONGESTION] == 0, kinds


def test_los_with_a_ridge_forecaster(
    los: tuple[SensorSeries, np.ndarray, TrafficAnomalyDetector],
) -> None:
    series, adjacency, _ = los
    train = series.slice(0, WARM)
    det = TrafficAnomalyDetector(
        series.sensors, adjacency=adjacency, forecaster=RidgeAR().fit(train), config=AnomalyConfig()
    )
    det.learn_series(train)
    values = series.values[WARM : WARM + 24].copy()
    values[12:, 0] *= 0.4  # 01:00, sensor 0 has 18 neighbours
    found = [
        d
        for i, row in enumerate(values)
        for d in det.update(series.time_at(WARM + i), row)
        if d.sensor == series.sensors[0]
    ]
    assert [(d.kind, d.state) for d in found][:1] == [(DetectionKind.INCIDENT, EventState.START)]
