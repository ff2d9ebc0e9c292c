"""Live readings: batch checks, the step grid, the sensor graph and storage on both databases."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from citysentinel.storage import db
from citysentinel.storage.readings import SqlReadingStore
from citysentinel.traffic import SeriesError
from citysentinel.traffic.graph import Sensor, SensorGraph, gaussian_kernel, haversine_m
from citysentinel.traffic.readings import (
    Flag,
    RawReading,
    Reading,
    bucket,
    check_readings,
    readings_of,
    store_batch,
)
from tests.traffic.conftest import make_series

T0 = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
NOW = T0 + timedelta(minutes=30)
KNOWN = {"a", "b"}


def at(minutes: float) -> str:
    return (T0 + timedelta(minutes=minutes)).isoformat()


@pytest.mark.parametrize(
    ("raw", "values", "flags"),
    [
        ([RawReading("a", at(0), 50)], [("a", 0, 50.0)], []),
        ([RawReading("a", at(1), "48.5")], [("a", 0, 48.5)], []),  # text value, floored step
        ([RawReading("a", at(0), None)], [("a", 0, None)], []),  # a reported gap
        ([RawReading("zz", at(0), 50)], [], [Flag.UNKNOWN_SENSOR]),
        ([RawReading("a", "yesterday", 50)], [], [Flag.BAD_TIME]),
        ([RawReading("a", math.inf, 50)], [], [Flag.BAD_TIME]),
        ([RawReading("a", at(0), "NaN")], [], [Flag.NOT_A_NUMBER]),
        ([RawReading("a", at(0), math.nan)], [], [Flag.NOT_A_NUMBER]),
        ([RawReading("a", at(0), "fast")], [], [Flag.NOT_A_NUMBER]),
        ([RawReading("a", at(0), -3)], [], [Flag.NEGATIVE]),
        ([RawReading("a", at(60), 50)], [], [Flag.FUTURE]),
        (  # same step twice: the last one wins
            [RawReading("a", at(0), 50), RawReading("a", at(2), 40)],
            [("a", 0, 40.0)],
            [Flag.DUPLICATE],
        ),
        (  # older than a reading before it: kept, flagged
            [RawReading("a", at(10), 50), RawReading("a", at(0), 40)],
            [("a", 10, 50.0), ("a", 0, 40.0)],
            [Flag.OUT_OF_ORDER],
        ),
        (  # Unix seconds, two sensors
            [RawReading("a", T0.timestamp(), 1), RawReading("b", T0.timestamp(), 2)],
            [("a", 0, 1.0), ("b", 0, 2.0)],
            [],
        ),
    ],
)
def test_check_readings(
    raw: list[RawReading],
    values: list[tuple[str, int, float | None]],
    flags: list[Flag],
) -> None:
    checked = check_readings(raw, KNOWN, 300, now=NOW)
    got = [(r.sensor, int((r.time - T0).total_seconds() // 60), r.value) for r in checked.accepted]
    assert got == values
    assert [f.flag for f in checked.flagged] == flags
    assert checked.received == len(raw)


def test_older_than_stored_is_flagged_out_of_order() -> None:
    checked = check_readings(
        [RawReading("a", at(0), 50)], KNOWN, 300, now=NOW, latest={"a": T0 + timedelta(minutes=5)}
    )
    assert [f.flag for f in checked.flagged] == [Flag.OUT_OF_ORDER]
    assert len(checked.accepted) == 1


def test_bucket_is_aligned_to_the_epoch() -> None:
    assert bucket(T0 + timedelta(seconds=299), 300) == T0
    assert bucket(T0 + timedelta(seconds=300), 300) == T0 + timedelta(minutes=5)


def test_readings_of_a_series_skip_gaps() -> None:
    series = make_series(steps=10, sensors=2)
    raw = list(readings_of(series))
    assert len(raw) == int(np.isfinite(series.values).sum())
    assert raw[0].time == series.start


def test_gaussian_kernel_of_haversine_distance() -> None:
    sensors = [
        Sensor("a", "speed", "mph", lat=51.4796, lon=-0.1679),
        Sensor("b", "speed", "mph", lat=51.4781, lon=-0.1667),  # ~186 m away
        Sensor("c", "speed", "mph", lat=51.4812, lon=-0.1550),  # ~900 m away
        Sensor("d", "speed", "mph"),  # no location: no edges
    ]
    graph = SensorGraph.build(sensors, sigma_m=300.0, threshold=0.1)
    d_ab = haversine_m(51.4796, -0.1679, 51.4781, -0.1667)
    assert graph.adjacency[0, 1] == pytest.approx(math.exp(-((d_ab / 300.0) ** 2)))
    assert graph.adjacency[0, 2] == 0.0  # below the threshold
    assert graph.adjacency[3].tolist() == [0.0, 0.0, 0.0, 1.0]
    assert graph.neighbours("a") == ("b",)
    np.testing.assert_allclose(graph.adjacency, graph.adjacency.T)


def test_kernel_sigma_defaults_to_the_spread_of_distances() -> None:
    d = np.array([[0.0, 100.0, 300.0], [100.0, 0.0, 200.0], [300.0, 200.0, 0.0]])
    w = gaussian_kernel(d, threshold=0.0)
    sigma = np.array([100.0, 300.0, 200.0, 100.0, 300.0, 200.0]).std()
    assert w[0, 1] == pytest.approx(math.exp(-((100 / sigma) ** 2)))


def test_adjacency_file(tmp_path: Path) -> None:
    path = tmp_path / "adj.csv"
    path.write_text("1,0.5\n0.5,1\n", encoding="utf-8")
    sensors = [Sensor("a", "speed", "mph"), Sensor("b", "speed", "mph")]
    assert SensorGraph.build(sensors, adjacency_file=path).neighbours("b") == ("a",)
    with pytest.raises(SeriesError, match="series has 3"):
        SensorGraph.build([*sensors, Sensor("c", "speed", "mph")], adjacency_file=path)


def test_storage_upserts_and_reads_windows(database_url: str) -> None:
    db.upgrade(database_url)
    engine = db.make_engine(database_url)
    store = SqlReadingStore(engine)
    try:
        step = timedelta(minutes=5)
        store.upsert([Reading("a", T0, 50.0), Reading("a", T0 + step, 45.0)])
        store.upsert([Reading("a", T0, 52.0), Reading("b", T0 + 2 * step, None)])  # last wins
        store.upsert([Reading("b", T0 + step, 60.0)])
        assert store.count() == 4
        series = store.window(["a", "b"], T0 + timedelta(minutes=1), T0 + 3 * step, 300)
        assert series.start == T0
        assert np.array_equal(
            series.values,
            np.array([[52.0, np.nan], [45.0, 60.0], [np.nan, np.nan]]),
            equal_nan=True,
        )
        latest = store.latest(["a", "b", "c"])
        assert latest == {"a": (T0 + step, 45.0), "b": (T0 + 2 * step, None)}
        assert store.delete_before(T0 + step) == 1
        assert store.count() == 3
    finally:
        engine.dispose()


def test_store_batch_chunks_a_large_import(database_url: str) -> None:
    db.upgrade(database_url)
    engine = db.make_engine(database_url)
    try:
        series = make_series(steps=300, sensors=3)
        store = SqlReadingStore(engine)
        raw = list(readings_of(series))
        checked = store_batch(store, raw, set(series.sensors), 300, now=NOW)
        assert checked.flagged == [] and store.count() == len(raw)
        end = series.time_at(series.shape[0])
        back = store.window(list(series.sensors), series.start, end, 300)
        assert np.array_equal(back.values, series.values, equal_nan=True)
    finally:
        engine.dispose()
