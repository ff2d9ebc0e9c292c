"""The video bench runs the whole camera path and reports its documented figures."""

from __future__ import annotations

from pathlib import Path

import pytest

from citysentinel.bench.video import BenchError, CountingSink, bench_site, run_video_bench
from citysentinel.events import Event, EventKind, Evidence, EvidenceType
from tests.models.fixtures import SHARED_DATA, installed

VTEST = SHARED_DATA / "vision" / "video" / "vtest.avi"
KEYS = {"detector", "cameras", "fps_per_camera", "cpu_percent", "rss_mb"}


def test_bench_site_has_independent_non_realtime_looping_cameras() -> None:
    site = bench_site("/videos/x.avi", 3, "nanodet", 1)
    assert [c.id for c in site.cameras] == ["cam-1", "cam-2", "cam-3"]
    assert all(not c.realtime and c.loop and c.url == "/videos/x.avi" for c in site.cameras)
    assert {b.type for b in site.cameras[0].analytics.behaviours} >= {"intrusion", "crowding"}


def test_counting_sink_counts_events_and_snapshots() -> None:
    sink = CountingSink()
    shot = Evidence(type=EvidenceType.SNAPSHOT, path="a.jpg")
    sink([Event(kind=EventKind.VIDEO_INTRUSION, source="c", evidence=[shot])])
    sink([Event(kind=EventKind.VIDEO_INTRUSION, source="c")])
    assert (sink.events, sink.snapshots) == (2, 1)


def test_bad_arguments_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(BenchError, match="no such video file"):
        run_video_bench(str(tmp_path / "none.avi"), 1, 1.0, progress=False)
    with pytest.raises(BenchError, match="at least one camera"):
        run_video_bench(str(tmp_path / "none.avi"), 0, 1.0, progress=False)


def test_two_second_run_on_the_real_video_reports_every_key() -> None:
    if not VTEST.is_file():
        pytest.skip(f"real video not found at {VTEST} (../shared/data is absent)")
    installed("nanodet")
    result = run_video_bench(str(VTEST), cameras=1, seconds=2.0, progress=False)
    assert set(result) >= KEYS
    assert result["detector"] == "nanodet" and result["cameras"] == 1
    assert result["fps_per_camera"] > 0 and result["cpu_percent"] > 0 and result["rss_mb"] > 0
