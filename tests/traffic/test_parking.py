"""Parking: gate-count occupancy with drift, the free-space forecast, config checks, the API."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from citysentinel.api.routers.parking import _lot
from citysentinel.config import ConfigError, parse_config
from citysentinel.traffic import SensorSeries
from citysentinel.traffic.forecasting import LastValue
from citysentinel.traffic.parking import (
    GRID_S,
    Crossing,
    LineCounts,
    ParkingLotConfig,
    ZoneCounts,
    forecast_free,
    occupancy_grid,
    occupancy_track,
)
from citysentinel.traffic.readings import bucket
from citysentinel.vision.analyzer import CameraStats
from tests.conftest import SITE, LiveServer, make_runtime, make_site, start_live

T0 = datetime(2026, 1, 5, 4, tzinfo=UTC)  # a Monday, at the default 04:00 reset


def lot(capacity: int = 3, initial: int = 0) -> ParkingLotConfig:
    counts = LineCounts(type="lines", camera="cam", lines=["gate"])
    return ParkingLotConfig(id="p", capacity=capacity, counts=counts, initial_occupied=initial)


def cross(minutes: float, entering: bool) -> Crossing:
    return Crossing(T0 + timedelta(minutes=minutes), entering)


@pytest.mark.parametrize(
    ("crossings", "values", "drift"),
    [
        ([cross(1, True), cross(2, True), cross(3, False)], [1, 2, 1], 0),
        ([cross(1, False), cross(2, True)], [0, 1], 1),  # a missed entry: clamped at 0
        ([cross(m, True) for m in range(5)], [1, 2, 3, 3, 3], 2),  # past capacity
        ([cross(2, True), cross(1, True)], [1, 2], 0),  # out of order: sorted
        ([cross(-5, True), cross(1, True)], [1], 0),  # before `since`: not counted
        ([cross(1, True), cross(60 * 24 + 1, True)], [1, 1], 0),  # the next day's reset
    ],
)
def test_occupancy_track(crossings: list[Crossing], values: list[int], drift: int) -> None:
    track = occupancy_track(crossings, lot(), since=T0)
    assert (track.values, track.drift) == (values, drift)


def test_initial_occupancy_counts_from_the_reset() -> None:
    track = occupancy_track([cross(1, False)], lot(initial=2), since=T0)
    assert track.values == [1]


def test_grid_holds_the_last_value() -> None:
    times = [T0 + timedelta(minutes=20), T0 + timedelta(minutes=50)]
    grid = occupancy_grid(times, [5.0, 7.0], T0, T0 + timedelta(hours=1), initial=1.0)
    assert grid.step_s == GRID_S and grid.values[:, 0].tolist() == [1.0, 1.0, 5.0, 5.0, 7.0]


def test_forecast_follows_the_daily_pattern_and_stays_within_capacity() -> None:
    # Two weeks of a lot that fills from 08:00 to 18:00 (90 of 100), nearly empty otherwise.
    steps = np.arange(96 * 14)
    busy = ((steps % 96) >= 32) & ((steps % 96) < 72)
    rng = np.random.default_rng(0)
    values = np.where(busy, 90.0, 5.0) + rng.normal(0, 2, steps.size)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    series = SensorSeries(values[:, None], ("occupied",), start, GRID_S)
    cut = 96 * 13 + 28  # 07:00 on the last day: the forecast crosses 08:00
    free = [f.free for f in forecast_free(series.slice(0, cut), 100)]
    assert len(free) == 12 and all(0 <= f <= 100 for f in free)
    assert free[0] > 80 and free[-1] < 20  # empty at 07:15, full by 10:00
    flat = [f.free for f in forecast_free(series.slice(0, cut), 100, LastValue())]
    assert len(set(flat)) == 1
    over = SensorSeries(np.full((20, 1), 150.0), ("occupied",), start, GRID_S)
    assert {f.free for f in forecast_free(over, 100)} == {0}


@pytest.mark.parametrize(
    ("lots", "message"),
    [
        (
            [{"id": "p", "capacity": 5, "counts": {"type": "sensor", "sensor": "nope"}}],
            "unknown sensor 'nope'",
        ),
        (
            [
                {
                    "id": "p",
                    "capacity": 5,
                    "counts": {"type": "lines", "camera": "x", "lines": ["g"]},
                }
            ],
            "unknown camera 'x'",
        ),
        (
            [
                {
                    "id": "p",
                    "capacity": 5,
                    "counts": {"type": "lines", "camera": "cam-gate", "lines": ["g"]},
                }
            ],
            "has no line 'g'",
        ),
        (
            [
                {
                    "id": "p",
                    "capacity": 5,
                    "counts": {"type": "zone", "camera": "cam-gate", "zone": "bays"},
                }
            ],
            "has no zone 'bays'",
        ),
        (
            [
                {
                    "id": "p",
                    "capacity": 5,
                    "reset_at": "4am",
                    "counts": {"type": "sensor", "sensor": "bays"},
                }
            ],
            "reset_at must be HH:MM",
        ),
    ],
)
def test_config_references_are_checked(lots: list[dict[str, Any]], message: str) -> None:
    import yaml

    doc = {**SITE, "sensors": [{"id": "bays", "kind": "occupancy"}], "parking_lots": lots}
    with pytest.raises(ConfigError, match=message):
        parse_config(yaml.safe_dump(doc), env={})


class FakeCamera:
    """A running camera as the API sees it: its live zone counts."""

    camera_id = "cam"

    def __init__(self, zones: dict[str, dict[str, int]]) -> None:
        self.zones = zones

    def status(self) -> dict[str, Any]:
        return {"stats": CameraStats(frames=1, tracks=0, zones=self.zones, lines={})}

    def frame_jpeg(self, overlays: bool = True) -> bytes | None:
        return None


@pytest.mark.parametrize(
    ("cameras", "occupied", "message"),
    [
        ({"cam": FakeCamera({"bays": {"car": 12, "person": 3, "bus": 1}})}, 13, None),
        ({"cam": FakeCamera({})}, None, "reports no zone 'bays'"),
        ({}, None, "is not running"),
    ],
)
def test_zone_counted_lot(
    cameras: dict[str, Any], occupied: int | None, message: str | None
) -> None:
    counts = ZoneCounts(type="zone", camera="cam", zone="bays")
    config = ParkingLotConfig(id="z", capacity=20, counts=counts)
    status = _lot(config, None, None, cameras, datetime(2026, 1, 5, 12, tzinfo=UTC))  # type: ignore[arg-type]
    assert status.occupied == occupied and status.source == "zone"
    assert status.message is None if message is None else message in (status.message or "")
    if occupied is not None:
        assert status.free == 20 - occupied and {f.free for f in status.forecast} == {7}


# --- the endpoint, on a live server: a gate-counted lot and a sensor-counted lot ---


@pytest.fixture
def server(database_url: str, tmp_path: Path) -> Iterator[LiveServer]:
    reset = (datetime.now(UTC) - timedelta(hours=2)).strftime("%H:%M")
    camera = {
        "id": "cam-lot",
        "url": "/dev/null",
        "lines": [{"name": "gate", "points": [[0, 0.5], [1, 0.5]]}],
    }
    lots = [
        {
            "id": "north",
            "capacity": 40,
            "initial_occupied": 10,
            "reset_at": reset,
            "location": {"coordinates": [-0.16, 51.48]},
            "counts": {"type": "lines", "camera": "cam-lot", "lines": ["gate"]},
        },
        {
            "id": "south",
            "capacity": 100,
            "counts": {"type": "sensor", "sensor": "bays", "measures": "free"},
        },
    ]
    site = make_site(
        cameras=[*SITE["cameras"], camera],
        sensors=[{"id": "bays", "kind": "occupancy", "unit": "spaces"}],
        traffic={"refresh_interval_s": 3600},
        parking_lots=lots,
    )
    live = start_live(make_runtime(database_url, tmp_path, site))
    try:
        yield live
    finally:
        live.stop()


def crossing_event(direction: str, minutes_ago: float, label: str = "car") -> dict[str, Any]:
    return {
        "kind": "video.line_crossing",
        "source": "cam-lot",
        "time": (datetime.now(UTC) - timedelta(minutes=minutes_ago)).isoformat(),
        "location": {"zone": "gate"},
        "labels": [label],
        "payload": {"line": "gate", "direction": direction, "label": label},
    }


def test_parking_endpoint(server: LiveServer) -> None:
    events = [
        crossing_event("in", 30),
        crossing_event("in", 20),
        crossing_event("in", 15, label="person"),  # not a vehicle
        crossing_event("out", 10),
        crossing_event("in", 60 * 5),  # before today's reset
    ]
    step = (bucket(datetime.now(UTC), 300) - timedelta(minutes=5)).isoformat()
    with server.client(server.key("operator")) as op, server.client(server.key("viewer")) as c:
        r = op.post("/api/v1/events/batch", json={"events": events})
        assert r.status_code in (200, 202), r.text
        reading = [{"sensor": "bays", "time": step, "value": 35}]
        assert op.post("/api/v1/traffic/readings", json=reading).status_code == 200
        server.drain()
        lots = {lot["id"]: lot for lot in c.get("/api/v1/parking").json()}
        north, south = lots["north"], lots["south"]
        assert (north["occupied"], north["free"], north["drift"]) == (11, 29, 0)
        assert north["source"] == "lines" and north["lon"] == -0.16
        assert len(north["forecast"]) == 12
        assert all(0 <= f["free"] <= 40 for f in north["forecast"])
        assert (south["occupied"], south["free"], south["occupancy"]) == (65, 35, 0.65)
        assert c.get("/api/v1/parking/south").json()["free"] == 35
        assert c.get("/api/v1/parking/nope").status_code == 404


def test_too_many_crossings_still_count_today(
    server: LiveServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Cut at the cap, the history would stop at yesterday; today's crossings are re-read."""
    from citysentinel.api.routers import parking

    monkeypatch.setattr(parking, "MAX_CROSSINGS", 4)
    yesterday = [crossing_event("in", 60 * 24 + m) for m in range(5)]
    today = [crossing_event("in", 30), crossing_event("in", 20), crossing_event("out", 10)]
    with server.client(server.key("operator")) as op, server.client(server.key("viewer")) as c:
        r = op.post("/api/v1/events/batch", json={"events": yesterday + today})
        assert r.status_code in (200, 202), r.text
        server.drain()
        north = c.get("/api/v1/parking/north").json()
    assert (north["occupied"], north["drift"]) == (11, 0)  # 10 at the reset, +2 -1 since
    assert "today's only" in north["message"]
