"""A portable, pickle-free format for TF-IDF + linear text classifiers (numpy and scipy only).

A model directory holds `model.json` (format, encoder settings, labels, how scores
are combined) and `model.npz` (vocabulary as UTF-8 text, IDF weights, float16
coefficients, intercepts). Loading runs no code from the files and does not
depend on the scikit-learn version that trained the model.

The encoder here (`PortableTfidf`) reproduces scikit-learn's `TfidfVectorizer`
with the settings of `TfidfEncoder` (char_wb n-grams and word n-grams over the
same `normalize` and `words`, sublinear tf, IDF, L2 per part), restricted to a
fixed vocabulary. `prune_terms` keeps the top-k terms by chi2, which is how the
shipped defaults stay small.

Example:
    >>> from citysentinel.text.classify import TextClassifier
    >>> clf = TextClassifier.load(Path("models/relevance"))  # doctest: +SKIP
    >>> clf.predict(["Huge fire downtown, people trapped"])  # doctest: +SKIP
    [('relevant',)]
"""

from __future__ import annotations

import json
import re
import zipfile
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import sparse  # type: ignore[import-untyped]  # scipy ships no stubs
from scipy.special import expit  # type: ignore[import-untyped]

from citysentinel.text.encoders.tfidf import TfidfEncoder, TfidfEncoderConfig, normalize, words

FORMAT = "citysentinel.text.linear/1"
JSON_FILE = "model.json"
NPZ_FILE = "model.npz"
_WHITE_SPACES = re.compile(r"\s\s+")  # as scikit-learn's char_wb analyzer


class PortableFormatError(ValueError):
    """A model.json / model.npz pair that is not a portable model this code can read."""


def char_wb_ngrams(text: str, lo: int, hi: int) -> list[str]:
    """Character n-grams inside word boundaries, padded with spaces (scikit-learn's `char_wb`).

    Example:
        >>> char_wb_ngrams("fire", 2, 3)
        [' f', 'fi', 'ir', 're', 'e ', ' fi', 'fir', 'ire', 're ']
    """
    out: list[str] = []
    for w in _WHITE_SPACES.sub(" ", text).split():
        w = f" {w} "
        for n in range(lo, hi + 1):
            offset = 0
            out.append(w[:n])
            while offset + n < len(w):
                offset += 1
                out.append(w[offset : offset + n])
            if offset == 0:  # a word shorter than n counts once
                break
    return out


def word_ngrams(tokens: list[str], lo: int, hi: int) -> list[str]:
    """Word n-grams joined by a space, unigrams first (scikit-learn's order).

    Example:
        >>> word_ngrams(["big", "fire", "here"], 1, 2)
        ['big', 'fire', 'here', 'big fire', 'fire here']
    """
    out = list(tokens) if lo == 1 else []
    for n in range(max(lo, 2), min(hi, len(tokens)) + 1):
        out.extend(" ".join(tokens[i : i + n]) for i in range(len(tokens) - n + 1))
    return out


@dataclass(frozen=True)
class _Part:
    """One TF-IDF part: its vocabulary (term -> column) and IDF weights."""

    terms: list[str]
    idf: npt.NDArray[np.float32]

    def index(self) -> dict[str, int]:
        return {t: j for j, t in enumerate(self.terms)}


