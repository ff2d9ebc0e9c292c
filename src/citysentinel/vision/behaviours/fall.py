"""Fall: a pure per-track state machine over box/pose samples, and the behaviour that runs it."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from citysentinel.events import Event, EventKind, EventState
from citysentinel.events.payloads import FallPayload
from citysentinel.vision.analytics_config import FallConfig
from citysentinel.vision.behaviours.base import BBox, FrameContext, class_ids, rows_where
from citysentinel.vision.detections import FloatArray
from citysentinel.vision.pose import torso_angle_deg

# Durations compare with this slack: frame times are sums of float steps (30 frames at 1/30 s
# may add up to 0.9999999 s).
EPS = 1e-6


@dataclass(frozen=True)
class FallSample:
    """One frame of one person: box height/width, box centre y (downwards) and box height.

    `centre_y` and `height` share any unit (pixels for a camera, millimetres for
    depth features); `torso_angle_deg` is None when the pose is absent or unsure.
    """

    t: float
    ratio: float
    centre_y: float
    height: float
    torso_angle_deg: float | None = None

    @classmethod
    def from_box(cls, t: float, xyxy: FloatArray, torso: float | None = None) -> FallSample:
        """The sample of a pixel box `xyxy`.

        Example:
            >>> FallSample.from_box(0.0, np.array([0, 0, 20, 60], np.float32))
            FallSample(t=0.0, ratio=3.0, centre_y=30.0, height=60.0, torso_angle_deg=None)
        """
        x1, y1, x2, y2 = (float(v) for v in xyxy)
        w, h = max(x2 - x1, 1e-6), max(y2 - y1, 1e-6)
        return cls(t, h / w, (y1 + y2) / 2, h, torso)


class FallPhase(StrEnum):
    UPRIGHT = "upright"  # or anything not (yet) a fall
    FALLING = "falling"  # a fast drop or flip was seen; waiting for the person to lie
    LYING = "lying"  # lying long enough after a fall: the event is on


@dataclass(frozen=True)
class FallReading:
    """What a fall looked like, for the event payload and confidence."""

    torso_angle_deg: float | None
    drop_ratio: float
    lying_s: float
    confidence: float


class FallStateMachine:
    """upright -> falling (fast drop or ratio/angle flip within `window_s`) -> lying (`lying_s`).

    `update` returns START when the fall is confirmed and END once the person has
    been upright again for `getup_s`; the caller ends it when the track is lost.
    Pure: it sees only samples, so the camera behaviour and `eval fall` share it.

    Example:
        >>> m = FallStateMachine(FallConfig(type="fall"))
        >>> boxes = [(0, 0, 20, 60)] * 5 + [(0, 45, 60, 65)] * 20  # stand, then lie at t=0.5 s
        >>> out = [m.update(FallSample.from_box(i / 10, np.array(b, np.float32)))
        ...        for i, b in enumerate(boxes)]
        >>> [(i / 10, s.value) for i, s in enumerate(out) if s]
        [(1.5, 'start')]
    """

    def __init__(self, config: FallConfig) -> None:
        self.config = config
        self.phase = FallPhase.UPRIGHT
        self._window: deque[FallSample] = deque()
        self._fall_t = 0.0
        self._drop = 0.0
        self._flipped = False
        self._lying_since: float | None = None
        self._up_since: float | None = None
        self._last: FallSample | None = None

    def update(self, s: FallSample) -> EventState | None:
        """Feed one sample (times increasing); START, END or None."""
        c = self.config
        self._last = s
        while self._window and s.t - self._window[0].t > c.window_s:
            self._window.popleft()
        drop, flip = self._drop_ratio(s), self._flip(s)
        self._window.append(s)
        if self.phase is FallPhase.UPRIGHT:
            if drop >= c.min_drop_ratio or flip:
                self.phase, self._fall_t = FallPhase.FALLING, s.t
                self._drop, self._flipped, self._lying_since = drop, flip, None
            else:
                return None
        if self.phase is FallPhase.FALLING:
            return self._falling(s, drop, flip)
        return self._lying(s)

    def _falling(self, s: FallSample, drop: float, flip: bool) -> EventState | None:
        c = self.config
        self._drop, self._flipped = max(self._drop, drop), self._flipped or flip
        if self.upright(s):
            self._lying_since = None  # back on their feet (or never went down)
        elif self.horizontal(s) and self._lying_since is None:
            self._lying_since = s.t
        if self._lying_since is None:
            if s.t - self._fall_t > c.fall_timeout_s:
                self.phase = FallPhase.UPRIGHT
            return None
        # Between the two thresholds (an arm raised, a noisy box) the lying timer keeps running.
        if self.horizontal(s) and s.t - self._lying_since >= c.lying_s - EPS:
            self.phase, self._up_since = FallPhase.LYING, None
            return EventState.START
        return None

    def _lying(self, s: FallSample) -> EventState | None:
        if not self.upright(s):
            self._up_since = None
            return None
        if self._up_since is None:
            self._up_since = s.t
        if s.t - self._up_since >= self.config.getup_s - EPS:
            self.phase = FallPhase.UPRIGHT
            self._window.clear()  # getting up is no new fall
            return EventState.END
        return None

    def horizontal(self, s: FallSample) -> bool:
        if s.torso_angle_deg is not None:
            return s.torso_angle_deg >= self.config.lying_angle_deg
        return s.ratio <= self.config.lying_ratio

    def upright(self, s: FallSample) -> bool:
        if s.torso_angle_deg is not None:
            return s.torso_angle_deg <= self.config.upright_angle_deg
        return s.ratio >= self.config.upright_ratio

    def _drop_ratio(self, s: FallSample) -> float:
        """Largest drop of the centre since a sample in the window, over that sample's height."""
        drops = [(s.centre_y - r.centre_y) / r.height for r in self._window if r.height > 0]
        return max(drops, default=0.0)

    def _flip(self, s: FallSample) -> bool:
        return self.horizontal(s) and any(self.upright(r) for r in self._window)

    def reading(self) -> FallReading:
        """The current fall's figures (meaningful once FALLING or LYING)."""
        s = self._last
        lying_s = 0.0 if s is None or self._lying_since is None else s.t - self._lying_since
        cues = [
            min(1.0, self._drop / (2 * self.config.min_drop_ratio)),
            1.0 if self._flipped else 0.5,
        ]
        angle = s.torso_angle_deg if s is not None else None
        if angle is not None:
            cues.append(min(1.0, angle / 90.0))
        return FallReading(angle, self._drop, max(0.0, lying_s), float(np.mean(cues)))


