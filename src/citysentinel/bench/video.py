"""`citysentinel bench video`: frames per second per camera through decode, detect, track, events.

N cameras are wired exactly as `citysentinel run` wires them (`app.build_cameras`:
a video source, a detector session, the analyzer with zones, a line and
behaviours, snapshots with blurred faces), each in its own thread on the same
file, played as fast as it decodes and looped. Events go to a counting sink
instead of the pipeline and its database.
"""

from __future__ import annotations

import os
import resource
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from citysentinel.app import build_cameras
from citysentinel.config import SiteConfig
from citysentinel.events import Event
from citysentinel.metrics import Metrics
from citysentinel.vision.camera import CameraWorker

WARMUP_FRAMES = 3  # per camera, before the clock starts: sessions and analyzers are built
# The walkway camera of examples/site.yaml (two zones, a counting line, three behaviours)
# plus an intrusion zone, so that events with snapshots are part of what is timed.
BENCH_CAMERA: dict[str, Any] = {
    "zones": [
        {"name": "plaza", "polygon": [[0.10, 0.35], [0.90, 0.35], [0.95, 0.95], [0.05, 0.95]]},
        {"name": "benches", "polygon": [[0.00, 0.40], [0.20, 0.40], [0.25, 0.90], [0.00, 0.90]]},
    ],
    "lines": [{"name": "midline", "points": [[0.05, 0.60], [0.95, 0.60]]}],
    "analytics": {
        "objects": {"track": ["person", "bicycle", "car"]},
        "behaviours": [
            {"type": "line_crossing", "line": "midline", "classes": ["person"], "alert_on": []},
            # Not in the example site: makes events (and their snapshots) part of the path.
            {"type": "intrusion", "zone": "plaza", "classes": ["person"]},
            {"type": "loitering", "zone": "benches", "classes": ["person"], "dwell_s": 15},
            {"type": "crowding", "zone": "plaza", "min_count": 6, "min_duration_s": 5},
        ],
    },
}


class BenchError(RuntimeError):
    """The bench cannot run: no such file, or the detector model cannot load."""


class CountingSink:
    """Counts the events the cameras emit (thread-safe), and those with a snapshot."""

    def __init__(self) -> None:
        self.events = 0
        self.snapshots = 0
        self._lock = threading.Lock()

    def __call__(self, events: list[Event]) -> None:
        with self._lock:
            self.events += len(events)
            self.snapshots += sum(1 for e in events if e.evidence)


def bench_site(source: str, cameras: int, detector: str, threads: int) -> SiteConfig:
    """A site of `cameras` identical cameras on `source`, non-realtime and looping."""
    cams = [
        {
            **BENCH_CAMERA,
            "id": f"cam-{i + 1}",
            "url": source,
            "detect_fps": 60,  # above the file's rate: every decoded frame is analysed
            "realtime": False,
            "loop": True,
            "detector": {"type": detector, "threads": threads},
        }
        for i in range(cameras)
    ]
    return SiteConfig.model_validate(
        {"site": {"name": "bench", "timezone": "UTC"}, "cameras": cams}
    )


def _frames(workers: dict[str, CameraWorker]) -> dict[str, int]:
    return {cid: w.source.health.frames for cid, w in workers.items()}


def _progress(elapsed: float, seconds: float, fps: float) -> None:
    done = min(1.0, elapsed / seconds) if seconds > 0 else 1.0
    bar = "#" * int(done * 30)
    sys.stderr.write(
        f"\r[bench video] [{bar:<30}] {elapsed:5.1f}/{seconds:.0f} s {fps:5.1f} fps/cam"
    )
    sys.stderr.flush()


def run_video_bench(
    source: str,
    cameras: int,
    seconds: float,
    detector: str = "nanodet",
    threads: int = 1,
    progress: bool = True,
) -> dict[str, Any]:
    """Run `cameras` cameras on `source` for `seconds` (after a warm-up) and report.

    `fps_per_camera` is the mean over cameras of frames analysed per second;
    `cpu_percent` is process CPU time over wall time (200 is two busy cores);
    `rss_mb` is the peak resident set size of the process.

    Example:
        >>> run_video_bench("vtest.avi", cameras=1, seconds=10)  # doctest: +SKIP
        {'detector': 'nanodet', 'cameras': 1, 'fps_per_camera': 12.3, 'cpu_percent': 101.2, ...}
    """
    if cameras < 1 or seconds <= 0:
        raise BenchError("need at least one camera and a positive duration")
    if not Path(source).is_file():
        raise BenchError(f"no such video file: {source}")
    site = bench_site(source, cameras, detector, threads)
    sink = CountingSink()
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="citysentinel-bench-") as evidence:
        # build_cameras is typed for the pipeline's emitter; any `Emit` callable works.
        workers = build_cameras(site, Metrics(), sink, Path(evidence))  # type: ignore[arg-type]
        broken = [w.detector_error for w in workers.values() if w.detector is None]
        if broken:
            raise BenchError(str(broken[0]))
        for w in workers.values():
            w.start()
        try:
            _wait_warm(workers)
            start_frames, t0, cpu0 = _frames(workers), time.perf_counter(), time.process_time()
            elapsed = 0.0
            while elapsed < seconds and all(w.alive for w in workers.values()):
                time.sleep(min(0.5, seconds - elapsed))
                elapsed = time.perf_counter() - t0
                if progress:
                    done = sum(_frames(workers).values()) - sum(start_frames.values())
                    _progress(elapsed, seconds, done / max(elapsed, 1e-9) / cameras)
            cpu = time.process_time() - cpu0
            end_frames = _frames(workers)
        finally:
            for w in workers.values():
                w.source.stop.set()
            for w in workers.values():
                w.stop()
            if progress:
                sys.stderr.write("\n")
    per_camera = [(end_frames[c] - start_frames[c]) / elapsed for c in workers]
    return {
        "detector": detector,
        "cameras": cameras,
        "fps_per_camera": round(sum(per_camera) / cameras, 2),
        "cpu_percent": round(100 * cpu / elapsed, 1),
        "rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "seconds": round(elapsed, 2),
        "frames": sum(end_frames[c] - start_frames[c] for c in workers),
        "events": sink.events,
        "snapshots": sink.snapshots,
        "threads": threads,
        "cores": os.cpu_count(),
        "load_avg_1m_before": round(load_before, 2),
    }


def _wait_warm(workers: dict[str, CameraWorker]) -> None:
    """Until every camera has analysed a few frames (sessions and analyzers built)."""
    deadline = time.perf_counter() + 60
    while time.perf_counter() < deadline:
        if all(f >= WARMUP_FRAMES for f in _frames(workers).values()):
            return
        if not all(w.alive for w in workers.values()):
            raise BenchError("a camera stopped during warm-up; see the log")
        time.sleep(0.05)
    raise BenchError("cameras did not start within 60 s")


__all__ = ["BENCH_CAMERA", "BenchError", "CountingSink", "bench_site", "run_video_bench"]
