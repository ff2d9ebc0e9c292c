"""Video sources on real files and a real local HTTP stream: sampling, bad input, reconnects."""

from __future__ import annotations

import functools
import http.server
import itertools
import threading
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from citysentinel.sources.video import Frame, SourceError, SourceStatus, VideoSource

VTEST = Path(__file__).resolve().parents[3] / "shared" / "data" / "vision" / "video" / "vtest.avi"


def write_video(
    path: Path, frames: int = 30, fps: float = 10.0, size: tuple[int, int] = (64, 48)
) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"MJPG"), fps, size)
    for i in range(frames):
        img = np.full((size[1], size[0], 3), i * 8 % 255, dtype=np.uint8)
        cv2.putText(img, str(i), (5, 30), cv2.FONT_HERSHEY_SIMPLEX, 0.8, (255, 255, 255), 2)
        writer.write(img)
    writer.release()
    return path


def take(source: VideoSource, limit: int = 10_000) -> list[Frame]:
    out = []
    for frame in source.frames():
        out.append(frame)
        if len(out) >= limit:
            source.stop.set()
    return out


@pytest.mark.parametrize(("detect_fps", "expected"), [(10, 30), (5, 15), (2, 6)])
def test_file_is_sampled_at_detect_fps(tmp_path: Path, detect_fps: float, expected: int) -> None:
    video = write_video(tmp_path / "v.avi")
    frames = take(VideoSource(str(video), detect_fps, realtime=False))
    assert len(frames) == expected
    gaps = {round((b.t - a.t).total_seconds(), 3) for a, b in itertools.pairwise(frames)}
    assert gaps == {round(1 / detect_fps, 3)}
    assert frames[0].size == (64, 48)


def test_real_campus_video(tmp_path: Path) -> None:
    if not VTEST.exists():
        pytest.skip(f"real video not found at {VTEST} (../shared/data is absent)")
    source = VideoSource(str(VTEST), 5, realtime=False)
    frames = take(source)
    assert frames[0].size == (768, 576)
    assert 390 <= len(frames) <= 400  # 795 frames at 10 fps sampled at 5 fps
    assert source.health.status is SourceStatus.FINISHED and source.health.errors == 0


def test_truncated_file_ends_early_without_crashing(tmp_path: Path) -> None:
    video = write_video(tmp_path / "v.avi", frames=60)
    data = video.read_bytes()
    video.write_bytes(data[: len(data) // 2])
    frames = take(VideoSource(str(video), 10, realtime=False))
    assert 5 <= len(frames) < 60


def test_garbage_file_is_a_clear_error_after_retries(tmp_path: Path) -> None:
    bad = tmp_path / "bad.avi"
    bad.write_bytes(b"this is not a video" * 100)
    statuses: list[tuple[SourceStatus, str | None]] = []
    source = VideoSource(
        str(bad),
        5,
        reconnect_initial_s=0.01,
        max_retries=2,
        on_status=lambda s, e: statuses.append((s, e)),
    )
    with pytest.raises(SourceError):
        take(source)
    assert statuses[0][0] is SourceStatus.DOWN
    assert source.health.errors >= 1


def test_loop_plays_a_file_again_until_stopped(tmp_path: Path) -> None:
    video = write_video(tmp_path / "v.avi", frames=10)
    frames = take(VideoSource(str(video), 10, realtime=False, loop=True), limit=25)
    assert len(frames) == 25
    assert [f.index for f in frames[:12]] == [*range(10), 0, 1]


@pytest.fixture
def http_server(tmp_path: Path) -> Iterator[str]:
    write_video(tmp_path / "cam.avi", frames=20)

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

    handler = functools.partial(Quiet, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/cam.avi"
    finally:
        server.shutdown()
        server.server_close()


def test_stream_reconnects_after_it_drops(http_server: str) -> None:
    statuses: list[SourceStatus] = []
    source = VideoSource(
        http_server,
        50,
        reconnect_initial_s=0.05,
        reconnect_max_s=0.1,
        on_status=lambda s, e: statuses.append(s),
    )
    frames = take(source, limit=30)  # the 20-frame "stream" ends, so it must reconnect
    assert len(frames) == 30
    assert source.health.reconnects >= 1
    assert SourceStatus.DOWN in statuses and statuses[-1] is SourceStatus.OK


def test_dead_stream_reports_down_and_gives_up_when_told(tmp_path: Path) -> None:
    statuses: list[SourceStatus] = []
    source = VideoSource(
        "http://127.0.0.1:9/nothing.mjpg",
        5,
        reconnect_initial_s=0.01,
        max_retries=2,
        on_status=lambda s, e: statuses.append(s),
    )
    with pytest.raises(SourceError):
        take(source)
    assert statuses == [SourceStatus.DOWN]
