"""`eval anomalies` / `eval incidents`: the traffic detector on NAB windows and on LOS-loop.

Each series (`timestamp,value` CSV) is snapped to a regular grid, the first 15%
of its rows (NAB's probationary period) warm the detector's usual profile, and
the rest is fed to `TrafficAnomalyDetector.update` one step at a time, as a
univariate sensor (no neighbours: only the profile/forecast residual path).
An *alarm* is the start of an `incident` detection (unusual against both the
forecast and the usual value); `congestion` starts (merely slow) are not alarms.

Counting (NAB's window convention, without its weighted score):
- a window is *detected* when at least one alarm falls inside it (ends included);
  further alarms in the same window are neither credited nor penalised;
- every alarm outside all windows of its series is a *false alarm*;
- alarms during the probationary period are not counted, and windows that
  end before it ends are left out of `windows`;
- precision = detected / (detected + false alarms), recall = detected / windows,
  f1 their harmonic mean.

Example:
    >>> files = [Path("speed_7578.csv")]
    >>> r = evaluate_anomalies(files, Path("combined_windows.json"))  # doctest: +SKIP
    >>> sorted(r)  # doctest: +SKIP
    ['detected_windows', 'f1', 'false_alarms', 'precision', 'recall', 'series', 'windows']
"""

from __future__ import annotations

import csv
import json
import logging
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from citysentinel.events import EventState
from citysentinel.traffic.anomaly import (
    AnomalyConfig,
    Detection,
    DetectionKind,
    Direction,
    TrafficAnomalyDetector,
)
from citysentinel.traffic.io import parse_time
from citysentinel.traffic.series import SECONDS_PER_DAY, SensorSeries, SeriesError

log = logging.getLogger(__name__)
PROBATION = 0.15  # NAB's probationaryPercent


class AnomalyEvalError(ValueError):
    """A series or windows file that cannot be scored."""


@dataclass(frozen=True)
class LabelledSeries:
    """One univariate series on a regular grid, with its anomaly windows."""

    name: str
    series: SensorSeries
    windows: tuple[tuple[datetime, datetime], ...]
    bad_rows: int
    probation_steps: int  # grid steps up to NAB's probationary 15% of the file's rows


def direction_of(name: str) -> Direction:
    """Speed falls in trouble; occupancy and travel time rise (NAB realTraffic file names).

    Example:
        >>> direction_of("speed_6005.csv"), direction_of("TravelTime_387.csv")
        ('low', 'high')
    """
    return "low" if "speed" in name.lower() or "flow" in name.lower() else "high"


def read_series(path: Path) -> tuple[SensorSeries, int, int]:
    """A `timestamp,value` CSV snapped to a grid of its median time step.

    Readings are put on the nearest step (the last one wins); steps without a
    reading are missing. Returns the series, the unreadable rows and the grid
    steps of NAB's probationary period (the first 15% of the readable rows).
    """
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            rows = list(csv.DictReader(fh))
    except OSError as exc:
        raise AnomalyEvalError(f"{path}: {exc.strerror or exc}") from None
    times: list[datetime] = []
    values: list[float] = []
    bad = 0
    for n, row in enumerate(rows, start=2):
        try:
            stamp, value = parse_time(row["timestamp"] or ""), float(row["value"] or "nan")
        except KeyError:
            raise AnomalyEvalError(f"{path}: needs timestamp and value columns") from None
        except (SeriesError, ValueError):
            bad += 1
            log.debug("%s:%d: unreadable row %r", path, n, row)
            continue
        if not math.isfinite(value) or value < 0:
            bad += 1
            continue
        times.append(stamp)
        values.append(value)
    if len(times) < 10:
        raise AnomalyEvalError(f"{path}: {len(times)} readable rows; need at least 10")
    # Stable, so of readings at the same time the later row stays later and wins below.
    order = np.argsort(np.array([t.timestamp() for t in times]), kind="stable")
    seconds = np.array([times[i].timestamp() for i in order])
    diffs = np.diff(seconds)
    if not (diffs > 0).any():
        raise AnomalyEvalError(f"{path}: every reading has the same time; no time step")
    step = float(np.median(diffs[diffs > 0]))
    index = np.rint((seconds - seconds[0]) / step).astype(np.int64)
    grid = np.full((int(index[-1]) + 1, 1), np.nan)
    grid[index, 0] = np.array(values)[order]
    probation = int(index[max(int(PROBATION * len(index)) - 1, 0)]) + 1
    return SensorSeries(grid, (path.stem,), times[order[0]], step), bad, probation


