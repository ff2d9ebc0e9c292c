"""Text encoders behind one protocol; a `type` key picks the backend (tfidf, e5, minilm)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, TypeAlias, runtime_checkable

import numpy as np
import numpy.typing as npt
from scipy import sparse  # type: ignore[import-untyped]  # scipy ships no stubs

from citysentinel.text.encoders.e5 import E5Encoder, E5EncoderConfig
from citysentinel.text.encoders.minilm import MiniLMEncoder, MiniLMEncoderConfig
from citysentinel.text.encoders.tfidf import TfidfEncoder, TfidfEncoderConfig

# Dense (n, d) float arrays from neural encoders, CSR matrices from TF-IDF.
Features: TypeAlias = "npt.NDArray[np.float32] | sparse.csr_matrix"
EncoderConfig: TypeAlias = TfidfEncoderConfig | E5EncoderConfig | MiniLMEncoderConfig


@runtime_checkable
class TextEncoder(Protocol):
    """Turns texts into feature rows; `fit` learns a vocabulary (TF-IDF) or does nothing (frozen).

    Example:
        >>> enc = build_encoder(TfidfEncoderConfig(min_df=1))
        >>> enc.fit(["fire on main street", "flood in the park"]).encode(["fire"]).shape[0]
        1
    """

    name: str

    def fit(self, texts: Sequence[str]) -> TextEncoder:
        """Learn what the encoder needs from training texts; returns self."""
        ...

    def encode(self, texts: Sequence[str]) -> Features:
        """One feature row per text, in order."""
        ...


ENCODERS: dict[str, type[TextEncoder]] = {
    "tfidf": TfidfEncoder,
    "e5": E5Encoder,
    "minilm": MiniLMEncoder,
}
CONFIGS: dict[str, type[EncoderConfig]] = {
    "tfidf": TfidfEncoderConfig,
    "e5": E5EncoderConfig,
    "minilm": MiniLMEncoderConfig,
}


def build_encoder(config: EncoderConfig) -> TextEncoder:
    """The encoder named by `config.type`, built from its config."""
    return ENCODERS[config.type](config)  # type: ignore[call-arg]  # each takes its own config


def encoder_config(name: str) -> EncoderConfig:
    """Default settings of the encoder called `name` (tfidf, e5, minilm).

    Example:
        >>> encoder_config("e5").type
        'e5'
    """
    if name not in CONFIGS:
        raise ValueError(f"unknown encoder {name!r} (choose from {', '.join(CONFIGS)})")
    return CONFIGS[name]()


__all__ = [
    "CONFIGS",
    "ENCODERS",
    "E5EncoderConfig",
    "EncoderConfig",
    "Features",
    "MiniLMEncoderConfig",
    "TextEncoder",
    "TfidfEncoderConfig",
    "build_encoder",
    "encoder_config",
]
