"""`citysentinel eval tracking`: MOTA, IDF1 and id switches of MOTChallenge tracks (motmetrics)."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import TypedDict

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[np.float64]


class TrackingEvalError(ValueError):
    """A ground-truth or prediction file that cannot be read as MOTChallenge text."""


class TrackingScores(TypedDict):
    mota: float
    idf1: float
    id_switches: int


def load_mot(path: Path, *, ground_truth: bool = False) -> Array:
    """Rows `frame, id, x, y, w, h, conf, ...` of a MOTChallenge txt file (comma separated).

    In ground truth, rows whose `conf` column is 0 are ignored (MOT16+ "do not
    consider" entries); MOT15 ground truth, like TUD's, has 1 everywhere.

    Example:
        >>> import tempfile
        >>> p = Path(tempfile.mkdtemp()) / "gt.txt"
        >>> _ = p.write_text("1,1,10,20,30,40,1,-1,-1,-1\\n1,2,0,0,5,5,0,-1,-1,-1\\n")
        >>> load_mot(p, ground_truth=True)[:, :2].tolist()
        [[1.0, 1.0]]
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # numpy warns on an empty file
            rows = np.loadtxt(path, delimiter=",", ndmin=2, dtype=np.float64)
    except (OSError, ValueError) as exc:
        raise TrackingEvalError(f"{path}: not a MOTChallenge txt file ({exc})") from exc
    if rows.size == 0:
        return np.zeros((0, 7))
    if rows.shape[1] < 6:
        raise TrackingEvalError(f"{path}: need at least frame,id,x,y,w,h columns")
    if ground_truth and rows.shape[1] >= 7:
        rows = rows[rows[:, 6] != 0]
    return rows


def iou_distance(gt: Array, pred: Array, max_distance: float = 0.5) -> Array:
    """1 - IoU between (x, y, w, h) boxes; NaN (do not pair) beyond `max_distance`.

    Same as `motmetrics.distances.iou_matrix`, which cannot run on NumPy 2
    (it calls the removed `np.asfarray`).

    Example:
        >>> iou_distance(np.array([[0, 0, 10, 10.]]), np.array([[2, 0, 10, 10.], [5, 0, 10, 10.]]))
        array([[0.33333333,        nan]])
    """
    if len(gt) == 0 or len(pred) == 0:
        return np.empty((len(gt), len(pred)))
    g1, g2 = gt[:, None, :2], gt[:, None, :2] + gt[:, None, 2:4]
    p1, p2 = pred[None, :, :2], pred[None, :, :2] + pred[None, :, 2:4]
    wh = np.clip(np.minimum(g2, p2) - np.maximum(g1, p1), 0, None)
    inter = wh[..., 0] * wh[..., 1]
    union = (gt[:, 2] * gt[:, 3])[:, None] + (pred[:, 2] * pred[:, 3])[None, :] - inter
    iou = np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
    dist = 1.0 - iou
    return np.where(dist > max_distance, np.nan, dist)


def evaluate_tracking(gt: Path, pred: Path, iou_threshold: float = 0.5) -> TrackingScores:
    """CLEAR MOT and ID scores of `pred` against `gt`, matched at IoU >= `iou_threshold`.

    Frames present in either file count (a frame missing from the predictions
    is all misses). Numbers are py-motmetrics' own (`MOTAccumulator`, `mota`,
    `idf1`, `num_switches`).

    Example:
        >>> import motmetrics, pathlib
        >>> d = pathlib.Path(motmetrics.__file__).parent / "data" / "TUD-Campus"
        >>> s = evaluate_tracking(d / "gt.txt", d / "test.txt")
        >>> round(s["mota"], 4), round(s["idf1"], 4), s["id_switches"]
        (0.5265, 0.5577, 7)
    """
    # motmetrics ships no type information and pulls pandas: imported only when evaluating.
    import motmetrics as mm  # type: ignore[import-untyped]

    gt_rows, pred_rows = load_mot(gt, ground_truth=True), load_mot(pred)
    acc = mm.MOTAccumulator(auto_id=False)
    frames = np.union1d(gt_rows[:, 0], pred_rows[:, 0]).astype(int)
    for f in frames.tolist():
        g = gt_rows[gt_rows[:, 0] == f]
        p = pred_rows[pred_rows[:, 0] == f]
        dist = iou_distance(g[:, 2:6], p[:, 2:6], 1.0 - iou_threshold)
        acc.update(g[:, 1].astype(int).tolist(), p[:, 1].astype(int).tolist(), dist, frameid=f)
    summary = mm.metrics.create().compute(
        acc, metrics=["mota", "idf1", "num_switches"], return_dataframe=False
    )
    return TrackingScores(
        mota=float(summary["mota"]),
        idf1=float(summary["idf1"]),
        id_switches=int(summary["num_switches"]),
    )
