"""Stationary: a vehicle or a left object whose anchor stays put for a configured time."""

from __future__ import annotations

import math
from dataclasses import dataclass

from citysentinel.events import Event, EventKind, EventState
from citysentinel.events.payloads import TrackedObjectPayload
from citysentinel.vision.analytics_config import StationaryConfig
from citysentinel.vision.behaviours.base import BBox, FrameContext, class_ids, rows_where


@dataclass
class _Rest:
    x: float
    y: float
    since_s: float
    last_s: float
    label: str
    bbox: BBox
    score: float
    active: bool = False


class Stationary:
    """Start once a track's anchor stays near where it settled for `min_stationary_s`.

    "Near" is within `max_movement` (a fraction of the frame diagonal).
    Ends when the object moves further than that or is unseen for `grace_s`.
    `max_movement` is a fraction of the frame diagonal.

    Example:
        >>> Stationary(StationaryConfig(type="stationary"), diagonal=1000.0).max_px
        20.0
    """

    def __init__(self, config: StationaryConfig, diagonal: float) -> None:
        self.config = config
        self.name = config.name or f"stationary:{config.zone or 'frame'}"
        self._classes = class_ids(config.classes)
        self.max_px = config.max_movement * diagonal
        self._rests: dict[int, _Rest] = {}

    def process(self, frame: FrameContext) -> list[Event]:
        now = frame.seconds
        events: list[Event] = []
        mask = frame.in_zone(self.config.zone) & frame.of_classes(self._classes)
        for row in rows_where(mask):
            tid = int(frame.detections.tracker_id[row])
            x, y = (float(v) for v in frame.anchors[row])
            rest = self._rests.get(tid)
            label, bbox, score = (
                frame.labels[row],
                frame.bbox(row),
                float(frame.detections.confidence[row]),
            )
            if rest is None or math.hypot(x - rest.x, y - rest.y) > self.max_px:
                if rest is not None and rest.active:
                    events.append(self._event(frame, tid, rest, EventState.END))
                self._rests[tid] = _Rest(x, y, now, now, label, bbox, score)
                continue
            rest.last_s, rest.label, rest.bbox, rest.score = now, label, bbox, score
            if not rest.active and now - rest.since_s >= self.config.min_stationary_s:
                rest.active = True
                events.append(self._event(frame, tid, rest, EventState.START))
        for tid in [t for t, r in self._rests.items() if now - r.last_s > self.config.grace_s]:
            rest = self._rests.pop(tid)
            if rest.active:
                events.append(self._event(frame, tid, rest, EventState.END))
        return events

    def _event(self, frame: FrameContext, tid: int, rest: _Rest, state: EventState) -> Event:
        payload = TrackedObjectPayload(
            label=rest.label,
            track_id=tid,
            bbox=rest.bbox,
            dwell_s=max(0.0, rest.last_s - rest.since_s),
            score=rest.score,
        )
        return frame.event(
            EventKind.VIDEO_STATIONARY,
            state,
            payload,
            zone=self.config.zone,
            labels=[rest.label],
            confidence=rest.score,
        )
