"""`eval fall`: the camera fall state machine run on UR Fall per-frame features, event-level."""

from __future__ import annotations

import csv
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from citysentinel.events import EventState
from citysentinel.vision.analytics_config import FallConfig
from citysentinel.vision.behaviours.fall import FallSample, FallStateMachine

# UR Fall (Kwolek & Kepski 2014) depth features, one row a frame, no header:
# sequence, frame, label (-1 not lying, 0 falling, 1 lying), HeightWidthRatio,
# MajorMinorRatio, BoundingBoxOccupancy, MaxStdXZ, HHmaxRatio, H (person height,
# mm), D (centroid distance to the floor, mm), P40.
FPS = 30.0  # the Kinect sequences were recorded at 30 frames a second
COL_LABEL, COL_RATIO, COL_H, COL_D = 2, 3, 8, 9
FALL_LABELS = frozenset({0, 1})


class FallEvalError(ValueError):
    """The features folder is missing, empty or holds a malformed row."""


@dataclass(frozen=True)
class Frame:
    """One row: frame number, label and the box-like features the state machine uses."""

    index: int
    label: int
    sample: FallSample


def read_sequences(features_dir: Path) -> dict[str, list[Frame]]:
    """Every sequence in the CSV files of `features_dir`, frames in order.

    The depth box's height/width ratio is the camera box's ratio; the centroid
    height above the floor D (negated, so larger is lower) stands for the box
    centre y, and the person's height H for the box height.

    Example:
        >>> seqs = read_sequences(Path("data/vision/urfall_features"))  # doctest: +SKIP
        >>> len(seqs["fall-01"])  # doctest: +SKIP
        160
    """
    files = sorted(features_dir.glob("*.csv")) if features_dir.is_dir() else []
    if not files:
        raise FallEvalError(f"no UR Fall feature CSV files in {features_dir}")
    rows: dict[str, list[Frame]] = defaultdict(list)
    for path in files:
        with path.open(newline="", encoding="utf-8") as fh:
            for n, line in enumerate(csv.reader(fh), start=1):
                if not line or not line[1:2] or not line[1].strip().isdigit():
                    continue  # a header or a blank line
                try:
                    frame = _frame(line)
                except (ValueError, IndexError) as exc:
                    raise FallEvalError(f"{path}:{n}: malformed row: {exc}") from exc
                rows[line[0]].append(frame)
    return {name: sorted(frames, key=lambda f: f.index) for name, frames in rows.items()}


def _frame(line: list[str]) -> Frame:
    index = int(line[1])
    sample = FallSample(
        t=index / FPS,
        ratio=float(line[COL_RATIO]),
        centre_y=-float(line[COL_D]),
        height=float(line[COL_H]),
    )
    return Frame(index, int(line[COL_LABEL]), sample)


def detect(frames: list[Frame], config: FallConfig) -> list[Frame]:
    """The frames at which the state machine starts a fall event."""
    machine = FallStateMachine(config)
    return [f for f in frames if machine.update(f.sample) is EventState.START]


def evaluate_fall(features_dir: Path, config: FallConfig | None = None) -> dict[str, float | int]:
    """Event precision/recall over fall sequences and false alarms over ADL sequences.

    A fall sequence (name starting `fall`) is found when a start event lands on a
    frame labelled falling or lying; any other start, on any sequence, is a false
    alarm. ADL sequences include lying down on purpose (adl-10, 11, 21-23), which
    count as false alarms too. `config` defaults to the behaviour's defaults.

    Example:
        >>> evaluate_fall(Path("data/vision/urfall_features"))  # doctest: +SKIP
        {'sequences': 47, 'event_precision': ..., 'event_recall': ..., ...}
    """
    config = config or FallConfig(type="fall")
    sequences = read_sequences(features_dir)
    falls = [n for n in sequences if n.startswith("fall")]
    adls = [n for n in sequences if not n.startswith("fall")]
    found = false_alarms = adl_alarms = 0
    for name, frames in sequences.items():
        starts = detect(frames, config)
        hits = [f for f in starts if f.label in FALL_LABELS]
        if name in falls and hits:
            found += 1
            false_alarms += len(starts) - 1  # repeats count against precision
        else:
            false_alarms += len(starts)
            adl_alarms += len(starts) if name in adls else 0
    precision = found / (found + false_alarms) if found + false_alarms else 0.0
    recall = found / len(falls) if falls else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "sequences": len(sequences),
        "event_precision": round(precision, 4),
        "event_recall": round(recall, 4),
        "event_f1": round(f1, 4),
        "false_alarms_per_adl_sequence": round(adl_alarms / len(adls), 4) if adls else 0.0,
        "fall_sequences": len(falls),
        "adl_sequences": len(adls),
        "falls_found": found,
        "false_alarms": false_alarms,
    }


__all__ = ["FallEvalError", "evaluate_fall", "read_sequences"]
