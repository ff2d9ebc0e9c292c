"""Webster signal timing: a textbook example, bounds, oversaturation, and the API endpoint."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from citysentinel.traffic.readings import bucket
from citysentinel.traffic.signals import (
    ApproachConfig,
    IntersectionConfig,
    PhaseConfig,
    SignalError,
    flow_per_hour,
    webster_plan,
)
from tests.conftest import SITE, LiveServer, make_runtime, make_site, start_live


def two_phase(**kw: Any) -> IntersectionConfig:
    """Phase A: approaches n and s; phase B: e and w; 1600 pcu/h each."""
    phases = [
        PhaseConfig(
            name=name,
            approaches=[ApproachConfig(id=a, saturation_flow=1600.0) for a in pair],
        )
        for name, pair in (("A", ("n", "s")), ("B", ("e", "w")))
    ]
    return IntersectionConfig(id="x1", phases=phases, **kw)


def test_textbook_two_phase_example() -> None:
    # Khanna & Justo, Highway Engineering (Webster's method), also a GATE civil question:
    # normal flows 500 and 300 pcu/h on two approach roads, saturation flow 1600 pcu/h each,
    # total lost time 16 s per cycle -> y = 0.3125 + 0.1875 = 0.5, C0 = (1.5*16+5)/(1-0.5) = 58 s.
    plan = webster_plan(two_phase(lost_time_s=16), {"n": 500, "s": 420, "e": 300, "w": 120})
    assert plan.status == "ok"
    assert plan.flow_ratio_sum == 0.5
    assert plan.webster_cycle_s == 58.0 and plan.cycle_s == 58.0
    # green = (C - L) y_i / Y: 42 * 0.625 and 42 * 0.375
    assert [(p.critical_approach, p.green_s) for p in plan.phases] == [("n", 26.25), ("e", 15.75)]
    assert [p.degree_of_saturation for p in plan.phases] == [0.69, 0.69]


@pytest.mark.parametrize(
    ("flows", "status", "cycle", "webster"),
    [
        # default L = 4 s x 2 phases = 8 s, so C0 = 17 / (1 - Y)
        ({"n": 100, "s": 0, "e": 100, "w": 0}, "ok", 30.0, 19.43),  # Y = 0.125: up to min
        ({"n": 750, "s": 0, "e": 700, "w": 0}, "capped", 120.0, 181.33),  # Y = 0.90625
        ({"n": 0, "s": 0, "e": 0, "w": 0}, "no_flow", 30.0, 17.0),
        ({"n": 900, "s": 0, "e": 800, "w": 0}, "oversaturated", 120.0, None),  # Y = 1.0625
        ({"n": 800, "s": 0, "e": 800, "w": 0}, "oversaturated", 120.0, None),  # Y = 1 exactly
    ],
)
def test_bounds_and_oversaturation(
    flows: dict[str, float], status: str, cycle: float, webster: float | None
) -> None:
    plan = webster_plan(two_phase(), flows)
    assert (plan.status, plan.cycle_s, plan.webster_cycle_s) == (status, cycle, webster)
    assert sum(p.green_s for p in plan.phases) == pytest.approx(cycle - plan.lost_time_s)
    if status == "oversaturated":
        assert "exceeds capacity" in plan.message
        assert plan.phases[0].green_s >= plan.phases[1].green_s  # split still follows demand


@pytest.mark.parametrize(
    ("flows", "message"),
    [
        ({"n": 100, "s": 0, "e": 100, "w": 0}, "Webster cycle 19.4 s, raised to the 30 s minimum"),
        ({"n": 750, "s": 0, "e": 700, "w": 0}, "Webster cycle 181.3 s, capped at 120 s"),
        ({"n": 400, "s": 0, "e": 400, "w": 0}, "Webster cycle 34.0 s"),
    ],
)
def test_the_message_says_how_the_cycle_was_bounded(flows: dict[str, float], message: str) -> None:
    assert webster_plan(two_phase(), flows).message == message


@pytest.mark.parametrize(
    ("value", "unit", "per_hour"),
    [(540, "veh/h", 540.0), (25, "veh/5min", 300.0), (9, "VEH/MIN", 540.0), (100, "vph", 100.0)],
)
def test_flow_sensor_units_become_vehicles_per_hour(
    value: float, unit: str, per_hour: float
) -> None:
    assert flow_per_hour(value, unit) == per_hour


def test_a_speed_unit_is_not_a_flow() -> None:
    with pytest.raises(SignalError, match="'mph' is not a flow"):
        flow_per_hour(30, "mph")


@pytest.mark.parametrize(
    ("flows", "message"),
    [
        ({"n": 1, "s": 1, "e": 1}, r"no flow for approach\(es\) \['w'\]"),
        ({"n": 1, "s": 1, "e": 1, "w": -3}, "non-negative"),
        ({"n": 1, "s": 1, "e": 1, "w": float("nan")}, "non-negative"),
    ],
)
def test_bad_flows_are_clear_errors(flows: dict[str, float], message: str) -> None:
    with pytest.raises(SignalError, match=message):
        webster_plan(two_phase(), flows)


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"min_cycle_s": 90, "max_cycle_s": 60}, "exceeds max_cycle_s"),
        ({"lost_time_s": 40}, "leaves no green"),
    ],
)
def test_bad_intersections_are_refused(kw: dict[str, float], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        two_phase(**kw)


# --- the endpoint, on a live server with flow sensors and the readings store ---

# q-e counts per 5 minutes: its readings are scaled to vehicles per hour; q-s reads in mph.
SENSORS = [
    {"id": "q-n", "kind": "flow", "unit": "veh/h"},
    {"id": "q-s", "kind": "flow", "unit": "mph"},
    {"id": "q-e", "kind": "flow", "unit": "veh/5min"},
    {"id": "q-w", "kind": "flow", "unit": "veh/h"},
]
INTERSECTION = {
    "id": "main-5th",
    "name": "Main St / 5th Ave",
    "lost_time_s": 16,
    "phases": [
        {
            "name": "north-south",
            "approaches": [
                {"id": "n", "saturation_flow": 1600, "sensor": "q-n"},
                {"id": "s", "saturation_flow": 1600, "sensor": "q-s"},
            ],
        },
        {
            "name": "east-west",
            "approaches": [
                {"id": "e", "saturation_flow": 1600, "sensor": "q-e"},
                {"id": "w", "saturation_flow": 1600},
            ],
        },
    ],
}


@pytest.fixture
def server(database_url: str, tmp_path: Path) -> Iterator[LiveServer]:
    site = make_site(
        sensors=SENSORS,
        intersections=[INTERSECTION],
        traffic={"refresh_interval_s": 3600},
        external_sources=SITE["external_sources"],
    )
    live = start_live(make_runtime(database_url, tmp_path, site))
    try:
        yield live
    finally:
        live.stop()


def test_recommendation_endpoint(server: LiveServer) -> None:
    step = (bucket(datetime.now(UTC), 300) - timedelta(minutes=5)).isoformat()
    with server.client(server.key("operator")) as op, server.client(server.key("viewer")) as c:
        flows = [("n", 500), ("e", 25)]  # e: 25 per 5 minutes = 300 per hour
        readings = [{"sensor": f"q-{a}", "time": step, "value": v} for a, v in flows]
        assert op.post("/api/v1/traffic/readings", json=readings).status_code == 200
        listed = c.get("/api/v1/signals").json()
        assert [x["id"] for x in listed] == ["main-5th"] and listed[0]["lost_time_s"] == 16
        # n and e from their sensors' latest readings, s and w from the query
        r = c.get("/api/v1/signals/main-5th/recommendation", params={"flow": ["s:420", "w:120"]})
        assert r.status_code == 200, r.text
        body = r.json()
        assert (body["status"], body["webster_cycle_s"]) == ("ok", 58.0)
        sources = {f["approach"]: (f["source"], f["flow"]) for f in body["flows"]}
        assert sources == {
            "s": ("query", 420),
            "w": ("query", 120),
            "n": ("sensor:q-n", 500),
            "e": ("sensor:q-e", 300),
        }
        over = c.get(
            "/api/v1/signals/main-5th/recommendation",
            params={"flow": ["n:900", "s:0", "e:800", "w:0"]},
        ).json()
        assert (over["status"], over["cycle_s"], over["webster_cycle_s"]) == (
            "oversaturated",
            120.0,
            None,
        )
        missing = c.get("/api/v1/signals/main-5th/recommendation")  # w has no sensor
        assert missing.status_code == 422 and "'w'" in missing.json()["detail"]
        bad = c.get("/api/v1/signals/main-5th/recommendation", params={"flow": "w=3"})
        assert bad.status_code == 422 and "approach:vehicles_per_hour" in bad.json()["detail"]
        assert c.get("/api/v1/signals/nope/recommendation").status_code == 404
        unknown = c.get("/api/v1/signals/main-5th/recommendation", params={"flow": "zz:1"})
        assert unknown.status_code == 422 and "zz" in unknown.json()["detail"]
        reading = [{"sensor": "q-s", "time": step, "value": 30}]
        assert op.post("/api/v1/traffic/readings", json=reading).status_code == 200
        mph = c.get("/api/v1/signals/main-5th/recommendation", params={"flow": "w:120"})
        assert mph.status_code == 422 and "'q-s'" in mph.json()["detail"]
        assert "'mph' is not a flow" in mph.json()["detail"]
