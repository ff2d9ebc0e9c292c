"""`eval text`: score a saved text model on files, and cross-event (leave-groups-out) evaluation."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.model_selection import (  # type: ignore[import-untyped]  # no stubs
    StratifiedKFold,
    train_test_split,
)

from citysentinel.text.classify import TextClassifier, TrainConfig, train_classifier
from citysentinel.text.metrics import score
from citysentinel.text.tables import Labelled, load_labelled


def evaluate_model(model_dir: Path, data: Labelled) -> dict[str, Any]:
    """{"n", "accuracy", "macro_f1", "micro_f1", "per_class"} of a saved model on `data`.

    Example:
        >>> evaluate_model(Path("models/t6"), load_labelled(...))["macro_f1"]  # doctest: +SKIP
        0.78
    """
    clf = TextClassifier.load(model_dir)
    pred = clf.predict(data.texts)
    return score(data.labels, pred, clf.labels, clf.multi_label)


def cross_validate(
    data: Labelled, *, scheme: str, config: TrainConfig | None = None, folds: int = 5
) -> dict[str, Any]:
    """Train on some rows, test on the rest, for each fold; C is picked inside training only.

    `scheme` is `groups` (leave one group out: train on the other events, test
    on this one), `kfold` (stratified k-fold over rows; for one-document-one-group
    corpora like CEC) or `holdout` (one stratified 80/20 split).
    """
    config = config or TrainConfig()
    idx = np.arange(len(data.texts))
    primary = np.array([ls[0] if ls else "" for ls in data.labels])
    splits: list[tuple[str, Any, Any]] = []
    if scheme == "groups":
        names = sorted({g for g in data.groups if g is not None})
        keys = np.array([g or "" for g in data.groups])
        splits = [(g, idx[keys != g], idx[keys == g]) for g in names]
    elif scheme == "kfold":
        skf = StratifiedKFold(n_splits=folds, shuffle=True, random_state=config.seed)
        splits = [(f"fold{k}", tr, te) for k, (tr, te) in enumerate(skf.split(idx, primary))]
    elif scheme == "holdout":
        tr, te = train_test_split(idx, test_size=0.2, stratify=primary, random_state=config.seed)
        splits = [("holdout", tr, te)]
    else:
        raise ValueError(f"unknown scheme {scheme!r} (groups, kfold, holdout)")
    results = []
    for name, tr, te in splits:
        clf = train_classifier(
            [data.texts[i] for i in tr],
            [data.labels[i] for i in tr],
            [data.groups[i] for i in tr],
            config,
        )
        pred = clf.predict([data.texts[i] for i in te])
        m = score([data.labels[i] for i in te], pred, clf.labels, config.multi_label)
        results.append(
            {
                "held_out": name,
                "best_c": clf.card["best_c"],
                **{k: m[k] for k in ("n", "accuracy", "macro_f1", "micro_f1")},
            }
        )
    mean = {
        k: round(float(np.mean([r[k] for r in results])), 4)
        for k in ("accuracy", "macro_f1", "micro_f1")
    }
    return {"scheme": scheme, "folds": results, "mean": mean, "n": len(data.texts)}


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m citysentinel.eval.text --data F... --text-col C --label-col C --scheme S`."""
    ap = argparse.ArgumentParser(prog="python -m citysentinel.eval.text", description=__doc__)
    ap.add_argument("--data", nargs="+", type=Path, required=True)
    ap.add_argument("--text-col", default="text")
    ap.add_argument("--label-col", default="labels")
    ap.add_argument("--group-col", default=None)
    ap.add_argument("--multi-label", action="store_true")
    ap.add_argument("--scheme", choices=["groups", "kfold", "holdout"], default="groups")
    ap.add_argument("--folds", type=int, default=5)
    args = ap.parse_args(argv)
    data = load_labelled(
        args.data,
        text_col=args.text_col,
        label_col=args.label_col,
        group_col=args.group_col,
        multi_label=args.multi_label,
    )
    result = cross_validate(
        data, scheme=args.scheme, folds=args.folds, config=TrainConfig(multi_label=args.multi_label)
    )
    sys.stdout.write(json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
