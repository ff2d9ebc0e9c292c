"""Dispatch: units ranked by travel time from one reversed search, consistent with routes."""

from __future__ import annotations

from pathlib import Path

import pytest

from citysentinel.traffic.dispatch import Dispatcher, Unit, UnknownUnit
from citysentinel.traffic.roads import load_road_network
from citysentinel.traffic.routing import ClosurePolicy, IncidentSite, LatLon, Router
from tests.traffic.test_roads import OAKLAND, at, real, write_osm

INCIDENT = LatLon(*at(1000, 0))  # B, the east end of both roads


def make_dispatcher(tmp_path: Path, units: list[Unit]) -> Dispatcher:
    network = load_road_network(write_osm(tmp_path / "map.osm"))
    return Dispatcher(Router(network, ClosurePolicy(radius_m=60)), units)


UNITS = [
    Unit("amb-west", "ambulance", LatLon(*at(0, 0))),  # A: 1.6 km of Fast Road, 58 s
    Unit("fire-south", "fire", LatLon(*at(0, -400))),  # C: 48 s of Side Street, then Fast Road
    Unit("police-near", "police", LatLon(*at(500, 0))),  # mid Slow Lane: 500 m at 20 km/h, 90 s
    Unit("tow-sea", "tow", LatLon(0.0, 0.0)),  # far off the map
]


def test_units_ranked_by_eta_and_match_routes(tmp_path: Path) -> None:
    dispatcher = make_dispatcher(tmp_path, UNITS)
    ranked = dispatcher.rank(INCIDENT)
    assert [e.unit.id for e in ranked] == ["amb-west", "police-near", "fire-south", "tow-sea"]
    for eta in ranked[:3]:
        route = dispatcher.router.route(eta.unit.position, INCIDENT)
        assert eta.eta_s == pytest.approx(route.duration_s, abs=0.2)
        assert eta.distance_m == pytest.approx(route.distance_m, abs=0.2)
    assert ranked[-1].eta_s is None and "from the nearest road" in (ranked[-1].reason or "")


def test_live_position_changes_the_ranking(tmp_path: Path) -> None:
    dispatcher = make_dispatcher(tmp_path, UNITS)
    moved = dispatcher.move("tow-sea", LatLon(*at(980, 0)))
    assert moved.live and not UNITS[3].live
    assert dispatcher.rank(INCIDENT)[0].unit.id == "tow-sea"
    with pytest.raises(UnknownUnit, match="no unit 'ghost'"):
        dispatcher.move("ghost", INCIDENT)


def test_own_closures_are_lifted_but_others_apply(tmp_path: Path) -> None:
    dispatcher = make_dispatcher(tmp_path, UNITS[:1])
    fast_middle = at(500, 300)
    dispatcher.router.set_incidents(
        [IncidentSite("here", INCIDENT.lat, INCIDENT.lon), IncidentSite("jam", *fast_middle)]
    )
    (eta,) = dispatcher.rank(INCIDENT, incident_id="here")
    assert eta.eta_s == pytest.approx(1000 / (20 / 3.6), rel=0.01)  # Slow Lane: Fast Road shut
    (blocked,) = dispatcher.rank(INCIDENT, incident_id=None)
    assert blocked.eta_s is None and blocked.reason


def test_real_network_dispatch_is_consistent() -> None:
    router = Router(load_road_network(real(OAKLAND)))
    nodes = sorted(router.network.routable)

    def place(i: int) -> LatLon:
        lon, lat = router.network.node_lonlat(nodes[i])
        return LatLon(lat, lon)

    units = [Unit(f"u{i}", "ambulance", place(i * 9)) for i in range(8)]
    target = place(40)
    ranked = Dispatcher(router, units).rank(target)
    etas = [e.eta_s for e in ranked]
    assert all(e is not None for e in etas) and etas == sorted(etas)  # type: ignore[type-var]
    for eta in ranked:
        assert eta.eta_s == pytest.approx(
            router.route(eta.unit.position, target).duration_s, abs=0.2
        )
