"""Annotated playback: one camera through detector and analyzer, drawn and written to a video."""

from __future__ import annotations

import math
import sys
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import cv2
import numpy as np

from citysentinel.config import CameraConfig, SiteConfig
from citysentinel.events import Event, EventState
from citysentinel.sources.video import STREAM_SCHEMES, Frame, VideoSource
from citysentinel.vision.analyzer import CameraAnalyzer, CameraStats
from citysentinel.vision.camera import Detector
from citysentinel.vision.detectors import build_detector
from citysentinel.vision.privacy import load_face_blurrer
from citysentinel.vision.snapshot import FaceBlurrer, Image, blur_regions, draw

BANNER_S = 3.0  # an event banner stays this long (video time)
_FONT = cv2.FONT_HERSHEY_SIMPLEX
_STATE_COLOURS = {
    EventState.START: (0, 0, 230),
    EventState.UPDATE: (0, 140, 255),
    EventState.END: (0, 160, 0),
}
_FOURCC = {".mp4": "mp4v", ".avi": "MJPG", ".mkv": "MJPG"}


class PlaybackError(RuntimeError):
    """Playback cannot run: unknown camera, unreadable source, unwritable output."""


@dataclass(frozen=True)
class PlaybackResult:
    """What was written: the file, its frames and frame rate, and the events seen."""

    path: Path
    frames: int
    fps: float
    events: int


def sampled_fps(url: str, detect_fps: float) -> float:
    """Frames per second `VideoSource` yields for `url` at `detect_fps` (files: native / step).

    Example:
        >>> sampled_fps("rtsp://cam/1", 5)
        5
    """
    if url.lower().startswith(STREAM_SCHEMES):
        return detect_fps
    cap = cv2.VideoCapture(url, cv2.CAP_FFMPEG)
    try:
        native = cap.get(cv2.CAP_PROP_FPS) or 0.0
    finally:
        cap.release()
    native = native if 0 < native < 240 else 25.0
    return native / max(1, round(native / detect_fps))


def _camera(site: SiteConfig, camera_id: str) -> CameraConfig:
    for cam in site.cameras:
        if cam.id == camera_id:
            return cam
    known = ", ".join(c.id for c in site.cameras) or "none"
    raise PlaybackError(f"no camera {camera_id!r} in the site config (known: {known})")


class Overlay:
    """Draws the per-frame extras `snapshot.draw` lacks: counts, event banners, a clock.

    Example:
        >>> from datetime import UTC
        >>> o = Overlay()
        >>> t = datetime(2025, 1, 1, tzinfo=UTC)
        >>> img = o.render(np.zeros((240, 320, 3), np.uint8), t, None, [])
        >>> bool(img.any())
        True
    """

    def __init__(self, banner_s: float = BANNER_S) -> None:
        self.banner_s = banner_s
        self._banners: deque[tuple[datetime, str, tuple[int, int, int]]] = deque(maxlen=5)

    def render(
        self, image: Image, t: datetime, stats: CameraStats | None, events: list[Event]
    ) -> Image:
        """Draw onto `image` (in place, and returned)."""
        for e in events:
            text = " ".join(
                p for p in (e.kind.value, e.state.value, e.zone or "", ",".join(e.labels)) if p
            )
            self._banners.append((t, text, _STATE_COLOURS.get(e.state, (0, 0, 230))))
        while self._banners and (t - self._banners[0][0]).total_seconds() > self.banner_s:
            self._banners.popleft()
        rows = [f"{t:%Y-%m-%d %H:%M:%S}"]
        if stats is not None:
            rows.append(f"frames {stats.frames}  tracks {stats.tracks}")
            for zone, counts in stats.zones.items():
                rows.append(f"zone {zone}: " + _counts(counts))
            for line, buckets in stats.lines.items():
                n_in = sum(c[0] for b in buckets for c in b.counts.values())
                n_out = sum(c[1] for b in buckets for c in b.counts.values())
                rows.append(f"line {line}: in {n_in}  out {n_out}")
        _panel(image, rows, (8, 8), (255, 255, 255))
        y = image.shape[0] - 10
        for _, text, colour in reversed(self._banners):
            (tw, th), _ = cv2.getTextSize(text, _FONT, 0.6, 2)
            cv2.rectangle(image, (6, y - th - 8), (14 + tw, y + 4), colour, -1)
            cv2.putText(image, text, (10, y - 2), _FONT, 0.6, (255, 255, 255), 2)
            y -= th + 16
        return image


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{n} {label}" for label, n in counts.items()) or "empty"


def _panel(
    image: Image, rows: list[str], origin: tuple[int, int], colour: tuple[int, int, int]
) -> None:
    """Text rows on a darkened box, legible over any background."""
    x, y = origin
    sizes = [cv2.getTextSize(r, _FONT, 0.5, 1)[0] for r in rows]
    w = max(s[0] for s in sizes) + 12
    h = sum(s[1] + 8 for s in sizes) + 6
    roi = image[y : y + h, x : x + w]
    roi[:] = (roi * 0.35).astype(np.uint8)
    for row, (_, th) in zip(rows, sizes, strict=True):
        y += th + 8
        cv2.putText(image, row, (x + 6, y), _FONT, 0.5, colour, 1, cv2.LINE_AA)


