"""Router: fastest road, closures and penalties around incidents, live speeds, snapping."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from citysentinel.cli import app
from citysentinel.events import Point, Severity
from citysentinel.incidents import Incident, IncidentStatus
from citysentinel.traffic.roads import load_road_network
from citysentinel.traffic.routing import (
    ClosurePolicy,
    IncidentSite,
    LatLon,
    NoRoute,
    NotOnNetwork,
    Router,
)
from tests.traffic.test_roads import OAKLAND, at, real, write_osm

A, B, C = LatLon(*at(0, 0)), LatLon(*at(1000, 0)), LatLon(*at(0, -400))
FAST_MIDDLE = LatLon(*at(500, 300))  # on Fast Road, 300 m from Slow Lane


def ll(point: LatLon) -> str:
    return f"{point.lat},{point.lon}"


FAST_S = 1600 / (62 * 1.609344 / 3.6)
SLOW_S = 1000 / (20 / 3.6)


def make_router(tmp_path: Path, **policy: object) -> Router:
    network = load_road_network(write_osm(tmp_path / "map.osm"))
    return Router(network, ClosurePolicy(**policy))  # type: ignore[arg-type]


def test_picks_the_faster_not_the_shorter_road(tmp_path: Path) -> None:
    router = make_router(tmp_path)
    route = router.route(A, B)
    assert route.roads == ["Fast Road"]
    assert route.distance_m == pytest.approx(1600, rel=0.01)
    assert route.duration_s == pytest.approx(FAST_S, rel=0.01)
    assert route.free_flow_duration_s == route.duration_s
    assert route.avoided == [] and route.snap_m == (0.0, 0.0)
    coords = route.geometry.coordinates
    assert coords[0] == pytest.approx((A.lon, A.lat)) and coords[-1] == pytest.approx(
        (B.lon, B.lat)
    )
    assert len(coords) == 7  # A, the five Fast Road nodes, B; joints not repeated


def test_route_with_a_turn_names_roads_in_order(tmp_path: Path) -> None:
    route = make_router(tmp_path).route(C, B)
    assert route.roads == ["Side Street", "Fast Road"]


@pytest.mark.parametrize(
    ("mode", "roads", "duration_s"),
    [
        ("closed", ["Slow Lane"], SLOW_S),
        # A penalty of 2 on the 500 m of Fast Road near the incident: 1100 m + 2 x 500 m at 100 km/h
        # still beats Slow Lane.
        ("penalty", ["Fast Road"], (1100 + 2 * 500) / (62 * 1.609344 / 3.6)),
    ],
)
def test_incident_closes_or_penalises_nearby_roads(
    tmp_path: Path, mode: str, roads: list[str], duration_s: float
) -> None:
    router = make_router(tmp_path, radius_m=200, mode=mode, penalty_factor=2.0)
    router.set_incidents([IncidentSite("inc-1", FAST_MIDDLE.lat, FAST_MIDDLE.lon)])
    route = router.route(A, B)
    assert route.roads == roads
    assert route.duration_s == pytest.approx(duration_s, rel=0.01)
    assert route.duration_s > FAST_S
    assert route.avoided == (["inc-1"] if mode == "closed" else [])
    ignored = router.route(A, B, avoid_incidents=False)
    assert ignored.roads == ["Fast Road"] and ignored.avoided == []
    router.set_incidents([])  # resolved: the road opens again
    assert router.route(A, B).roads == ["Fast Road"]


def test_closures_that_cut_the_network_are_no_route(tmp_path: Path) -> None:
    router = make_router(tmp_path, radius_m=50)
    router.set_incidents([IncidentSite("blocker", C.lat, C.lon + 0.0001)])
    with pytest.raises(NoRoute, match="blocker"):
        router.route(C, B)


def test_live_speed_changes_the_route(tmp_path: Path) -> None:
    router = make_router(tmp_path)
    link = router.map_sensor("loop-fast", FAST_MIDDLE, "Fast Road eastbound", unit="mph")
    assert {router.network.names[e] for e in link} == {"Fast Road"}
    assert router.update_speed("loop-fast", 3.0)  # a jam: 3 mph
    jammed = router.route(A, B)
    assert jammed.roads == ["Slow Lane"]
    assert router.route(B, A).roads == ["Fast Road"]  # the westbound side flows freely
    router.update_speed("loop-fast", 62.0)
    assert router.route(A, B).roads == ["Fast Road"]
    router.apply_readings({"loop-fast": 3.0})
    assert router.route(A, B).roads == ["Slow Lane"]
    router.apply_readings({"loop-fast": None})  # no fresh reading: free flow again
    assert router.route(A, B).duration_s == pytest.approx(FAST_S, rel=0.01)


def test_routes_read_one_consistent_state_while_readings_change(tmp_path: Path) -> None:
    """A route found on one speed state is timed on that state, not on a newer one."""
    import threading

    router = make_router(tmp_path)
    router.map_sensor("loop-fast", FAST_MIDDLE, "Fast Road eastbound", unit="mph")
    stop = threading.Event()

    def writer() -> None:
        while not stop.is_set():
            for mph in (3.0, 62.0):
                router.apply_readings({"loop-fast": mph})

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        routes = [router.route(A, B) for _ in range(300)]
    finally:
        stop.set()
        thread.join()
    # Fast Road at 62 mph or Slow Lane at 20 km/h; never Fast Road timed at 3 mph.
    for r in routes:
        assert r.roads in (["Fast Road"], ["Slow Lane"])
        if r.roads == ["Fast Road"]:
            assert r.duration_s == pytest.approx(FAST_S, rel=0.01)


@pytest.mark.parametrize("value", [0.0, -5.0, float("nan"), float("inf")])
def test_unusable_speed_readings_are_ignored(tmp_path: Path, value: float) -> None:
    router = make_router(tmp_path)
    router.map_sensor("loop", FAST_MIDDLE, "Fast Road", unit="km/h")
    assert not router.update_speed("loop", value)
    assert not router.update_speed("unmapped", 10.0)
    assert router.route(A, B).duration_s == pytest.approx(FAST_S, rel=0.01)


def test_sensor_without_direction_takes_both_and_unknown_unit_is_refused(tmp_path: Path) -> None:
    router = make_router(tmp_path)
    link = router.map_sensor("loop", FAST_MIDDLE, None)
    directions = {router.network.edges[e][:2] for e in link}
    assert len(link) == 2 * 6 and all((v, u) in directions for u, v in directions)
    with pytest.raises(ValueError, match="furlongs"):
        router.map_sensor("odd", FAST_MIDDLE, None, unit="furlongs/fortnight")
    assert router.map_sensor("far", LatLon(0.0, 0.0)) == []


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ("37.8,-122.3", True),
        (" 37.8 , -122.3 ", True),
        ("37.8", False),
        ("37.8,-122.3,5", False),
        ("north,west", False),
        ("91,0", False),
        ("0,181", False),
        ("nan,0", False),
    ],
)
def test_latlon_parse(text: str, ok: bool) -> None:
    if ok:
        assert LatLon.parse(text) == LatLon(37.8, -122.3)
    else:
        with pytest.raises(ValueError):
            LatLon.parse(text)


def test_far_points_are_refused_and_near_ones_snap(tmp_path: Path) -> None:
    router = make_router(tmp_path)
    with pytest.raises(NotOnNetwork, match="from the nearest road"):
        router.route(LatLon(*at(0, 5000)), B)
    route = router.route(LatLon(*at(3, 4)), B)
    assert route.snap_m[0] == pytest.approx(5.0, abs=0.1)
    same = router.route(A, LatLon(*at(1, 0)))
    assert same.distance_m == 0 and len(same.geometry.coordinates) == 2


def test_incident_sites_from_incidents() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)

    def incident(iid: str, status: IncidentStatus, point: Point | None, category: str) -> Incident:
        return Incident(
            id=iid,
            key=iid,
            rule="r",
            category=category,
            sub_category="x",
            severity=Severity.HIGH,
            base_severity=Severity.HIGH,
            status=status,
            title="t",
            source="s",
            point=point,
            first_seen=now,
            last_seen=now,
            created_at=now,
            updated_at=now,
        )

    here = Point(coordinates=(-122.3, 37.8))
    incidents = [
        incident("open", IncidentStatus.OPEN, here, "traffic"),
        incident("ack", IncidentStatus.ACKNOWLEDGED, here, "security"),
        incident("done", IncidentStatus.RESOLVED, here, "traffic"),
        incident("nowhere", IncidentStatus.OPEN, None, "traffic"),
    ]
    assert [s.id for s in IncidentSite.from_incidents(incidents)] == ["open", "ack"]
    assert [s.id for s in IncidentSite.from_incidents(incidents, ["traffic"])] == ["open"]


def test_real_network_routes_and_detours() -> None:
    router = Router(load_road_network(real(OAKLAND)), ClosurePolicy(radius_m=20))
    start, end = LatLon(37.8080188, -122.3034792), LatLon(37.8081396, -122.3019449)
    best = router.route(start, end)
    assert best.roads == ["Goss Street", "Wood Street"]
    middle = best.geometry.coordinates[len(best.geometry.coordinates) // 2]
    router.set_incidents([IncidentSite("crash", middle[1], middle[0])])
    detour = router.route(start, end)
    assert detour.avoided == ["crash"]
    assert detour.distance_m > best.distance_m and detour.duration_s > best.duration_s


@pytest.mark.parametrize(
    ("args", "code", "needle"),
    [
        (["--from", ll(A), "--to", ll(B), "--json"], 0, '"roads": ["Fast Road"]'),
        (["--from", "1,2,3", "--to", ll(B)], 1, "is not 'lat,lon'"),
        (["--from", ll(A), "--to", "10,10"], 1, "from the nearest road"),
    ],
)
def test_route_command(tmp_path: Path, args: list[str], code: int, needle: str) -> None:
    osm = write_osm(tmp_path / "map.osm")
    result = CliRunner().invoke(app, ["route", "--osm", str(osm), *args])
    assert result.exit_code == code, result.output
    assert needle in result.output


def test_route_command_names_a_broken_file(tmp_path: Path) -> None:
    broken = tmp_path / "broken.osm.bz2"
    broken.write_bytes(b"not bz2")
    result = CliRunner().invoke(
        app, ["route", "--osm", str(broken), "--from", "1,2", "--to", "1,2"]
    )
    assert result.exit_code == 1 and "broken.osm.bz2: not a readable OSM XML file" in result.output


@pytest.mark.parametrize(
    "name",
    [
        f"citysentinel.traffic.{m}"
        for m in (
            "anomaly",
            "detections",
            "profile",
            "signals",
            "parking",
            "roads",
            "spatial",
            "routing",
            "dispatch",
        )
    ]
    + ["citysentinel.eval.anomalies"],
)
def test_docstring_examples_run(name: str) -> None:
    """The examples in the traffic modules' docstrings are true (skipped ones need data)."""
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
