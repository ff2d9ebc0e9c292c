"""The `Detector` contract and what every backend shares: config base, letterbox, NMS, session."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import cv2
import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field

from citysentinel.models.registry import model_path
from citysentinel.models.runtime import DEFAULT_THREADS, Session, make_session
from citysentinel.vision.detections import Detections

Frame = npt.NDArray[np.uint8]
Tensor = npt.NDArray[Any]


@runtime_checkable
class Detector(Protocol):
    """Finds objects in one frame: BGR uint8 HxWx3 in, `Detections` in frame pixels out."""

    def detect(self, frame: Frame) -> Detections: ...


class BaseDetectorConfig(BaseModel):
    """Fields every detector backend has."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    score_threshold: float = Field(
        default=0.35, ge=0.0, le=1.0, description="Drop boxes scoring below this."
    )
    threads: int = Field(
        default=DEFAULT_THREADS,
        ge=1,
        description="onnxruntime intra-op threads; 1 was fastest on 2-core machines.",
    )
    max_detections: int = Field(default=100, ge=1, description="Keep at most this many boxes.")


@dataclass(frozen=True)
class Letterbox:
    """A centred letterbox: the frame scaled by `scale` and shifted by (`pad_x`, `pad_y`)."""

    scale: float
    pad_x: int
    pad_y: int
    width: int  # of the original frame
    height: int

    def undo(self, xyxy: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """Map boxes from network-input pixels back to frame pixels, clipped to the frame.

        Example:
            >>> lb = Letterbox(scale=0.5, pad_x=0, pad_y=52, width=832, height=624)
            >>> lb.undo(np.array([[0, 52, 416, 364]], np.float32)).tolist()
            [[0.0, 0.0, 832.0, 624.0]]
        """
        out = xyxy.astype(np.float32).copy()
        out[:, [0, 2]] = (out[:, [0, 2]] - self.pad_x) / self.scale
        out[:, [1, 3]] = (out[:, [1, 3]] - self.pad_y) / self.scale
        out[:, [0, 2]] = out[:, [0, 2]].clip(0, self.width)
        out[:, [1, 3]] = out[:, [1, 3]].clip(0, self.height)
        return out


def letterbox(frame: Frame, width: int, height: int, pad_value: int = 0) -> tuple[Frame, Letterbox]:
    """Resize keeping the aspect ratio (INTER_LINEAR) and centre on a `pad_value` canvas.

    Example:
        >>> img, lb = letterbox(np.zeros((624, 832, 3), np.uint8), 416, 416)
        >>> img.shape, lb.scale, lb.pad_x, lb.pad_y
        ((416, 416, 3), 0.5, 0, 52)
    """
    h, w = frame.shape[:2]
    scale = min(width / w, height / h)
    new_w, new_h = round(w * scale), round(h * scale)
    pad_x, pad_y = (width - new_w) // 2, (height - new_h) // 2
    canvas = np.full((height, width, 3), pad_value, dtype=np.uint8)
    resized = cv2.resize(frame, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    canvas[pad_y : pad_y + new_h, pad_x : pad_x + new_w] = resized
    return canvas, Letterbox(scale, pad_x, pad_y, w, h)


def batched_nms(
    xyxy: npt.NDArray[np.float32],
    scores: npt.NDArray[np.float32],
    class_ids: npt.NDArray[np.int64],
    iou: float,
    max_detections: int,
) -> npt.NDArray[np.int64]:
    """Indices kept by per-class NMS at `iou`, best first, at most `max_detections`.

    Runs in OpenCV's C++ (`cv2.dnn.NMSBoxesBatched`): no Python loop over boxes.
    """
    if len(xyxy) == 0:
        return np.zeros(0, dtype=np.int64)
    xywh = np.concatenate([xyxy[:, :2], xyxy[:, 2:] - xyxy[:, :2]], axis=1).astype(np.float64)
    keep = cv2.dnn.NMSBoxesBatched(
        xywh,  # type: ignore[arg-type]  # the stubs ask for Rect2d sequences; arrays work
        scores.astype(np.float32),  # type: ignore[arg-type]
        class_ids.astype(np.int32),  # type: ignore[arg-type]
        0.0,
        float(iou),
    )
    idx = np.asarray(keep, dtype=np.int64).reshape(-1)
    return idx[np.argsort(-scores[idx], kind="stable")][:max_detections]


def open_session(model: Path | None, default_model: str, threads: int) -> Session:
    """The onnxruntime session for `model`, else for the installed `default_model`."""
    return make_session(model or model_path(default_model), threads=threads)


MODEL_OVERRIDE_DESCRIPTION = (
    "ONNX file to load instead of the installed model (see `citysentinel models list`)."
)


def to_detections(
    xyxy: npt.NDArray[np.float32], scores: npt.NDArray[np.float32], class_ids: npt.NDArray[np.int64]
) -> Detections:
    """Build `Detections`, dropping boxes with no area left after clipping."""
    keep = (xyxy[:, 2] > xyxy[:, 0]) & (xyxy[:, 3] > xyxy[:, 1])
    return Detections(xyxy=xyxy[keep], confidence=scores[keep], class_id=class_ids[keep])
