"""Fall state machine and behaviour on synthetic person tracks, box-only and with pose."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pytest
from pydantic import ValidationError

from citysentinel.events import Event, EventKind, EventState
from citysentinel.events.payloads import FallPayload
from citysentinel.vision.analytics_config import FallConfig
from citysentinel.vision.behaviours import Behaviour, Fall, FallSample, FallStateMachine
from citysentinel.vision.behaviours.base import FrameContext
from citysentinel.vision.behaviours.fall import FallPhase
from citysentinel.vision.detections import FloatArray
from tests.vision.factories import at, make_detections, make_scene

FPS = 10
Box = tuple[float, float, float, float]
STANDING: Box = (300, 100, 360, 280)  # 60 x 180: h/w 3
LYING: Box = (240, 240, 420, 300)  # 180 x 60 on the floor: h/w 0.33
SITTING: Box = (295, 160, 375, 280)  # 80 x 120: h/w 1.5


def context(
    seconds: float,
    boxes: Mapping[int, Sequence[float]],
    keypoints: Mapping[int, FloatArray] | None = None,
) -> FrameContext:
    """A frame with person tracks `id -> xyxy` (and optional pose), as the analyzer builds it."""
    ids = list(boxes)
    det = make_detections([list(boxes[i]) for i in ids], ids=ids) if ids else make_detections([])
    scene = make_scene()
    anchors = det.anchors()
    return FrameContext(
        source="cam-test",
        t=at(seconds),
        seconds=seconds,
        scene=scene,
        detections=det,
        labels=det.labels(),
        anchors=anchors,
        zones={n: z.contains(anchors) for n, z in scene.zones.items()},
        history={},
        keypoints=dict(keypoints or {}),
    )


def lerp(a: Box, b: Box, f: float) -> Box:
    return (
        a[0] + (b[0] - a[0]) * f,
        a[1] + (b[1] - a[1]) * f,
        a[2] + (b[2] - a[2]) * f,
        a[3] + (b[3] - a[3]) * f,
    )


def path(*legs: tuple[Box, Box, float]) -> list[Box]:
    """Boxes at FPS frames a second: each leg moves from a to b over seconds (0 = hold)."""
    out: list[Box] = []
    for a, b, seconds in legs:
        n = max(1, round(seconds * FPS))
        out += [lerp(a, b, (i + 1) / n) for i in range(n)]
    return out


def run(
    behaviour: Behaviour, boxes: Sequence[Box | None], tid: int = 1
) -> list[tuple[float, Event]]:
    events = []
    for i, box in enumerate(boxes):
        s = i / FPS
        frame = context(s, {} if box is None else {tid: box})
        events += [(s, e) for e in behaviour.process(frame)]
    return events


def hold(box: Box, seconds: float) -> tuple[Box, Box, float]:
    return (box, box, seconds)


def test_standing_falling_lying_emits_one_start() -> None:
    boxes = path(hold(STANDING, 2), (STANDING, LYING, 0.5), hold(LYING, 4))
    events = run(Fall(FallConfig(type="fall")), boxes)
    assert [e.state for _, e in events] == [EventState.START]
    s, e = events[0]
    assert e.kind is EventKind.VIDEO_FALL
    assert 3.2 <= s <= 3.6  # horizontal while landing (2.2-2.5 s), then lying_s = 1 s
    assert isinstance(e.payload, FallPayload)
    assert e.payload.track_id == 1
    assert e.payload.torso_angle_deg is None  # box-only
    assert e.payload.drop_ratio is not None and e.payload.drop_ratio >= 0.3
    assert e.payload.lying_s is not None and e.payload.lying_s >= 1.0
    assert 0.5 <= e.confidence <= 1.0


@pytest.mark.parametrize(
    "legs",
    [
        [hold(STANDING, 2), (STANDING, SITTING, 2.0), hold(SITTING, 5)],  # sits down slowly
        [hold(STANDING, 2), (STANDING, SITTING, 0.4), hold(SITTING, 5)],  # drops onto a chair
        [hold(STANDING, 8)],  # just stands
        [hold(LYING, 8)],  # already lying when first seen: no fall was seen
        [hold(STANDING, 2), (STANDING, LYING, 0.5), hold(LYING, 0.5), hold(STANDING, 3)],
    ],
    ids=["sit-slowly", "sit-fast", "stand", "lying-from-start", "stumble-and-up"],
)
def test_no_fall(legs: list[tuple[Box, Box, float]]) -> None:
    assert run(Fall(FallConfig(type="fall")), path(*legs)) == []


def test_getting_up_ends_the_fall() -> None:
    boxes = path(hold(STANDING, 2), (STANDING, LYING, 0.5), hold(LYING, 3))
    boxes += path((LYING, STANDING, 1.0), hold(STANDING, 3))
    events = run(Fall(FallConfig(type="fall", getup_s=1.0)), boxes)
    assert [e.state for _, e in events] == [EventState.START, EventState.END]
    end_s = events[1][0]
    assert 6.5 <= end_s <= 7.6  # upright again during the 5.5-6.5 s rise, plus getup_s


def test_lost_track_ends_the_fall() -> None:
    boxes: list[Box | None] = list(path(hold(STANDING, 2), (STANDING, LYING, 0.5), hold(LYING, 2)))
    boxes += [None] * 40
    events = run(Fall(FallConfig(type="fall", grace_s=2.0)), boxes)
    assert [e.state for _, e in events] == [EventState.START, EventState.END]


def test_a_second_fall_after_getting_up_starts_again() -> None:
    fall = [hold(STANDING, 2), (STANDING, LYING, 0.5), hold(LYING, 2), (LYING, STANDING, 1)]
    boxes = path(*fall, hold(STANDING, 2), *fall, hold(STANDING, 2))
    events = run(Fall(FallConfig(type="fall")), boxes)
    assert [e.state.value for _, e in events] == ["start", "end", "start", "end"]


def test_zone_limits_the_fall() -> None:
    # The yard is the bottom half of the 640x480 frame; this person stands and lies above it.
    high = [(b[0], b[1] - 200, b[2], b[3] - 200) for b in (STANDING, LYING)]
    up, down = (high[0][0], high[0][1], high[0][2], high[0][3]), tuple(high[1])
    boxes = path(hold(up, 2), (up, down, 0.5), hold(down, 3))  # type: ignore[arg-type]
    assert run(Fall(FallConfig(type="fall", zone="yard")), boxes) == []
    assert len(run(Fall(FallConfig(type="fall")), boxes)) == 1


def keypoints_for(angle_deg: float, box: Box) -> FloatArray:
    """A pose whose torso leans `angle_deg` from vertical, centred in `box`."""
    kp = np.zeros((17, 3), np.float32)
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    half = 40.0
    dx, dy = half * np.sin(np.radians(angle_deg)), half * np.cos(np.radians(angle_deg))
    kp[[5, 6]] = (cy - dy, cx + dx, 0.9)  # shoulders (y, x, score)
    kp[[11, 12]] = (cy + dy, cx - dx, 0.9)  # hips
    return kp


def test_pose_sees_a_fall_the_box_ratio_misses() -> None:
    # Falling towards the camera: the box shortens and drops but stays taller than wide.
    toward: Box = (300, 200, 360, 280)  # h/w 1.33: not horizontal by the box
    boxes = path(hold(STANDING, 2), (STANDING, toward, 0.5), hold(toward, 3))
    angles = [5.0] * 20 + [80.0] * (len(boxes) - 20)
    box_only = Fall(FallConfig(type="fall"))
    with_pose = Fall(FallConfig(type="fall"))
    found: list[Event] = []
    for i, (box, angle) in enumerate(zip(boxes, angles, strict=True)):
        box_only.process(context(i / FPS, {1: box}))
        found += with_pose.process(context(i / FPS, {1: box}, {1: keypoints_for(angle, box)}))
    assert [e.state for e in found] == [EventState.START]
    assert isinstance(found[0].payload, FallPayload)
    assert found[0].payload.torso_angle_deg == pytest.approx(80.0, abs=0.5)
    assert run(Fall(FallConfig(type="fall")), boxes) == []  # box-only misses it


def test_use_pose_false_ignores_keypoints() -> None:
    fall = Fall(FallConfig(type="fall", use_pose=False))
    events = []
    for i, box in enumerate(path(hold(STANDING, 2), (STANDING, LYING, 0.5), hold(LYING, 3))):
        upright = keypoints_for(0.0, box)  # a pose saying "upright" is ignored
        events += fall.process(context(i / FPS, {1: box}, {1: upright}))
    assert [e.state for e in events] == [EventState.START]


@pytest.mark.parametrize(
    ("samples", "expected"),
    [
        # (t, ratio, centre_y, height) -> transitions
        (
            [(0, 3, 100, 180), (0.5, 0.3, 250, 60), (1.0, 0.3, 250, 60), (1.6, 0.3, 250, 60)],
            ["start"],
        ),
        ([(0, 3, 100, 180), (0.5, 3, 110, 180), (1.0, 3, 105, 180), (2.0, 3, 100, 180)], []),
        # The drop happened over 3 s: too slow to be a fall, then lying is ignored.
        ([(0, 3, 100, 180), (1.5, 1.1, 160, 140), (3.0, 1.0, 200, 100), (5.0, 0.3, 250, 60)], []),
    ],
)
def test_state_machine_table(
    samples: list[tuple[float, float, float, float]], expected: list[str]
) -> None:
    m = FallStateMachine(FallConfig(type="fall"))
    out = [m.update(FallSample(*s)) for s in samples]
    assert [o.value for o in out if o is not None] == expected


def test_fall_times_out_when_never_lying() -> None:
    m = FallStateMachine(FallConfig(type="fall", fall_timeout_s=2.0))
    m.update(FallSample(0.0, 3.0, 100, 180))
    m.update(FallSample(0.4, 1.1, 180, 120))  # a fast drop: falling
    phases = [m.phase]
    m.update(FallSample(3.0, 1.1, 180, 120))
    assert [*phases, m.phase] == [FallPhase.FALLING, FallPhase.UPRIGHT]


@pytest.mark.parametrize(
    "bad",
    [{"lying_ratio": 1.5, "upright_ratio": 1.2}, {"upright_angle_deg": 70, "lying_angle_deg": 60}],
)
def test_config_rejects_crossed_thresholds(bad: dict[str, float]) -> None:
    with pytest.raises(ValidationError):
        FallConfig.model_validate({"type": "fall", **bad})
