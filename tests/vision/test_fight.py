"""Fight cue (experimental) on synthetic person tracks: proximity, motion, duration, pose."""

from __future__ import annotations

import math

import numpy as np
import pytest

from citysentinel.events import Event, EventKind, EventState
from citysentinel.events.payloads import FightPayload
from citysentinel.vision.analytics_config import FightConfig
from citysentinel.vision.behaviours import Fight
from citysentinel.vision.behaviours.fight import MotionSample, box_jitter, close, limb_speed
from citysentinel.vision.detections import FloatArray
from tests.vision.test_fall import context

FPS = 10
H = 180.0  # person box height in pixels


def person(x: float, wobble: float = 0.0) -> tuple[float, float, float, float]:
    """A 60 x 180 box at `x` whose width and height change by `wobble` pixels."""
    return (x - wobble, 100 - wobble, x + 60 + wobble, 100 + H)


def scene(
    seconds: float, gap: float, jitter: float, people: int = 2
) -> dict[int, tuple[float, float, float, float]]:
    """`people` persons `gap` pixels apart, boxes wobbling with amplitude `jitter` each frame."""
    frame = round(seconds * FPS)
    wobble = jitter if frame % 2 else 0.0
    return {i + 1: person(100 + i * (60 + gap), wobble) for i in range(people)}


def run(fight: Fight, seconds: float, gap: float, jitter: float, t0: float = 0.0) -> list[Event]:
    events: list[Event] = []
    for i in range(round(seconds * FPS)):
        s = t0 + i / FPS
        events += fight.process(context(s, scene(s, gap, jitter)))
    return events


def test_close_and_wild_for_long_enough_starts_then_ends() -> None:
    fight = Fight(FightConfig(type="fight", min_duration_s=2.0, clear_s=2.0))
    events = run(fight, 4.0, gap=10, jitter=20)  # 40 px of shape change a frame: wild
    events += run(fight, 4.0, gap=10, jitter=0, t0=4.0)  # calm again
    assert [e.state for e in events] == [EventState.START, EventState.END]
    start = events[0]
    assert start.kind is EventKind.VIDEO_FIGHT
    assert isinstance(start.payload, FightPayload)
    assert start.payload.track_ids == [1, 2]
    assert start.payload.experimental is True
    assert start.payload.motion_score is not None and start.payload.motion_score >= 1.0
    assert start.confidence <= 0.6


@pytest.mark.parametrize(
    ("seconds", "gap", "jitter", "people"),
    [
        (5.0, 400, 20, 2),  # wild but far apart
        (5.0, 10, 0, 2),  # close but still
        (5.0, 10, 2, 2),  # close, ordinary fidgeting
        (1.5, 10, 20, 2),  # too short
        (5.0, 10, 20, 1),  # one person alone
    ],
    ids=["far", "still", "fidget", "short", "alone"],
)
def test_no_fight(seconds: float, gap: float, jitter: float, people: int) -> None:
    fight = Fight(FightConfig(type="fight"))
    events: list[Event] = []
    for i in range(round(seconds * FPS)):
        s = i / FPS
        events += fight.process(context(s, scene(s, gap, jitter, people)))
    assert events == []


def arms(box: tuple[float, float, float, float], swing: float) -> FloatArray:
    """Wrists and elbows `swing` pixels left of the box centre (negative: right)."""
    kp = np.zeros((17, 3), np.float32)
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    for i in (7, 8, 9, 10):
        kp[i] = (cy, cx - swing, 0.9)
    return kp


@pytest.mark.parametrize(("swing", "expected"), [(60.0, 1), (3.0, 0)])
def test_pose_limb_speed_drives_the_cue(swing: float, expected: int) -> None:
    fight = Fight(FightConfig(type="fight"))
    events: list[Event] = []
    for i in range(40):
        s = i / FPS
        boxes = scene(s, gap=10, jitter=20)  # the boxes jitter, but pose overrides boxes
        side = swing if i % 2 else -swing
        kps = {tid: arms(b, side) for tid, b in boxes.items()}
        events += fight.process(context(s, boxes, kps))
    assert len([e for e in events if e.state is EventState.START]) == expected


def test_motion_features() -> None:
    a = MotionSample(0.0, (0, 0, 20, 100), {9: (10.0, 50.0), 7: (0.0, 0.0)})
    b = MotionSample(0.5, (10, 0, 30, 100), {9: (20.0, 100.0)})  # box moved 10 px right too
    assert limb_speed([a, b]) == pytest.approx(1.0)  # 50 px / 100 px / 0.5 s, travel removed
    assert limb_speed([MotionSample(0.0, (0, 0, 20, 100))]) is None
    assert box_jitter([a, b]) == 0.0  # it moved, its shape did not change
    assert box_jitter([a]) == 0.0


@pytest.mark.parametrize(
    ("b", "expected"),
    [
        ([10, 0, 30, 100], True),  # overlapping
        ([60, 0, 80, 100], True),  # 60 px apart centres, height 100, max 0.8
        ([100, 0, 120, 100], False),
        ([0, 200, 20, 300], False),
    ],
)
def test_close(b: list[float], expected: bool) -> None:
    assert close(np.array([0, 0, 20, 100], np.float32), np.array(b, np.float32), 0.8) is expected


def test_name_and_experimental_doc() -> None:
    assert Fight(FightConfig(type="fight")).name == "fight:frame"
    assert "EXPERIMENTAL" in (FightConfig.__doc__ or "")
    assert math.isclose(FightConfig(type="fight").min_duration_s, 2.0)
