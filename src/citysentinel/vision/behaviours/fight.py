"""Fight cue (EXPERIMENTAL): close persons with fast limb motion, sustained for a while."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import combinations, pairwise

import numpy as np

from citysentinel.events import Event, EventKind, EventState
from citysentinel.events.payloads import FightPayload
from citysentinel.vision.analytics_config import FightConfig
from citysentinel.vision.behaviours.base import FrameContext, class_ids, rows_where
from citysentinel.vision.detections import FloatArray
from citysentinel.vision.pose import limb_points

Point = tuple[float, float]


@dataclass(frozen=True)
class MotionSample:
    """One frame of one person: its box and its confident elbows/wrists (pixels), if any."""

    t: float
    box: tuple[float, float, float, float]
    limbs: dict[int, Point] = field(default_factory=dict)


def limb_speed(samples: list[MotionSample]) -> float | None:
    """Mean elbow/wrist speed relative to the box centre, in box heights per second.

    None when no limb point is seen in two consecutive samples.

    Example:
        >>> a = MotionSample(0.0, (0, 0, 20, 100), {9: (10.0, 50.0)})
        >>> b = MotionSample(0.5, (0, 0, 20, 100), {9: (10.0, 100.0)})
        >>> limb_speed([a, b])
        1.0
    """
    speeds: list[float] = []
    for a, b, dt, h in _steps(samples):
        (acx, acy), (bcx, bcy) = _centre(a.box), _centre(b.box)
        for k in a.limbs.keys() & b.limbs.keys():
            dx = (b.limbs[k][0] - bcx) - (a.limbs[k][0] - acx)
            dy = (b.limbs[k][1] - bcy) - (a.limbs[k][1] - acy)
            speeds.append(float(np.hypot(dx, dy)) / h / dt)
    return float(np.mean(speeds)) if speeds else None


def box_jitter(samples: list[MotionSample]) -> float:
    """Mean change of box width plus height per second, over box height (shape, not travel).

    Example:
        >>> a, b = MotionSample(0.0, (0, 0, 20, 100)), MotionSample(1.0, (0, 0, 40, 100))
        >>> box_jitter([a, b])
        0.2
    """
    rates: list[float] = []
    for a, b, dt, h in _steps(samples):
        dw = abs((b.box[2] - b.box[0]) - (a.box[2] - a.box[0]))
        dh = abs((b.box[3] - b.box[1]) - (a.box[3] - a.box[1]))
        rates.append((dw + dh) / h / dt)
    return float(np.mean(rates)) if rates else 0.0


def close(a: FloatArray, b: FloatArray, max_distance: float) -> bool:
    """Boxes overlap, or their centres are within `max_distance` mean box heights.

    Example:
        >>> close(np.array([0, 0, 20, 100]), np.array([60, 0, 80, 100]), 0.8)
        True
    """
    if min(a[2], b[2]) > max(a[0], b[0]) and min(a[3], b[3]) > max(a[1], b[1]):
        return True
    (ax, ay), (bx, by) = _centre(tuple(a)), _centre(tuple(b))
    height = ((a[3] - a[1]) + (b[3] - b[1])) / 2
    return bool(height > 0 and np.hypot(ax - bx, ay - by) <= max_distance * height)


def _steps(
    samples: list[MotionSample],
) -> Iterator[tuple[MotionSample, MotionSample, float, float]]:
    """Consecutive samples with their time step and mean box height (both positive)."""
    for a, b in pairwise(samples):
        dt, h = b.t - a.t, (a.box[3] - a.box[1] + b.box[3] - b.box[1]) / 2
        if dt > 0 and h > 0:
            yield a, b, dt, h


def _centre(box: tuple[float, ...] | FloatArray) -> Point:
    return (float(box[0]) + float(box[2])) / 2, (float(box[1]) + float(box[3])) / 2


class Fight:
    """EXPERIMENTAL: two or more close persons with high limb motion for `min_duration_s`.

    Each person's motion over the last `window_s` is its limb speed over
    `min_limb_speed` (pose), or its box jitter over `min_box_jitter` (no pose): 1.0
    is the threshold. A close pair whose mean motion reaches 1.0 is a cue; one
    event per behaviour (zone) covers every such pair, and ends after `clear_s`
    without a cue. Events carry `experimental=True` and confidence at most 0.6.

    Example:
        >>> Fight(FightConfig(type="fight", zone="square")).name
        'fight:square'
    """

    def __init__(self, config: FightConfig) -> None:
        self.config = config
        self.name = config.name or f"fight:{config.zone or 'frame'}"
        self._classes = class_ids(config.classes)
        self._samples: dict[int, deque[MotionSample]] = {}
        self._since: float | None = None
        self._last_cue = float("-inf")
        self._active = False
        self._track_ids: set[int] = set()
        self._score = 0.0

    def process(self, frame: FrameContext) -> list[Event]:
        now = frame.seconds
        rows = rows_where(frame.in_zone(self.config.zone) & frame.of_classes(self._classes))
        motion = {tid: self._motion(frame, row, tid) for row, tid in self._ids(frame, rows)}
        for tid in [k for k, v in self._samples.items() if now - v[-1].t > self.config.window_s]:
            del self._samples[tid]
        ids, score = self._cue(frame, rows, motion)
        if ids:
            self._last_cue, self._score = now, score
            self._since = now if self._since is None else self._since
            self._track_ids = self._track_ids | ids if self._active else ids
            if not self._active and now - self._since >= self.config.min_duration_s:
                self._active = True
                return [self._event(frame, EventState.START)]
            return []
        if not self._active:
            self._since = None
        elif now - self._last_cue >= self.config.clear_s:
            self._active, self._since = False, None
            return [self._event(frame, EventState.END)]
        return []

    @staticmethod
    def _ids(frame: FrameContext, rows: list[int]) -> list[tuple[int, int]]:
        return [(row, int(frame.detections.tracker_id[row])) for row in rows]

    def _motion(self, frame: FrameContext, row: int, tid: int) -> float:
        c = self.config
        x1, y1, x2, y2 = (float(v) for v in frame.detections.xyxy[row])
        kp = frame.keypoints.get(tid) if c.use_pose else None
        limbs = limb_points(kp) if kp is not None else {}
        samples = self._samples.setdefault(tid, deque())
        samples.append(MotionSample(frame.seconds, (x1, y1, x2, y2), limbs))
        while frame.seconds - samples[0].t > c.window_s:
            samples.popleft()
        recent = list(samples)
        speed = limb_speed(recent)
        if speed is not None:
            return speed / c.min_limb_speed
        return box_jitter(recent) / c.min_box_jitter

    def _cue(
        self, frame: FrameContext, rows: list[int], motion: dict[int, float]
    ) -> tuple[set[int], float]:
        ids: set[int] = set()
        best = 0.0
        xyxy = frame.detections.xyxy
        for (ra, ta), (rb, tb) in combinations(self._ids(frame, rows), 2):
            score = (motion[ta] + motion[tb]) / 2
            if score >= 1.0 and close(xyxy[ra], xyxy[rb], self.config.max_distance):
                ids |= {ta, tb}
                best = max(best, score)
        return ids, best

    def _event(self, frame: FrameContext, state: EventState) -> Event:
        payload = FightPayload(
            track_ids=sorted(self._track_ids)[:50],
            motion_score=round(self._score, 3),
            experimental=True,
        )
        return frame.event(
            EventKind.VIDEO_FIGHT,
            state,
            payload,
            zone=self.config.zone,
            labels=["person"],
            confidence=min(0.6, 0.3 * self._score),
        )
