"""`evaluate_tracking` against py-motmetrics on the TUD sequences that motmetrics ships."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from citysentinel.eval.tracking import TrackingEvalError, evaluate_tracking, load_mot

mm = pytest.importorskip("motmetrics")
DATA = Path(mm.__file__).parent / "data"

# motmetrics' own reference figures for these files (its tests/test_metrics.py,
# test_motchallenge_files): MOTA, IDF1, id switches.
REFERENCE = {
    "TUD-Campus": (0.526462, 0.557659, 7),
    "TUD-Stadtmitte": (0.564014, 0.644619, 7),
}


def motmetrics_own(seq: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """motmetrics' full path: its loader, its IoU matching and its metrics.

    motmetrics 1.4 predates NumPy 2 and pandas 3: `np.asfarray` is restored for
    the call and pandas' deprecation warning from its loader is silenced.
    """
    monkeypatch.setattr(np, "asfarray", lambda a: np.asarray(a, dtype=float), raising=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        gt = mm.io.loadtxt(str(DATA / seq / "gt.txt"), fmt="mot15-2D")
        ts = mm.io.loadtxt(str(DATA / seq / "test.txt"), fmt="mot15-2D")
    acc = mm.utils.compare_to_groundtruth(gt, ts, "iou", distth=0.5)
    metrics = ["mota", "idf1", "num_switches"]
    return dict(mm.metrics.create().compute(acc, metrics=metrics, return_dataframe=False))


@pytest.mark.parametrize("seq", sorted(REFERENCE))
def test_equals_motmetrics_on_tud(seq: str, monkeypatch: pytest.MonkeyPatch) -> None:
    scores = evaluate_tracking(DATA / seq / "gt.txt", DATA / seq / "test.txt")
    mota, idf1, switches = REFERENCE[seq]
    assert scores == {
        "mota": pytest.approx(mota, abs=1e-6),
        "idf1": pytest.approx(idf1, abs=1e-6),
        "id_switches": switches,
    }
    own = motmetrics_own(seq, monkeypatch)
    assert scores["mota"] == pytest.approx(own["mota"], abs=1e-12)
    assert scores["idf1"] == pytest.approx(own["idf1"], abs=1e-12)
    assert scores["id_switches"] == own["num_switches"]
    assert 0.4 < scores["mota"] < 0.7  # a real tracker's output: decent, not perfect


def test_ground_truth_against_itself_is_perfect() -> None:
    gt = DATA / "TUD-Campus" / "gt.txt"
    assert evaluate_tracking(gt, gt) == {"mota": 1.0, "idf1": 1.0, "id_switches": 0}


def write(path: Path, rows: Sequence[tuple[float, ...]]) -> Path:
    path.write_text("".join(f"{f},{i},{x},{y},{w},{h},1,-1,-1,-1\n" for f, i, x, y, w, h in rows))
    return path


def test_a_swapped_id_is_one_switch(tmp_path: Path) -> None:
    gt_rows = [(f, 1, 10.0 * f, 0, 50, 100) for f in range(1, 11)]
    pred_rows = [(f, 1 if f <= 5 else 2, 10.0 * f, 0, 50, 100) for f in range(1, 11)]
    scores = evaluate_tracking(
        write(tmp_path / "gt.txt", gt_rows), write(tmp_path / "p.txt", pred_rows)
    )
    assert scores["id_switches"] == 1
    assert scores["mota"] == pytest.approx(0.9)  # 1 - (0 misses + 0 false + 1 switch) / 10


def test_empty_predictions_miss_everything(tmp_path: Path) -> None:
    (tmp_path / "p.txt").write_text("")
    gt = write(tmp_path / "gt.txt", [(1, 1, 0, 0, 10, 10), (2, 1, 0, 0, 10, 10)])
    assert evaluate_tracking(gt, tmp_path / "p.txt") == {"mota": 0.0, "idf1": 0.0, "id_switches": 0}


def test_ignored_ground_truth_rows_and_bad_files(tmp_path: Path) -> None:
    gt = tmp_path / "gt.txt"
    gt.write_text("1,1,0,0,10,10,1,-1,-1,-1\n1,2,50,50,10,10,0,-1,-1,-1\n")
    assert load_mot(gt, ground_truth=True)[:, 1].tolist() == [1.0]
    assert load_mot(gt)[:, 1].tolist() == [1.0, 2.0]
    with pytest.raises(TrackingEvalError, match="not a MOTChallenge"):
        evaluate_tracking(tmp_path / "missing.txt", gt)
    (tmp_path / "bad.txt").write_text("frame,id\nx,y\n")
    with pytest.raises(TrackingEvalError):
        evaluate_tracking(tmp_path / "bad.txt", gt)
    (tmp_path / "short.txt").write_text("1,1,0,0\n")
    with pytest.raises(TrackingEvalError, match="columns"):
        evaluate_tracking(tmp_path / "short.txt", gt)
