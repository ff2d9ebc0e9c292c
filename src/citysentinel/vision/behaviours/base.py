"""What every behaviour sees of a frame, the `Behaviour` contract, and shared per-track helpers."""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

import numpy as np
import numpy.typing as npt

from citysentinel.events import Event, EventKind, EventState, Location
from citysentinel.events.payloads import EventPayload, TrackedObjectPayload
from citysentinel.vision.detections import COCO_CLASSES, Detections
from citysentinel.vision.geometry import BoolArray, FloatArray, Scene

BBox = tuple[float, float, float, float]


@dataclass
class TrackHistory:
    """Recent bottom-centre positions of one track, oldest first, as (seconds, x, y)."""

    points: deque[tuple[float, float, float]] = field(default_factory=lambda: deque(maxlen=256))

    def add(self, t: float, x: float, y: float) -> None:
        self.points.append((t, x, y))

    @property
    def last_t(self) -> float:
        return self.points[-1][0] if self.points else float("-inf")


@dataclass(frozen=True)
class FrameContext:
    """One analysed frame as behaviours see it: tracked objects, zone masks and track history.

    `detections` holds only confirmed tracks (tracker_id >= 0); `zones` maps a
    zone name to a mask over them; `history` holds every live track's path;
    `seconds` is `t` as seconds since the analyzer's first frame. `keypoints`
    maps a tracker id to its pose (17, 3) = (y, x, score) in frame pixels; it is
    empty unless the analyzer has a pose estimator and a behaviour that needs it.
    `image` is the frame itself for behaviours that look at pixels (classify).
    """

    source: str
    t: datetime
    seconds: float
    scene: Scene
    detections: Detections
    labels: list[str]
    anchors: FloatArray
    zones: Mapping[str, BoolArray]
    history: Mapping[int, TrackHistory]
    keypoints: Mapping[int, FloatArray] = field(default_factory=dict)
    image: npt.NDArray[np.uint8] | None = None  # the BGR frame, when the camera passes it

    def in_zone(self, zone: str | None) -> BoolArray:
        """Mask of objects in `zone`; None means the whole frame."""
        if zone is None:
            return np.ones(len(self.detections), dtype=np.bool_)
        return self.zones[zone]

    def of_classes(self, class_ids: frozenset[int]) -> BoolArray:
        return np.isin(self.detections.class_id, list(class_ids))

    def bbox(self, row: int) -> BBox:
        """Box of detection `row` normalised to 0-1."""
        w, h = self.scene.size
        x1, y1, x2, y2 = (float(v) for v in self.detections.xyxy[row])
        return (_unit(x1 / w), _unit(y1 / h), _unit(x2 / w), _unit(y2 / h))

    def event(
        self,
        kind: EventKind,
        state: EventState,
        payload: EventPayload,
        *,
        zone: str | None = None,
        labels: list[str] | None = None,
        confidence: float = 1.0,
    ) -> Event:
        return Event(
            kind=kind,
            state=state,
            time=self.t,
            source=self.source,
            location=Location(zone=zone),
            labels=labels or [],
            confidence=_unit(confidence),
            payload=payload,
        )


def _unit(value: float) -> float:
    return min(1.0, max(0.0, value))


def class_ids(labels: list[str]) -> frozenset[int]:
    """COCO ids of `labels` (validated by the config)."""
    return frozenset(COCO_CLASSES.index(label) for label in labels)


class Behaviour(Protocol):
    """Turns frames into events; keeps its own per-track state, times by the frame's `t`."""

    name: str

    def process(self, frame: FrameContext) -> list[Event]: ...


@dataclass
class Visit:
    """One track's stay in a region: when it came, when it was last seen there, what it is."""

    track_id: int
    first_s: float
    last_s: float
    label: str
    bbox: BBox
    score: float
    active: bool = False  # a start event has been sent
    last_event_s: float = 0.0


class Presence:
    """Tracks who is in a region frame by frame, tolerating `grace_s` of absence or flicker.

    `update` takes the rows of the frame's detections that are in the region now
    and returns the visits that ended (absent longer than the grace period).
    """

    def __init__(self, grace_s: float) -> None:
        self.grace_s = grace_s
        self.visits: dict[int, Visit] = {}

    def update(self, frame: FrameContext, rows: list[int], now: float) -> list[Visit]:
        det = frame.detections
        for row in rows:
            tid = int(det.tracker_id[row])
            visit = self.visits.get(tid)
            if visit is None:
                visit = self.visits[tid] = Visit(tid, now, now, "", (0, 0, 0, 0), 0.0)
            visit.last_s = now
            visit.label = frame.labels[row]
            visit.bbox = frame.bbox(row)
            visit.score = float(det.confidence[row])
        ended = [v for v in self.visits.values() if now - v.last_s > self.grace_s]
        for v in ended:
            del self.visits[v.track_id]
        return ended


def visit_event(
    frame: FrameContext, kind: EventKind, visit: Visit, state: EventState, zone: str | None
) -> Event:
    """The event for a track's visit to a zone (intrusion, loitering): who, where, how long."""
    payload = TrackedObjectPayload(
        label=visit.label,
        track_id=visit.track_id,
        bbox=visit.bbox,
        dwell_s=max(0.0, visit.last_s - visit.first_s),
        score=visit.score,
    )
    return frame.event(
        kind, state, payload, zone=zone, labels=[visit.label], confidence=visit.score
    )


def rows_where(mask: BoolArray) -> list[int]:
    return [int(i) for i in np.flatnonzero(mask)]
