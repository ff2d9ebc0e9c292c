"""Speed: a track's anchor moving faster than a limit, in pixels/s or metres/s on the ground."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from citysentinel.events import Event, EventKind, EventState
from citysentinel.events.payloads import SpeedPayload
from citysentinel.vision.analytics_config import SpeedConfig
from citysentinel.vision.behaviours.base import FrameContext, TrackHistory, class_ids, rows_where
from citysentinel.vision.geometry import GroundPlane


@dataclass
class _Speeding:
    label: str
    score: float
    px_s: float
    mps: float | None
    last_over_s: float
    last_seen_s: float


class Speed:
    """Per-track speed over the last `window_s` of its path; start over the limit, end below it.

    The speed is the straight distance between the oldest and newest anchor in
    the window over the time between them (at least half a window is needed).
    With a `GroundPlane`, both anchors are mapped to metres first, so distant
    and near objects are measured alike.

    Example:
        >>> Speed(SpeedConfig(type="speed", unit="px_s", limit=100)).name
        'speed:frame'
    """

    def __init__(self, config: SpeedConfig, ground: GroundPlane | None = None) -> None:
        if config.unit == "m_s" and ground is None:
            raise ValueError("a speed limit in m/s needs a ground plane")
        self.config = config
        self.name = config.name or f"speed:{config.zone or 'frame'}"
        self._classes = class_ids(config.classes)
        self._ground = ground
        self._active: dict[int, _Speeding] = {}

    def measure(self, history: TrackHistory, now: float) -> tuple[float, float | None] | None:
        """(pixels/s, metres/s or None) over the window ending `now`, or None if too short."""
        pts = [p for p in history.points if now - p[0] <= self.config.window_s + 1e-6]
        if len(pts) < 2 or pts[-1][0] - pts[0][0] < self.config.window_s / 2:
            return None
        (t0, x0, y0), (t1, x1, y1) = pts[0], pts[-1]
        dt = t1 - t0
        px_s = math.hypot(x1 - x0, y1 - y0) / dt
        if self._ground is None:
            return px_s, None
        g = self._ground.to_ground(np.array([[x0, y0], [x1, y1]], dtype=np.float32))
        return px_s, float(np.hypot(*(g[1] - g[0]))) / dt

    def process(self, frame: FrameContext) -> list[Event]:
        now, events = frame.seconds, []
        mask = frame.in_zone(self.config.zone) & frame.of_classes(self._classes)
        for row in rows_where(mask):
            tid = int(frame.detections.tracker_id[row])
            history = frame.history.get(tid)
            measured = self.measure(history, now) if history is not None else None
            if measured is None:
                continue
            px_s, mps = measured
            value = mps if self.config.unit == "m_s" else px_s
            over = value is not None and value > self.config.limit
            state = self._active.get(tid)
            if state is not None:
                state.last_seen_s, state.px_s, state.mps = now, px_s, mps
                if over:
                    state.last_over_s = now
            elif over:
                label, score = frame.labels[row], float(frame.detections.confidence[row])
                state = self._active[tid] = _Speeding(label, score, px_s, mps, now, now)
                events.append(self._event(frame, tid, state, EventState.START))
        for tid, state in list(self._active.items()):
            if now - state.last_over_s > self.config.grace_s:
                del self._active[tid]
                events.append(self._event(frame, tid, state, EventState.END))
        return events

    def _event(self, frame: FrameContext, tid: int, s: _Speeding, state: EventState) -> Event:
        metric = self.config.unit == "m_s"
        payload = SpeedPayload(
            label=s.label,
            track_id=tid,
            speed_px_s=s.px_s,
            speed_mps=s.mps,
            limit_mps=self.config.limit if metric else None,
        )
        return frame.event(
            EventKind.VIDEO_SPEEDING,
            state,
            payload,
            zone=self.config.zone,
            labels=[s.label],
            confidence=s.score,
        )
