"""Behaviour timing and counting on synthetic tracks: each fed frame by frame through a harness."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

import pytest

from citysentinel.events import Event, EventKind
from citysentinel.events.payloads import (
    CrowdingPayload,
    LineCrossingPayload,
    SpeedPayload,
    TrackedObjectPayload,
)
from citysentinel.vision.analytics_config import (
    CrowdingConfig,
    IntrusionConfig,
    LineCrossingConfig,
    LoiteringConfig,
    SpeedConfig,
    StationaryConfig,
)
from citysentinel.vision.behaviours import (
    Crowding,
    Intrusion,
    LineCrossing,
    Loitering,
    Speed,
    Stationary,
)
from citysentinel.vision.geometry import GroundPlane
from tests.vision.factories import SIZE, Harness, Obj, line, make_scene

UTC = ZoneInfo("UTC")
IN_YARD, OUT_OF_YARD = (100.0, 300.0), (100.0, 100.0)  # the yard is the bottom half
Seq = list[tuple[float, list[Obj]]]


def states(events: list[tuple[float, Event]]) -> list[tuple[float, str]]:
    return [(s, e.state.value) for s, e in events]


def person(tid: int, xy: tuple[float, float], label: str = "person") -> Obj:
    return (tid, xy[0], xy[1], label)


# -- loitering ------------------------------------------------------------


@pytest.mark.parametrize("dwell_s", [5.0, 10.0, 30.0])
def test_loitering_starts_at_dwell_and_ends_after_exit(dwell_s: float) -> None:
    b = Loitering(
        LoiteringConfig(type="loitering", zone="yard", dwell_s=dwell_s, update_interval_s=1000)
    )
    stay = int(dwell_s) + 10
    frames: Seq = [(float(s), [person(1, IN_YARD)]) for s in range(stay)]
    frames += [(float(s), [person(1, OUT_OF_YARD)]) for s in range(stay, stay + 5)]
    events = Harness(b).run(frames)
    # Last in the yard at stay-1; gone for more than grace_s (2 s) at stay+2.
    assert states(events) == [(dwell_s, "start"), (stay + 2.0, "end")]
    start = events[0][1]
    assert start.kind is EventKind.VIDEO_LOITERING and start.zone == "yard"
    assert isinstance(start.payload, TrackedObjectPayload)
    assert start.payload.dwell_s == dwell_s and start.payload.track_id == 1
    assert start.labels == ["person"] and start.source == "cam-test"


def test_loitering_updates_while_staying_and_tolerates_a_short_absence() -> None:
    b = Loitering(LoiteringConfig(type="loitering", zone="yard", dwell_s=10, update_interval_s=5))
    frames: Seq = [(float(s), [person(1, IN_YARD)]) for s in range(22)]
    frames[3] = (3.0, [])  # missed for one frame: dwell keeps counting from 0
    events = Harness(b).run(frames)
    assert states(events) == [(10.0, "start"), (15.0, "update"), (20.0, "update")]


def test_loitering_resets_after_a_long_absence_and_ignores_other_classes() -> None:
    b = Loitering(LoiteringConfig(type="loitering", zone="yard", dwell_s=10))
    frames: Seq = [(float(s), [person(1, IN_YARD), person(2, IN_YARD, "car")]) for s in range(8)]
    frames += [(float(s), []) for s in range(8, 12)]
    frames += [(float(s), [person(1, IN_YARD)]) for s in range(12, 21)]
    assert Harness(b).run(frames) == []  # 8 s, a gap, then 9 s: never 10 s in a row


# -- intrusion ------------------------------------------------------------

NOON_WINDOW = [{"start": "12:00", "end": "12:01"}]  # the harness starts at 12:00 UTC, Wednesday


@pytest.mark.parametrize(
    ("schedule", "tz", "enter_s", "starts"),
    [
        ([], "UTC", 30.0, True),  # no schedule: always
        (NOON_WINDOW, "UTC", 30.0, True),
        (NOON_WINDOW, "UTC", 90.0, False),  # after the window closed
        ([{"start": "20:00", "end": "20:01"}], "Asia/Shanghai", 30.0, True),  # 12:00 UTC
        ([{"start": "12:00", "end": "12:01"}], "Asia/Shanghai", 30.0, False),
        ([{"days": ["sat", "sun"], "start": "00:00", "end": "23:59"}], "UTC", 30.0, False),
        ([{"start": "11:00", "end": "10:00"}], "UTC", 30.0, True),  # over midnight
    ],
)
def test_intrusion_respects_schedule(
    schedule: list[dict[str, Any]], tz: str, enter_s: float, starts: bool
) -> None:
    cfg = IntrusionConfig.model_validate(
        {"type": "intrusion", "zone": "yard", "schedule": schedule}
    )
    b = Intrusion(cfg, ZoneInfo(tz))
    frames: Seq = [(enter_s - 1, [person(1, OUT_OF_YARD)]), (enter_s, [person(1, IN_YARD)])]
    events = Harness(b).run(frames)
    assert states(events) == ([(enter_s, "start")] if starts else [])


def test_intrusion_ends_on_exit_or_loss_and_watches_only_its_classes() -> None:
    b = Intrusion(IntrusionConfig(type="intrusion", zone="yard", grace_s=1.0), UTC)
    frames: Seq = [
        (0.0, [person(1, OUT_OF_YARD), person(2, IN_YARD, "car")]),
        (1.0, [person(1, IN_YARD), person(3, IN_YARD)]),
        (2.0, [person(1, OUT_OF_YARD), person(3, IN_YARD)]),
        (2.5, [person(1, OUT_OF_YARD), person(3, IN_YARD)]),
        (3.0, [person(1, OUT_OF_YARD)]),  # 3 lost from here
        (3.5, []),
        (4.0, []),
    ]
    events = Harness(b).run(frames)
    got = [(s, e.state.value, e.payload.track_id) for s, e in events]  # type: ignore[attr-defined]
    assert got == [(1.0, "start", 1), (1.0, "start", 3), (2.5, "end", 1), (4.0, "end", 3)]
    assert all(e.kind is EventKind.VIDEO_INTRUSION for _, e in events)


# -- line crossing ----------------------------------------------------------


def walk(tid: int, ys: list[float], x: float = 320.0, label: str = "person") -> Seq:
    return [(float(i), [(tid, x, y, label)]) for i, y in enumerate(ys)]


def crossing_counts(
    events: list[tuple[float, Event]], b: LineCrossing
) -> tuple[int, int, list[str]]:
    directions = [e.payload.direction for _, e in events]  # type: ignore[attr-defined]
    buckets = b.buckets()
    return sum(x.total_in for x in buckets), sum(x.total_out for x in buckets), directions


# The gate is horizontal at y = 240; 'in' is upwards. Re-arm distance: 2 % of 800 px = 16 px.
@pytest.mark.parametrize(
    ("ys", "expected"),
    [
        ([300, 280, 260, 220, 200, 180], (1, 0, ["in"])),
        ([180, 220, 260, 300], (0, 1, ["out"])),
        ([300, 260, 250, 245], (0, 0, [])),  # approaches, never crosses
        ([260, 236, 244, 236, 244, 236, 200, 150], (1, 0, ["in"])),  # jitter on the line
        ([260, 236, 244, 236, 244, 300], (1, 1, ["in", "out"])),  # jitter, then goes back
        ([300, 200, 300], (1, 1, ["in", "out"])),  # a real return counts
        ([300, 200, 300, 200], (2, 1, ["in", "out", "in"])),
        ([300, 240, 240, 200], (1, 0, ["in"])),  # stands exactly on the line on the way
    ],
)
def test_line_crossing_direction_and_debounce(
    ys: list[float], expected: tuple[int, int, list[str]]
) -> None:
    b = LineCrossing(
        LineCrossingConfig(type="line_crossing", line="gate"),
        make_scene().lines["gate"],
        diagonal=800.0,
    )
    assert crossing_counts(Harness(b).run(walk(1, ys)), b) == expected


def test_line_crossing_outside_the_segment_does_not_count() -> None:
    short = line("short", (0.25, 0.5), (0.75, 0.5))  # x 160..480
    scene = make_scene(lines=[short])
    b = LineCrossing(LineCrossingConfig(type="line_crossing", line="short"), scene.lines["short"])
    events = Harness(b, scene).run(merge(walk(1, [300, 200], x=50), walk(2, [300, 200], x=300)))
    assert [e.payload.track_id for _, e in events] == [2]  # type: ignore[attr-defined]


def test_line_counts_per_class_bucket_and_alerts() -> None:
    b = LineCrossing(
        LineCrossingConfig(type="line_crossing", line="gate", bucket_s=60, alert_on=["in"]),
        make_scene().lines["gate"],
    )
    h = Harness(b)
    events = h.run(merge(walk(1, [300, 200]), walk(2, [300, 200], label="car")))
    events += h.run([(10.0, [(3, 320, 200, "car")]), (11.0, [(3, 320, 300, "car")])])  # out
    events += h.run([(70.0, [(4, 320, 300)]), (71.0, [(4, 320, 200)])])  # next bucket
    assert [(s, e.labels[0]) for s, e in events] == [
        (1.0, "person"),
        (1.0, "car"),
        (71.0, "person"),
    ]
    payloads = [e.payload for _, e in events]
    assert all(isinstance(p, LineCrossingPayload) and p.line == "gate" for p in payloads)
    assert [(p.count_in, p.count_out) for p in payloads] == [(1, 0), (2, 0), (1, 0)]  # type: ignore[attr-defined]
    first, second = b.buckets()
    assert first.by_label == {"person": [1, 0], "car": [1, 1]}
    assert second.by_label == {"person": [1, 0]}
    assert (second.start - first.start).total_seconds() == 60


def test_line_crossing_keeps_only_the_last_buckets() -> None:
    b = LineCrossing(
        LineCrossingConfig(type="line_crossing", line="gate", bucket_s=1, keep_buckets=3),
        make_scene().lines["gate"],
    )
    h = Harness(b)
    for i in range(6):
        h.run([(i * 2.0, [(i, 320, 300)]), (i * 2.0 + 0.5, [(i, 320, 200)])])
    assert len(b.buckets()) == 3


# -- crowding -------------------------------------------------------------


def crowd(n: int) -> list[Obj]:
    return [person(i, (40.0 + 50 * i, 300.0)) for i in range(n)]


@pytest.mark.parametrize(
    ("clear_ratio", "counts", "expected"),
    [
        # start after 5 s at >= 3; a dip to 2 (< 3 x 0.67) must last 3 s to end it
        (0.67, [3, 3, 3, 3, 3, 3, 2, 3, 2, 2, 2, 2, 2], [(5.0, "start"), (11.0, "end")]),
        # with clear_ratio 0.5 only <= 1 clears: 2 keeps it going (hysteresis)
        (0.5, [3, 3, 3, 3, 3, 3, 2, 2, 2, 2, 2, 1, 1, 1, 1], [(5.0, "start"), (14.0, "end")]),
        (0.67, [3, 3, 3, 3, 2, 3, 3, 3, 3, 3, 3], [(10.0, "start")]),  # a dip restarts the clock
        (0.67, [2, 2, 2, 2, 2, 2, 2, 2], []),
    ],
)
def test_crowding_hysteresis(
    clear_ratio: float, counts: list[int], expected: list[tuple[float, str]]
) -> None:
    cfg = CrowdingConfig(
        type="crowding",
        zone="yard",
        min_count=3,
        min_duration_s=5,
        clear_ratio=clear_ratio,
        clear_s=3,
        update_interval_s=1000,
    )
    frames: Seq = [(float(s), crowd(n)) for s, n in enumerate(counts)]
    assert states(Harness(Crowding(cfg)).run(frames)) == expected


def test_crowding_density_outside_zone_and_updates() -> None:
    cfg = CrowdingConfig(
        type="crowding",
        zone="yard",
        density_per_m2=0.5,
        zone_area_m2=4.0,
        min_duration_s=0,
        update_interval_s=2,
    )
    outside = [person(100 + i, (40.0 + 50 * i, 100.0)) for i in range(5)]
    frames: Seq = [
        (0.0, outside + crowd(1)),
        (1.0, outside + crowd(2)),
        (2.0, crowd(2)),
        (3.0, crowd(3)),
    ]
    events = Harness(Crowding(cfg)).run(frames)
    assert states(events) == [(1.0, "start"), (3.0, "update")]
    p = events[1][1].payload
    assert isinstance(p, CrowdingPayload) and p.count == 3 and p.density_per_m2 == 0.75


# -- stationary -----------------------------------------------------------


def test_stationary_vehicle_starts_then_ends_when_it_moves_or_vanishes() -> None:
    cfg = StationaryConfig(type="stationary", min_stationary_s=60, max_movement=0.01, grace_s=2)
    b = Stationary(cfg, diagonal=800.0)  # may wander 8 px
    jitter = [0, 3, -3, 2, -2]
    frames: Seq = [
        (
            float(s),
            [(1, 300 + jitter[s % 5], 400, "car"), (2, 100 + s * 2, 400, "car"), (3, 500, 400)],
        )
        for s in range(0, 80, 2)
    ]
    frames.append((80.0, [(1, 360, 400, "car")]))  # drives off: 60 px
    frames += [(float(s), [(1, 360, 400, "car")]) for s in range(82, 150, 2)]
    frames += [(150.0, []), (153.0, [])]  # and is gone
    events = Harness(b).run(frames)
    got = [(s, e.state.value, e.payload.track_id) for s, e in events]  # type: ignore[attr-defined]
    assert got == [(60.0, "start", 1), (80.0, "end", 1), (140.0, "start", 1), (153.0, "end", 1)]
    assert events[0][1].payload.dwell_s == 60.0  # type: ignore[attr-defined]


# -- speed ----------------------------------------------------------------

# A road narrowing towards the top, 10 m wide and 40 m long: 64 px/m at the bottom, 12.8 at the top.
ROAD = {
    "image": [(0.4, 0.2), (0.6, 0.2), (1.0, 1.0), (0.0, 1.0)],
    "ground": [(0.0, 40.0), (10.0, 40.0), (10.0, 0.0), (0.0, 0.0)],
}


def drive(tid: int, x0: float, y: float, px_s: float, until: float, label: str = "car") -> Seq:
    return [(i / 10, [(tid, x0 + px_s * i / 10, y, label)]) for i in range(int(until * 10) + 1)]


def merge(*seqs: Seq) -> Seq:
    out: dict[float, list[Obj]] = {}
    for seq in seqs:
        for s, objs in seq:
            out.setdefault(s, []).extend(objs)
    return sorted(out.items())


def test_speed_in_metres_per_second_through_the_homography() -> None:
    cfg = SpeedConfig.model_validate({"type": "speed", "limit": 3.0, "homography": ROAD})
    b = Speed(cfg, GroundPlane(ROAD["image"], ROAD["ground"], SIZE))
    # The same 80 px/s is 6.25 m/s far away and 1.25 m/s close by.
    far, near = drive(1, 260, 96, 80, 1.5), drive(2, 100, 480, 80, 1.5)
    events = Harness(b).run(merge(far, near))
    assert [(s, e.state.value, e.payload.track_id) for s, e in events] == [(0.5, "start", 1)]  # type: ignore[attr-defined]
    p = events[0][1].payload
    assert isinstance(p, SpeedPayload) and p.limit_mps == 3.0
    assert p.speed_mps == pytest.approx(6.25, rel=0.02) and p.speed_px_s == pytest.approx(80)


def test_speed_in_pixels_ends_after_slowing_down() -> None:
    b = Speed(SpeedConfig(type="speed", unit="px_s", limit=150, window_s=1.0, grace_s=1.0))
    fast = drive(1, 0, 300, 200, 2.0)
    stopped: Seq = [(2.0 + i / 10, [(1, 400.0, 300.0, "car")]) for i in range(1, 40)]
    slow = drive(2, 0, 400, 100, 3.0)
    events = Harness(b).run(merge(fast + stopped, slow))
    got = [(s, e.state.value, e.payload.track_id) for s, e in events]  # type: ignore[attr-defined]
    # Over the limit once half a window is seen; under it once the 1 s window has slowed
    # below 150 px/s (at 2.3 s), then 1 s of grace.
    assert got[0] == (0.5, "start", 1)
    assert [g[1:] for g in got] == [("start", 1), ("end", 1)]
    assert 3.2 <= got[1][0] <= 3.5


def test_speed_needs_a_ground_plane_for_metres() -> None:
    cfg = SpeedConfig.model_validate({"type": "speed", "limit": 3.0, "homography": ROAD})
    with pytest.raises(ValueError, match="ground plane"):
        Speed(cfg)
