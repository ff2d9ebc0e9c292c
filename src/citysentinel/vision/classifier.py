"""Run-time image classifier: an exported ONNX model (fp32 or int8) run with onnxruntime alone."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from citysentinel.models.runtime import Session, make_session

Image = npt.NDArray[np.uint8]
FloatArray = npt.NDArray[np.float32]

LABELS_FILE = "labels.json"
FP32_FILE = "model.onnx"
INT8_FILE = "model.int8.onnx"
# EfficientNet-Lite's own preprocessing (TF reference: MEAN_RGB 127, STD_RGB 128).
DEFAULT_MEAN = (127.0, 127.0, 127.0)
DEFAULT_STD = (128.0, 128.0, 128.0)


class ClassifierError(RuntimeError):
    """A model folder that is missing, incomplete or unreadable."""


@dataclass(frozen=True)
class Preprocess:
    """How pixels become the model input: RGB, resized to a square, (x - mean) / std, NCHW.

    Example:
        >>> Preprocess(64).batch([np.zeros((10, 20, 3), np.uint8)]).shape
        (1, 3, 64, 64)
    """

    image_size: int = 224
    mean: tuple[float, float, float] = DEFAULT_MEAN
    std: tuple[float, float, float] = DEFAULT_STD

    def one(self, image: Image) -> FloatArray:
        """One BGR uint8 image (H, W, 3) to a float (3, S, S) array."""
        if image.ndim != 3 or image.shape[2] != 3 or image.size == 0:
            raise ValueError(f"expected a BGR image (H, W, 3), got shape {image.shape}")
        size = (self.image_size, self.image_size)
        resized = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
        rgb = cv2.cvtColor(resized, cv2.COLOR_BGR2RGB).astype(np.float32)
        out = (rgb - np.asarray(self.mean, np.float32)) / np.asarray(self.std, np.float32)
        return np.ascontiguousarray(out.transpose(2, 0, 1))

    def batch(self, images: Sequence[Image]) -> FloatArray:
        """BGR images to one float (N, 3, S, S) batch."""
        return np.stack([self.one(im) for im in images]).astype(np.float32)


@dataclass(frozen=True)
class ModelInfo:
    """What `labels.json` says about an exported classifier."""

    labels: list[str]
    preprocess: Preprocess

    @classmethod
    def read(cls, model_dir: Path) -> ModelInfo:
        path = model_dir / LABELS_FILE
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ClassifierError(f"cannot read {path}: {exc}") from exc
        labels = raw.get("labels") if isinstance(raw, dict) else None
        if not isinstance(labels, list) or not labels:
            raise ClassifierError(f"{path}: no 'labels' list")
        pre = Preprocess(
            int(raw.get("image_size", 224)),
            _triple(raw.get("mean", DEFAULT_MEAN)),
            _triple(raw.get("std", DEFAULT_STD)),
        )
        return cls([str(x) for x in labels], pre)

    def to_json(self) -> dict[str, object]:
        p = self.preprocess
        return {
            "labels": self.labels,
            "image_size": p.image_size,
            "mean": list(p.mean),
            "std": list(p.std),
            "input": "RGB NCHW float32, (x - mean) / std, resized to image_size",
        }


def _triple(values: object) -> tuple[float, float, float]:
    if not isinstance(values, list | tuple) or len(values) != 3:
        raise ClassifierError(f"expected three numbers, got {values!r}")
    return (float(values[0]), float(values[1]), float(values[2]))


def softmax(logits: FloatArray) -> FloatArray:
    """Row-wise softmax, stable for large logits.

    Example:
        >>> softmax(np.array([[0.0, 0.0]], np.float32)).tolist()
        [[0.5, 0.5]]
    """
    shifted = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(shifted)
    out: FloatArray = (e / e.sum(axis=1, keepdims=True)).astype(np.float32)
    return out


class OnnxImageClassifier:
    """A fine-tuned classifier folder (`labels.json`, `model.int8.onnx`, `model.onnx`).

    `int8=True` (the default) runs the dynamically quantized model when it exists.
    Threads default to 1: on these 2-core machines one onnxruntime thread is faster.

    Example:
        >>> # clf = OnnxImageClassifier(Path("var/models/coco-crops"))
        >>> # labels, scores = clf.classify([cv2.imread("crop.jpg")])
    """

    def __init__(self, model_dir: Path | str, threads: int = 1, *, int8: bool = True) -> None:
        self.model_dir = Path(model_dir)
        info = ModelInfo.read(self.model_dir)
        self.labels = info.labels
        self.preprocess = info.preprocess
        path = self.model_dir / (INT8_FILE if int8 else FP32_FILE)
        if int8 and not path.exists():
            path = self.model_dir / FP32_FILE
        if not path.exists():
            raise ClassifierError(f"no {path.name} in {self.model_dir}")
        self.path = path
        self.name = f"{self.model_dir.name}/{path.name}"
        try:
            self._session: Session = make_session(path, threads)
        except Exception as exc:  # onnxruntime raises its own untyped errors
            raise ClassifierError(f"cannot load {path}: {exc}") from exc
        self._input = self._session.get_inputs()[0].name

    def probabilities(self, images: Sequence[Image]) -> FloatArray:
        """Class probabilities (N, classes) of BGR images, in `labels` order."""
        if not images:
            return np.zeros((0, len(self.labels)), np.float32)
        batch = self.preprocess.batch(images)
        logits = self._session.run(None, {self._input: batch})[0]
        return softmax(np.asarray(logits, np.float32))

    def classify(self, images: Sequence[Image]) -> tuple[list[str], list[float]]:
        """The top label and its probability for each BGR image."""
        probs = self.probabilities(images)
        top = probs.argmax(axis=1)
        return [self.labels[i] for i in top.tolist()], probs.max(axis=1).tolist()


__all__ = [
    "ClassifierError",
    "ModelInfo",
    "OnnxImageClassifier",
    "Preprocess",
    "softmax",
]
