"""Human pose: the `PoseEstimator` contract, MoveNet on person crops, and torso/limb geometry."""

from __future__ import annotations

import logging
import math
from typing import Protocol

import cv2
import numpy as np
import numpy.typing as npt

from citysentinel.models import ModelNotInstalled, model_path
from citysentinel.models.runtime import DEFAULT_THREADS, Session, make_session
from citysentinel.vision.detections import FloatArray

log = logging.getLogger(__name__)

# COCO keypoint order, as MoveNet returns it.
KEYPOINTS: tuple[str, ...] = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
    "left_wrist", "right_wrist", "left_hip", "right_hip",
    "left_knee", "right_knee", "left_ankle", "right_ankle",
)  # fmt: skip
SHOULDERS = (5, 6)
HIPS = (11, 12)
LIMBS = (7, 8, 9, 10)  # elbows and wrists
MOVENET_SIZE = 192


class PoseEstimator(Protocol):
    """Keypoints of the person in each box: (n, 17, 3) as (y, x, score), y/x in frame pixels.

    `max_persons` caps how many boxes a caller should pass per frame (cost is per box).
    """

    max_persons: int

    def estimate(self, image: npt.NDArray[np.uint8], boxes: FloatArray) -> FloatArray: ...


class MoveNetPose:
    """MoveNet singlepose (lightning by default) on square crops around each person box.

    Each box is widened by `margin` on every side into a square (zero padding off
    the frame), resized to 192x192 RGB int32 NHWC, and the 17 keypoints are mapped
    back to frame pixels. About 8-10 ms a crop on one CPU thread.

    Example:
        >>> pose = MoveNetPose.from_installed()  # doctest: +SKIP
        >>> boxes = np.array([[100, 50, 180, 260]], np.float32)
        >>> kp = pose.estimate(bgr_image, boxes)  # doctest: +SKIP
        >>> kp.shape  # doctest: +SKIP
        (1, 17, 3)
    """

    def __init__(self, session: Session, *, max_persons: int = 4, margin: float = 0.2) -> None:
        inputs, outputs = session.get_inputs(), session.get_outputs()
        shape = list(inputs[0].shape)
        if len(inputs) != 1 or shape[1:] != [MOVENET_SIZE, MOVENET_SIZE, 3]:
            raise ValueError(f"not a MoveNet singlepose graph: input {inputs[0].name} {shape}")
        self._session = session
        self._input = inputs[0].name
        self._output = outputs[0].name
        self.max_persons = max_persons
        self.margin = margin

    @classmethod
    def from_installed(
        cls,
        name: str = "movenet-lightning",
        *,
        threads: int = DEFAULT_THREADS,
        max_persons: int = 4,
    ) -> MoveNetPose:
        """The installed model `name`; raises `ModelNotInstalled` when it is absent."""
        return cls(make_session(model_path(name), threads), max_persons=max_persons)

    def estimate(self, image: npt.NDArray[np.uint8], boxes: FloatArray) -> FloatArray:
        """Keypoints (n, 17, 3) = (y, x, score) in frame pixels for each of `boxes` (xyxy, BGR)."""
        out = np.zeros((len(boxes), len(KEYPOINTS), 3), dtype=np.float32)
        for i, box in enumerate(np.asarray(boxes, dtype=np.float32).reshape(-1, 4)):
            crop, (x0, y0, side) = self._crop(image, box)
            raw = self._session.run([self._output], {self._input: crop})[0]
            kp = np.asarray(raw, dtype=np.float32).reshape(len(KEYPOINTS), 3)
            out[i, :, 0] = y0 + kp[:, 0] * side
            out[i, :, 1] = x0 + kp[:, 1] * side
            out[i, :, 2] = kp[:, 2]
        return out

    def _crop(
        self, image: npt.NDArray[np.uint8], box: FloatArray
    ) -> tuple[npt.NDArray[np.int32], tuple[float, float, float]]:
        x1, y1, x2, y2 = (float(v) for v in box)
        side = max(x2 - x1, y2 - y1, 1.0) * (1 + 2 * self.margin)
        x0, y0 = (x1 + x2 - side) / 2, (y1 + y2 - side) / 2
        s = MOVENET_SIZE / side
        affine = np.array([[s, 0, -x0 * s], [0, s, -y0 * s]], dtype=np.float64)
        # One warp crops, scales and zero-pads off-frame parts (MoveNet's letterbox).
        patch = cv2.warpAffine(
            image, affine, (MOVENET_SIZE, MOVENET_SIZE), flags=cv2.INTER_LINEAR, borderValue=0
        )
        rgb = cv2.cvtColor(patch, cv2.COLOR_BGR2RGB)
        return rgb.astype(np.int32)[None], (x0, y0, side)


