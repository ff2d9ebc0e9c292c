"""Classification figures shared by training, the model card and `eval text`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.metrics import (  # type: ignore[import-untyped]  # scikit-learn ships no stubs
    accuracy_score,
    confusion_matrix,
    f1_score,
    precision_recall_fscore_support,
)
from sklearn.preprocessing import MultiLabelBinarizer  # type: ignore[import-untyped]


def score(
    truth: Sequence[tuple[str, ...]],
    pred: Sequence[tuple[str, ...]],
    labels: Sequence[str],
    multi_label: bool,
    *,
    confusion: bool = False,
) -> dict[str, Any]:
    """{"n", "accuracy", "macro_f1", "micro_f1", "per_class"} (+ "confusion" when asked).

    Labels in `truth` that the model does not know count against it. Accuracy is
    exact-set accuracy for multi-label data.

    Example:
        >>> score([("a",), ("b",)], [("a",), ("a",)], ["a", "b"], False)["accuracy"]
        0.5
    """
    names = sorted(set(labels) | {x for t in truth for x in t})
    if multi_label:
        mlb = MultiLabelBinarizer(classes=names)
        yt, yp = mlb.fit_transform(truth), mlb.transform(pred)
    else:
        yt = np.array([t[0] if t else "" for t in truth])
        yp = np.array([p[0] if p else "" for p in pred])
    kw: dict[str, Any] = {"labels": names if not multi_label else None, "zero_division": 0}
    p, r, f, s = precision_recall_fscore_support(yt, yp, **kw)
    out: dict[str, Any] = {
        "n": len(truth),
        "accuracy": round(float(accuracy_score(yt, yp)), 4),
        "macro_f1": round(float(f1_score(yt, yp, average="macro", **kw)), 4),
        "micro_f1": round(float(f1_score(yt, yp, average="micro", **kw)), 4),
        "per_class": {
            n: {
                "precision": round(float(p[j]), 4),
                "recall": round(float(r[j]), 4),
                "f1": round(float(f[j]), 4),
                "support": int(s[j]),
            }
            for j, n in enumerate(names)
        },
    }
    if confusion and not multi_label:
        out["confusion"] = {
            "labels": names,
            "matrix": confusion_matrix(yt, yp, labels=names).tolist(),
        }
    return out
