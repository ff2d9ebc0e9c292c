"""`CameraAnalyzer` end to end on synthetic detections: filters, ByteTrack, zones, behaviours."""

from __future__ import annotations

from datetime import datetime

import pytest

from citysentinel.events import Event
from citysentinel.vision.analytics_config import AnalyticsConfig
from citysentinel.vision.analyzer import CameraAnalyzer
from citysentinel.vision.behaviours import FrameContext
from citysentinel.vision.detections import Detections
from citysentinel.vision.tracking import PassthroughTracker
from tests.vision.factories import GATE, SIZE, YARD, at, box_at, make_detections, make_scene

FPS = 10
CONFIG = AnalyticsConfig.model_validate(
    {
        "behaviours": [
            {"type": "intrusion", "zone": "yard"},
            {"type": "loitering", "zone": "yard", "dwell_s": 5, "update_interval_s": 100},
            {"type": "line_crossing", "line": "gate", "bucket_s": 3600},
        ]
    }
)


def person_y(i: int) -> float:
    """A walk down into the yard (y >= 240), eight seconds there, and back up and out."""
    s = i / FPS
    if s < 2:
        return 150 + 100 * s  # crosses the gate 'out' at 0.9 s
    if s < 10:
        return 350
    return max(150.0, 350 - 100 * (s - 10))  # back across the gate 'in' at 11.1 s


def frame(i: int) -> Detections:
    boxes = [
        box_at(320, person_y(i)),  # the walker
        box_at(600, 100, w=80, h=40),  # a car parked outside the yard
        box_at(100, 400, w=30, h=20),  # a dog in the yard: not a tracked class
        box_at(500, 400),  # a person scored too low to keep
    ]
    return make_detections(
        boxes, labels=["person", "car", "dog", "person"], scores=[0.9, 0.8, 0.9, 0.2]
    )


def run(analyzer: CameraAnalyzer, frames: int) -> list[tuple[float, Event]]:
    return [(i / FPS, e) for i in range(frames) for e in analyzer.process(frame(i), at(i / FPS))]


def build(config: AnalyticsConfig = CONFIG) -> CameraAnalyzer:
    return CameraAnalyzer.build("cam-1", SIZE, [YARD], [GATE], config, fps=FPS)


def test_walk_into_the_yard_loiter_and_leave() -> None:
    events = run(build(), 15 * FPS)
    got = [(round(s, 1), e.kind.value, e.state.value) for s, e in events]
    # The walker stands on the gate (y = 240, also the yard's edge) at 0.9 s and 11.1 s:
    # inside the yard already, but on neither side of the line until the next frame.
    assert got == [
        (0.9, "video.intrusion", "start"),  # behaviours run in config order
        (1.0, "video.line_crossing", "start"),
        (5.9, "video.loitering", "start"),
        (11.2, "video.line_crossing", "start"),
        (12.2, "video.intrusion", "end"),  # 1 s grace after leaving
        (13.2, "video.loitering", "end"),  # 2 s grace
    ]
    crossing_out, crossing_in = events[1][1], events[3][1]
    assert crossing_out.payload.direction == "out"  # type: ignore[attr-defined]
    assert crossing_in.payload.direction == "in"  # type: ignore[attr-defined]
    assert (crossing_in.payload.count_in, crossing_in.payload.count_out) == (1, 1)  # type: ignore[attr-defined]
    ids = {e.payload.track_id for _, e in events}  # type: ignore[attr-defined]
    assert ids == {1}  # one walker, one id from start to end
    assert all(e.source == "cam-1" and e.labels == ["person"] for _, e in events)
    loiter_end = events[5][1]
    assert loiter_end.payload.dwell_s == pytest.approx(10.2)  # type: ignore[attr-defined]


def test_stats_have_live_zone_counts_and_line_buckets() -> None:
    analyzer = build()
    run(analyzer, 5 * FPS)
    stats = analyzer.stats()
    assert stats.frames == 50 and stats.tracks == 2  # walker and car
    assert stats.zones == {"yard": {"person": 1}}
    (bucket,) = stats.lines["gate"]
    assert bucket.counts == {"person": (0, 1)}
    assert bucket.start == datetime.fromisoformat("2026-11-25T12:00:00+00:00")
    assert stats.model_dump(mode="json")["lines"]["gate"][0]["counts"] == {"person": [0, 1]}


def test_the_same_input_gives_the_same_events() -> None:
    def key(events: list[tuple[float, Event]]) -> list[tuple[str, str, datetime, str]]:
        return [(e.kind, e.state, e.time, e.payload.model_dump_json()) for _, e in events]

    assert key(run(build(), 13 * FPS)) == key(run(build(), 13 * FPS))


class RecordingBehaviour:
    """A fake behaviour that keeps the frames it was given."""

    name = "recorder"

    def __init__(self) -> None:
        self.frames: list[FrameContext] = []

    def process(self, frame: FrameContext) -> list[Event]:
        self.frames.append(frame)
        return []


def test_injected_tracker_and_behaviour_see_filtered_tracked_zoned_frames() -> None:
    recorder = RecordingBehaviour()
    analyzer = CameraAnalyzer(
        "cam-1", make_scene(), CONFIG, tracker=PassthroughTracker(), behaviours=[recorder]
    )
    det = make_detections(
        [box_at(100, 300), box_at(100, 100), box_at(200, 300), box_at(300, 300)],
        labels=["person", "person", "person", "dog"],
        ids=[4, 5, -1, 6],  # -1: not yet confirmed by a tracker
    )
    analyzer.process(det, at(0))
    analyzer.process(det, at(2.5))
    f = recorder.frames[-1]
    assert f.detections.tracker_id.tolist() == [4, 5]
    assert f.zones["yard"].tolist() == [True, False]
    assert f.seconds == 2.5 and f.source == "cam-1" and f.labels == ["person", "person"]
    assert [p[0] for p in f.history[4].points] == [0.0, 2.5]
    assert analyzer.last_tracked.tracker_id.tolist() == [4, 5]


def test_rejects_naive_time_and_unknown_zone() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        build().process(Detections.empty(), datetime(2026, 1, 1))
    bad = AnalyticsConfig.model_validate({"behaviours": [{"type": "intrusion", "zone": "yrd"}]})
    with pytest.raises(ValueError, match="no zone 'yrd'"):
        build(bad)
    assert bad.reference_errors(["yard"], ["gate"]) == [
        "behaviours[0].zone: unknown zone 'yrd'; did you mean 'yard'?"
    ]


def test_disabled_behaviours_are_not_built() -> None:
    cfg = AnalyticsConfig.model_validate(
        {"behaviours": [{"type": "intrusion", "zone": "yard", "enabled": False}]}
    )
    assert build(cfg).behaviours == []
