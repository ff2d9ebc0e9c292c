"""Surges: seasonal Poisson baseline with shrinkage, start/end/cooldown, monitor, real 911 log."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from citysentinel.events import Event, EventKind, EventState
from citysentinel.events.payloads import TextSurgePayload
from citysentinel.text.surge import (
    ALL,
    SurgeDetector,
    SurgeKey,
    SurgeMonitor,
    SurgeSignal,
    tail_probability,
)
from citysentinel.text.surge_watch import SurgeWatcher, observe_reports, report_keys, surge_event

T0 = datetime(2024, 1, 1, tzinfo=UTC)  # a Monday
HOUR = timedelta(hours=1)


@pytest.mark.parametrize(
    ("observed", "expected", "dispersion", "low", "high"),
    [
        (0, 3.0, 1.0, 1.0, 1.0),  # nothing observed is never surprising
        (1, 0.0, 1.0, 0.0, 0.0),  # anything where nothing is expected is
        (3, 3.0, 1.0, 0.5, 0.6),  # P(X >= 3 | 3) = 0.577
        (10, 2.0, 1.0, 4e-5, 5e-5),  # P(X >= 10 | 2) = 4.6e-5
        (10, 2.0, 3.0, 1e-2, 0.1),  # over-dispersion widens the tail
    ],
)
def test_tail_probability(
    observed: int, expected: float, dispersion: float, low: float, high: float
) -> None:
    assert low <= tail_probability(observed, expected, dispersion) <= high


def daily_profile(hour: int) -> float:
    return 2.0 + 6.0 * (8 <= hour < 20)  # busy days, quiet nights


def run(det: SurgeDetector, counts: list[int]) -> list[tuple[int, SurgeSignal]]:
    out = []
    for i, c in enumerate(counts):
        s = det.update(T0 + i * HOUR, c)
        if s is not None:
            out.append((i, s))
    return out


def poisson_weeks(weeks: int, seed: int = 0) -> list[int]:
    rng = np.random.default_rng(seed)
    return [int(rng.poisson(daily_profile(h % 24))) for h in range(weeks * 168)]


def test_no_alarms_on_an_ordinary_seasonal_series() -> None:
    signals = run(SurgeDetector(), poisson_weeks(4))
    assert len([s for _, s in signals if s.state == "start"]) <= 1  # 672 bins at alpha 1e-3


def test_a_spike_starts_and_ends_a_surge() -> None:
    counts = poisson_weeks(2)
    at = len(counts) - 20
    counts[at] = counts[at + 1] = 40
    signals = run(SurgeDetector(), counts)
    assert [(i, s.state) for i, s in signals][-2:] == [(at, "start"), (at + 2, "end")]
    assert len(signals) <= 4  # at most one chance alarm in the first, shrunk, week
    start, end = signals[-2][1], signals[-1][1]
    assert start.observed == 40 and start.expected < 10 and start.score > 3
    assert end.observed == 80 and end.peak == 40 and end.window_s == 7200
    assert end.start == start.start == T0 + at * HOUR


def test_cooldown_and_min_count() -> None:
    counts = [0] * 200
    counts[100] = counts[103] = 30  # the second spike is inside the 3 h cooldown
    counts[150] = 4  # below min_count 5, however rare
    signals = run(SurgeDetector(cooldown_s=3 * 3600), counts)
    assert [(i, s.state) for i, s in signals] == [(100, "start"), (101, "end")]


def test_short_history_shrinks_to_the_overall_rate() -> None:
    det = SurgeDetector(prior_bins=4)
    for i in range(48):  # two days of 5 per hour: Monday and Tuesday only
        det.learn_one(T0 + i * HOUR, 5)
    saturday = T0 + timedelta(days=5, hours=10)
    assert det.expected(saturday) == pytest.approx(5.0)
    det.learn_one(saturday, 25)
    # One Saturday bin moves its own slot only part of the way (1 seen vs 4 pseudo-bins).
    assert 5.0 < det.expected(saturday) < 12.5
    assert det.expected(saturday + timedelta(days=7)) == det.expected(saturday)


def test_hour_of_week_slots_follow_the_site_clock_across_dst() -> None:
    """A 9 am local peak learned in winter is expected at 9 am local after clocks go forward."""
    from zoneinfo import ZoneInfo

    ny = ZoneInfo("America/New_York")
    det = SurgeDetector(tz=ny)
    start = datetime(2024, 2, 5, 5, tzinfo=UTC)  # Monday 00:00 EST; DST starts 2024-03-10
    for h in range(4 * 168):
        t = start + h * HOUR
        det.learn_one(t, 20 if t.astimezone(ny).hour == 9 else 1)
    monday_after = datetime(2024, 3, 11, tzinfo=ny)
    nine, ten = monday_after.replace(hour=9), monday_after.replace(hour=10)
    assert nine.astimezone(UTC).hour == 13  # EDT: 9 am is 13:00 UTC, not 14:00 as in winter
    # Shrinkage towards the overall rate keeps them a little inside 20 and 1.
    assert det.expected(nine) > 18 and det.expected(ten) < 1.5


def test_surge_bins_are_learned_clipped() -> None:
    det = SurgeDetector()
    run(det, [3] * 200 + [300])
    assert det.total < 3 * 200 + 30


def test_monitor_counts_zero_bins_late_and_new_series() -> None:
    mon = SurgeMonitor(warmup_bins=24)
    fire, flood = SurgeKey("fire", "north"), SurgeKey("flood", "north")
    assert mon.observe([(fire, T0), (fire, T0 + 5 * HOUR)]) == []
    assert mon.detectors[fire].n == 5  # bins 0-4 closed; 1-4 were empty
    mon.observe([(fire, T0)])
    assert mon.late == 1
    mon.observe([(flood, T0 + 5 * HOUR + timedelta(minutes=1))])
    assert mon.detectors[flood].n == 5  # a new series had zeros since the monitor started
    assert mon.advance(T0 + 7 * HOUR) == [] and mon.detectors[flood].n == 7


def test_a_burst_right_before_downtime_is_still_scored() -> None:
    """The bin open when the service went down holds real messages: scored, not dropped."""
    mon = SurgeMonitor(warmup_bins=24)
    fire = SurgeKey("fire")
    quiet = [(fire, T0 + h * HOUR) for h in range(48) for _ in range(2)]
    assert mon.observe(quiet) == []
    burst = [(fire, T0 + 48 * HOUR)] * 30
    back = [(fire, T0 + timedelta(weeks=5))]  # longer than MAX_GAP_BINS: downtime
    signals = mon.observe(burst + back)
    assert [(s.state, s.observed, s.start) for s in signals] == [("start", 30, T0 + 48 * HOUR)]
    assert mon.detectors[fire].n == 49  # the five weeks were not learned as zeros


def test_monitor_end_to_end_with_report_events() -> None:
    mon = SurgeMonitor(warmup_bins=24)
    events = []
    for h in range(100):
        n = 25 if h == 80 else 2
        events += [
            Event(kind="text.report", source="hotline", time=T0 + h * HOUR + timedelta(minutes=i),
                  payload={"category": "fire", "area": "north"})
            for i in range(n)
        ]  # fmt: skip
    signals = observe_reports(mon, events)
    starts = {(s.key.category, s.key.area) for s in signals if s.state == "start"}
    assert starts == {("fire", "north"), (ALL, "north")}
    other = Event(kind="video.fall", source="cam")
    assert report_keys(other) == []


@pytest.mark.parametrize(
    ("payload_area", "location", "area"),
    [
        ("north", {"zone": "dock", "address": "1 Main St"}, "north"),
        (None, {"zone": "dock", "address": "1 Main St"}, "dock"),
        (None, {"address": "1 Main St"}, "1 Main St"),
        (None, {}, None),
    ],
)
def test_surges_and_opinion_group_by_the_same_area(
    payload_area: str | None, location: dict[str, str], area: str | None
) -> None:
    from citysentinel.text.sentiment import aggregate_opinion

    e = Event(kind="text.report", source="f", time=T0, location=location,
              payload={"category": "fire", "area": payload_area})  # fmt: skip
    assert report_keys(e) == [SurgeKey("fire", area), SurgeKey(ALL, area)]
    assert [b.key for b in aggregate_opinion([e], 3600, "area")] == [area]


def test_surge_event_shape_and_stable_ids() -> None:
    signal = SurgeSignal(SurgeKey("fire", "north"), "start", T0, T0 + HOUR, 30, 4.2, 12.5, 3600, 30)
    event = surge_event(signal)
    assert event.kind == EventKind.TEXT_SURGE and event.state == EventState.START
    assert event.labels == ["fire"] and event.location.address == "north"
    assert isinstance(event.payload, TextSurgePayload)
    assert (event.payload.observed, event.payload.expected, event.payload.score) == (30, 4.2, 12.5)
    assert surge_event(signal).id == event.id
    end = SurgeSignal(SurgeKey("fire", "north"), "end", T0, T0 + 2 * HOUR, 50, 8, 20, 7200, 30)
    assert surge_event(end).id != event.id and surge_event(end).state == EventState.END
    total = surge_event(SurgeSignal(SurgeKey(ALL), "start", T0, T0, 9, 1, 5, 3600, 9))
    assert total.labels == [] and total.location.address is None


def test_watcher_skips_warmed_events_and_emits_through_ingest() -> None:
    def report(h: int, i: int) -> Event:
        when = T0 + h * HOUR + timedelta(minutes=i)
        return Event(
            kind="text.report", source="f", id=f"r{h}-{i}", time=when, payload={"category": "fire"}
        )

    history = [(n + 1, report(h, 0)) for n, h in enumerate(range(60))]
    stored: list[Event] = []

    async def ingest(events: object) -> None:
        stored.extend(events)  # type: ignore[arg-type]

    async def never() -> list[tuple[int, Event]]:
        await asyncio.sleep(3600)
        return []

    watcher = SurgeWatcher(SurgeMonitor(warmup_bins=24), ingest, never, lambda: history)
    assert watcher.warm(T0 + 60 * HOUR) == 60
    spike = [(100 + i, report(60, i)) for i in range(30)]
    assert watcher.step(history[-3:], T0 + 60 * HOUR) == []  # already counted in the warm-up
    events = watcher.step(spike, T0 + 61 * HOUR)
    assert [e.state for e in events] == [EventState.START, EventState.START]  # fire and '*'
    future = (200, report(90, 0))
    watcher.step([future], T0 + 62 * HOUR)
    assert watcher.future == 1

    async def emit() -> None:
        watcher._outbox.put_nowait(events)
        task = asyncio.create_task(watcher._emit())
        await asyncio.sleep(0.05)
        task.cancel()

    asyncio.run(emit())
    assert stored == events and watcher.emitted == 2


def test_startup_does_not_wait_for_warming_and_counts_each_event_once() -> None:
    """Reports stored while the baselines warm arrive on the bus too: each counts once."""
    import threading

    now = datetime.now(UTC)
    gate = threading.Event()

    def report(seq: int) -> tuple[int, Event]:
        event = Event(kind="text.report", source="f", id=f"r{seq}", time=now,
                      payload={"category": "fire"})  # fmt: skip
        return seq, event

    def history() -> Iterator[tuple[int, Event]]:
        yield from (report(s) for s in (1, 2, 3))
        gate.wait(10)  # storage is slow: the runtime must not wait for this
        yield from (report(s) for s in (4, 5))  # stored during the warm-up

    async def run() -> tuple[int, bool, bool]:
        bus: asyncio.Queue[list[tuple[int, Event]]] = asyncio.Queue()
        # A bin of 10^6 s: the test's few seconds stay in one bin.
        monitor = SurgeMonitor(bin_s=1e6, warmup_bins=0)
        watcher = SurgeWatcher(monitor, _no_ingest, bus.get, history)
        await watcher.start()
        started_before_warm = not watcher.warmed
        bus.put_nowait([report(4), report(5), report(6)])  # 4 and 5 are also in the history
        bus.put_nowait([report(7)])
        await asyncio.sleep(0.05)
        drained = bus.empty()  # read while warming, so the bus never blocks on the watcher
        gate.set()
        for _ in range(200):
            if watcher.warmed:
                break
            await asyncio.sleep(0.01)
        bus.put_nowait([report(8), report(3)])  # 3: replayed, arriving late on the bus
        await asyncio.sleep(0.05)
        await watcher.stop()
        return monitor._counts[SurgeKey("fire")], started_before_warm, drained

    count, started_before_warm, drained = asyncio.run(run())
    assert started_before_warm and drained
    assert count == 8  # reports 1..8, none twice


async def _no_ingest(events: object) -> None:
    raise AssertionError(f"nothing should surge: {events}")


def test_surges_on_the_real_911_log(data_dir: Path) -> None:
    """Replayed hour by hour, the county-wide traffic series surges on its busiest afternoon."""
    from citysentinel.eval.surges import evaluate_surges

    result = evaluate_surges(
        data_dir / "crisis" / "montgomery_911" / "911.csv",
        time_col="timeStamp",
        category_col="title",
        category_sep=":",
        tz="America/New_York",
        top=5,
    )
    assert result["calls"] > 9000 and result["late_rows"] == 0
    traffic = [s for s in result["top"] if s["category"] == "Traffic" and s["area"] is None]
    assert traffic and traffic[0]["start"].startswith("2015-12-23T17")
    assert traffic[0]["top_titles"][0][0].startswith("Traffic: VEHICLE ACCIDENT")
    busiest = result["busiest_days"]["Traffic"][0]
    assert busiest["day"] == "2015-12-23" and busiest["surge"] is True
    # Few surges overall: the county series are not alarming every day.
    assert sum(result["surges"].values()) <= 10


def test_live_feed_surge_opens_an_incident(tmp_path: Path) -> None:
    """Messages posted to an http feed -> text.surge start and end events -> a rule's incident."""
    import time

    from tests.conftest import make_runtime, make_site, start_live

    site = make_site(
        text_feeds=[{"id": "tips", "type": "http", "area": "north"}],
        text_surges={"bin_s": 60, "warmup_bins": 0, "min_count": 3, "tick_s": 0.1},
        rules=[
            {
                "id": "text-surge",
                "match": {"kind": "text.surge"},
                "incident": {
                    "category": "security",
                    "sub_category": "publicDisorder",
                    "severity": "medium",
                },
            }
        ],
    )
    server = start_live(make_runtime(f"sqlite:///{tmp_path / 'cs.sqlite'}", tmp_path, site))
    try:
        minute = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=3)
        batch = [{"text": f"smoke report {i}", "time": (minute + i * timedelta(seconds=5))
                  .isoformat()} for i in range(5)]  # fmt: skip
        with server.client(server.key("operator")) as c:
            assert c.post("/api/v1/text/tips/messages", json={"messages": batch}).status_code == 202
            deadline, states = time.monotonic() + 10, list[str]()
            while time.monotonic() < deadline and len(states) < 2:
                time.sleep(0.1)
                page = c.get("/api/v1/events", params={"kind": "text.surge"}).json()
                items = [i["event"] for i in page["items"]]
                states = sorted(e["state"] for e in items)
            server.drain()
            incidents = c.get("/api/v1/incidents", params={"source": "text-surge"}).json()["items"]
        assert states == ["end", "start"]
        surge = next(e for e in items if e["state"] == "start")
        assert surge["payload"]["observed"] == 5 and surge["payload"]["area"] == "north"
        assert len(incidents) == 1
    finally:
        server.stop()
