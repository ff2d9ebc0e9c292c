"""Linear text classifiers on encoder features: group-split training, C selection, save and load."""

from __future__ import annotations

import json
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import joblib  # type: ignore[import-untyped]  # joblib ships no stubs
import numpy as np
import numpy.typing as npt
import sklearn  # type: ignore[import-untyped]  # scikit-learn ships no stubs
from sklearn.linear_model import LogisticRegression  # type: ignore[import-untyped]
from sklearn.multiclass import OneVsRestClassifier  # type: ignore[import-untyped]
from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

from citysentinel.text.encoders import EncoderConfig, TextEncoder, TfidfEncoderConfig, build_encoder
from citysentinel.text.encoders.cache import embedding_cache
from citysentinel.text.metrics import score
from citysentinel.text.split import group_split

MODEL_FILE = "model.joblib"
C_GRID = (0.1, 0.3, 1.0, 3.0, 10.0)


@dataclass(frozen=True)
class TrainConfig:
    """How to train: encoder, the C grid searched on the validation groups, the split."""

    encoder: EncoderConfig = field(default_factory=TfidfEncoderConfig)
    c_grid: tuple[float, ...] = C_GRID
    multi_label: bool = False
    val_fraction: float = 0.2
    seed: int = 0
    threads: int = 1  # BLAS threads; the machine is shared, more rarely helps linear models
    max_terms: int | None = None  # keep the top-k TF-IDF terms by chi2 (small portable models)


