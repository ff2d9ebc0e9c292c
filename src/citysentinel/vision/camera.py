"""One camera at work: source -> detector -> analyzer -> snapshots -> events, in its own thread.

A camera that fails (stream down, corrupt frames, a detector error, a missing
model) is reported as a `camera.health` event and retried; it never takes the
process or the other cameras down.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

import cv2
import numpy as np
import numpy.typing as npt

from citysentinel.events import Event, EventKind, EventState, Evidence, Severity
from citysentinel.events.payloads import HealthPayload
from citysentinel.metrics import Metrics
from citysentinel.sources.video import Frame, SourceError, SourceStatus, VideoSource
from citysentinel.vision.detections import Detections

log = logging.getLogger(__name__)
Emit = Callable[[list[Event]], None]


class Detector(Protocol):
    def detect(self, frame: npt.NDArray[np.uint8]) -> Detections: ...


class FrameAnalyzer(Protocol):
    last_tracked: Detections

    def process(
        self, detections: Detections, t: datetime, *, image: npt.NDArray[np.uint8] | None = None
    ) -> list[Event]: ...


AnalyzerFactory = Callable[[tuple[int, int]], FrameAnalyzer]
SnapshotterFactory = Callable[[FrameAnalyzer], "Snapshotter"]


class Snapshotter(Protocol):
    def capture(
        self, frame: Frame, detections: Detections, events: Sequence[Event]
    ) -> Evidence | None: ...

    def annotate(
        self, frame: Frame, detections: Detections, *, overlays: bool = True
    ) -> npt.NDArray[np.uint8]: ...


class CameraWorker:
    """Runs one camera until `stop()`; `emit` hands events to the pipeline (and may block).

    Example:
        >>> # worker = CameraWorker("cam-1", source, detector, analyzer, snapshotter, emit, metrics)
        >>> # worker.start(); ...; worker.stop()
    """

    def __init__(
        self,
        camera_id: str,
        source: VideoSource,
        detector: Detector | None,
        analyzer_factory: AnalyzerFactory,
        snapshotter_factory: SnapshotterFactory | None,
        emit: Emit,
        metrics: Metrics,
        *,
        detector_error: str | None = None,
    ) -> None:
        self.camera_id = camera_id
        self.source = source
        self.detector = detector
        self.analyzer_factory = analyzer_factory
        self.snapshotter_factory = snapshotter_factory
        # Built at the first frame, when the frame size is known.
        self.analyzer: FrameAnalyzer | None = None
        self.snapshotter: Snapshotter | None = None
        self.emit = emit
        self.metrics = metrics
        self.detector_error = detector_error
        self.last_detections = Detections.empty()
        self.last_frame: Frame | None = None
        self._down = False
        self._thread = threading.Thread(target=self.run, name=f"camera-{camera_id}", daemon=True)
        source.on_status = self._status_changed

    # -- lifecycle --------------------------------------------------------
    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self.source.stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    # -- what the API shows -----------------------------------------------
    def status(self) -> dict[str, Any]:
        h = self.source.health
        stats = getattr(self.analyzer, "stats", None)
        return {
            "status": h.status.value if self.detector is not None else "down",
            "fps": round(h.fps, 2),
            "frames": h.frames,
            "last_frame_at": h.last_frame_at.isoformat() if h.last_frame_at else None,
            "errors": h.errors,
            "reconnects": h.reconnects,
            "last_error": h.last_error if self.detector is not None else self.detector_error,
            "objects": len(self.last_detections),
            "stats": stats() if callable(stats) else {},
        }

    def frame_jpeg(self, overlays: bool = True) -> bytes | None:
        """The latest frame as JPEG with faces blurred (and overlays drawn); never the raw frame."""
        frame = self.last_frame
        if frame is None or self.snapshotter is None:
            return None
        image = self.snapshotter.annotate(frame, self.last_detections, overlays=overlays)
        return encode_jpeg(image)

    # -- work -------------------------------------------------------------
    def run(self) -> None:
        if self.detector is None:
            self._health_event(SourceStatus.DOWN, self.detector_error or "no detector")
            return
        try:
            for frame in self.source.frames():
                self._process(frame)
        except SourceError as exc:
            log.error("camera %s gave up: %s", self.camera_id, exc)
        except Exception:
            log.exception("camera %s stopped on an unexpected error", self.camera_id)
            self._health_event(SourceStatus.DOWN, "internal error; see the server log")

    def _process(self, frame: Frame) -> None:
        started = time.perf_counter()
        labels = (self.camera_id,)
        try:
            assert self.detector is not None
            if self.analyzer is None:
                self.analyzer = self.analyzer_factory(frame.size)
                if self.snapshotter_factory is not None:
                    self.snapshotter = self.snapshotter_factory(self.analyzer)
            detections = self.detector.detect(frame.image)
            events = self.analyzer.process(detections, frame.t, image=frame.image)
            detections = self.analyzer.last_tracked
        except Exception as exc:
            self.metrics.camera_errors_total.labels(*labels).inc()
            log.warning("camera %s: frame %d failed: %s", self.camera_id, frame.index, exc)
            return
        self.last_detections = detections
        self.last_frame = frame
        if events and self.snapshotter is not None:
            events = self._with_snapshot(frame, detections, events)
        if events:
            self.emit(events)
        self.metrics.camera_frames_total.labels(*labels).inc()
        self.metrics.camera_process_seconds.labels(*labels).observe(time.perf_counter() - started)
        self.metrics.camera_fps.labels(*labels).set(self.source.health.fps)
        self.metrics.camera_last_frame_seconds.labels(*labels).set(time.time())

    def _with_snapshot(
        self, frame: Frame, detections: Detections, events: list[Event]
    ) -> list[Event]:
        """Attach one snapshot to the events that start or end something."""
        wanted = [e for e in events if e.state is not EventState.UPDATE]
        if not wanted:
            return events
        assert self.snapshotter is not None
        try:
            evidence = self.snapshotter.capture(frame, detections, wanted)
        except Exception as exc:
            log.warning("camera %s: snapshot failed: %s", self.camera_id, exc)
            return events
        if evidence is None:
            return events
        return [
            e.model_copy(update={"evidence": [*e.evidence, evidence]}) if e in wanted else e
            for e in events
        ]

    # -- health -----------------------------------------------------------
    def _status_changed(self, status: SourceStatus, error: str | None) -> None:
        self.metrics.camera_up.labels(self.camera_id).set(1 if status is SourceStatus.OK else 0)
        if status is SourceStatus.DOWN and not self._down:
            self._down = True
            self._health_event(status, error)
        elif status is SourceStatus.OK and self._down:
            self._down = False
            self._health_event(status, None)

    def _health_event(self, status: SourceStatus, error: str | None) -> None:
        down = status is not SourceStatus.OK
        event = Event(
            kind=EventKind.CAMERA_HEALTH,
            state=EventState.START if down else EventState.END,
            time=datetime.now(UTC),
            source=self.camera_id,
            severity_hint=Severity.MEDIUM if down else None,
            payload=HealthPayload(
                status="down" if down else "ok", fps=self.source.health.fps, error=error
            ),
        )
        try:
            self.emit([event])
        except Exception:
            log.exception("camera %s: could not report its health", self.camera_id)


def encode_jpeg(image: npt.NDArray[np.uint8], quality: int = 80) -> bytes:
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError("could not encode the frame as JPEG")
    return bytes(buf.tobytes())