def load_labelled(series: Sequence[Path], windows: Path) -> list[LabelledSeries]:
    """The series files with their windows; a windows key names a file by its base name."""
    try:
        table = json.loads(windows.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise AnomalyEvalError(f"{windows}: {exc}") from None
    if not isinstance(table, dict):
        raise AnomalyEvalError(f"{windows}: expected an object of file -> windows")
    by_name = {Path(key).name: value for key, value in table.items()}
    out = []
    for path in series:
        if path.name not in by_name:
            raise AnomalyEvalError(f"{windows} has no windows for {path.name}")
        try:
            spans = tuple((parse_time(a), parse_time(b)) for a, b in by_name[path.name])
        except (SeriesError, ValueError, TypeError) as exc:
            raise AnomalyEvalError(f"{windows}: windows of {path.name}: {exc}") from None
        grid, bad, probation = read_series(path)
        out.append(LabelledSeries(path.name, grid, spans, bad, probation))
    return out


def score_series(item: LabelledSeries, config: AnomalyConfig | None = None) -> dict[str, Any]:
    """Run the detector over one series after its probationary period and count as above."""
    series = item.series
    rows = series.shape[0]
    warm = item.probation_steps
    direction = direction_of(item.name)
    sensor = series.sensors[0]
    detector = TrafficAnomalyDetector(
        (sensor,), config=config, directions={sensor: direction}, step_s=series.step_s
    )
    detector.learn_series(series.slice(0, warm))
    alarms = []
    for i in range(warm, rows):
        for d in detector.update(series.time_at(i), series.values[i]):
            if d.state is EventState.START and d.kind is DetectionKind.INCIDENT:
                alarms.append(d.time)
    probation_end = series.time_at(warm - 1)
    spans = [(a, b) for a, b in item.windows if b > probation_end]
    detected = sum(1 for a, b in spans if any(a <= t <= b for t in alarms))
    false = sum(1 for t in alarms if not any(a <= t <= b for a, b in spans))
    return {
        "name": item.name,
        "direction": direction,
        "step_s": series.step_s,
        "steps": rows,
        "probation_steps": warm,
        "bad_rows": item.bad_rows,
        "windows": len(spans),
        "detected_windows": detected,
        "false_alarms": false,
        "alarms": [t.isoformat() for t in alarms],
    }


def evaluate_anomalies(
    series: Sequence[Path], windows: Path, config: AnomalyConfig | None = None
) -> dict[str, Any]:
    """`eval anomalies`: totals over the series, with each series' counts and alarm times."""
    per = []
    for item in load_labelled(series, windows):
        log.info("scoring %s (%d steps)", item.name, item.series.shape[0])
        per.append(score_series(item, config))
    n_windows = sum(p["windows"] for p in per)
    detected = sum(p["detected_windows"] for p in per)
    false = sum(p["false_alarms"] for p in per)
    precision = detected / (detected + false) if detected + false else 0.0
    recall = detected / n_windows if n_windows else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "series": per,
        "windows": n_windows,
        "detected_windows": detected,
        "false_alarms": false,
        "precision": round(precision, 4),
        "recall": round(recall, 4),
        "f1": round(f1, 4),
    }


RUSH_HOURS = ((6, 9), (15, 19))
INJECT_HOURS = (11, 20)  # drops start at these hours of the first detection day
INJECT_S = 40 * 60.0  # and last 40 minutes


