"""Read sensor readings from wide (time x sensors) or long (time, sensor, value) CSV files."""

from __future__ import annotations

import csv
import itertools
import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from citysentinel.traffic.series import (
    DEFAULT_STEP_S,
    FloatArray,
    Issue,
    IssueKind,
    SensorSeries,
    SeriesError,
)

# A wide file without a time column (LOS-loop) is taken to start at midnight, so
# time-of-day features are right; pass the real start when it is known.
UNDATED_START = datetime(1970, 1, 1, tzinfo=UTC)
TIME_COLUMNS = frozenset({"time", "timestamp", "datetime", "date"})


@dataclass
class _Flags:
    """Counts and first examples of each kind of bad input, in order of discovery."""

    counts: Counter[IssueKind]
    examples: dict[IssueKind, str]

    @classmethod
    def new(cls) -> _Flags:
        return cls(Counter(), {})

    def add(self, kind: IssueKind, example: str, count: int = 1) -> None:
        if count <= 0:
            return
        self.counts[kind] += count
        self.examples.setdefault(kind, example)

    def issues(self) -> tuple[Issue, ...]:
        return tuple(Issue(k, self.counts[k], self.examples[k]) for k in self.counts)


def parse_time(text: str) -> datetime:
    """An ISO 8601 time or Unix seconds; naive times are taken as UTC.

    Example:
        >>> parse_time("2012-03-01 00:05:00").isoformat()
        '2012-03-01T00:05:00+00:00'
        >>> parse_time("0").isoformat()
        '1970-01-01T00:00:00+00:00'
    """
    raw = text.strip()
    try:
        stamp = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        try:
            seconds = float(raw)
        except ValueError:
            raise SeriesError(f"unparsable time {text!r}") from None
        if not math.isfinite(seconds):
            raise SeriesError(f"unparsable time {text!r}") from None
        return datetime.fromtimestamp(seconds, UTC)
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)


def _value(cell: str, where: str, flags: _Flags) -> float:
    """A reading, or NaN with a flag when it is empty, unparsable, NaN or negative."""
    text = cell.strip()
    if not text:
        return math.nan  # an empty cell is a plain gap
    try:
        v = float(text)
    except ValueError:
        flags.add(IssueKind.NOT_A_NUMBER, f"{where}: {cell!r}")
        return math.nan
    if not math.isfinite(v):
        flags.add(IssueKind.NOT_A_NUMBER, f"{where}: {cell!r}")
        return math.nan
    if v < 0:
        flags.add(IssueKind.NEGATIVE, f"{where}: {v}")
        return math.nan
    return v


def read_wide_csv(
    path: Path,
    *,
    known_sensors: Sequence[str] | None = None,
    start: datetime = UNDATED_START,
    step_s: float | None = None,
) -> SensorSeries:
    """A wide CSV: a header of sensor ids, one row a step, optionally a leading time column.

    Without a time column rows are consecutive steps of `step_s` (5 minutes)
    from `start`. Columns of sensors not in `known_sensors` are dropped and
    flagged; bad cells become missing and are flagged.

    Example:
        >>> s = read_wide_csv(Path("los_loop/los_speed.csv"))  # doctest: +SKIP
        >>> s.shape  # doctest: +SKIP
        (2016, 207)
    """
    with path.open(newline="", encoding="utf-8-sig") as fh:
        rows = [r for r in csv.reader(fh) if r and any(c.strip() for c in r)]
    if not rows:
        raise SeriesError(f"{path}: empty file")
    header = [h.strip() for h in rows[0]]
    timed = header[0].lower() in TIME_COLUMNS
    ids = header[1:] if timed else header
    flags = _Flags.new()
    keep = _known_columns(ids, known_sensors, flags)
    if not keep:
        raise SeriesError(f"{path}: no known sensor columns in the header")
    width = len(header)
    sensors = [ids[j] for j in keep]
    stamps: list[datetime] = []
    table: list[list[float]] = []
    for n, row in enumerate(rows[1:], start=2):
        if len(row) != width:
            raise SeriesError(f"{path}:{n}: {len(row)} cells, the header has {width}")
        if timed:
            try:
                stamps.append(parse_time(row[0]))
            except SeriesError as exc:
                raise SeriesError(f"{path}:{n}: {exc}") from None
        cells = row[1:] if timed else row
        table.append(_row([cells[j] for j in keep], f"{path.name}:{n}", sensors, flags))
    if not timed:
        values = np.array(table, dtype=np.float64).reshape(-1, len(sensors))
        return SensorSeries(
            values, tuple(sensors), start, step_s or DEFAULT_STEP_S, issues=flags.issues()
        )
    readings = [
        (stamp, sid, f"{path.name}:{n}", v)
        for n, (stamp, vals) in enumerate(zip(stamps, table, strict=True), start=2)
        for sid, v in zip(sensors, vals, strict=True)
    ]
    return _grid(readings, sensors, step_s, flags)


def _row(cells: list[str], where: str, sensors: list[str], flags: _Flags) -> list[float]:
    """One row's readings; the careful per-cell path only runs when the fast one fails."""
    try:
        fast = [float(c) for c in cells]
    except ValueError:
        fast = []
    if fast and all(math.isfinite(v) and v >= 0 for v in fast):
        return fast
    return [_value(c, f"{where} sensor {s}", flags) for c, s in zip(cells, sensors, strict=True)]