class TextClassifier:
    """A fitted encoder plus a linear model over it, with its label names and card.

    Example:
        >>> clf = TextClassifier.load(Path("models/relevance"))  # doctest: +SKIP
        >>> clf.predict(["Fire at the refinery, people trapped"])  # doctest: +SKIP
        [('on-topic',)]
    """

    def __init__(
        self,
        encoder: TextEncoder,
        model: Any,
        labels: Sequence[str],
        *,
        multi_label: bool,
        card: dict[str, Any] | None = None,
    ) -> None:
        self.encoder = encoder
        self.model = model
        self.labels = list(labels)
        self.multi_label = multi_label
        self.card: dict[str, Any] = card or {}

    def scores(self, texts: Sequence[str]) -> npt.NDArray[np.float64]:
        """Per-label probabilities, shape (n, len(labels))."""
        proba = np.asarray(self.model.predict_proba(self.encoder.encode(list(texts))))
        if proba.shape[1] == 1:  # a single label seen in training
            proba = np.hstack([1 - proba, proba])[:, -len(self.labels) :]
        return proba.astype(np.float64)

    def predict(self, texts: Sequence[str]) -> list[tuple[str, ...]]:
        """Labels for each text: the best one, or every label over 0.5 for multi-label models."""
        if not texts:
            return []
        proba = self.scores(texts)
        if self.multi_label:
            return [tuple(self.labels[j] for j in np.flatnonzero(row >= 0.5)) for row in proba]
        return [(self.labels[int(j)],) for j in proba.argmax(axis=1)]

    def save(self, out: Path) -> None:
        """Write the model, labels.json, card.json and card.md to `out`.

        TF-IDF + logistic regression is written in the portable format
        (model.json + model.npz, see `citysentinel.text.portable`); other
        encoders as model.joblib.
        """
        from citysentinel.text import portable

        out.mkdir(parents=True, exist_ok=True)
        if portable.is_portable(self.encoder, self.model):
            portable.save(out, self.encoder, self.model, self.labels, multi_label=self.multi_label)
            (out / MODEL_FILE).unlink(missing_ok=True)  # a stale pickle would be ambiguous
        else:
            joblib.dump(
                {
                    "encoder": self.encoder,
                    "model": self.model,
                    "labels": self.labels,
                    "multi_label": self.multi_label,
                    "sklearn": sklearn.__version__,
                },
                out / MODEL_FILE,
            )
        (out / "labels.json").write_text(json.dumps(self.labels, ensure_ascii=False, indent=2))
        (out / "card.json").write_text(json.dumps(self.card, ensure_ascii=False, indent=2))
        from citysentinel.text.card import render_markdown

        (out / "card.md").write_text(render_markdown(self.card), encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> TextClassifier:
        """Load a model directory written by `save` (joblib: load only models you trust).

        The portable model.json + model.npz is preferred; older directories with
        only model.joblib still load. Fine-tuned ONNX directories (`train text
        --finetune`) load through `citysentinel.text.onnx_model`.
        """
        from citysentinel.text import portable
        from citysentinel.text.onnx_model import is_onnx_model, load_onnx_classifier

        if is_onnx_model(path):
            return load_onnx_classifier(path)

        card_file = path / "card.json"
        card = json.loads(card_file.read_text(encoding="utf-8")) if card_file.is_file() else {}
        if (path / portable.JSON_FILE).is_file():
            got = portable.load(path)
            return cls(got.encoder, got.model, got.labels, multi_label=got.multi_label, card=card)
        file = path / MODEL_FILE
        if not file.is_file():
            raise FileNotFoundError(f"{path}: no {MODEL_FILE}; train one with `train text`")
        data = joblib.load(file)
        return cls(
            data["encoder"],
            data["model"],
            data["labels"],
            multi_label=data["multi_label"],
            card=card,
        )


def train_classifier(
    texts: Sequence[str],
    labels: Sequence[tuple[str, ...]],
    groups: Sequence[str | None],
    config: TrainConfig | None = None,
) -> TextClassifier:
    """Pick C on held-out groups (macro-F1), then refit on all rows; the card holds the validation.

    Example:
        >>> clf = train_classifier(texts, [("fire",), ...], groups)  # doctest: +SKIP
        >>> clf.card["validation"]["macro_f1"]  # doctest: +SKIP
        0.81
    """
    config = config or TrainConfig()
    if len(texts) != len(labels) or len(texts) != len(groups):
        raise ValueError("texts, labels and groups must have the same length")
    names = sorted({x for ls in labels for x in ls})
    if len(names) < 2 and not config.multi_label:
        raise ValueError(f"need at least two labels to train, got {names}")
    primary = [ls[0] if ls else "" for ls in labels]
    # Frozen encoders: the refit on all rows reuses the split's embeddings.
    with threadpool_limits(config.threads), embedding_cache(None):
        train, val = group_split(
            primary, groups, val_fraction=config.val_fraction, seed=config.seed
        )
        y = _targets(labels, names, config.multi_label)
        enc = _fit_encoder(config, [texts[i] for i in train], y[train])
        x_train, x_val = enc.encode([texts[i] for i in train]), enc.encode([texts[i] for i in val])
        grid: dict[str, float] = {}
        best: tuple[float, float, Any] = (-1.0, 0.0, None)
        for c in config.c_grid:
            model = _fit(x_train, y[train], c, config.multi_label)
            pred = _decide(model.predict_proba(x_val), names, config.multi_label)
            f1 = score([labels[i] for i in val], pred, names, config.multi_label)["macro_f1"]
            grid[str(c)] = round(f1, 4)
            if f1 > best[0]:
                best = (f1, c, pred)
        validation = score(
            [labels[i] for i in val],
            best[2],
            names,
            config.multi_label,
            confusion=not config.multi_label,
        )
        final_enc = _fit_encoder(config, list(texts), y)
        final = _fit(final_enc.encode(list(texts)), y, best[1], config.multi_label)
    card = {
        "classifier": "logistic_regression (liblinear, class_weight=balanced, one-vs-rest)",
        "encoder": config.encoder.model_dump(mode="json"),
        "multi_label": config.multi_label,
        "labels": names,
        "c_grid_val_macro_f1": grid,
        "best_c": best[1],
        "split": _split_info(groups, train, val),
        "validation": validation,
        "n_train_total": len(texts),
        "max_terms": config.max_terms,
        "sklearn": sklearn.__version__,
    }
    return TextClassifier(final_enc, final, names, multi_label=config.multi_label, card=card)


def _fit_encoder(config: TrainConfig, texts: list[str], y: npt.NDArray[np.int64]) -> TextEncoder:
    enc = build_encoder(config.encoder).fit(texts)
    if config.max_terms is None:
        return enc
    from citysentinel.text.encoders.tfidf import TfidfEncoder
    from citysentinel.text.portable import prune_terms

    if not isinstance(enc, TfidfEncoder):
        raise ValueError("max_terms applies to the tfidf encoder only")
    return prune_terms(enc, texts, y, config.max_terms)


def _targets(
    labels: Sequence[tuple[str, ...]], names: list[str], multi_label: bool
) -> npt.NDArray[np.int64]:
    index = {n: j for j, n in enumerate(names)}
    if not multi_label:
        return np.array([index[ls[0]] for ls in labels], dtype=np.int64)
    y = np.zeros((len(labels), len(names)), dtype=np.int64)
    for i, ls in enumerate(labels):
        for x in ls:
            y[i, index[x]] = 1
    return y


def _fit(x: Any, y: npt.NDArray[np.int64], c: float, multi_label: bool) -> Any:
    base = LogisticRegression(C=c, class_weight="balanced", solver="liblinear", max_iter=2000)
    model = base if (not multi_label and len(np.unique(y)) == 2) else OneVsRestClassifier(base)
    with warnings.catch_warnings():
        # A multi-label column that is all 0 in the training part is a constant predictor.
        warnings.filterwarnings("ignore", message="Label .* is present in all training")
        warnings.filterwarnings("ignore", message="Label not .* present in all training")
        return model.fit(x, y)


def _decide(proba: Any, names: list[str], multi_label: bool) -> list[tuple[str, ...]]:
    p = np.asarray(proba)
    if multi_label:
        return [tuple(names[j] for j in np.flatnonzero(row >= 0.5)) for row in p]
    return [(names[int(j)],) for j in p.argmax(axis=1)]


def _split_info(groups: Sequence[str | None], train: Any, val: Any) -> dict[str, Any]:
    def named(idx: Any) -> list[str]:
        return sorted({g for g in (groups[i] for i in idx) if g is not None})

    tr, va = named(train), named(val)
    return {
        "method": "by group (StratifiedGroupKFold fold / GroupShuffleSplit)",
        "train_n": len(train),
        "val_n": len(val),
        "train_groups": len(tr),
        "val_groups": len(va),
        "val_group_names": va if len(va) <= 20 else [*va[:20], "..."],
    }
