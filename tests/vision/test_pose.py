"""Pose: torso geometry, crop mapping (fake session), analyzer pose wiring, real MoveNet."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt
import pytest

from citysentinel.events import Event
from citysentinel.models.registry import ENV_MODEL_DIR
from citysentinel.models.runtime import make_session
from citysentinel.vision.analytics_config import AnalyticsConfig
from citysentinel.vision.analyzer import CameraAnalyzer
from citysentinel.vision.behaviours import FrameContext
from citysentinel.vision.detections import FloatArray
from citysentinel.vision.geometry import Scene
from citysentinel.vision.pose import (
    KEYPOINTS,
    MoveNetPose,
    largest,
    limb_points,
    load_pose_estimator,
    torso_angle_deg,
)
from citysentinel.vision.tracking import PassthroughTracker
from tests.models.fixtures import coco128, installed
from tests.vision.factories import T0, make_detections

PERSON_IMAGE = "000000000036"  # one person with an umbrella, large and upright


def torso(
    shoulder: tuple[float, float], hip: tuple[float, float], score: float = 0.9
) -> FloatArray:
    kp = np.zeros((17, 3), np.float32)
    for i in (5, 6):
        kp[i] = (shoulder[1], shoulder[0], score)
    for i in (11, 12):
        kp[i] = (hip[1], hip[0], score)
    return kp


@pytest.mark.parametrize(
    ("shoulder", "hip", "expected"),
    [
        ((100, 100), (100, 200), 0.0),  # upright
        ((100, 300), (100, 200), 0.0),  # upside down still reads vertical
        ((100, 100), (200, 100), 90.0),  # lying
        ((100, 100), (200, 200), 45.0),
        ((100, 100), (100 + 100 * np.tan(np.radians(30)), 200), 30.0),
        ((100, 100), (100, 100), None),  # degenerate
    ],
)
def test_torso_angle(
    shoulder: tuple[float, float], hip: tuple[float, float], expected: float | None
) -> None:
    got = torso_angle_deg(torso(shoulder, hip))
    assert got == (None if expected is None else pytest.approx(expected, abs=1e-3))


def test_torso_angle_needs_confident_points_and_uses_one_side() -> None:
    assert torso_angle_deg(torso((100, 100), (200, 100), score=0.1)) is None
    kp = torso((100, 100), (200, 100))
    kp[6] = (0, 900, 0.05)  # a wild, unsure right shoulder is ignored
    assert torso_angle_deg(kp) == pytest.approx(90.0)


def test_largest_and_limb_points() -> None:
    boxes = np.array([[0, 0, 10, 10], [0, 0, 30, 30], [0, 0, 20, 20]], np.float32)
    assert largest(boxes, 2).tolist() == [1, 2]
    assert largest(boxes, 0).tolist() == []
    kp = np.zeros((17, 3), np.float32)
    kp[10] = (5, 6, 0.8)
    kp[7] = (1, 1, 0.1)
    assert limb_points(kp) == {10: (6.0, 5.0)}


@dataclass
class Info:
    name: str
    shape: Sequence[int | str | None]


class FakeMoveNet:
    """Answers every crop with all keypoints at the crop centre; records what it was fed."""

    def __init__(self, shape: Sequence[int] = (1, 192, 192, 3)) -> None:
        self.shape = shape
        self.fed: list[npt.NDArray[Any]] = []

    def get_inputs(self) -> list[Info]:
        return [Info("input:0", self.shape)]

    def get_outputs(self) -> list[Info]:
        return [Info("Identity:0", (1, 1, 17, 3))]

    def run(self, output_names: list[str] | None, input_feed: dict[str, Any]) -> list[Any]:
        self.fed.append(input_feed["input:0"])
        out = np.full((1, 1, 17, 3), 0.5, np.float32)
        return [out]


def test_crop_is_int32_rgb_and_maps_back_to_frame_pixels() -> None:
    session = FakeMoveNet()
    image = np.zeros((480, 640, 3), np.uint8)
    image[:, :, 0] = 255  # pure blue in BGR
    kp = MoveNetPose(session).estimate(image, np.array([[100, 50, 160, 250]], np.float32))
    crop = session.fed[0]
    assert crop.shape == (1, 192, 192, 3) and crop.dtype == np.int32
    assert crop[0, 96, 96].tolist() == [0, 0, 255]  # RGB order
    assert kp.shape == (1, 17, 3)
    assert kp[0, 0].tolist() == pytest.approx([150.0, 130.0, 0.5])  # (y, x) = box centre


def test_crop_off_the_frame_is_zero_padded() -> None:
    session = FakeMoveNet()
    image = np.full((100, 100, 3), 200, np.uint8)
    MoveNetPose(session, margin=0.5).estimate(image, np.array([[0, 0, 40, 100]], np.float32))
    crop = session.fed[0][0]
    assert crop[0, 0].tolist() == [0, 0, 0]
    assert crop[96, 96].tolist() == [200, 200, 200]


def test_rejects_a_graph_that_is_not_movenet() -> None:
    with pytest.raises(ValueError, match="not a MoveNet"):
        MoveNetPose(FakeMoveNet(shape=(1, 256, 256, 3)))


def test_missing_model_degrades_to_none_with_a_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv(ENV_MODEL_DIR, str(tmp_path))
    with caplog.at_level(logging.WARNING, logger="citysentinel.vision.pose"):
        assert load_pose_estimator() is None
    assert "box-only" in caplog.text


class FakePose:
    """A pose estimator that records the boxes it is asked about."""

    def __init__(self, max_persons: int = 2) -> None:
        self.max_persons = max_persons
        self.calls: list[FloatArray] = []

    def estimate(self, image: npt.NDArray[np.uint8], boxes: FloatArray) -> FloatArray:
        self.calls.append(boxes.copy())
        return np.full((len(boxes), 17, 3), 0.5, np.float32)


class Spy:
    name = "spy"

    def __init__(self) -> None:
        self.frames: list[FrameContext] = []

    def process(self, frame: FrameContext) -> list[Event]:
        self.frames.append(frame)
        return []


def analyzer(behaviours: list[dict[str, Any]], pose: FakePose) -> tuple[CameraAnalyzer, Spy]:
    spy = Spy()
    cfg = AnalyticsConfig.model_validate({"behaviours": behaviours})
    a = CameraAnalyzer(
        "cam-1", Scene((640, 480)), cfg, tracker=PassthroughTracker(), behaviours=[spy], pose=pose
    )
    return a, spy


# Three persons (areas 1, 4 and 9 units) and a car, already tracked.
TRACKED = make_detections(
    [[0, 0, 10, 20], [100, 0, 120, 40], [200, 0, 230, 60], [300, 0, 400, 100]],
    labels=["person", "person", "person", "car"],
    ids=[1, 2, 3, 4],
)
IMAGE = np.zeros((480, 640, 3), np.uint8)


def test_analyzer_gives_keypoints_of_the_largest_persons_only() -> None:
    pose = FakePose(max_persons=2)
    a, spy = analyzer([{"type": "fall"}], pose)
    a.process(TRACKED, T0, image=IMAGE)
    assert len(pose.calls) == 1 and len(pose.calls[0]) == 2
    assert sorted(spy.frames[0].keypoints) == [2, 3]  # the car and the smallest person skipped


@pytest.mark.parametrize(
    ("behaviours", "image"),
    [
        ([{"type": "fall"}], None),  # no image: no pose
        ([{"type": "crowding", "min_count": 2}], IMAGE),  # nothing wants pose
        ([{"type": "fall", "use_pose": False}], IMAGE),
        ([{"type": "fight", "enabled": False}], IMAGE),
    ],
)
def test_analyzer_skips_pose_unless_needed(
    behaviours: list[dict[str, Any]], image: npt.NDArray[np.uint8] | None
) -> None:
    pose = FakePose()
    a, spy = analyzer(behaviours, pose)
    a.process(TRACKED, T0, image=image)
    assert pose.calls == [] and spy.frames[0].keypoints == {}


def test_analyzer_survives_a_failing_pose_estimator(caplog: pytest.LogCaptureFixture) -> None:
    class Broken(FakePose):
        def estimate(self, image: npt.NDArray[np.uint8], boxes: FloatArray) -> FloatArray:
            raise RuntimeError("boom")

    a, spy = analyzer([{"type": "fall"}], Broken())
    with caplog.at_level(logging.ERROR):
        a.process(TRACKED, T0, image=IMAGE)
        a.process(TRACKED, T0, image=IMAGE)
    assert [f.keypoints for f in spy.frames] == [{}, {}]
    assert caplog.text.count("pose estimation failed") == 1


def test_real_movenet_on_a_real_person() -> None:
    root = coco128()
    image_path = root / "images" / f"{PERSON_IMAGE}.jpg"
    label_path = root / "labels" / f"{PERSON_IMAGE}.txt"
    pose = MoveNetPose(make_session(installed("movenet-lightning")))
    image = np.asarray(cv2.imread(str(image_path), cv2.IMREAD_COLOR), dtype=np.uint8)
    assert image.ndim == 3, f"unreadable {image_path}"
    h, w = image.shape[:2]
    row = next(line.split() for line in label_path.read_text().splitlines() if line[:2] == "0 ")
    cx, cy, bw, bh = (float(v) for v in row[1:5])
    box = np.array(
        [[(cx - bw / 2) * w, (cy - bh / 2) * h, (cx + bw / 2) * w, (cy + bh / 2) * h]], np.float32
    )
    kp = pose.estimate(image, box)[0]
    x1, y1, x2, y2 = box[0]
    confident = kp[kp[:, 2] >= 0.3]
    assert len(confident) >= 8, "MoveNet should see most of a large, clear person"
    pad_x, pad_y = 0.1 * (x2 - x1), 0.1 * (y2 - y1)
    assert np.all((confident[:, 1] >= x1 - pad_x) & (confident[:, 1] <= x2 + pad_x))
    assert np.all((confident[:, 0] >= y1 - pad_y) & (confident[:, 0] <= y2 + pad_y))
    named = {name: kp[i] for i, name in enumerate(KEYPOINTS)}
    assert named["nose"][0] < named["left_shoulder"][0] < named["left_hip"][0]  # head up
    angle = torso_angle_deg(kp)
    assert angle is not None and angle < 20  # she stands upright
