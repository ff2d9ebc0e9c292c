"""Small factories for the vision tests: detections, scenes and a harness that feeds behaviours."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import numpy as np

from citysentinel.events import Event
from citysentinel.vision.behaviours import Behaviour, FrameContext, TrackHistory
from citysentinel.vision.detections import COCO_CLASSES, Detections
from citysentinel.vision.geometry import Scene

# A Wednesday noon, UTC.
T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
SIZE = (640, 480)
# One object: (track id, anchor x, anchor y) with an optional label.
Obj = tuple[int, float, float] | tuple[int, float, float, str]


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def make_detections(
    boxes: Sequence[Sequence[float]],
    *,
    labels: Sequence[str] | str = "person",
    scores: Sequence[float] | float = 0.9,
    ids: Sequence[int] | None = None,
) -> Detections:
    n = len(boxes)
    names = [labels] * n if isinstance(labels, str) else list(labels)
    conf = [scores] * n if isinstance(scores, float | int) else list(scores)
    return Detections(
        xyxy=np.asarray(boxes, dtype=np.float32).reshape(n, 4),
        confidence=np.asarray(conf, dtype=np.float32),
        class_id=np.asarray([COCO_CLASSES.index(x) for x in names], dtype=np.int64),
        tracker_id=np.asarray(list(ids) if ids is not None else [], dtype=np.int64),
    )


def box_at(x: float, y: float, w: float = 20, h: float = 60) -> list[float]:
    """A box whose bottom-centre anchor is (x, y)."""
    return [x - w / 2, y - h, x + w / 2, y]


def objects(objs: Sequence[Obj]) -> Detections:
    """Tracked detections from (id, anchor x, anchor y[, label])."""
    if not objs:
        return Detections.empty()
    labels = [o[3] if len(o) == 4 else "person" for o in objs]
    return make_detections(
        [box_at(o[1], o[2]) for o in objs], labels=labels, ids=[o[0] for o in objs]
    )


def zone(name: str, polygon: Sequence[tuple[float, float]]) -> SimpleNamespace:
    return SimpleNamespace(name=name, polygon=list(polygon))


def line(name: str, a: tuple[float, float], b: tuple[float, float]) -> SimpleNamespace:
    return SimpleNamespace(name=name, points=(a, b))


# The bottom half of the frame, and a horizontal line across the middle (left to right).
YARD = zone("yard", [(0, 0.5), (1, 0.5), (1, 1), (0, 1)])
GATE = line("gate", (0.0, 0.5), (1.0, 0.5))


def make_scene(
    zones: Sequence[SimpleNamespace] = (YARD,), lines: Sequence[SimpleNamespace] = (GATE,)
) -> Scene:
    return Scene.build(SIZE, zones, lines)


class Harness:
    """Feeds one behaviour frames the way the analyzer does, from already tracked objects."""

    def __init__(self, behaviour: Behaviour, scene: Scene | None = None) -> None:
        self.behaviour = behaviour
        self.scene = scene or make_scene()
        self.history: dict[int, TrackHistory] = {}

    def step(self, seconds: float, objs: Sequence[Obj]) -> list[Event]:
        det = objects(objs)
        anchors = det.anchors()
        for tid, (x, y) in zip(det.tracker_id.tolist(), anchors.tolist(), strict=True):
            self.history.setdefault(tid, TrackHistory()).add(seconds, x, y)
        frame = FrameContext(
            source="cam-test",
            t=at(seconds),
            seconds=seconds,
            scene=self.scene,
            detections=det,
            labels=det.labels(),
            anchors=anchors,
            zones={n: z.contains(anchors) for n, z in self.scene.zones.items()},
            history=self.history,
        )
        return self.behaviour.process(frame)

    def run(self, frames: Sequence[tuple[float, Sequence[Obj]]]) -> list[tuple[float, Event]]:
        """Every event with the frame second that produced it."""
        return [(s, e) for s, objs in frames for e in self.step(s, objs)]
