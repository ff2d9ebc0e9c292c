"""A third-party ONNX detector in a documented format (docs/models.md): config and detector."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt
from pydantic import Field

from citysentinel.models.runtime import Session, make_session
from citysentinel.vision.detections import COCO_CLASSES, Detections
from citysentinel.vision.detectors.base import (
    BaseDetectorConfig,
    Frame,
    Letterbox,
    Tensor,
    batched_nms,
    letterbox,
    to_detections,
)

# Classes of a plugged-in model that are not COCO classes are reported from this id on.
CUSTOM_CLASS_OFFSET = 1000


class OnnxDetectorConfig(BaseDetectorConfig):
    """Any ONNX detector whose output is rows of x1, y1, x2, y2, score, class.

    Example (YAML, a YOLO-style export with NMS inside the graph):
        detector: {type: onnx, model: /models/mine.onnx, input_size: [640, 640],
                   scale: 0.00392156862745098, pad_value: 114, class_names: [person, car]}
    """

    type: Literal["onnx"] = Field(description="Detector backend: a generic ONNX detector.")
    model: Path = Field(description="The ONNX file (required: nothing is installed for it).")
    input_size: tuple[int, int] = Field(
        default=(640, 640), description="Network input (width, height); the frame is letterboxed."
    )
    layout: Literal["NCHW", "NHWC"] = Field(default="NCHW", description="Input tensor layout.")
    channel_order: Literal["RGB", "BGR"] = Field(default="RGB", description="Input channel order.")
    input_dtype: Literal["float32", "uint8", "int32"] = Field(
        default="float32", description="Input tensor dtype (integer inputs skip scale/mean/std)."
    )
    scale: float = Field(default=1 / 255, description="Pixels are multiplied by this first.")
    mean: tuple[float, float, float] = Field(
        default=(0.0, 0.0, 0.0), description="Subtracted after scaling, in channel_order."
    )
    std: tuple[float, float, float] = Field(
        default=(1.0, 1.0, 1.0), description="Divided by after subtracting the mean."
    )
    pad_value: int = Field(default=114, ge=0, le=255, description="Letterbox padding colour.")
    output: str | None = Field(
        default=None, description="Name of the [N, 6] or [1, N, 6] output (default: the first)."
    )
    normalized_boxes: bool = Field(
        default=False, description="Boxes are 0-1 fractions of the input instead of input pixels."
    )
    class_names: list[str] | None = Field(
        default=None,
        description="The model's class names in index order (default: COCO-80 order). Names "
        "found in COCO get their COCO id; others get 1000 + their index.",
    )
    score_threshold: float = Field(
        default=0.25, ge=0.0, le=1.0, description="Drop boxes scoring below this."
    )
    nms_iou: float | None = Field(
        default=None,
        gt=0.0,
        le=1.0,
        description="Per-class NMS IoU; null when the model already applies NMS.",
    )
    max_detections: int = Field(default=300, ge=1, description="Keep at most this many boxes.")


def class_map(names: list[str] | None) -> npt.NDArray[np.int64] | None:
    """Model class index -> reported class id (COCO id when the name is a COCO class)."""
    if names is None:
        return None
    coco = {n: i for i, n in enumerate(COCO_CLASSES)}
    return np.array([coco.get(n, CUSTOM_CLASS_OFFSET + i) for i, n in enumerate(names)], np.int64)


class OnnxDetector:
    """Runs a third-party ONNX detector described by an `OnnxDetectorConfig`.

    Example:
        >>> cfg = OnnxDetectorConfig(type="onnx", model=Path("mine.onnx"))
        >>> OnnxDetector(cfg).detect(frame)  # doctest: +SKIP
    """

    def __init__(self, config: OnnxDetectorConfig, session: Session | None = None) -> None:
        self.config = config
        self.session = session or make_session(config.model, threads=config.threads)
        self._input = self.session.get_inputs()[0].name
        self._output = config.output or self.session.get_outputs()[0].name
        self._classes = class_map(config.class_names)
        c = config
        self._scale = np.float32(c.scale)
        self._mean = np.array(c.mean, np.float32)
        self._std = np.array(c.std, np.float32)

    def preprocess(self, frame: Frame) -> tuple[Tensor, Letterbox]:
        c = self.config
        image, lb = letterbox(frame, c.input_size[0], c.input_size[1], pad_value=c.pad_value)
        if c.channel_order == "RGB":
            image = image[:, :, ::-1]
        x: Tensor
        if c.input_dtype == "float32":
            x = (image.astype(np.float32) * self._scale - self._mean) / self._std
        else:
            x = image.astype(c.input_dtype)
        if c.layout == "NCHW":
            x = x.transpose(2, 0, 1)
        return np.ascontiguousarray(x[None]), lb

    def postprocess(self, outputs: list[Tensor], lb: Letterbox) -> Detections:
        c = self.config
        rows = np.asarray(outputs[0], np.float32).reshape(-1, 6)
        rows = rows[rows[:, 4] >= c.score_threshold]
        xyxy = rows[:, :4].copy()
        if c.normalized_boxes:
            xyxy[:, [0, 2]] *= c.input_size[0]
            xyxy[:, [1, 3]] *= c.input_size[1]
        xyxy[:, [0, 2]] = xyxy[:, [0, 2]].clip(0, c.input_size[0])
        xyxy[:, [1, 3]] = xyxy[:, [1, 3]].clip(0, c.input_size[1])
        scores = rows[:, 4].copy()
        classes = np.rint(rows[:, 5]).astype(np.int64)
        if self._classes is not None:
            known = (classes >= 0) & (classes < len(self._classes))
            xyxy, scores = xyxy[known], scores[known]
            classes = self._classes[classes[known]]
        if c.nms_iou is not None:
            keep = batched_nms(xyxy, scores, classes, c.nms_iou, c.max_detections)
        else:
            keep = np.argsort(-scores, kind="stable")[: c.max_detections]
        return to_detections(lb.undo(xyxy[keep]), scores[keep], classes[keep])

    def detect(self, frame: Frame) -> Detections:
        """Objects in a BGR uint8 frame, in frame pixels."""
        tensor, lb = self.preprocess(frame)
        outputs = self.session.run([self._output], {self._input: tensor})
        return self.postprocess([np.asarray(o) for o in outputs], lb)
