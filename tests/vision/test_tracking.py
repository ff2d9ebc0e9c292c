"""Per-class detection filters, and ByteTrack id stability on synthetic moving boxes."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np
import pytest

from citysentinel.vision.analytics_config import ObjectFilter, ObjectsConfig, TrackerConfig
from citysentinel.vision.detections import Detections
from citysentinel.vision.tracking import (
    ByteTracker,
    DetectionFilter,
    PassthroughTracker,
    build_tracker,
)
from tests.vision.factories import box_at, make_detections

SIZE = (640, 480)  # frame area 307200 px
LEFT_STRIP = [(0.0, 0.0), (0.1, 0.0), (0.1, 1.0), (0.0, 1.0)]


MID = box_at(320, 300)  # 20 x 60 = 1200 px = 0.39 % of the frame
EDGE = box_at(30, 300)  # inside the left strip


def only(label: str, **kw: Any) -> ObjectsConfig:
    return ObjectsConfig(filters={label: ObjectFilter(**kw)})


@pytest.mark.parametrize(
    ("objects", "box", "label", "score", "kept"),
    [
        (ObjectsConfig(), MID, "person", 0.9, True),
        (ObjectsConfig(), MID, "person", 0.29, False),  # default min_score 0.3
        (ObjectsConfig(), MID, "dog", 0.9, False),  # not tracked by default
        (ObjectsConfig(track=["dog"]), MID, "dog", 0.9, True),
        (only("person", min_score=0.6), MID, "person", 0.5, False),
        (only("person", min_score=0.6), MID, "car", 0.5, True),  # not for cars
        (only("person", min_area=0.005), MID, "person", 0.9, False),
        (only("person", max_area=0.003), MID, "person", 0.9, False),
        (only("person", max_area=0.004), MID, "person", 0.9, True),
        (only("car", masks=[LEFT_STRIP]), EDGE, "car", 0.9, False),
        (only("car", masks=[LEFT_STRIP]), EDGE, "person", 0.9, True),
        (ObjectsConfig(masks=[LEFT_STRIP]), EDGE, "person", 0.9, False),
        (ObjectsConfig(masks=[LEFT_STRIP]), box_at(100, 300), "person", 0.9, True),
    ],
)
def test_detection_filter(
    objects: ObjectsConfig, box: list[float], label: str, score: float, kept: bool
) -> None:
    out = DetectionFilter(objects, SIZE).apply(make_detections([box], labels=label, scores=score))
    assert len(out) == int(kept)


def test_filter_keeps_order_and_drops_unknown_class_ids() -> None:
    det = Detections(
        np.array([[0, 0, 20, 60]] * 3, dtype=np.float32),
        np.array([0.9, 0.9, 0.8], dtype=np.float32),
        np.array([0, 999, 2], dtype=np.int64),
    )
    out = DetectionFilter(ObjectsConfig(), SIZE).apply(det)
    assert out.class_id.tolist() == [0, 2]
    assert out.confidence.tolist() == pytest.approx([0.9, 0.8])


def _moving_scene(frames: int) -> list[Detections]:
    """Three people walking in different directions, 30 px apart at least, one slowly."""
    out = []
    for i in range(frames):
        boxes = [box_at(50 + 8 * i, 200), box_at(600 - 6 * i, 400), box_at(320, 100 + 2 * i)]
        out.append(make_detections(boxes, scores=[0.9, 0.85, 0.8]))
    return out


def _ids_per_object(
    tracker: ByteTracker, frames: list[Detections], shown: list[Detections] | None = None
) -> dict[int, set[int]]:
    """Which track ids each synthetic object (its index in `frames`) received.

    `shown` is what the tracker is fed (objects missing in some frames); it defaults to `frames`.
    """
    seen: dict[int, set[int]] = defaultdict(set)
    for full, det in zip(frames, shown or frames, strict=True):
        out = tracker.update(det)
        for box, tid in zip(out.xyxy.tolist(), out.tracker_id.tolist(), strict=True):
            if tid < 0:
                continue
            # Match each output box back to the object it came from.
            match = int(np.argmin(np.abs(full.xyxy - np.array(box)).sum(axis=1)))
            seen[match].add(tid)
    return seen


def test_bytetrack_ids_are_stable_on_moving_boxes() -> None:
    ids = _ids_per_object(ByteTracker(TrackerConfig(), fps=10), _moving_scene(40))
    assert sorted(ids) == [0, 1, 2]
    assert all(len(v) == 1 for v in ids.values()), ids
    assert sorted(next(iter(v)) for v in ids.values()) == [1, 2, 3]  # per-camera ids from 1


def test_bytetrack_keeps_the_id_through_a_short_gap() -> None:
    tracker = ByteTracker(TrackerConfig(lost_track_s=1.0), fps=10)
    frames = _moving_scene(30)
    shown = list(frames)
    for i in range(12, 16):  # the first person is missed for 4 frames (0.4 s)
        shown[i] = frames[i][np.array([False, True, True])]
    ids = _ids_per_object(tracker, frames, shown)
    assert sorted(ids) == [0, 1, 2]
    assert all(len(v) == 1 for v in ids.values()), ids


def test_bytetrack_needs_consecutive_frames_and_a_confident_start() -> None:
    tracker = ByteTracker(TrackerConfig(minimum_consecutive_frames=3), fps=10)
    confident = make_detections([box_at(100, 300)], scores=0.9)
    got = [tracker.update(confident).tracker_id.tolist() for _ in range(4)]
    assert got == [[-1], [-1], [1], [1]]
    weak = ByteTracker(TrackerConfig(), fps=10)
    for _ in range(5):
        out = weak.update(make_detections([box_at(100, 300)], scores=0.3))
    assert out.tracker_id.tolist() in ([], [-1])


def test_two_trackers_in_one_process_number_their_own_tracks() -> None:
    a, b = ByteTracker(TrackerConfig(), fps=10), ByteTracker(TrackerConfig(), fps=10)
    frames = _moving_scene(5)
    for det in frames:
        out_a = a.update(det)
        out_b = b.update(det)
    assert sorted(out_a.tracker_id.tolist()) == sorted(out_b.tracker_id.tolist()) == [1, 2, 3]


def test_empty_frames() -> None:
    tracker = build_tracker(TrackerConfig(), fps=5)
    assert isinstance(tracker, ByteTracker)
    assert len(tracker.update(Detections.empty())) == 0


def test_passthrough_keeps_given_ids() -> None:
    det = make_detections([box_at(10, 100), box_at(50, 100)], ids=[7, 9])
    assert PassthroughTracker().update(det).tracker_id.tolist() == [7, 9]