def load_pose_estimator(
    name: str = "movenet-lightning", *, threads: int = DEFAULT_THREADS, max_persons: int = 4
) -> MoveNetPose | None:
    """MoveNet if installed and loadable, else None with one warning (behaviours go box-only).

    Example:
        >>> load_pose_estimator("movenet-lightning")  # doctest: +SKIP
        <citysentinel.vision.pose.MoveNetPose object at ...>
    """
    try:
        return MoveNetPose.from_installed(name, threads=threads, max_persons=max_persons)
    except ModelNotInstalled as exc:
        log.warning("pose model unavailable, fall/fight run box-only: %s", exc)
    except Exception as exc:  # a corrupt or foreign graph must not stop the camera
        log.warning("pose model %r failed to load, fall/fight run box-only: %s", name, exc)
    return None


def largest(boxes: FloatArray, n: int) -> npt.NDArray[np.int64]:
    """Rows of the `n` largest boxes by area, largest first.

    Example:
        >>> largest(np.array([[0, 0, 1, 1], [0, 0, 5, 5], [0, 0, 3, 3]], np.float32), 2).tolist()
        [1, 2]
    """
    boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
    area = np.clip(boxes[:, 2] - boxes[:, 0], 0, None) * np.clip(boxes[:, 3] - boxes[:, 1], 0, None)
    order: npt.NDArray[np.int64] = np.argsort(-area, kind="stable")[: max(0, n)].astype(np.int64)
    return order


def _midpoint(
    kp: FloatArray, pair: tuple[int, int], min_score: float
) -> tuple[float, float] | None:
    good = [i for i in pair if kp[i, 2] >= min_score]
    if not good:
        return None
    return float(np.mean(kp[good, 1])), float(np.mean(kp[good, 0]))


def torso_angle_deg(kp: FloatArray, min_score: float = 0.3) -> float | None:
    """Angle of the hips-to-shoulders line from vertical, 0 (upright) to 90 (horizontal).

    None when neither shoulder or neither hip scores `min_score`. Upside down also
    reads as vertical: the angle is to the vertical axis, not to "up".

    Example:
        >>> kp = np.zeros((17, 3), np.float32); kp[:, 2] = 1
        >>> kp[[5, 6], 0], kp[[11, 12], 0] = 100, 200  # shoulders 100 px above hips
        >>> round(torso_angle_deg(kp), 1)
        0.0
    """
    shoulders = _midpoint(kp, SHOULDERS, min_score)
    hips = _midpoint(kp, HIPS, min_score)
    if shoulders is None or hips is None:
        return None
    dx, dy = abs(shoulders[0] - hips[0]), abs(shoulders[1] - hips[1])
    if dx == 0 and dy == 0:
        return None
    return math.degrees(math.atan2(dx, dy))


def limb_points(kp: FloatArray, min_score: float = 0.3) -> dict[int, tuple[float, float]]:
    """Confident elbows and wrists as keypoint index -> (x, y) in pixels.

    Example:
        >>> kp = np.zeros((17, 3), np.float32); kp[9] = (50, 40, 0.9)
        >>> limb_points(kp)
        {9: (40.0, 50.0)}
    """
    return {i: (float(kp[i, 1]), float(kp[i, 0])) for i in LIMBS if kp[i, 2] >= min_score}


__all__ = [
    "KEYPOINTS",
    "MoveNetPose",
    "PoseEstimator",
    "largest",
    "limb_points",
    "load_pose_estimator",
    "torso_angle_deg",
]
