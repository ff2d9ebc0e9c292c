"""`eval text`: score a saved text model on files, and cross-event (leave-groups-out) evaluation."""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
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
from citysentinel.text.encoders import CONFIGS, encoder_config
from citysentinel.text.encoders.cache import embedding_cache
from citysentinel.text.metrics import score
from citysentinel.text.tables import Labelled, load_labelled

log = logging.getLogger(__name__)
CACHE_ROOT = Path("~/.cache/citysentinel/text/embeddings").expanduser()


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
    pooled_truth: list[tuple[str, ...]] = []
    pooled_pred: list[tuple[str, ...]] = []
    names_seen: set[str] = set()
    for name, tr, te in splits:
        clf = train_classifier(
            [data.texts[i] for i in tr],
            [data.labels[i] for i in tr],
            [data.groups[i] for i in tr],
            config,
        )
        pred = clf.predict([data.texts[i] for i in te])
        m = score([data.labels[i] for i in te], pred, clf.labels, config.multi_label)
        pooled_truth += [data.labels[i] for i in te]
        pooled_pred += pred
        names_seen.update(clf.labels)
        log.info("%s held out: n=%d macro-F1 %.3f", name, m["n"], m["macro_f1"])
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
    # Pooled: every held-out prediction scored at once (rare labels are not averaged per fold).
    pooled = score(pooled_truth, pooled_pred, sorted(names_seen), config.multi_label)
    return {
        "scheme": scheme,
        "encoder": config.encoder.type,
        "folds": results,
        "mean": mean,
        "pooled": {k: pooled[k] for k in ("n", "accuracy", "macro_f1", "micro_f1")},
        "n": len(data.texts),
    }


def sample_per_group(data: Labelled, limit: int, seed: int = 0) -> Labelled:
    """At most `limit` random rows of each group (for runs that must fit the CPU budget).

    Example:
        >>> d = Labelled(["a", "b", "c"], [("x",), ("y",), ("x",)], ["g", "g", "h"])
        >>> len(sample_per_group(d, 1).texts)
        2
    """
    rng = np.random.default_rng(seed)
    by_group: dict[str | None, list[int]] = {}
    for i, g in enumerate(data.groups):
        by_group.setdefault(g, []).append(i)
    keep = sorted(
        i
        for rows in by_group.values()
        for i in (rows if len(rows) <= limit else rng.choice(rows, limit, replace=False).tolist())
    )
    texts, labels = [data.texts[i] for i in keep], [data.labels[i] for i in keep]
    return Labelled(texts, labels, [data.groups[i] for i in keep])


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
    ap.add_argument("--encoder", choices=sorted(CONFIGS), default="tfidf")
    ap.add_argument("--per-group", type=int, default=None, help="sample at most N rows a group")
    ap.add_argument(
        "--cache-dir",
        type=Path,
        default=CACHE_ROOT,
        help="frozen embeddings are cached here, one folder per data file set",
    )
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    data = load_labelled(
        args.data,
        text_col=args.text_col,
        label_col=args.label_col,
        group_col=args.group_col,
        multi_label=args.multi_label,
    )
    if args.per_group:
        data = sample_per_group(data, args.per_group)
    config = TrainConfig(multi_label=args.multi_label, encoder=encoder_config(args.encoder))
    tag = hashlib.sha1("|".join(sorted(str(p.resolve()) for p in args.data)).encode()).hexdigest()
    with embedding_cache(args.cache_dir / f"{args.data[0].stem}-{tag[:10]}"):
        result = cross_validate(data, scheme=args.scheme, folds=args.folds, config=config)
    if args.per_group:
        result["per_group_sample"] = args.per_group
    sys.stdout.write(json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
