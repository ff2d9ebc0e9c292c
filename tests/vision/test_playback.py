"""Annotated playback: a readable video with the expected frames, drawn and blurred."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from citysentinel.config import SiteConfig
from citysentinel.events import Event, EventKind, EventState
from citysentinel.vision.detections import Detections
from citysentinel.vision.playback import Overlay, PlaybackError, render_playback, sampled_fps
from citysentinel.vision.snapshot import HeadRegionBlurrer
from tests.models.fixtures import SHARED_DATA, installed
from tests.vision.factories import T0, make_detections

VTEST = SHARED_DATA / "vision" / "video" / "vtest.avi"
W, H = 320, 240


class WalkingPerson:
    """A fake detector: one person walking left to right, 20 px a call."""

    def __init__(self) -> None:
        self.calls = 0

    def detect(self, frame: np.ndarray) -> Detections:
        x = 20 + 20 * self.calls
        self.calls += 1
        return make_detections([[x, 100, x + 30, 200]], scores=0.9)


def make_clip(path: Path, frames: int = 30, fps: float = 10.0) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), fps, (W, H))
    rng = np.random.default_rng(0)
    for i in range(frames):
        image = rng.integers(60, 200, (H, W, 3), dtype=np.uint8)
        cv2.putText(image, str(i), (10, 30), cv2.FONT_HERSHEY_SIMPLEX, 1, (0, 0, 0), 2)
        writer.write(image)
    writer.release()
    return path


def make_site(url: str, **camera: Any) -> SiteConfig:
    cam = {
        "id": "cam-1",
        "url": url,
        "detect_fps": 5,
        "zones": [{"name": "yard", "polygon": [[0.5, 0], [1, 0], [1, 1], [0.5, 1]]}],
        "lines": [{"name": "gate", "points": [[0.4, 0], [0.4, 1]]}],
        "analytics": {
            "behaviours": [
                {"type": "intrusion", "zone": "yard"},
                {"type": "line_crossing", "line": "gate"},
            ]
        },
        **camera,
    }
    return SiteConfig.model_validate({"site": {"name": "t", "timezone": "UTC"}, "cameras": [cam]})


def read_video(path: Path) -> tuple[list[np.ndarray], float]:
    cap = cv2.VideoCapture(str(path))
    fps = cap.get(cv2.CAP_PROP_FPS)
    frames = []
    while True:
        ok, image = cap.read()
        if not ok:
            break
        frames.append(image)
    cap.release()
    return frames, fps


@pytest.mark.parametrize(("suffix", "seconds", "expected"), [(".avi", None, 15), (".mp4", 2, 10)])
def test_playback_writes_every_sampled_frame(
    tmp_path: Path, suffix: str, seconds: float | None, expected: int
) -> None:
    clip = make_clip(tmp_path / "clip.avi")  # 30 frames at 10 fps, sampled at 5 fps
    out = tmp_path / f"out{suffix}"
    result = render_playback(
        make_site(str(clip)),
        "cam-1",
        out,
        seconds=seconds,
        detector=WalkingPerson(),
        blurrer=HeadRegionBlurrer(),
        progress=False,
    )
    frames, fps = read_video(out)
    assert result.frames == expected == len(frames)
    assert fps == pytest.approx(5.0) and result.fps == pytest.approx(5.0)
    assert frames[0].shape == (H, W, 3)
    assert result.events >= 1  # the person walks into the yard


def test_playback_draws_over_the_frames(tmp_path: Path) -> None:
    clip = make_clip(tmp_path / "clip.avi")
    out = tmp_path / "out.avi"
    render_playback(make_site(str(clip)), "cam-1", out, detector=WalkingPerson(), blur_faces=False)
    drawn, _ = read_video(out)
    raw, _ = read_video(clip)
    # The zone edge (x = 160) and the line (x = 128) are drawn on every frame; frame 5
    # of the output is frame 10 of the clip. Elsewhere only JPEG noise differs.
    diff = np.abs(drawn[5].astype(int) - raw[10].astype(int)).sum(axis=2)
    control = diff[130:190, 200:300].mean()
    assert diff[150:190, 159:161].mean() > 2 * control
    assert diff[150:190, 127:129].mean() > 2 * control


def test_overlay_shows_event_banners_for_a_while() -> None:
    overlay = Overlay(banner_s=2.0)
    image = np.zeros((H, W, 3), np.uint8)
    event = Event(kind=EventKind.VIDEO_INTRUSION, state=EventState.START, source="c", time=T0)
    overlay.render(image.copy(), T0, None, [event])
    with_banner = overlay.render(image.copy(), T0 + timedelta(seconds=1), None, [])
    without = overlay.render(image.copy(), T0 + timedelta(seconds=3), None, [])
    assert with_banner[-40:].any() and not without[-40:].any()


def test_bad_requests_are_clear_errors(tmp_path: Path) -> None:
    site = make_site(str(make_clip(tmp_path / "clip.avi")))
    with pytest.raises(PlaybackError, match=r"no camera 'cam-9'.*cam-1"):
        render_playback(site, "cam-9", tmp_path / "o.mp4", detector=WalkingPerson())
    with pytest.raises(PlaybackError, match=r"\.mp4.*\.avi"):
        render_playback(site, "cam-1", tmp_path / "o.gif", detector=WalkingPerson(), progress=False)
    stream = make_site("rtsp://127.0.0.1:1/none")
    with pytest.raises(PlaybackError, match="--seconds"):
        render_playback(stream, "cam-1", tmp_path / "o.mp4", detector=WalkingPerson())
    assert sampled_fps("rtsp://127.0.0.1:1/none", 4) == 4


def test_playback_of_the_real_video_with_models(tmp_path: Path) -> None:
    if not VTEST.is_file():
        pytest.skip(f"real video not found at {VTEST} (../shared/data is absent)")
    installed("nanodet")
    installed("centerface")
    out = tmp_path / "walkway.mp4"
    result = render_playback(make_site(str(VTEST)), "cam-1", out, seconds=2, progress=False)
    frames, _ = read_video(out)
    assert result.frames == len(frames) == 10  # vtest.avi is 10 fps, sampled at 5
    assert frames[0].shape == (576, 768, 3)
