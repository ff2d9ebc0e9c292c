"""Routing API on a live server: routes, road GeoJSON, dispatch, unit positions and errors."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import LiveServer, make_runtime, make_site, start_live
from tests.traffic.test_roads import at, write_osm

A, B = at(0, 0), at(1000, 0)
FAST_MIDDLE = at(500, 300)


def ll(point: tuple[float, float]) -> str:
    return f"{point[0]},{point[1]}"


def roads_site(osm: Path) -> dict[str, Any]:
    return {
        "roads": {"osm": str(osm), "closures": {"radius_m": 200, "refresh_s": 0}},
        "units": [
            {"id": "amb-1", "kind": "ambulance", "location": {"coordinates": [A[1], A[0]]}},
            {"id": "fire-1", "kind": "fire", "location": {"coordinates": [B[1] - 0.02, B[0]]}},
        ],
        "rules": [
            {
                "id": "crash",
                "match": {"kind": "traffic.incident"},
                "incident": {"category": "traffic", "sub_category": "carAccident"},
            }
        ],
    }


def serve(tmp_path: Path, **site: Any) -> Iterator[LiveServer]:
    runtime = make_runtime(f"sqlite:///{tmp_path / 'cs.sqlite'}", tmp_path, make_site(**site))
    server = start_live(runtime)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def routed(tmp_path: Path) -> Iterator[LiveServer]:
    yield from serve(tmp_path, **roads_site(write_osm(tmp_path / "map.osm")))


def open_incident(live: LiveServer, point: tuple[float, float]) -> str:
    with live.client() as c:
        event = {
            "kind": "traffic.incident",
            "source": "hotline",
            "location": {"point": {"type": "Point", "coordinates": [point[1], point[0]]}},
        }
        assert c.post("/api/v1/events", json=event).status_code in (200, 201, 202)
        live.drain()
        items = c.get("/api/v1/incidents", params={"status": "open"}).json()["items"]
    assert len(items) == 1
    return str(items[0]["id"])


def test_route_shape_for_a_viewer(routed: LiveServer) -> None:
    with routed.client(routed.key("viewer")) as c:
        r = c.get("/api/v1/routes", params={"from": ll(A), "to": ll(B)})
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {
        "distance_m",
        "duration_s",
        "free_flow_duration_s",
        "geometry",
        "roads",
        "avoided",
        "snapped_m",
    }
    assert body["roads"] == ["Fast Road"] and body["avoided"] == []
    assert body["distance_m"] == pytest.approx(1600, rel=0.01)
    assert body["geometry"]["type"] == "LineString"
    assert body["geometry"]["coordinates"][0] == pytest.approx([A[1], A[0]])


@pytest.mark.parametrize(
    ("params", "status", "needle"),
    [
        ({"from": "37.8", "to": ll(B)}, 400, "from"),
        ({"from": ll(A), "to": "x,y"}, 400, "to"),
        ({"from": "95,0", "to": ll(B)}, 400, "latitude"),
        ({"from": "37.8,-122.3,5", "to": ll(B)}, 400, "lat,lon"),
        ({"from": "nan,0", "to": ll(B)}, 400, "latitude"),
        ({"from": ll(A), "to": "0,181"}, 400, "longitude"),
        ({"from": ll(at(0, 5000)), "to": ll(B)}, 422, "from the nearest road"),
        ({"from": ll(A)}, 422, "to"),
    ],
)
def test_route_errors(routed: LiveServer, params: dict[str, str], status: int, needle: str) -> None:
    with routed.client() as c:
        r = c.get("/api/v1/routes", params=params)
    assert r.status_code == status, r.text
    assert needle in r.text


def test_open_incident_closes_its_roads_until_resolved(routed: LiveServer) -> None:
    incident = open_incident(routed, FAST_MIDDLE)
    with routed.client() as c:
        detour = c.get("/api/v1/routes", params={"from": ll(A), "to": ll(B)}).json()
        assert detour["roads"] == ["Slow Lane"] and detour["avoided"] == [incident]
        assert detour["duration_s"] > detour["free_flow_duration_s"] / 2 > 0
        direct = c.get(
            "/api/v1/routes", params={"from": ll(A), "to": ll(B), "avoid_incidents": "false"}
        ).json()
        assert direct["roads"] == ["Fast Road"] and direct["duration_s"] < detour["duration_s"]
        roads = c.get("/api/v1/roads").json()
        closed = {f["properties"]["name"] for f in roads["features"] if f["properties"]["closed"]}
        assert closed == {"Fast Road"}
        assert (
            c.post(
                f"/api/v1/incidents/{incident}/resolve", json={"resolution": "towed"}
            ).status_code
            == 200
        )
        reopened = c.get("/api/v1/routes", params={"from": ll(A), "to": ll(B)}).json()
    assert reopened["roads"] == ["Fast Road"] and reopened["avoided"] == []


def test_roads_geojson(routed: LiveServer) -> None:
    with routed.client(routed.key("viewer")) as c:
        body = c.get("/api/v1/roads").json()
    assert body["type"] == "FeatureCollection" and len(body["features"]) == 18  # 9 two-way segments
    feature = body["features"][0]
    assert feature["type"] == "Feature" and feature["geometry"]["type"] == "LineString"
    assert {"name", "highway", "speed_kph", "travel_time_s", "closed"} <= set(feature["properties"])


def test_dispatch_ranks_units_and_follows_live_positions(routed: LiveServer) -> None:
    incident = open_incident(routed, B)
    with routed.client(routed.key("viewer")) as viewer, routed.client() as admin:
        ranked = viewer.get(f"/api/v1/incidents/{incident}/dispatch").json()
        assert ranked["incident_id"] == incident
        assert [u["id"] for u in ranked["units"]] == ["amb-1", "fire-1"]
        assert ranked["units"][0]["eta_s"] > 0 and ranked["units"][1]["eta_s"] is None
        assert "from the nearest road" in ranked["units"][1]["reason"]
        near_b = {"lat": at(950, 0)[0], "lon": at(950, 0)[1]}
        assert viewer.put("/api/v1/units/fire-1/position", json=near_b).status_code == 403
        moved = admin.put("/api/v1/units/fire-1/position", json=near_b)
        assert moved.status_code == 200 and moved.json()["live"] is True
        again = viewer.get(f"/api/v1/incidents/{incident}/dispatch").json()
        assert [u["id"] for u in again["units"]] == ["fire-1", "amb-1"]
        assert admin.put("/api/v1/units/nope/position", json=near_b).status_code == 404
        for bad in ({"lat": 91, "lon": 0}, {"lat": 0}, {**near_b, "speed": 3}):
            assert admin.put("/api/v1/units/fire-1/position", json=bad).status_code == 422, bad
        assert viewer.get("/api/v1/incidents/nope/dispatch").status_code == 404
        units = viewer.get("/api/v1/units").json()
    assert {u["id"]: u["live"] for u in units} == {"amb-1": False, "fire-1": True}


def test_no_road_network_is_503(tmp_path: Path) -> None:
    for live in serve(tmp_path):
        with live.client() as c:
            for path in ("/api/v1/routes?from=1,2&to=3,4", "/api/v1/roads", "/api/v1/units"):
                r = c.get(path)
                assert r.status_code == 503 and "roads.osm" in r.json()["detail"], path


def test_unreadable_road_file_is_503_naming_it(tmp_path: Path) -> None:
    broken = tmp_path / "broken.osm"
    broken.write_text("not xml", encoding="utf-8")
    for live in serve(tmp_path, **roads_site(broken)):
        with live.client() as c:
            r = c.get("/api/v1/roads")
        assert r.status_code == 503
        assert "could not be loaded" in r.json()["detail"] and "broken.osm" in r.json()["detail"]


def test_live_sensor_speeds_change_routes(tmp_path: Path) -> None:
    site = roads_site(write_osm(tmp_path / "map.osm"))
    site["sensors"] = [
        {
            "id": "loop-fast-e",
            "kind": "speed",
            "unit": "km/h",
            "road": "Fast Road eastbound",
            "location": {"coordinates": [FAST_MIDDLE[1], FAST_MIDDLE[0]]},
        }
    ]
    for live in serve(tmp_path, **site):
        with live.client() as c:
            route = {"from": ll(A), "to": ll(B)}
            assert c.get("/api/v1/routes", params=route).json()["roads"] == ["Fast Road"]
            now = datetime.now(UTC).isoformat()
            jam = [{"sensor": "loop-fast-e", "time": now, "value": 4}]
            assert c.post("/api/v1/traffic/readings", json=jam).json()["stored"] == 1
            jammed = c.get("/api/v1/routes", params=route).json()
            back = c.get("/api/v1/routes", params={"from": ll(B), "to": ll(A)}).json()
            slow = [
                f["properties"]
                for f in c.get("/api/v1/roads").json()["features"]
                if f["properties"]["speed_kph"] == 4
            ]
        assert jammed["roads"] == ["Slow Lane"]
        assert back["roads"] == ["Fast Road"]  # the westbound side is not measured
        assert len(slow) == 6 and {p["name"] for p in slow} == {"Fast Road"}