def evaluate_incidents(
    speeds: Path,
    adjacency: Path,
    *,
    warm_days: int = 5,
    sensors: int = 20,
    factor: float = 0.5,
    seed: int = 0,
) -> dict[str, Any]:
    """`eval incidents`: congestion vs incident on a sensor network (LOS-loop).

    The detector learns the first `warm_days` days and runs over the rest:
    `rush_hour` counts the detection starts from 06-09 h and 15-19 h by kind.
    Then, for `sensors` seeded sensors with neighbours and no detection of their
    own from the first detection step to the end of the drop, their speed is
    multiplied by `factor` for 40 minutes at 11:00 and at 20:00 of the first
    whole detection day, alone (`local`) or together with
    every adjacent sensor (`shared`); the kind of the sensor's last start by the
    end of the drop is counted (`missed` when none).
    """
    import copy

    from citysentinel.traffic.io import load_adjacency, read_wide_csv

    try:
        series = read_wide_csv(speeds)
        weights = load_adjacency(adjacency, series.shape[1])
    except (SeriesError, OSError) as exc:
        raise AnomalyEvalError(str(exc)) from None
    warm = round(warm_days * SECONDS_PER_DAY / series.step_s)
    inject_at, inject_steps = _inject_steps(series, warm)
    if series.shape[0] <= warm + max(inject_at) + inject_steps:
        raise AnomalyEvalError(f"{speeds}: too short for {warm_days} learning days and a test day")
    detector = TrafficAnomalyDetector(series.sensors, adjacency=weights, step_s=series.step_s)
    detector.learn_series(series.slice(0, warm))

    def run(values: np.ndarray) -> list[Detection]:
        det = copy.deepcopy(detector)
        return [
            d for i, row in enumerate(values) for d in det.update(series.time_at(warm + i), row)
        ]

    log.info("detecting on %d steps of %d sensors", series.shape[0] - warm, series.shape[1])
    plain = run(series.values[warm:])
    rush = [
        d.kind.value
        for d in plain
        if d.state is EventState.START and any(a <= d.time.hour < b for a, b in RUSH_HOURS)
    ]
    result: dict[str, Any] = {
        "sensors": series.shape[1],
        "learn_steps": warm,
        "detect_steps": series.shape[0] - warm,
        "starts": dict(Counter(d.kind.value for d in plain if d.state is EventState.START)),
        "rush_hour": dict(Counter(rush)),
        "rush_hour_congestion_share": round(rush.count("congestion") / len(rush), 4)
        if rush
        else None,
    }
    rng = np.random.default_rng(seed)
    for shared in (False, True):
        counts: Counter[str] = Counter()
        for at in inject_at:
            end = at + inject_steps
            base = series.values[warm : warm + end]
            busy = {d.sensor for d in plain if d.time <= series.time_at(warm + end - 1)}
            free = [
                j
                for j in np.nonzero((weights > 0).sum(axis=1) > 1)[0]
                if series.sensors[j] not in busy
            ]
            for j in rng.choice(free, min(sensors, len(free)), replace=False):
                values = base.copy()
                cols = np.nonzero(weights[j] > 0)[0] if shared else np.array([j])
                values[at:end, cols] *= factor
                starts = [
                    d
                    for d in run(values)
                    if d.sensor == series.sensors[j] and d.state is EventState.START
                ]
                counts[starts[-1].kind.value if starts else "missed"] += 1
            log.info("%s drops at step %d: %s", "shared" if shared else "local", at, dict(counts))
        result["shared" if shared else "local"] = dict(counts)
    return result


def _inject_steps(series: SensorSeries, warm: int) -> tuple[list[int], int]:
    """Steps after `warm` of `INJECT_HOURS` on the first whole day, and the drop's length."""
    first = series.time_at(warm) if warm < series.shape[0] else series.time_at(0)
    day = first.replace(hour=0, minute=0, second=0, microsecond=0)
    if day < first:
        day += timedelta(days=1)
    offset = (day - first).total_seconds()
    at = [round((offset + h * 3600) / series.step_s) for h in INJECT_HOURS]
    return at, max(1, round(INJECT_S / series.step_s))