def read_long_csv(
    path: Path,
    *,
    known_sensors: Sequence[str] | None = None,
    step_s: float | None = None,
    columns: tuple[str, str, str] = ("time", "sensor", "value"),
) -> SensorSeries:
    """A long CSV: one reading a row, named columns for time, sensor id and value.

    Example:
        >>> s = read_long_csv(Path("readings.csv"), step_s=300)  # doctest: +SKIP
    """
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        fields = [f.strip() for f in reader.fieldnames or []]
        missing = [c for c in columns if c not in fields]
        if missing:
            raise SeriesError(f"{path}: missing column(s) {missing}; found {fields}")
        reader.fieldnames = fields
        rows = [
            (f"{path.name}:{n}", r[columns[0]] or "", r[columns[1]] or "", r[columns[2]] or "")
            for n, r in enumerate(reader, start=2)
        ]
    return series_from_rows(rows, known_sensors=known_sensors, step_s=step_s)


def series_from_rows(
    rows: Iterable[tuple[str, str, str, str]],
    *,
    known_sensors: Sequence[str] | None = None,
    step_s: float | None = None,
) -> SensorSeries:
    """Readings as (where, time, sensor, value) text tuples put on a regular grid.

    Example:
        >>> s = series_from_rows([("r1", "2012-03-01T00:00", "a", "50"),
        ...                       ("r2", "2012-03-01T00:10", "a", "40")], step_s=300)
        >>> s.values[:, 0].tolist()
        [50.0, nan, 40.0]
    """
    flags = _Flags.new()
    known = set(known_sensors) if known_sensors is not None else None
    readings: list[tuple[datetime, str, str, float]] = []
    for where, stamp, sensor, value in rows:
        sid = sensor.strip()
        if known is not None and sid not in known:
            flags.add(IssueKind.UNKNOWN_SENSOR, f"{where}: {sid!r}")
            continue
        try:
            when = parse_time(stamp)
        except SeriesError as exc:
            raise SeriesError(f"{where}: {exc}") from None
        readings.append((when, sid, where, _value(value, where, flags)))
    sensors = list(dict.fromkeys(r[1] for r in readings))
    if known_sensors is not None:
        sensors = [s for s in known_sensors if s in set(sensors)]
    return _grid(readings, sensors, step_s, flags)


def _known_columns(ids: list[str], known_sensors: Sequence[str] | None, flags: _Flags) -> list[int]:
    seen: set[str] = set()
    keep = []
    for j, sid in enumerate(ids):
        if known_sensors is not None and sid not in known_sensors:
            flags.add(IssueKind.UNKNOWN_SENSOR, f"column {sid!r}")
        elif sid in seen:
            flags.add(IssueKind.DUPLICATE, f"column {sid!r} (first one kept)")
        else:
            seen.add(sid)
            keep.append(j)
    return keep


def _grid(
    readings: list[tuple[datetime, str, str, float]],
    sensors: list[str],
    step_s: float | None,
    flags: _Flags,
) -> SensorSeries:
    """Put timed readings on a grid: sort, keep the last duplicate, leave gaps missing."""
    if not readings or not sensors:
        raise SeriesError("no readings of known sensors")
    times = [r[0] for r in readings]
    order = sorted(range(len(readings)), key=lambda i: times[i])
    late = sum(1 for a, b in itertools.pairwise(times) if b < a)
    if late:
        first = next(i + 1 for i in range(len(times) - 1) if times[i + 1] < times[i])
        flags.add(IssueKind.OUT_OF_ORDER, f"{readings[first][2]}: {times[first].isoformat()}", late)
    start = times[order[0]]
    offsets = np.array([(t - start).total_seconds() for t in times], dtype=np.float64)
    step = step_s or _infer_step(np.unique(offsets))
    index = np.rint(offsets / step).astype(np.int64)
    off = np.abs(offsets - index * step) > 1e-6 * step + 1e-3
    column = {s: j for j, s in enumerate(sensors)}
    values: FloatArray = np.full((int(index.max()) + 1, len(sensors)), np.nan)
    filled = np.zeros(values.shape, dtype=bool)
    for i in order:
        _, sid, where, v = readings[i]
        if off[i]:
            flags.add(IssueKind.OFF_GRID, f"{where}: {times[i].isoformat()} is between steps")
            continue
        j = column[sid]
        if filled[index[i], j]:
            flags.add(IssueKind.DUPLICATE, f"{where}: {sid} at {times[i].isoformat()} (last kept)")
        values[index[i], j], filled[index[i], j] = v, True
    empty_steps = int((~filled.any(axis=1)).sum())
    flags.add(IssueKind.GAP, f"{empty_steps} steps without any reading", empty_steps)
    return SensorSeries(values, tuple(sensors), start, step, issues=flags.issues())


def _infer_step(offsets: FloatArray) -> float:
    diffs = np.diff(offsets)
    diffs = diffs[diffs > 0]
    if not diffs.size:
        raise SeriesError("cannot infer the step from a single time; pass step_s")
    return float(np.min(diffs))


def load_adjacency(path: Path, n_sensors: int | None = None) -> FloatArray:
    """A square, non-negative weighted adjacency matrix from a headerless CSV (los_adj.csv).

    Example:
        >>> a = load_adjacency(Path("los_loop/los_adj.csv"), 207)  # doctest: +SKIP
        >>> a.shape  # doctest: +SKIP
        (207, 207)
    """
    try:
        matrix = np.loadtxt(path, delimiter=",", dtype=np.float64, ndmin=2)
    except ValueError as exc:
        raise SeriesError(f"{path}: not a numeric matrix: {exc}") from None
    if matrix.shape[0] != matrix.shape[1]:
        raise SeriesError(f"{path}: adjacency must be square, got {matrix.shape}")
    if n_sensors is not None and matrix.shape[0] != n_sensors:
        raise SeriesError(f"{path}: adjacency is {matrix.shape[0]} square, series has {n_sensors}")
    if not np.isfinite(matrix).all() or (matrix < 0).any():
        raise SeriesError(f"{path}: adjacency weights must be finite and non-negative")
    return matrix
