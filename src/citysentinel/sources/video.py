"""Video sources: files and RTSP/HTTP streams sampled at a detect fps, reconnecting on failure."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

log = logging.getLogger(__name__)
STREAM_SCHEMES = ("rtsp://", "rtsps://", "rtmp://", "http://", "https://", "udp://", "tcp://")


class SourceStatus(StrEnum):
    STARTING = "starting"
    OK = "ok"
    DOWN = "down"
    FINISHED = "finished"


@dataclass(frozen=True)
class Frame:
    """One sampled frame: BGR pixels, when it was seen, and its index in the source."""

    image: npt.NDArray[np.uint8]
    t: datetime
    index: int

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) in pixels."""
        h, w = self.image.shape[:2]
        return w, h


@dataclass
class SourceHealth:
    """What operators see of a camera: status, fps, last frame, errors."""

    status: SourceStatus = SourceStatus.STARTING
    frames: int = 0
    fps: float = 0.0
    last_frame_at: datetime | None = None
    errors: int = 0
    reconnects: int = 0
    last_error: str | None = None
    _window: list[float] = field(default_factory=list, repr=False)

    def frame_seen(self, now_mono: float, now: datetime) -> None:
        self.frames += 1
        self.last_frame_at = now
        self._window.append(now_mono)
        while self._window and now_mono - self._window[0] > 5.0:
            self._window.pop(0)
        span = self._window[-1] - self._window[0] if len(self._window) > 1 else 0.0
        self.fps = (len(self._window) - 1) / span if span > 0 else 0.0


class SourceError(RuntimeError):
    """The source cannot be opened or read (after its retries, for files)."""


StatusListener = Callable[[SourceStatus, str | None], None]


class VideoSource:
    """`frames()` yields frames of a file or stream at `detect_fps`, forever for live streams.

    A stream that fails is reopened with exponential backoff (reported through
    `on_status` as DOWN, then OK); a file plays at its own pace when `realtime`
    (like a camera), optionally looping, or as fast as it decodes otherwise.

    Example:
        >>> src = VideoSource("/nonexistent.avi", detect_fps=5, reconnect_max_s=0.01, max_retries=1)
        >>> try:
        ...     next(src.frames())
        ... except SourceError as exc:
        ...     print("error:", exc)
        error: cannot open /nonexistent.avi: no such file
    """

    def __init__(
        self,
        url: str,
        detect_fps: float,
        *,
        realtime: bool = True,
        loop: bool = False,
        reconnect_initial_s: float = 1.0,
        reconnect_max_s: float = 30.0,
        max_retries: int | None = None,
        max_bad_frames: int = 25,
        stop: threading.Event | None = None,
        on_status: StatusListener | None = None,
    ) -> None:
        self.url = url
        self.is_stream = url.lower().startswith(STREAM_SCHEMES)
        self.detect_fps = detect_fps
        self.realtime = realtime
        self.loop = loop
        self.reconnect_initial_s = reconnect_initial_s
        self.reconnect_max_s = reconnect_max_s
        self.max_retries = max_retries
        self.max_bad_frames = max_bad_frames
        self.stop = stop or threading.Event()
        self.on_status = on_status
        self.health = SourceHealth()

    def _set_status(self, status: SourceStatus, error: str | None = None) -> None:
        if error is not None:
            self.health.errors += 1
            self.health.last_error = error
        if status is not self.health.status:
            self.health.status = status
            if self.on_status is not None:
                self.on_status(status, error)

    def _open(self) -> cv2.VideoCapture:
        if not self.is_stream and not Path(self.url).is_file():
            raise SourceError(f"cannot open {self.url}: no such file")
        cap = cv2.VideoCapture(self.url, cv2.CAP_FFMPEG)
        if not cap.isOpened():
            cap.release()
            raise SourceError(f"cannot open {self.url}: not a readable video or stream")
        return cap

    def frames(self) -> Iterator[Frame]:
        """Sampled frames until stopped, the file ends (without `loop`) or retries run out."""
        attempt = 0
        while not self.stop.is_set():
            try:
                cap = self._open()
            except SourceError as exc:
                attempt += 1
                self._set_status(SourceStatus.DOWN, str(exc))
                if self.max_retries is not None and attempt > self.max_retries:
                    raise
                self._backoff(attempt)
                continue
            try:
                ended = yield from self._read(cap)
            finally:
                cap.release()
            if self.stop.is_set():
                return
            if ended and not self.loop:
                self._set_status(SourceStatus.FINISHED)
                return
            if not ended:
                attempt += 1
                self.health.reconnects += 1
                self._backoff(attempt)
            else:
                attempt = 0

    def _backoff(self, attempt: int) -> None:
        delay = min(self.reconnect_initial_s * 2 ** (attempt - 1), self.reconnect_max_s)
        log.warning("video source %s: retrying in %.1f s", self.url, delay)
        self.stop.wait(delay)

    def _read(self, cap: cv2.VideoCapture) -> Generator[Frame, None, bool]:
        """Frames from an open capture; returns True at a file's end, False on failure."""
        native = cap.get(cv2.CAP_PROP_FPS) or 0.0
        native = native if 0 < native < 240 else 25.0
        count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        step = max(1, round(native / self.detect_fps)) if not self.is_stream else 1
        started_mono, started = time.monotonic(), datetime.now(UTC)
        index, bad, emitted, last_emit = -1, 0, 0, -1e9
        while not self.stop.is_set():
            ok = cap.grab()
            index += 1
            if not ok:
                if self.is_stream:
                    self._set_status(SourceStatus.DOWN, f"stream read failed after frame {index}")
                    return False
                early = count > 0 and index < count - 1
                if early and bad < self.max_bad_frames:
                    bad += 1
                    continue
                if emitted == 0:
                    self._set_status(SourceStatus.DOWN, f"{self.url}: no decodable frames")
                    return False
                if early:
                    self.health.errors += 1
                    self.health.last_error = f"file ends early at frame {index} of {count}"
                return True
            now_mono = time.monotonic()
            if self.is_stream:
                if now_mono - last_emit < 1.0 / self.detect_fps:
                    continue  # keep draining the stream's buffer, analyse at detect_fps
            elif index % step:
                continue
            ok, image = cap.retrieve()
            if not ok or image is None or image.size == 0:
                bad += 1
                self.health.errors += 1
                self.health.last_error = f"corrupt frame {index}"
                continue
            bad = 0
            offset = index / native
            if self.realtime and not self.is_stream:
                delay = offset - (now_mono - started_mono)
                if delay > 0 and self.stop.wait(delay):
                    return True
            t = datetime.now(UTC) if self.realtime else started + timedelta(seconds=offset)
            last_emit = time.monotonic()
            emitted += 1
            self.health.frame_seen(last_emit, datetime.now(UTC))
            self._set_status(SourceStatus.OK)
            yield Frame(np.ascontiguousarray(image), t, index)
        return True
