"""Run exported transformer text models with `tokenizers` + onnxruntime (no torch at inference).

Two uses: the frozen MiniLM encoder (graph output `embedding`, mean-pooled and
L2-normalised) and fine-tuned classifiers written by `train text --finetune`
(graph output `logits`; directory layout below).

A fine-tuned model directory holds `model.onnx` (int8 dynamic quantization),
`tokenizer.json`, `labels.json`, `onnx_text.json` (multi-label flag, maximum
length) and the card (`card.json`, `card.md`).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from tokenizers import Tokenizer

    from citysentinel.text.classify import TextClassifier

MODEL_FILE = "model.onnx"
TOKENIZER_FILE = "tokenizer.json"
META_FILE = "onnx_text.json"


def make_tokenizer(tokenizer_json: str, max_length: int) -> Tokenizer:
    """The tokenizer as training and serving both use it: cut at `max_length`, never padded.

    MiniLM's tokenizer.json pads every text to 128 tokens; padding is done per
    batch here instead, with an attention mask, so it must be switched off.

    Example:
        >>> from citysentinel.text.encoders.minilm import tokenizer_json  # doctest: +SKIP
        >>> len(make_tokenizer(tokenizer_json(), 128).encode("fire").ids)  # doctest: +SKIP
        3
    """
    from tokenizers import Tokenizer

    tok = Tokenizer.from_str(tokenizer_json)
    tok.enable_truncation(max_length)
    tok.no_padding()
    return tok


class OnnxTextRunner:
    """Tokenize, pad per batch (texts sorted by length), run the graph, restore the order.

    Example:
        >>> runner = OnnxTextRunner(Path("model.onnx").read_bytes(), tok_json)  # doctest: +SKIP
        >>> runner.run(["fire on main street"]).shape  # doctest: +SKIP
        (1, 384)
    """

    def __init__(
        self,
        model: bytes | Path,
        tokenizer_json: str,
        *,
        max_length: int = 128,
        threads: int = 1,
        batch_size: int = 32,
    ) -> None:
        import onnxruntime as ort  # type: ignore[import-untyped]  # no type information

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads  # the machine is shared; 1 thread measured best
        opts.inter_op_num_threads = 1
        source = str(model) if isinstance(model, Path) else model
        self._session = ort.InferenceSession(source, opts, providers=["CPUExecutionProvider"])
        self._inputs = {i.name for i in self._session.get_inputs()}
        self._tokenizer = make_tokenizer(tokenizer_json, max_length)
        self.batch_size = batch_size
        # onnxruntime sessions are thread-safe for run(); the tokenizer's settings are not shared.
        self._lock = threading.Lock()

    def run(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """The graph's first output for every text, in the order given."""
        if not texts:
            out_shape = self._session.get_outputs()[0].shape[1:]
            width = out_shape[0] if out_shape and isinstance(out_shape[0], int) else 0
            return np.zeros((0, width), dtype=np.float32)
        with self._lock:
            encodings = self._tokenizer.encode_batch(list(texts))
        order = np.argsort([len(e.ids) for e in encodings], kind="stable")
        rows: list[npt.NDArray[np.float32]] = [np.empty(0, np.float32)] * len(texts)
        for start in range(0, len(order), self.batch_size):
            idx = order[start : start + self.batch_size]
            width = max(len(encodings[i].ids) for i in idx)
            ids = np.zeros((len(idx), width), dtype=np.int64)
            mask = np.zeros((len(idx), width), dtype=np.int64)
            for r, i in enumerate(idx):
                n = len(encodings[i].ids)
                ids[r, :n] = encodings[i].ids
                mask[r, :n] = 1
            feeds = {"input_ids": ids, "attention_mask": mask}
            out = self._session.run(None, {k: v for k, v in feeds.items() if k in self._inputs})
            for r, i in enumerate(idx):
                rows[int(i)] = np.asarray(out[0][r], dtype=np.float32)
        return np.stack(rows)


class LogitsEncoder:
    """The fine-tuned network as an "encoder": texts in, one row of label logits out."""

    name = "minilm-finetuned"

    def __init__(self, runner: OnnxTextRunner) -> None:
        self.runner = runner

    def fit(self, texts: Sequence[str]) -> LogitsEncoder:  # noqa: ARG002 - already trained
        """Nothing to learn here (training is `train text --finetune`); returns self."""
        return self

    def encode(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """Label logits, shape (n, labels)."""
        return self.runner.run(list(texts))


class LogitsHead:
    """Logits to probabilities with scikit-learn's verb: sigmoid (multi-label) or softmax."""

    def __init__(self, multi_label: bool) -> None:
        self.multi_label = multi_label

    def predict_proba(self, logits: npt.NDArray[np.float32]) -> npt.NDArray[np.float64]:
        """Probabilities, one row per text."""
        x = logits.astype(np.float64)
        if self.multi_label:
            return np.asarray(1.0 / (1.0 + np.exp(-x)))
        e = np.exp(x - x.max(axis=1, keepdims=True))
        return np.asarray(e / e.sum(axis=1, keepdims=True))


def load_onnx_classifier(path: Path, *, threads: int = 1) -> TextClassifier:
    """A directory written by `train text --finetune`, as a `TextClassifier` (same verbs).

    Example:
        >>> clf = load_onnx_classifier(Path("models/t26-minilm"))  # doctest: +SKIP
        >>> clf.predict(["Bridge collapsed, people trapped"])  # doctest: +SKIP
        [('Related and informative',)]
    """
    from citysentinel.text.classify import TextClassifier

    for name in (MODEL_FILE, TOKENIZER_FILE, META_FILE, "labels.json"):
        if not (path / name).is_file():
            raise FileNotFoundError(f"{path}: no {name}; not a fine-tuned text model")
    meta = json.loads((path / META_FILE).read_text())
    runner = OnnxTextRunner(
        path / MODEL_FILE,
        (path / TOKENIZER_FILE).read_text(encoding="utf-8"),
        max_length=int(meta["max_length"]),
        threads=threads,
    )
    card_file = path / "card.json"
    card = json.loads(card_file.read_text()) if card_file.is_file() else {}
    labels = json.loads((path / "labels.json").read_text())
    multi = bool(meta["multi_label"])
    return TextClassifier(
        LogitsEncoder(runner), LogitsHead(multi), labels, multi_label=multi, card=card
    )


def is_onnx_model(path: Path) -> bool:
    """True when `path` is a fine-tuned ONNX text model directory."""
    return (path / MODEL_FILE).is_file() and (path / META_FILE).is_file()
