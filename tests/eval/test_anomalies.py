"""`eval anomalies`: NAB window counting on a made series, and a run on a real NAB series."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from citysentinel.eval.anomalies import (
    AnomalyEvalError,
    _inject_steps,
    direction_of,
    evaluate_anomalies,
    read_series,
)
from citysentinel.traffic import SensorSeries
from tests.models.fixtures import SHARED_DATA

NAB = SHARED_DATA / "traffic" / "nab_real_traffic"
START = datetime(2015, 9, 1, tzinfo=UTC)


def write_series(path: Path, values: np.ndarray, jitter_s: int = 0) -> None:
    """`timestamp,value` rows every 5 minutes, every 7th `jitter_s` late (NAB's are too)."""
    lines = ["timestamp,value"]
    for i, v in enumerate(values):
        t = START + timedelta(minutes=5 * i, seconds=jitter_s * (i % 7 == 3))
        lines.append(f"{t:%Y-%m-%d %H:%M:%S},{v:.2f}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def window(i: int, j: int) -> list[str]:
    return [f"{START + timedelta(minutes=5 * k):%Y-%m-%d %H:%M:%S}.000000" for k in (i, j)]


@pytest.fixture
def labelled(tmp_path: Path) -> tuple[Path, Path]:
    """Two weeks of speeds around 60 with two 1-hour drops to 20: one labelled, one not."""
    rng = np.random.default_rng(0)
    values = 60 + rng.normal(0, 1.0, 288 * 14)
    values[3000:3012] = 20.0  # inside the first window
    values[3600:3612] = 20.0  # no window: a false alarm
    series = tmp_path / "speed_1.csv"
    write_series(series, values, jitter_s=40)
    windows = tmp_path / "windows.json"
    table = {"realTraffic/speed_1.csv": [window(2990, 3030), window(3300, 3320)]}
    windows.write_text(json.dumps(table), encoding="utf-8")
    return series, windows


def test_counts_follow_the_documented_convention(labelled: tuple[Path, Path]) -> None:
    series, windows = labelled
    r = evaluate_anomalies([series], windows)
    assert {k: r[k] for k in ("windows", "detected_windows", "false_alarms")} == {
        "windows": 2,
        "detected_windows": 1,
        "false_alarms": 1,
    }
    assert (r["precision"], r["recall"], r["f1"]) == (0.5, 0.5, 0.5)
    per = r["series"][0]
    assert per["direction"] == "low" and per["step_s"] == 300.0
    assert per["probation_steps"] == int(0.15 * 288 * 14)


def test_jittered_times_snap_to_the_grid(labelled: tuple[Path, Path]) -> None:
    grid, bad, _ = read_series(labelled[0])
    assert grid.step_s == 300.0 and bad == 0
    assert grid.shape == (288 * 14, 1) and not np.isnan(grid.values).any()


@pytest.mark.parametrize(
    ("name", "direction"),
    [("speed_6005.csv", "low"), ("occupancy_6005.csv", "high"), ("TravelTime_387.csv", "high")],
)
def test_direction_from_the_file_name(name: str, direction: str) -> None:
    assert direction_of(name) == direction


def test_bad_input_is_a_clear_error(tmp_path: Path, labelled: tuple[Path, Path]) -> None:
    series, windows = labelled
    other = tmp_path / "speed_2.csv"
    other.write_text(series.read_text(encoding="utf-8"), encoding="utf-8")
    with pytest.raises(AnomalyEvalError, match=r"no windows for speed_2\.csv"):
        evaluate_anomalies([other], windows)
    short = tmp_path / "speed_1.csv"
    short.write_text("timestamp,value\n2015-09-01 00:00:00,x\n", encoding="utf-8")
    with pytest.raises(AnomalyEvalError, match="readable rows"):
        evaluate_anomalies([short], windows)
    broken = tmp_path / "w.json"
    broken.write_text("{", encoding="utf-8")
    with pytest.raises(AnomalyEvalError, match=r"w\.json"):
        evaluate_anomalies([series], broken)


def test_same_time_readings_last_row_wins_and_no_step_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "speed_3.csv"
    rows = [
        f"{START + timedelta(minutes=5 * (i // 2)):%Y-%m-%d %H:%M:%S},{i % 2}" for i in range(400)
    ]
    path.write_text("timestamp,value\n" + "\n".join(rows) + "\n", encoding="utf-8")
    grid, _, _ = read_series(path)
    assert grid.shape == (200, 1) and (grid.values == 1.0).all()  # the second of each pair
    same = [f"{START:%Y-%m-%d %H:%M:%S},{v}" for v in range(12)]
    path.write_text("timestamp,value\n" + "\n".join(same) + "\n", encoding="utf-8")
    with pytest.raises(AnomalyEvalError, match="same time"):
        read_series(path)


@pytest.mark.parametrize(
    ("start_hour", "step_s", "warm", "expected"),
    [
        (0, 300.0, 1440, ([132, 240], 8)),  # LOS-loop: 5-minute steps from midnight
        (6, 600.0, 144, ([174, 228], 4)),  # 10-minute steps from 06:00: the next midnight + 11 h
    ],
)
def test_injected_drops_start_at_11_and_20_whatever_the_step(
    start_hour: int, step_s: float, warm: int, expected: tuple[list[int], int]
) -> None:
    start = START.replace(hour=start_hour)
    series = SensorSeries(np.zeros((warm + 400, 1)), ("a",), start, step_s)
    assert _inject_steps(series, warm) == expected


def test_real_nab_series_detects_a_labelled_window() -> None:
    path = NAB / "speed_7578.csv"
    if not path.is_file():
        pytest.skip(f"NAB realTraffic not found at {path} (../shared/data is absent)")
    r = evaluate_anomalies([path], NAB / "combined_windows.json")
    assert r["windows"] == 4  # all four windows are after the probationary period
    assert r["detected_windows"] >= 1
    assert r["false_alarms"] <= 3 * r["detected_windows"]