@dataclass
class _Track:
    machine: FallStateMachine
    last_s: float
    label: str = "person"
    bbox: BBox = (0.0, 0.0, 0.0, 0.0)


class Fall:
    """A `FallStateMachine` per person track: start when it lies after a fall, end on getting up.

    The event also ends when the track is unseen for `grace_s`. With `use_pose`
    and keypoints in the frame, the torso angle decides upright/horizontal; else
    the box's height/width ratio does (box-only).

    Example:
        >>> Fall(FallConfig(type="fall")).name
        'fall:frame'
    """

    def __init__(self, config: FallConfig) -> None:
        self.config = config
        self.name = config.name or f"fall:{config.zone or 'frame'}"
        self._classes = class_ids(config.classes)
        self._tracks: dict[int, _Track] = {}

    def process(self, frame: FrameContext) -> list[Event]:
        now = frame.seconds
        mask = frame.in_zone(self.config.zone) & frame.of_classes(self._classes)
        events: list[Event] = []
        for row in rows_where(mask):
            tid = int(frame.detections.tracker_id[row])
            track = self._tracks.get(tid)
            if track is None:
                track = self._tracks[tid] = _Track(FallStateMachine(self.config), now)
            track.last_s, track.label, track.bbox = now, frame.labels[row], frame.bbox(row)
            state = track.machine.update(self._sample(frame, row, tid))
            if state is not None:
                events.append(self._event(frame, tid, track, state))
        for tid in [k for k, v in self._tracks.items() if now - v.last_s > self.config.grace_s]:
            track = self._tracks.pop(tid)
            if track.machine.phase is FallPhase.LYING:
                events.append(self._event(frame, tid, track, EventState.END))
        return events

    def _sample(self, frame: FrameContext, row: int, tid: int) -> FallSample:
        torso = None
        kp = frame.keypoints.get(tid) if self.config.use_pose else None
        if kp is not None:
            torso = torso_angle_deg(kp, self.config.min_keypoint_score)
        return FallSample.from_box(frame.seconds, frame.detections.xyxy[row], torso)

    def _event(self, frame: FrameContext, tid: int, track: _Track, state: EventState) -> Event:
        r = track.machine.reading()
        payload = FallPayload(
            track_id=tid,
            torso_angle_deg=None if r.torso_angle_deg is None else round(r.torso_angle_deg, 1),
            drop_ratio=round(r.drop_ratio, 3),
            lying_s=round(r.lying_s, 2),
        )
        return frame.event(
            EventKind.VIDEO_FALL,
            state,
            payload,
            zone=self.config.zone,
            labels=[track.label],
            confidence=r.confidence,
        )
