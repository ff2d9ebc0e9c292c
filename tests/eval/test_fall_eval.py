"""`eval fall`: scoring rules on synthetic CSVs, and sane figures on the real UR Fall features."""

from __future__ import annotations

from pathlib import Path

import pytest

from citysentinel.eval.fall import FallEvalError, evaluate_fall, read_sequences
from citysentinel.vision.analytics_config import FallConfig
from tests.models.fixtures import SHARED_DATA

URFALL = SHARED_DATA / "vision" / "urfall_features"
Phase = tuple[int, float, float, float, int]  # label, h/w ratio, H mm, D mm, frames
KEYS = {"sequences", "event_precision", "event_recall", "event_f1", "false_alarms_per_adl_sequence"}


def rows(name: str, phases: list[Phase]) -> list[str]:
    """CSV rows from (label, ratio, H mm, D mm, frames) phases at 30 fps."""
    out, frame = [], 1
    for label, ratio, height, centroid, frames in phases:
        for _ in range(frames):
            out.append(f"{name},{frame},{label},{ratio},2.0,0.5,100,1.0,{height},{centroid},0.05")
            frame += 1
    return out


STAND = (-1, 3.0, 1800.0, 1000.0)
FALL: list[Phase] = [(*STAND, 30), (0, 0.4, 500.0, 250.0, 30), (1, 0.4, 500.0, 250.0, 60)]


def sit_down(frames: int) -> list[Phase]:
    """Standing to sitting (h/w 1.5, H 1300 mm, D 700 mm), one frame a step."""
    out: list[Phase] = []
    for i in range(1, frames + 1):
        f = i / frames
        out.append((-1, 3.0 - 1.5 * f, 1800 - 500 * f, 1000 - 300 * f, 1))
    return out


SIT_DOWN_SLOWLY = [(*STAND, 30), *sit_down(90), (-1, 1.5, 1300.0, 700.0, 60)]
WALK = [(*STAND, 150)]


def write(tmp_path: Path, sequences: dict[str, list[Phase]]) -> Path:
    lines = [line for name, phases in sequences.items() for line in rows(name, phases)]
    (tmp_path / "features.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return tmp_path


def test_scoring_rules(tmp_path: Path) -> None:
    d = write(
        tmp_path,
        {"fall-01": FALL, "fall-02": WALK, "adl-01": WALK, "adl-02": SIT_DOWN_SLOWLY},
    )
    result = evaluate_fall(d)
    assert result.keys() >= KEYS
    assert result["sequences"] == 4
    assert result["event_recall"] == 0.5  # fall-02 shows no fall
    assert result["event_precision"] == 1.0
    assert result["false_alarms_per_adl_sequence"] == 0.0
    assert result["event_f1"] == pytest.approx(2 / 3, abs=1e-3)


def test_an_alarm_on_an_adl_counts(tmp_path: Path) -> None:
    result = evaluate_fall(write(tmp_path, {"fall-01": FALL, "adl-01": FALL}))
    assert result["event_precision"] == 0.5
    assert result["false_alarms_per_adl_sequence"] == 1.0


def test_bad_input_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FallEvalError, match="no UR Fall feature CSV"):
        evaluate_fall(tmp_path)
    (tmp_path / "bad.csv").write_text("fall-01,1,-1,abc,1,1,1,1,1,1,1\n", encoding="utf-8")
    with pytest.raises(FallEvalError, match=r"bad.csv:1"):
        read_sequences(tmp_path)


def test_real_urfall_figures_are_sane() -> None:
    if not URFALL.is_dir():
        pytest.skip(f"UR Fall features not found at {URFALL} (CI provides ../shared/data)")
    result = evaluate_fall(URFALL)
    assert result["sequences"] == 47
    assert result["fall_sequences"] == 20 and result["adl_sequences"] == 27
    # Statistical floors, well under the measured figures (docs/models.md), not exact values.
    assert result["event_recall"] >= 0.5
    assert result["event_precision"] >= 0.6
    assert result["false_alarms_per_adl_sequence"] <= 0.3
    # A shorter lying time finds more of the clipped fall sequences, never fewer.
    quick = evaluate_fall(URFALL, FallConfig(type="fall", lying_s=0.5))
    assert quick["event_recall"] >= result["event_recall"]