class PortableTfidf:
    """TF-IDF over a fixed vocabulary: [char_wb | word] parts, sublinear tf, IDF, L2 per part.

    Frozen: `fit` keeps the vocabulary (it was learnt when the model was trained).

    Example:
        >>> fitted = TfidfEncoder(TfidfEncoderConfig(min_df=1)).fit(["a fire"])
        >>> PortableTfidf.from_encoder(fitted).encode(["fire"]).shape
        (1, 18)
    """

    name = "tfidf"

    def __init__(self, config: TfidfEncoderConfig, chars: _Part, words_: _Part) -> None:
        self.config = config
        self.parts = (chars, words_)
        self._index = (chars.index(), words_.index())

    @classmethod
    def from_encoder(
        cls, encoder: TfidfEncoder | PortableTfidf, keep: npt.NDArray[np.int64] | None = None
    ) -> PortableTfidf:
        """The same features as a fitted encoder, optionally only the columns in `keep`."""
        if isinstance(encoder, PortableTfidf):
            parts = encoder.parts
        else:
            c, w = (
                _Part(list(v.get_feature_names_out()), np.asarray(v.idf_, dtype=np.float32))
                for v in encoder.parts
            )
            parts = (c, w)
        if keep is None:
            return cls(encoder.config, parts[0], parts[1])
        keep = np.sort(np.asarray(keep))
        n_chars = len(parts[0].terms)
        sel = (keep[keep < n_chars], keep[keep >= n_chars] - n_chars)
        chars, wrds = (
            _Part([p.terms[j] for j in s], p.idf[s]) for p, s in zip(parts, sel, strict=True)
        )
        return cls(encoder.config, chars, wrds)

    @property
    def n_features(self) -> int:
        return sum(len(p.terms) for p in self.parts)

    def fit(self, texts: Sequence[str]) -> PortableTfidf:  # noqa: ARG002  # the protocol's verb
        """Frozen encoder: the vocabulary is fixed; returns self."""
        return self

    def encode(self, texts: Sequence[str]) -> sparse.csr_matrix:
        """Rows of [char | word] TF-IDF features, each part L2-normalised."""
        c_lo, c_hi = self.config.char_ngrams
        w_lo, w_hi = self.config.word_ngrams
        blocks = []
        for k, (part, index) in enumerate(zip(self.parts, self._index, strict=True)):
            rows: list[int] = []
            cols: list[int] = []
            for i, text in enumerate(texts):
                norm = normalize(text)
                grams = (
                    char_wb_ngrams(norm, c_lo, c_hi)
                    if k == 0
                    else word_ngrams(words(norm), w_lo, w_hi)
                )
                hits = [index[g] for g in grams if g in index]
                rows.extend([i] * len(hits))
                cols.extend(hits)
            counts = sparse.csr_matrix(
                (np.ones(len(rows), dtype=np.float32), (rows, cols)),
                shape=(len(texts), len(part.terms)),
                dtype=np.float32,
            )
            counts.sum_duplicates()
            blocks.append(_tfidf(counts, part.idf))
        return sparse.hstack(blocks, format="csr")


def _tfidf(counts: sparse.csr_matrix, idf: npt.NDArray[np.float32]) -> sparse.csr_matrix:
    x = counts.astype(np.float32)
    x.data = np.log(x.data) + 1  # sublinear tf
    x = x @ sparse.diags(idf.astype(np.float32))
    x = sparse.csr_matrix(x, dtype=np.float32)
    norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=1)).ravel())
    norms[norms == 0] = 1
    return sparse.csr_matrix(sparse.diags(1 / norms) @ x, dtype=np.float32)


class PortableLinear:
    """Linear scores over features: one column per binary/one-vs-rest model, then probabilities.

    `kind` is `binary` (one column: p and 1 - p, as scikit-learn's binary
    logistic regression), `ovr` (one sigmoid per label, rows scaled to sum 1)
    or `ovr_multilabel` (independent sigmoids).

    Example:
        >>> m = PortableLinear(np.zeros((3, 1)), np.zeros(1), "binary")
        >>> m.predict_proba(sparse.csr_matrix(np.ones((1, 3)))).tolist()
        [[0.5, 0.5]]
    """

    def __init__(
        self,
        coef: npt.NDArray[np.floating[Any]],
        intercept: npt.NDArray[np.floating[Any]],
        kind: str,
    ) -> None:
        if kind not in ("binary", "ovr", "ovr_multilabel"):
            raise PortableFormatError(f"unknown linear model kind {kind!r}")
        self.coef = np.asarray(coef)
        self.intercept = np.asarray(intercept, dtype=np.float64)
        self.kind = kind

    def predict_proba(self, x: Any) -> npt.NDArray[np.float64]:
        """Probabilities, shape (n, labels)."""
        z = np.asarray(x @ self.coef.astype(np.float32), dtype=np.float64) + self.intercept
        p = expit(z)
        if self.kind == "binary":
            return np.hstack([1 - p, p])
        if self.kind == "ovr":
            sums = p.sum(axis=1, keepdims=True)
            p = np.divide(p, sums, out=p, where=sums != 0)
        return np.asarray(p, dtype=np.float64)


