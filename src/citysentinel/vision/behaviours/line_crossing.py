"""Line crossing: per-class in/out counts over time buckets, debounced against jitter."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from citysentinel.events import Event, EventKind, EventState
from citysentinel.events.payloads import LineCrossingPayload
from citysentinel.vision.analytics_config import LineCrossingConfig
from citysentinel.vision.behaviours.base import FrameContext, class_ids, rows_where
from citysentinel.vision.geometry import Direction, Line

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass
class _Side:
    """Where a track last stood relative to the line, and whether it may count again."""

    side: int  # +1 in side, -1 out side (never 0: points on the line keep the old side)
    x: float
    y: float
    armed: bool = True
    counted_side: int = 0  # the side a counted crossing left it on
    last_s: float = 0.0


@dataclass
class LineCounts:
    """Counts of one time bucket: label -> [in, out]."""

    start: datetime
    by_label: dict[str, list[int]] = field(default_factory=dict)

    def add(self, label: str, direction: Direction) -> None:
        pair = self.by_label.setdefault(label, [0, 0])
        pair[0 if direction == "in" else 1] += 1

    @property
    def total_in(self) -> int:
        return sum(p[0] for p in self.by_label.values())

    @property
    def total_out(self) -> int:
        return sum(p[1] for p in self.by_label.values())


class LineCrossing:
    """Counts watched tracks whose bottom-centre path crosses the segment; events per crossing.

    'in' means from the right of a->b to its left as drawn on screen (config.py's
    CameraLine). After a crossing counts, the track is disarmed until it gets
    `rearm_distance` (fraction of the frame diagonal) away from the line; if it
    is then on the other side than the counted crossing left it, it went back,
    and that return counts. So jitter on the line counts once, not many times.
    Event `count_in`/`count_out` are the current bucket's totals for the watched classes.

    Example:
        >>> from citysentinel.vision.geometry import Line
        >>> line = Line.from_normalised("gate", ((0, 0.5), (1, 0.5)), (100, 100))
        >>> b = LineCrossing(LineCrossingConfig(type="line_crossing", line="gate"), line)
        >>> b.name, b.buckets()
        ('line_crossing:gate', [])
    """

    def __init__(self, config: LineCrossingConfig, line: Line, diagonal: float = 1.0) -> None:
        self.config = config
        self.line = line
        self.name = config.name or f"line_crossing:{config.line}"
        self._classes = class_ids(config.classes)
        self._rearm_px = config.rearm_distance * diagonal
        self._sides: dict[int, _Side] = {}
        self._buckets: OrderedDict[datetime, LineCounts] = OrderedDict()

    def buckets(self) -> list[LineCounts]:
        """Kept count buckets, oldest first."""
        return list(self._buckets.values())

    def process(self, frame: FrameContext) -> list[Event]:
        events: list[Event] = []
        mask = frame.of_classes(self._classes)
        for row in rows_where(mask):
            direction = self._step(frame, row)
            if direction is None:
                continue
            label = frame.labels[row]
            bucket = self._bucket(frame.t)
            bucket.add(label, direction)
            if direction in self.config.alert_on:
                events.append(self._event(frame, row, direction, bucket))
        self._forget(frame.seconds)
        return events

    def _step(self, frame: FrameContext, row: int) -> Direction | None:
        tid = int(frame.detections.tracker_id[row])
        x, y = (float(v) for v in frame.anchors[row])
        side = int(self.line.side(frame.anchors[row : row + 1])[0])
        state = self._sides.get(tid)
        if state is None:
            if side != 0:
                self._sides[tid] = _Side(side, x, y, last_s=frame.seconds)
            return None
        state.last_s = frame.seconds
        direction = None
        if side != 0 and side != state.side:
            crossed = self.line.crossing((state.x, state.y), (x, y))
            if crossed is not None and state.armed:
                direction, state.armed, state.counted_side = crossed, False, side
        if side != 0:
            state.side, state.x, state.y = side, x, y
        if not state.armed and float(self.line.distance(frame.anchors[row : row + 1])[0]) >= (
            self._rearm_px
        ):
            state.armed = True
            if side != state.counted_side:  # it went back while disarmed: that return counts
                direction = "in" if side > 0 else "out"
        return direction

    def _bucket(self, t: datetime) -> LineCounts:
        size = self.config.bucket_s
        start = _EPOCH + timedelta(seconds=((t - _EPOCH).total_seconds() // size) * size)
        bucket = self._buckets.get(start)
        if bucket is None:
            bucket = self._buckets[start] = LineCounts(start)
            while len(self._buckets) > self.config.keep_buckets:
                self._buckets.popitem(last=False)
        return bucket

    def _forget(self, now: float) -> None:
        # Tracks unseen for a minute are gone; their ids are never reused.
        for tid in [tid for tid, s in self._sides.items() if now - s.last_s > 60.0]:
            del self._sides[tid]

    def _event(
        self, frame: FrameContext, row: int, direction: Direction, bucket: LineCounts
    ) -> Event:
        label = frame.labels[row]
        payload = LineCrossingPayload(
            label=label,
            track_id=int(frame.detections.tracker_id[row]),
            line=self.config.line,
            direction=direction,
            count_in=bucket.total_in,
            count_out=bucket.total_out,
        )
        return frame.event(
            EventKind.VIDEO_LINE_CROSSING,
            EventState.START,
            payload,
            zone=self.config.line,
            labels=[label],
            confidence=float(frame.detections.confidence[row]),
        )