def _writer(out: Path, fps: float, size: tuple[int, int]) -> cv2.VideoWriter:
    fourcc = _FOURCC.get(out.suffix.lower())
    if fourcc is None:
        raise PlaybackError(f"write .mp4 (mp4v) or .avi (MJPG), not {out.suffix or 'no suffix'}")
    out.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(out), cv2.VideoWriter.fourcc(*fourcc), fps, size)
    if not writer.isOpened():
        raise PlaybackError(f"cannot write {out} with codec {fourcc}")
    return writer


def _bar(done: int, total: int | None, started: float) -> None:
    rate = done / max(time.perf_counter() - started, 1e-9)
    if total:
        filled = int(30 * min(done, total) / total)
        text = f"[{'#' * filled:<30}] {done}/{total} frames"
    else:
        text = f"{done} frames"
    sys.stderr.write(f"\r[playback] {text}, {rate:.1f} frames/s")
    sys.stderr.flush()


def render_playback(
    site: SiteConfig,
    camera_id: str,
    out: Path,
    *,
    seconds: float | None = None,
    detector: Detector | None = None,
    blurrer: FaceBlurrer | None = None,
    blur_faces: bool = True,
    progress: bool = True,
) -> PlaybackResult:
    """Render `camera_id` of `site` to `out` (.mp4 or .avi): boxes, ids, zones, counts, events.

    Runs as fast as the machine allows (not in real time), at the camera's detect
    fps, over the whole file or its first `seconds` (needed for a live stream).
    Faces are blurred first (CenterFace if installed, else heads) unless `blur_faces`
    is off. `detector` and `blurrer` default to the camera's detector and the
    installed face model.

    Example:
        >>> site = load_config(Path("examples/site.yaml"))  # doctest: +SKIP
        >>> render_playback(site, "cam-walkway", Path("walkway.mp4"), seconds=20)  # doctest: +SKIP
        PlaybackResult(path=PosixPath('walkway.mp4'), frames=100, fps=5.0, events=2)
    """
    cam = _camera(site, camera_id)
    is_stream = cam.url.lower().startswith(STREAM_SCHEMES)
    if is_stream and seconds is None:
        raise PlaybackError(f"camera {camera_id} is a live stream: give --seconds")
    detector = detector or build_detector(cam.detector)
    if blur_faces and blurrer is None:
        blurrer = load_face_blurrer()
    source = VideoSource(cam.url, cam.detect_fps, realtime=False, loop=False, max_retries=2)
    source.reconnect_initial_s = 0.5
    fps = sampled_fps(cam.url, cam.detect_fps)
    total = _expected_frames(cam.url, fps, seconds)
    render = _FrameRenderer(site, cam, detector, blurrer if blur_faces else None)
    writer: cv2.VideoWriter | None = None
    frames, started, t0 = 0, time.perf_counter(), None
    try:
        for frame in source.frames():
            t0 = t0 or frame.t
            if seconds is not None and frame.t - t0 >= timedelta(seconds=seconds - 1e-6):
                break
            image = render(frame)
            if writer is None:
                writer = _writer(out, fps, frame.size)
            writer.write(image)
            frames += 1
            if progress and (frames % 10 == 0 or frames == total):
                _bar(frames, total, started)
    except Exception as exc:
        if isinstance(exc, PlaybackError):
            raise
        raise PlaybackError(f"playback of {camera_id} failed at frame {frames}: {exc}") from exc
    finally:
        if writer is not None:
            writer.release()
        if progress:
            sys.stderr.write("\n")
    if frames == 0:
        raise PlaybackError(f"camera {camera_id} gave no frames from {cam.url}")
    return PlaybackResult(out, frames, fps, render.events)


def _expected_frames(url: str, fps: float, seconds: float | None) -> int | None:
    if seconds is not None:
        return math.ceil(seconds * fps - 1e-6)
    if url.lower().startswith(STREAM_SCHEMES):
        return None
    cap = cv2.VideoCapture(url, cv2.CAP_FFMPEG)
    try:
        count, native = cap.get(cv2.CAP_PROP_FRAME_COUNT), cap.get(cv2.CAP_PROP_FPS)
    finally:
        cap.release()
    if count <= 0 or native <= 0:
        return None
    return math.ceil(count / max(1, round(native / fps)))


class _FrameRenderer:
    """detect -> analyze -> blur -> draw for one frame; the analyzer is built at the first."""

    def __init__(
        self, site: SiteConfig, cam: CameraConfig, detector: Detector, blurrer: FaceBlurrer | None
    ) -> None:
        self.build: Callable[[tuple[int, int]], CameraAnalyzer] = lambda size: CameraAnalyzer.build(
            cam.id, size, cam.zones, cam.lines, cam.analytics, fps=cam.detect_fps, tz=site.site.tz
        )
        self.detector = detector
        self.blurrer = blurrer
        self.method = cam.analytics.snapshot.blur_method
        self.analyzer: CameraAnalyzer | None = None
        self.overlay = Overlay()
        self.events = 0

    def __call__(self, frame: Frame) -> Image:
        if self.analyzer is None:
            self.analyzer = self.build(frame.size)
        detections = self.detector.detect(frame.image)
        events = self.analyzer.process(detections, frame.t)
        self.events += len(events)
        image = frame.image
        if self.blurrer is not None:
            # Every detected person, tracked or not: privacy errs on the side of blurring.
            image = blur_regions(image, self.blurrer.regions(image, detections), self.method)
        image = draw(image, self.analyzer.last_tracked, self.analyzer.scene)
        return self.overlay.render(image, frame.t, self.analyzer.stats(), events)


__all__ = ["Overlay", "PlaybackError", "PlaybackResult", "render_playback", "sampled_fps"]