def from_sklearn(model: Any) -> PortableLinear:
    """Coefficients of a fitted LogisticRegression or OneVsRestClassifier of them.

    A one-vs-rest column that was constant in training (scikit-learn's
    `_ConstantPredictor`) becomes zero weights and an infinite intercept.
    """
    if hasattr(model, "estimators_"):
        width = next(np.size(e.coef_) for e in model.estimators_ if hasattr(e, "coef_"))
        coefs, inters = [], []
        for est in model.estimators_:
            if hasattr(est, "coef_"):
                coefs.append(np.asarray(est.coef_, dtype=np.float64).ravel())
                inters.append(float(np.asarray(est.intercept_).ravel()[0]))
            else:  # constant predictor: always that label (1) or never (0)
                coefs.append(np.zeros(width))
                inters.append(np.inf if float(np.ravel(est.y_)[0]) > 0.5 else -np.inf)
        coef = np.stack(coefs, axis=1)
        kind = "ovr_multilabel" if model.multilabel_ else "ovr"
        return PortableLinear(coef, np.array(inters), kind)
    if len(model.classes_) != 2:
        raise PortableFormatError("only binary LogisticRegression or one-vs-rest are portable")
    return PortableLinear(np.asarray(model.coef_).T, np.asarray(model.intercept_), "binary")


def is_portable(encoder: Any, model: Any) -> bool:
    """True when this encoder and model can be written in the portable format."""
    if not isinstance(encoder, TfidfEncoder | PortableTfidf):
        return False
    if isinstance(model, PortableLinear):
        return True
    name = type(model).__name__
    return name == "OneVsRestClassifier" or (
        name == "LogisticRegression" and len(getattr(model, "classes_", ())) == 2
    )


def save(
    out: Path,
    encoder: Any,
    model: Any,
    labels: Sequence[str],
    *,
    multi_label: bool,
    coef_dtype: str = "float16",
) -> None:
    """Write `model.json` and `model.npz` to `out` (coefficients as `coef_dtype`).

    `encoder` and `model` must pass `is_portable`.
    """
    if not is_portable(encoder, model):
        raise PortableFormatError("only TF-IDF + logistic regression models are portable")
    enc = PortableTfidf.from_encoder(encoder)
    lin = model if isinstance(model, PortableLinear) else from_sklearn(model)
    arrays: dict[str, npt.NDArray[Any]] = {
        "coef": lin.coef.astype(coef_dtype),
        "intercept": lin.intercept.astype(np.float64),
    }
    for name, part in zip(("char", "word"), enc.parts, strict=True):
        if any("\n" in t for t in part.terms):
            raise PortableFormatError(f"a {name} term contains a newline")
        arrays[f"{name}_terms"] = np.frombuffer("\n".join(part.terms).encode(), dtype=np.uint8)
        arrays[f"{name}_idf"] = part.idf.astype(np.float32)
    meta = {
        "format": FORMAT,
        "encoder": enc.config.model_dump(mode="json"),
        "analyzers": {"char": "char_wb", "word": "jieba+regex words", "preprocess": "normalize"},
        "labels": list(labels),
        "multi_label": multi_label,
        "linear": lin.kind,
        "n_terms": {"char": len(enc.parts[0].terms), "word": len(enc.parts[1].terms)},
        "coef_dtype": coef_dtype,
    }
    out.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out / NPZ_FILE, **arrays)  # type: ignore[arg-type]  # numpy's stub
    (out / JSON_FILE).write_text(json.dumps(meta, ensure_ascii=False, indent=2) + "\n")


