"""Traffic API on a live server: reading ingest with flags, sensors, series and forecasts."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from citysentinel.traffic.readings import bucket
from tests.conftest import SITE, LiveServer, make_runtime, make_site, start_live

SENSORS = [
    {
        "id": "loop-n",
        "kind": "speed",
        "road": "Bridge Road northbound",
        "name": "Bridge Road N",
        "free_flow": 60,
        "location": {"coordinates": [-0.1679, 51.4796]},
    },
    {"id": "loop-s", "kind": "speed", "location": {"coordinates": [-0.1667, 51.4781]}},
    {"id": "loop-occ", "kind": "occupancy", "unit": "%"},
]
TRAFFIC = {"debounce_s": 0.05, "refresh_interval_s": 3600, "stale_after_s": 900}


@pytest.fixture
def server(database_url: str, tmp_path: Path) -> Iterator[LiveServer]:
    site = make_site(sensors=SENSORS, traffic=TRAFFIC, external_sources=SITE["external_sources"])
    live = start_live(make_runtime(database_url, tmp_path, site))
    try:
        yield live
    finally:
        live.stop()


def steps_ago(k: int) -> str:
    return (bucket(datetime.now(UTC), 300) - timedelta(minutes=5 * k)).isoformat()


def wait_for_forecast(client: httpx.Client) -> dict[str, Any]:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        body: dict[str, Any] = client.get("/api/v1/traffic/forecasts").json()
        if body["issued_at"] is not None:
            return body
        time.sleep(0.05)
    raise AssertionError("no forecast within 10 s")


def test_ingest_flags_bad_readings_and_serves_shapes(server: LiveServer) -> None:
    with (
        server.client(server.key("operator")) as operator,
        server.client(server.key("viewer")) as viewer,
    ):
        check_ingest_and_shapes(operator, viewer)


def check_ingest_and_shapes(operator: httpx.Client, viewer: httpx.Client) -> None:
    batch = [
        {"sensor": "loop-n", "time": steps_ago(2), "value": 55},
        {"sensor": "loop-n", "time": steps_ago(1), "value": 30},
        {"sensor": "loop-n", "time": steps_ago(1), "value": 25},  # duplicate step: last wins
        {"sensor": "loop-s", "time": steps_ago(1), "value": 48.5},
        {"sensor": "loop-s", "time": steps_ago(3), "value": 50},  # out of order: kept
        {"sensor": "loop-occ", "time": steps_ago(1), "value": "NaN"},
        {"sensor": "loop-occ", "time": steps_ago(1), "value": -4},
        {"sensor": "loop-x", "time": steps_ago(1), "value": 50},
        {"sensor": "loop-s", "time": "not a time", "value": 50},
    ]
    r = operator.post("/api/v1/traffic/readings", json=batch)
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["received"], body["stored"], body["dropped"]) == (9, 4, 5)
    assert body["counts"] == {
        "duplicate": 1,
        "out_of_order": 1,
        "not_a_number": 1,
        "negative": 1,
        "unknown_sensor": 1,
        "bad_time": 1,
    }
    assert [f["index"] for f in body["flagged"]] == [2, 4, 5, 6, 7, 8]

    forecasts = wait_for_forecast(viewer)
    assert forecasts["model"] == "last_value" and forecasts["horizon"] == 3
    by_sensor = {f["sensor"]: f for f in forecasts["items"]}
    assert by_sensor["loop-n"]["value"] == 25.0 and by_sensor["loop-n"]["stale"] is False
    assert by_sensor["loop-occ"]["stale"] is True  # no reading at all

    listing = viewer.get("/api/v1/traffic/sensors").json()
    assert (listing["model"], listing["model_error"], listing["mqtt"]) == ("last_value", None, None)
    sensors = listing["items"]
    assert [s["id"] for s in sensors] == ["loop-n", "loop-s", "loop-occ"]
    north = sensors[0]
    assert north["location"] == {"lat": 51.4796, "lon": -0.1679}
    assert north["latest"] == {"time": steps_ago(1).replace("+00:00", "Z"), "value": 25.0}
    assert (north["name"], north["road"], north["unit"]) == (
        "Bridge Road N",
        "Bridge Road northbound",
        "mph",
    )
    assert (north["stale"], north["status"]) == (False, "congested")  # 25 of 60 mph
    assert sensors[2]["latest"] is None and sensors[2]["location"] is None
    assert sensors[2]["status"] == "unknown"

    since = steps_ago(3)
    series = viewer.get(
        "/api/v1/traffic/sensors/loop-n/series", params={"since": since, "until": steps_ago(0)}
    ).json()
    assert (series["sensor"], series["unit"], series["step_s"]) == ("loop-n", "mph", 300.0)
    assert [p["value"] for p in series["observed"]] == [None, 55.0, 25.0]
    fc = series["forecast"]
    assert fc["model"] == "last_value" and fc["stale"] is False
    assert [p["horizon"] for p in fc["points"]] == list(range(1, 13))
    assert fc["points"][0]["value"] == 25.0


INGEST_STATUSES: list[tuple[str, Any, int]] = [
    ("viewer", [], 403),
    ("operator", {"readings": []}, 200),
    ("operator", {"nope": []}, 422),
    ("operator", [{"sensor": "loop-n", "time": 0, "value": [1]}], 422),
    ("operator", [{"sensor": "loop-n", "time": 0, "value": 1}] * 1001, 413),
]
SERIES = "/api/v1/traffic/sensors/loop-n/series"
QUERY_STATUSES: list[tuple[str, dict[str, Any], int]] = [
    ("/api/v1/traffic/sensors/nope/series", {}, 404),
    (SERIES, {}, 200),
    (SERIES, {"since": "2026-01-02", "until": "2026-01-01"}, 400),
    (SERIES, {"since": "2020-01-01"}, 400),  # more than 10,000 steps
    ("/api/v1/traffic/forecasts", {"horizon": 0}, 422),
    ("/api/v1/traffic/forecasts", {"horizon": 12}, 200),
]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_statuses(server: LiveServer) -> None:
    """One server for the whole table: the cases do not depend on each other."""
    keys = {role: server.key(role) for role in ("viewer", "operator")}
    for role, body, status in INGEST_STATUSES:
        with server.client(keys[role]) as client:
            got = client.post("/api/v1/traffic/readings", json=body).status_code
        assert got == status, (role, str(body)[:80])
    with server.client(keys["viewer"]) as viewer:
        for path, params, status in QUERY_STATUSES:
            assert viewer.get(path, params=params).status_code == status, (path, params)


def test_horizon_beyond_the_forecast(server: LiveServer) -> None:
    with server.client(server.key("operator")) as operator:
        reading = {"sensor": "loop-n", "time": steps_ago(1), "value": 50}
        operator.post("/api/v1/traffic/readings", json=[reading])
        wait_for_forecast(operator)
        r = operator.get("/api/v1/traffic/forecasts", params={"horizon": 13})
    assert r.status_code == 400 and "12 steps" in r.json()["detail"]


def test_site_without_sensors_answers_404(live_sqlite: LiveServer) -> None:
    with live_sqlite.client() as client:
        assert client.get("/api/v1/traffic/sensors").status_code == 404


ROAD_RULE = {
    "id": "road-incident",
    "match": {"kind": "traffic.incident", "sources": ["loop-*"]},
    "incident": {"category": "traffic", "sub_category": "carAccident", "severity": "high"},
}


def test_a_detected_drop_opens_an_incident(tmp_path: Path) -> None:
    site = make_site(sensors=SENSORS, traffic=TRAFFIC, rules=[ROAD_RULE])
    server = start_live(make_runtime(f"sqlite:///{tmp_path / 'cs.sqlite'}", tmp_path, site))
    try:
        with server.client(server.key("operator")) as client:
            day = [
                {"sensor": sensor, "time": steps_ago(k), "value": value}
                for k in range(6, 294)
                for sensor, value in (("loop-n", 58 + k % 3), ("loop-s", 61 - k % 2))
            ]
            assert client.post("/api/v1/traffic/readings", json=day).json()["stored"] == 576
            wait_for_forecast(client)
            drop = [
                {"sensor": sensor, "time": steps_ago(k), "value": value}
                for k in range(1, 6)
                for sensor, value in (("loop-n", 18), ("loop-s", 60))
            ]
            client.post("/api/v1/traffic/readings", json=drop)
            deadline = time.monotonic() + 10
            incidents: list[dict[str, Any]] = []
            while not incidents and time.monotonic() < deadline:
                server.drain()
                incidents = client.get("/api/v1/incidents").json()["items"]
                time.sleep(0.05)
        assert [(i["rule"], i["source"], i["category"]) for i in incidents] == [
            ("road-incident", "loop-n", "traffic")
        ]
    finally:
        server.stop()
