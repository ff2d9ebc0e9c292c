"""Reading wide and long CSVs: gaps stay missing, bad input is flagged or a clear error."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from citysentinel.traffic import (
    IssueKind,
    SeriesError,
    load_adjacency,
    read_long_csv,
    read_wide_csv,
)
from citysentinel.traffic.io import series_from_rows

from .conftest import LOS_LOOP


def write(tmp_path: Path, text: str, name: str = "data.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_wide_without_time_column_is_consecutive_steps(tmp_path: Path) -> None:
    s = read_wide_csv(write(tmp_path, "a,b\n50,60\n,61\n48,62\n"))
    assert s.sensors == ("a", "b")
    assert s.step_s == 300.0
    assert s.values.shape == (3, 2)
    assert math.isnan(s.values[1, 0])
    assert s.issues == ()


@pytest.mark.parametrize(
    ("body", "kind", "count"),
    [
        ("a,b\n50,-3\n", IssueKind.NEGATIVE, 1),
        ("a,b\n50,abc\n", IssueKind.NOT_A_NUMBER, 1),
        ("a,b\nnan,inf\n", IssueKind.NOT_A_NUMBER, 2),
        ("a,a\n50,51\n", IssueKind.DUPLICATE, 1),
    ],
)
def test_wide_bad_cells_are_missing_and_flagged(
    tmp_path: Path, body: str, kind: IssueKind, count: int
) -> None:
    s = read_wide_csv(write(tmp_path, body))
    assert [(i.kind, i.count) for i in s.issues] == [(kind, count)]
    assert not (s.values == 0).any()


def test_wide_unknown_sensor_columns_are_dropped(tmp_path: Path) -> None:
    s = read_wide_csv(write(tmp_path, "a,zz,b\n1,2,3\n"), known_sensors=["a", "b"])
    assert s.sensors == ("a", "b")
    assert s.values.tolist() == [[1.0, 3.0]]
    assert s.issues[0].kind is IssueKind.UNKNOWN_SENSOR


def test_wide_with_time_column_sorts_and_keeps_gaps(tmp_path: Path) -> None:
    body = "time,a\n2012-03-01T00:10,3\n2012-03-01T00:00,1\n2012-03-01T00:25,6\n"
    s = read_wide_csv(write(tmp_path, body), step_s=300)
    assert s.start.isoformat() == "2012-03-01T00:00:00+00:00"
    assert np.isnan(s.values[:, 0]).tolist() == [False, True, False, True, True, False]
    kinds = {i.kind: i.count for i in s.issues}
    assert kinds == {IssueKind.OUT_OF_ORDER: 1, IssueKind.GAP: 3}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("", "empty file"),
        ("a,b\n1\n", "1 cells, the header has 2"),
        ("time,a\nyesterday,1\n", "unparsable time"),
        ("zz\n1\n", "no known sensor"),
    ],
)
def test_wide_errors_are_clear(tmp_path: Path, body: str, message: str) -> None:
    with pytest.raises(SeriesError, match=message):
        read_wide_csv(write(tmp_path, body), known_sensors=["a", "b"] if "zz" in body else None)


LONG = [
    ("r2", "2012-03-01T00:00:00Z", "a", "50"),
    ("r3", "2012-03-01T00:05:00Z", "b", "61"),
    ("r4", "2012-03-01T00:00:00Z", "b", "60"),
    ("r5", "2012-03-01T00:15:00Z", "a", "47"),
]


@pytest.mark.parametrize(
    ("extra", "kind", "count"),
    [
        ([], IssueKind.OUT_OF_ORDER, 1),
        ([("r6", "2012-03-01T00:15:00Z", "a", "46")], IssueKind.DUPLICATE, 1),
        ([("r6", "2012-03-01T00:07:00Z", "a", "46")], IssueKind.OFF_GRID, 1),
        ([("r6", "2012-03-01T00:05:00Z", "x", "46")], IssueKind.UNKNOWN_SENSOR, 1),
        ([("r6", "2012-03-01T00:05:00Z", "a", "-1")], IssueKind.NEGATIVE, 1),
    ],
)
def test_long_rows_flag_bad_input(
    extra: list[tuple[str, str, str, str]], kind: IssueKind, count: int
) -> None:
    s = series_from_rows(LONG + extra, known_sensors=["a", "b"], step_s=300)
    assert s.sensors == ("a", "b")
    assert s.shape == (4, 2)
    assert {i.kind: i.count for i in s.issues}.get(kind) == count


def test_long_rows_keep_gaps_missing_and_last_duplicate() -> None:
    s = series_from_rows([*LONG, ("r6", "2012-03-01T00:15:00Z", "a", "46")], step_s=300)
    assert s.values[0, 0] == 50.0
    assert np.isnan(s.values[1:3, 0]).all()
    assert s.values[3, 0] == 46.0


def test_long_csv_infers_the_step(tmp_path: Path) -> None:
    body = "time,sensor,value\n0,a,1\n600,a,2\n1200,b,3\n"
    s = read_long_csv(write(tmp_path, body))
    assert s.step_s == 600.0
    assert s.shape == (3, 2)


def test_long_csv_names_missing_columns(tmp_path: Path) -> None:
    with pytest.raises(SeriesError, match="missing column"):
        read_long_csv(write(tmp_path, "when,sensor,value\n0,a,1\n"))


def test_window_is_evidence_with_none_for_missing(tmp_path: Path) -> None:
    s = read_wide_csv(write(tmp_path, "a,b\n50,1\n,2\n48,3\n"))
    w = s.window("a", 0, 3, expected=np.array([51.0, 50.0, np.nan]))
    assert w.values == [50.0, None, 48.0]
    assert w.expected == [51.0, 50.0, None]
    with pytest.raises(SeriesError, match="unknown sensor"):
        s.window("zz", 0, 1)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("1,0\n0\n", "not a numeric matrix"),
        ("1,2\n3,4\n5,6\n", "square"),
        ("1,-1\n0,1\n", "non-neg"),
    ],
)
def test_adjacency_errors(tmp_path: Path, body: str, message: str) -> None:
    with pytest.raises(SeriesError, match=message):
        load_adjacency(write(tmp_path, body))


def test_los_loop_loads(los_speed: Path) -> None:
    s = read_wide_csv(los_speed)
    assert s.shape == (2016, 207)
    assert s.issues == ()
    adj = load_adjacency(LOS_LOOP / "los_adj.csv", s.shape[1])
    assert adj.shape == (207, 207)