@dataclass(frozen=True)
class Loaded:
    """What `load` read: the encoder, the linear model, labels and whether multi-label."""

    encoder: PortableTfidf
    model: PortableLinear
    labels: list[str]
    multi_label: bool


def load(path: Path) -> Loaded:
    """Read a portable model directory; `PortableFormatError` when it is not one.

    Damaged or hand-edited files (truncated or corrupt archive, wrong JSON
    shapes, sizes or label counts that disagree) are refused with the path and
    the reason, never a crash later at scoring time.
    """
    try:
        meta = json.loads((path / JSON_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise PortableFormatError(f"{path / JSON_FILE}: {exc}") from exc
    if not isinstance(meta, dict):
        raise PortableFormatError(f"{path / JSON_FILE}: not a JSON object")
    if meta.get("format") != FORMAT:
        raise PortableFormatError(f"{path}: format {meta.get('format')!r}, expected {FORMAT}")
    try:
        # Our own handle: np.load leaks the one it opens when the archive is damaged.
        with (path / NPZ_FILE).open("rb") as f, np.load(f, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
        config = TfidfEncoderConfig.model_validate(meta["encoder"])
        parts = [
            _Part(
                _terms(arrays[f"{name}_terms"]),
                np.asarray(arrays[f"{name}_idf"], dtype=np.float32).ravel(),
            )
            for name in ("char", "word")
        ]
        model = PortableLinear(arrays["coef"], arrays["intercept"], meta["linear"])
        if not isinstance(meta["labels"], list):
            raise ValueError("labels is not a list")
        labels = [str(x) for x in meta["labels"]]
    # A damaged archive raises zipfile's or zlib's own errors, not OSError.
    except (OSError, KeyError, ValueError, TypeError, zipfile.BadZipFile, zlib.error) as exc:
        raise PortableFormatError(f"{path}: {exc}") from exc
    enc = PortableTfidf(config, parts[0], parts[1])
    coef = model.coef
    if (
        any(len(p.terms) != len(p.idf) for p in parts)
        or coef.ndim != 2
        or coef.shape[0] != enc.n_features
    ):
        raise PortableFormatError(f"{path}: vocabulary, IDF and coefficient sizes disagree")
    columns = 2 if model.kind == "binary" else coef.shape[1]
    if coef.shape[1] != model.intercept.size or len(labels) != columns:
        raise PortableFormatError(
            f"{path}: {len(labels)} labels but {coef.shape[1]} coefficient columns"
            f" and {model.intercept.size} intercepts ({model.kind})"
        )
    return Loaded(enc, model, labels, bool(meta["multi_label"]))


def _terms(raw: npt.NDArray[np.uint8]) -> list[str]:
    text = raw.tobytes().decode("utf-8")
    return text.split("\n") if text else []


def prune_terms(
    encoder: TfidfEncoder | PortableTfidf,
    texts: Sequence[str],
    y: npt.NDArray[np.int64],
    max_terms: int,
) -> PortableTfidf:
    """Keep the `max_terms` columns with the highest chi2 against `y` (labels or a 0/1 matrix).

    For a label matrix (multi-label) a term's score is its best chi2 over the labels.
    """
    from sklearn.feature_selection import chi2  # type: ignore[import-untyped]  # no stubs

    x = encoder.encode(list(texts))
    width = x.shape[1]
    if width <= max_terms:
        return PortableTfidf.from_encoder(encoder)
    if y.ndim == 1:
        scores = chi2(x, y)[0]
    else:
        cols = [chi2(x, y[:, j])[0] for j in range(y.shape[1]) if 0 < y[:, j].sum() < len(y)]
        scores = np.max(np.vstack(cols), axis=0) if cols else np.zeros(width)
    scores = np.nan_to_num(np.asarray(scores, dtype=np.float64), nan=0.0)
    keep = np.argsort(-scores, kind="stable")[:max_terms]
    return PortableTfidf.from_encoder(encoder, keep.astype(np.int64))
