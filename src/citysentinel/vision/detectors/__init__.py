"""Object detector backends chosen by `type` in a camera's config; one file per backend."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

from citysentinel.vision.detectors.base import BaseDetectorConfig, Detector, Letterbox, letterbox
from citysentinel.vision.detectors.centernet import CenterNetConfig, CenterNetDetector
from citysentinel.vision.detectors.generic_onnx import OnnxDetector, OnnxDetectorConfig
from citysentinel.vision.detectors.nanodet import NanoDetConfig, NanoDetDetector

# type key -> (config class, detector class). Add a backend here and to `DetectorConfig`.
DETECTORS: dict[str, tuple[type[BaseDetectorConfig], type[Any]]] = {
    "nanodet": (NanoDetConfig, NanoDetDetector),
    "centernet": (CenterNetConfig, CenterNetDetector),
    "onnx": (OnnxDetectorConfig, OnnxDetector),
}

DetectorConfig = Annotated[
    NanoDetConfig | CenterNetConfig | OnnxDetectorConfig, Field(discriminator="type")
]
"""What a camera config's `detector:` block validates to (the `type` key picks the backend)."""

# Chosen by `citysentinel eval detection` on coco128 (docs/models.md): the better mAP
# at 5 fps or more on a 2-core CPU with one thread.
DEFAULT_DETECTOR = "nanodet"


def build_detector(config: BaseDetectorConfig) -> Detector:
    """The detector for a validated backend config.

    Example:
        >>> build_detector(NanoDetConfig(type="nanodet", score_threshold=0.4))  # doctest: +SKIP
        <citysentinel.vision.detectors.nanodet.NanoDetDetector object at ...>
    """
    key = getattr(config, "type", None)
    if not isinstance(key, str) or key not in DETECTORS:
        raise ValueError(f"unknown detector type {key!r}; known: {', '.join(DETECTORS)}")
    config_cls, detector_cls = DETECTORS[key]
    if not isinstance(config, config_cls):
        raise TypeError(f"detector type {key!r} needs a {config_cls.__name__}")
    detector: Detector = detector_cls(config)
    return detector


def default_config(backend: str = DEFAULT_DETECTOR, **overrides: Any) -> BaseDetectorConfig:
    """A backend's config with its defaults (and `overrides`), validated."""
    if backend not in DETECTORS:
        raise ValueError(f"unknown detector type {backend!r}; known: {', '.join(DETECTORS)}")
    return DETECTORS[backend][0].model_validate({"type": backend, **overrides})


__all__ = [
    "DEFAULT_DETECTOR",
    "DETECTORS",
    "BaseDetectorConfig",
    "CenterNetConfig",
    "CenterNetDetector",
    "Detector",
    "DetectorConfig",
    "Letterbox",
    "NanoDetConfig",
    "NanoDetDetector",
    "OnnxDetector",
    "OnnxDetectorConfig",
    "build_detector",
    "default_config",
    "letterbox",
]
