"""Tracking: per-class detection filters, then ByteTrack (the `trackers` package) for stable ids."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import numpy as np
import supervision as sv

# `trackers` ships no type information (no py.typed); its API is used through one class here.
from trackers import ByteTrackTracker  # type: ignore[import-untyped]

from citysentinel.vision.analytics_config import ObjectsConfig, TrackerConfig
from citysentinel.vision.detections import COCO_CLASSES, Detections, IntArray
from citysentinel.vision.geometry import BoolArray, Size, Zone


class Tracker(Protocol):
    """Gives each detection a stable `tracker_id`; unconfirmed ones stay -1 or are dropped."""

    def update(self, detections: Detections) -> Detections: ...


class ByteTracker:
    """ByteTrack from Roboflow's `trackers`, with per-camera ids counting from 1.

    The library numbers tracks with a class-level counter shared by every
    instance in the process; ids are remapped here so each camera's ids are its
    own and deterministic (no global state leaks between analyzers).

    Example:
        >>> tracker = ByteTracker(TrackerConfig(), fps=10)
        >>> for x in range(0, 30, 10):
        ...     out = tracker.update(Detections([[x, 0, x + 50, 100]], [0.9], [0]))
        >>> out.tracker_id.tolist()
        [1]
    """

    def __init__(self, config: TrackerConfig, fps: float) -> None:
        # The library scales its buffer by frame_rate / 30: express it in frames at 30 fps.
        self._tracker = ByteTrackTracker(
            lost_track_buffer=max(1, round(config.lost_track_s * 30)),
            frame_rate=fps,
            track_activation_threshold=config.track_activation_threshold,
            minimum_consecutive_frames=config.minimum_consecutive_frames,
            minimum_iou_threshold=config.minimum_iou_threshold,
            high_conf_det_threshold=config.high_conf_det_threshold,
        )
        self._ids: dict[int, int] = {}

    def update(self, detections: Detections) -> Detections:
        sv_in = sv.Detections(
            xyxy=detections.xyxy.astype(np.float64),
            confidence=detections.confidence.astype(np.float64),
            class_id=detections.class_id.astype(int),
        )
        out: sv.Detections = self._tracker.update(sv_in)
        if len(out) == 0:
            return Detections.empty()
        raw = np.asarray(out.tracker_id, dtype=np.int64)
        local = np.array([self._local_id(int(i)) for i in raw], dtype=np.int64)
        return Detections(
            np.asarray(out.xyxy, dtype=np.float32),
            np.asarray(out.confidence, dtype=np.float32),
            np.asarray(out.class_id, dtype=np.int64),
            local,
        )

    def _local_id(self, raw: int) -> int:
        if raw < 0:
            return -1
        if raw not in self._ids:
            self._ids[raw] = len(self._ids) + 1
        return self._ids[raw]


class PassthroughTracker:
    """Keeps the ids the detections already carry (a detector that tracks, a replayed file).

    Example:
        >>> d = Detections([[0, 0, 1, 1]], [1], [0], tracker_id=[7])
        >>> PassthroughTracker().update(d).tracker_id.tolist()
        [7]
    """

    def update(self, detections: Detections) -> Detections:
        return detections


TrackerFactory = Callable[[TrackerConfig, float], Tracker]
TRACKERS: dict[str, TrackerFactory] = {"bytetrack": ByteTracker}


def build_tracker(config: TrackerConfig, fps: float) -> Tracker:
    """The tracker named by `config.type`, for a stream analysed at `fps` frames per second."""
    return TRACKERS[config.type](config, fps)


class DetectionFilter:
    """Drops untracked classes, low scores, boxes too small or large, and masked anchors.

    Example:
        >>> f = DetectionFilter(ObjectsConfig(track=["person"]), (100, 100))
        >>> boxes = [[0, 0, 10, 10], [0, 0, 10, 10], [0, 0, 5, 5]]
        >>> d = Detections(boxes, [0.9, 0.9, 0.1], [0, 2, 0])
        >>> f.apply(d).class_id.tolist()
        [0]
    """

    def __init__(self, config: ObjectsConfig, size: Size) -> None:
        n = len(COCO_CLASSES)
        self._tracked = np.zeros(n, dtype=np.bool_)
        self._min_score = np.ones(n, dtype=np.float32)
        self._min_area = np.zeros(n, dtype=np.float32)
        self._max_area = np.ones(n, dtype=np.float32)
        self._masks: dict[int, list[Zone]] = {}
        global_masks = [Zone.from_normalised("mask", m, size) for m in config.masks]
        for label in config.track:
            cid = COCO_CLASSES.index(label)
            f = config.filter_for(label)
            self._tracked[cid] = True
            self._min_score[cid], self._min_area[cid], self._max_area[cid] = (
                f.min_score,
                f.min_area,
                f.max_area,
            )
            masks = [Zone.from_normalised("mask", m, size) for m in f.masks]
            if masks or global_masks:
                self._masks[cid] = global_masks + masks
        self._frame_area = float(size[0] * size[1])

    def apply(self, detections: Detections) -> Detections:
        cid = detections.class_id
        known = (cid >= 0) & (cid < len(COCO_CLASSES))
        c = np.where(known, cid, 0)
        area = detections.areas() / self._frame_area
        keep = (
            known
            & self._tracked[c]
            & (detections.confidence >= self._min_score[c])
            & (area >= self._min_area[c])
            & (area <= self._max_area[c])
        )
        keep &= ~self._masked(detections, c)
        return detections[keep]

    def _masked(self, detections: Detections, c: IntArray) -> BoolArray:
        masked = np.zeros(len(detections), dtype=np.bool_)
        if not self._masks:
            return masked
        anchors = detections.anchors()
        for cid, zones in self._masks.items():
            rows = np.flatnonzero(c == cid)
            if rows.size == 0:
                continue
            for zone in zones:
                masked[rows] |= zone.contains(anchors[rows])
        return masked
