"""`CameraAnalyzer`: filters, tracks and zones one camera's detections and runs its behaviours."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field

from citysentinel.events import Event
from citysentinel.vision.analytics_config import AnalyticsConfig
from citysentinel.vision.behaviours import (
    Behaviour,
    FrameContext,
    LineCrossing,
    TrackHistory,
    build_behaviours,
    needs_pose,
)
from citysentinel.vision.detections import Detections, FloatArray
from citysentinel.vision.geometry import LineLike, Scene, Size, ZoneLike
from citysentinel.vision.pose import PoseEstimator, largest
from citysentinel.vision.tracking import DetectionFilter, Tracker, build_tracker

log = logging.getLogger(__name__)
PERSON = 0  # COCO class id of `person`, the only class pose runs on


class LineBucket(BaseModel):
    """In/out counts of one line over one time bucket, per class label."""

    model_config = ConfigDict(frozen=True)

    start: datetime = Field(description="Start of the bucket.")
    counts: dict[str, tuple[int, int]] = Field(description="label -> (in, out).")


class CameraStats(BaseModel):
    """What a camera sees now: live zone counts, line counts per bucket, live tracks."""

    model_config = ConfigDict(frozen=True)

    frames: int = Field(description="Frames processed.")
    tracks: int = Field(description="Confirmed tracks in the last frame.")
    zones: dict[str, dict[str, int]] = Field(description="zone -> label -> objects in it now.")
    lines: dict[str, list[LineBucket]] = Field(description="line -> buckets, oldest first.")


class CameraAnalyzer:
    """One camera's video analytics after detection; synchronous and free of global state.

    Each frame: per-class filters, tracking, zone membership by bottom-centre
    anchor, pose keypoints for the largest persons (only with a `pose` estimator,
    a behaviour that wants pose, and the frame `image`), then every behaviour.
    All timing uses the frame time `t`, so a
    replayed file behaves like the live stream did. The same object can run in
    a worker thread or a Ray actor.

    Example:
        >>> from types import SimpleNamespace as NS
        >>> from datetime import UTC, datetime, timedelta
        >>> cfg = AnalyticsConfig.model_validate(
        ...     {"behaviours": [{"type": "intrusion", "zone": "yard"}]})
        >>> yard = NS(name="yard", polygon=[(0, 0.5), (1, 0.5), (1, 1), (0, 1)])
        >>> a = CameraAnalyzer.build("cam-1", (640, 480), [yard], [], cfg, fps=10)
        >>> t0 = datetime(2025, 1, 1, tzinfo=UTC)
        >>> person = Detections([[100, 300, 140, 400]], [0.9], [0])
        >>> events = [a.process(person, t0 + timedelta(seconds=i / 10)) for i in range(3)]
        >>> [(e.kind.value, e.state.value, e.zone) for frame in events for e in frame]
        [('video.intrusion', 'start', 'yard')]
    """

    def __init__(
        self,
        camera_id: str,
        scene: Scene,
        config: AnalyticsConfig,
        *,
        tracker: Tracker,
        behaviours: Sequence[Behaviour],
        forget_after_s: float = 30.0,
        pose: PoseEstimator | None = None,
    ) -> None:
        self.camera_id = camera_id
        self.scene = scene
        self.config = config
        self.tracker = tracker
        self.behaviours = list(behaviours)
        self.forget_after_s = forget_after_s  # track paths kept this long after last seen
        self.last_tracked = Detections.empty()
        self._filter = DetectionFilter(config.objects, scene.size)
        self._history: dict[int, TrackHistory] = {}
        self._t0: datetime | None = None
        self._frames = 0
        self._zone_counts: dict[str, dict[str, int]] = {name: {} for name in scene.zones}
        wants_pose = needs_pose(config.behaviours)
        self._pose_failed = False  # logged once
        self.pose = pose if wants_pose else None  # no pose cost unless a behaviour uses it
        if wants_pose and pose is None:
            log.info("camera %s: no pose estimator; fall/fight run on boxes only", camera_id)

    @classmethod
    def build(
        cls,
        camera_id: str,
        frame_size: Size,
        zones: Iterable[ZoneLike],
        lines: Iterable[LineLike],
        config: AnalyticsConfig,
        *,
        fps: float,
        tz: ZoneInfo | None = None,
        pose: PoseEstimator | None = None,
    ) -> CameraAnalyzer:
        """The analyzer with the tracker and behaviours its config names (`tz`: site time zone).

        `pose` is used only when a fall or fight behaviour wants keypoints.
        """
        scene = Scene.build(frame_size, zones, lines)
        tracker = build_tracker(config.tracker, fps)
        behaviours = build_behaviours(config.behaviours, scene, tz or ZoneInfo("UTC"))
        return cls(camera_id, scene, config, tracker=tracker, behaviours=behaviours, pose=pose)

    def process(
        self,
        detections: Detections,
        t: datetime,
        *,
        image: npt.NDArray[np.uint8] | None = None,
    ) -> list[Event]:
        """Events this frame (seen at `t`, timezone-aware) starts, updates or ends.

        `image` (BGR) is needed only for pose; without it behaviours see no keypoints.
        """
        if t.tzinfo is None:
            raise ValueError("frame time must be timezone-aware")
        if self._t0 is None:
            self._t0 = t
        seconds = (t - self._t0).total_seconds()
        tracked = self.tracker.update(self._filter.apply(detections))
        tracked = tracked[tracked.tracker_id >= 0]
        self.last_tracked = tracked
        frame = self._context(tracked, t, seconds, self._keypoints(tracked, image), image)
        self._frames += 1
        events: list[Event] = []
        for behaviour in self.behaviours:
            events.extend(behaviour.process(frame))
        return events

    def _keypoints(
        self, tracked: Detections, image: npt.NDArray[np.uint8] | None
    ) -> dict[int, FloatArray]:
        if self.pose is None or image is None:
            return {}
        persons = np.flatnonzero(tracked.class_id == PERSON)
        rows = persons[largest(tracked.xyxy[persons], self.pose.max_persons)]
        if rows.size == 0:
            return {}
        try:
            kps = self.pose.estimate(image, tracked.xyxy[rows])
        except Exception:  # a pose failure must not stop the camera; go box-only this frame
            if not self._pose_failed:
                log.exception("camera %s: pose estimation failed", self.camera_id)
            self._pose_failed = True
            return {}
        return {int(tracked.tracker_id[r]): kps[i] for i, r in enumerate(rows.tolist())}

    def _context(
        self,
        tracked: Detections,
        t: datetime,
        seconds: float,
        keypoints: dict[int, FloatArray],
        image: npt.NDArray[np.uint8] | None = None,
    ) -> FrameContext:
        anchors = tracked.anchors()
        labels = tracked.labels()
        for tid, (x, y) in zip(tracked.tracker_id.tolist(), anchors.tolist(), strict=True):
            self._history.setdefault(tid, TrackHistory()).add(seconds, x, y)
        for tid in [
            k for k, h in self._history.items() if seconds - h.last_t > self.forget_after_s
        ]:
            del self._history[tid]
        masks = {name: zone.contains(anchors) for name, zone in self.scene.zones.items()}
        for name, mask in masks.items():
            inside = [labels[i] for i in np.flatnonzero(mask)]
            self._zone_counts[name] = {label: inside.count(label) for label in sorted(set(inside))}
        return FrameContext(
            source=self.camera_id,
            t=t,
            seconds=seconds,
            scene=self.scene,
            detections=tracked,
            labels=labels,
            anchors=anchors,
            zones=masks,
            history=self._history,
            keypoints=keypoints,
            image=image,
        )

    def stats(self) -> CameraStats:
        """Live zone counts and per-line, per-class in/out counts by time bucket.

        Example:
            >>> a = CameraAnalyzer.build("cam-1", (640, 480), [], [], AnalyticsConfig(), fps=10)
            >>> a.stats().model_dump()
            {'frames': 0, 'tracks': 0, 'zones': {}, 'lines': {}}
        """
        lines: dict[str, dict[datetime, dict[str, list[int]]]] = {}
        for b in self.behaviours:
            if not isinstance(b, LineCrossing):
                continue
            merged = lines.setdefault(b.config.line, {})
            for bucket in b.buckets():
                per_label = merged.setdefault(bucket.start, {})
                for label, (n_in, n_out) in bucket.by_label.items():
                    pair = per_label.setdefault(label, [0, 0])
                    pair[0], pair[1] = pair[0] + n_in, pair[1] + n_out
        return CameraStats(
            frames=self._frames,
            tracks=len(self.last_tracked),
            zones={k: dict(v) for k, v in self._zone_counts.items()},
            lines={
                line: [
                    LineBucket(start=s, counts={k: (v[0], v[1]) for k, v in c.items()})
                    for s, c in sorted(buckets.items())
                ]
                for line, buckets in lines.items()
            },
        )


__all__ = ["CameraAnalyzer", "CameraStats", "LineBucket"]
