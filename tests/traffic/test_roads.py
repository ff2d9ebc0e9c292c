"""Road networks from OSM XML: the real extracts, speeds, bad files; and a synthetic-map factory."""

from __future__ import annotations

import bz2
import json
import math
import socket
from pathlib import Path
from xml.sax.saxutils import quoteattr

import numpy as np
import pytest

from citysentinel.traffic.roads import (
    DEFAULT_SPEED_KPH,
    RoadNetwork,
    RoadNetworkError,
    load_road_network,
    parse_maxspeed,
)
from tests.models.fixtures import SHARED_DATA

ROADS = SHARED_DATA / "roads"
OAKLAND = ROADS / "West-Oakland.osm.bz2"
MUNICH = ROADS / "planet_10.068,48.135_10.071,48.137.osm"

# The synthetic map: two ways from A (west) to B (east), 1 km apart.
# "Slow Lane" runs straight (1.0 km at 20 km/h = 180 s); "Fast Road" detours 300 m
# north (1.6 km at 100 km/h = 57.6 s). A side street links C (south) to A.
LAT0, LON0 = 37.8, -122.3
M_PER_DEG_LAT = 111_195.0
M_PER_DEG_LON = M_PER_DEG_LAT * math.cos(math.radians(LAT0))


def at(east_m: float, north_m: float) -> tuple[float, float]:
    """(lat, lon) of a point east/north of the synthetic map's origin A."""
    return LAT0 + north_m / M_PER_DEG_LAT, LON0 + east_m / M_PER_DEG_LON


SYNTHETIC_NODES = {
    1: at(0, 0),  # A
    2: at(500, 0),
    3: at(1000, 0),  # B
    4: at(0, 300),
    5: at(250, 300),
    6: at(500, 300),
    7: at(750, 300),
    8: at(1000, 300),
    9: at(0, -400),  # C
}
SYNTHETIC_WAYS: list[tuple[int, list[int], dict[str, str]]] = [
    (100, [1, 2, 3], {"highway": "residential", "name": "Slow Lane", "maxspeed": "20"}),
    (
        101,
        [1, 4, 5, 6, 7, 8, 3],
        {"highway": "primary", "name": "Fast Road", "maxspeed": "62 mph"},
    ),
    (102, [9, 1], {"highway": "residential", "name": "Side Street"}),
    (103, [2, 6], {"highway": "footway", "name": "Park Path"}),  # not drivable
]


def write_osm(
    path: Path,
    nodes: dict[int, tuple[float, float]] | None = None,
    ways: list[tuple[int, list[int], dict[str, str]]] | None = None,
) -> Path:
    """Write OSM XML (bz2 when the name ends in .bz2); default: the synthetic map."""
    nodes = SYNTHETIC_NODES if nodes is None else nodes
    ways = SYNTHETIC_WAYS if ways is None else ways
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', '<osm version="0.6" generator="test">']
    for nid, (lat, lon) in nodes.items():
        lines.append(f'  <node id="{nid}" lat="{lat:.7f}" lon="{lon:.7f}" version="1"/>')
    for wid, refs, tags in ways:
        lines.append(f'  <way id="{wid}" version="1">')
        lines += [f'    <nd ref="{r}"/>' for r in refs]
        lines += [f"    <tag k={quoteattr(k)} v={quoteattr(v)}/>" for k, v in tags.items()]
        lines.append("  </way>")
    text = "\n".join([*lines, "</osm>"]) + "\n"
    if path.suffix == ".bz2":
        path.write_bytes(bz2.compress(text.encode()))
    else:
        path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def synthetic(tmp_path: Path) -> RoadNetwork:
    return load_road_network(write_osm(tmp_path / "map.osm"))


def real(path: Path) -> Path:
    if not path.is_file():
        pytest.skip(f"OSM extract not found at {path} (../shared/data is absent)")
    return path


@pytest.mark.parametrize(
    ("path", "min_nodes", "min_edges"),
    [(OAKLAND, 50, 100), (MUNICH, 10, 20)],
    ids=["west-oakland-bz2", "munich-osm"],
)
def test_loads_the_real_extracts(path: Path, min_nodes: int, min_edges: int) -> None:
    net = load_road_network(real(path))
    assert net.node_count >= min_nodes and net.edge_count >= min_edges
    assert net.routable and net.routable <= set(net.graph.nodes)
    assert (net.length_m > 0).all() and (net.free_speed_kph > 0).all()
    for *_, d in net.graph.edges(data=True):
        assert d["highway"] in DEFAULT_SPEED_KPH  # footways, cycleways, buildings are gone
        assert d["travel_time"] == pytest.approx(d["length"] / (d["speed_kph"] / 3.6))
    simplified = load_road_network(path, simplify=True)
    assert simplified.node_count < net.node_count
    assert simplified.length_m.sum() == pytest.approx(net.length_m.sum(), rel=1e-3)


def test_munich_maxspeed_tags_are_used() -> None:
    net = load_road_network(real(MUNICH))
    tagged = [d["speed_kph"] for *_, d in net.graph.edges(data=True) if d.get("maxspeed")]
    assert tagged and set(tagged) == {30.0}


@pytest.mark.parametrize(
    ("tag", "kph"),
    [
        ("50", 50.0),
        ("30 mph", 48.28032),
        ("30mph", 48.28032),
        ("60 km/h", 60.0),
        ("10 knots", 18.52),
        ("50;70", 60.0),
        (["30", "50"], 40.0),
        ("DE:urban", 50.0),
        ("RU:rural", 100.0),
        ("DE:zone30", 30.0),
        ("walk", 6.0),
        ("none", None),
        ("signals", None),
        ("0", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_maxspeed(tag: object, kph: float | None) -> None:
    assert parse_maxspeed(tag) == (pytest.approx(kph) if kph is not None else None)


def test_synthetic_speeds_lengths_and_filter(synthetic: RoadNetwork) -> None:
    by_name: dict[str | None, set[float]] = {}
    for eid, name in enumerate(synthetic.names):
        by_name.setdefault(name, set()).add(round(float(synthetic.free_speed_kph[eid]), 3))
    assert by_name == {
        "Slow Lane": {20.0},
        "Fast Road": {round(62 * 1.609344, 3)},
        "Side Street": {DEFAULT_SPEED_KPH["residential"]},
    }
    slow = sum(
        float(synthetic.length_m[e]) for e, n in enumerate(synthetic.names) if n == "Slow Lane"
    )
    assert slow == pytest.approx(2 * 1000, rel=0.01)  # both directions
    assert len(synthetic.routable) == 9  # every node is on a two-way road


def test_bz2_and_plain_files_give_the_same_network(tmp_path: Path) -> None:
    plain = load_road_network(write_osm(tmp_path / "a.osm"))
    packed = load_road_network(write_osm(tmp_path / "a.osm.bz2"))
    assert plain.edge_count == packed.edge_count
    assert plain.length_m.sum() == pytest.approx(packed.length_m.sum())


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("empty.osm", b"", "not a readable OSM XML file"),
        ("text.osm", b"this is not xml", "not a readable OSM XML file"),
        ("page.osm", b"<html><body>hi</body></html>", "no OSM nodes and ways"),
        ("nothing.osm", b'<osm version="0.6"></osm>', "no OSM nodes and ways"),
        ("bad.osm.bz2", b"BZh9 not really", "not a readable OSM XML file"),
        ("cut.osm.bz2", bz2.compress(b'<osm version="0.6"><node id="1"')[:30], "not a readable"),
    ],
)
def test_broken_files_are_a_clear_error(
    tmp_path: Path, name: str, content: bytes, message: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(RoadNetworkError, match=message) as err:
        load_road_network(path)
    assert str(path) in str(err.value)


def test_no_drivable_roads_and_missing_file(tmp_path: Path) -> None:
    nodes = {1: at(0, 0), 2: at(10, 0), 3: at(10, 10)}
    only_paths = [(1, [1, 2, 3, 1], {"building": "yes"}), (2, [1, 2], {"highway": "footway"})]
    with pytest.raises(RoadNetworkError, match="no drivable roads"):
        load_road_network(write_osm(tmp_path / "houses.osm", nodes, only_paths))
    with pytest.raises(RoadNetworkError, match="does not exist"):
        load_road_network(tmp_path / "missing.osm")


def test_loading_never_opens_a_connection(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_: object) -> None:
        raise AssertionError("road loading tried to open a network connection")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    net = load_road_network(write_osm(tmp_path / "map.osm"))
    assert net.edge_count > 0
    import osmnx as ox

    assert "127.0.0.1" in ox.settings.overpass_url and not ox.settings.use_cache


def test_geojson_features(synthetic: RoadNetwork) -> None:
    fc = synthetic.features(synthetic.free_speed_kph, synthetic.free_speed_kph * 0 + 1)
    assert fc.type == "FeatureCollection" and len(fc.features) == synthetic.edge_count
    names = {f.properties.name for f in fc.features}
    assert names == {"Slow Lane", "Fast Road", "Side Street"}
    first = fc.features[0]
    assert first.geometry.type == "LineString" and len(first.geometry.coordinates) >= 2
    assert first.properties.travel_time_s == pytest.approx(
        first.properties.length_m / (first.properties.speed_kph / 3.6), rel=1e-2
    )
    assert not first.properties.closed and first.properties.penalty == 1.0


def test_example_site_roads_sensors_and_units(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(Path(__file__).parents[2])  # the site names files from the repository root
    from citysentinel.app import build_routing
    from citysentinel.config import load_config

    site = load_config(Path(__file__).parents[2] / "examples" / "site.yaml", env={})
    router, dispatcher, error = build_routing(site)
    assert router is not None and dispatcher is not None, error
    names = set(router.network.names)
    assert {"Bridge Road", "Riverside Embankment", "Park Road"} <= names
    assert "Park Walk" not in names  # a footway
    mapped = router.sensors
    assert set(mapped) == {"loop-bridge-n", "loop-bridge-s"}  # the speed loops
    graph = router.network.graph
    for sensor, northwards in (("loop-bridge-n", True), ("loop-bridge-s", False)):
        for eid in mapped[sensor]:
            u, v, _ = router.network.edges[eid]
            assert router.network.names[eid] == "Bridge Road"
            assert (graph.nodes[v]["y"] > graph.nodes[u]["y"]) == northwards
    assert [u.id for u in dispatcher.units] == ["amb-1", "fire-1", "police-1"]


def test_fast_geojson_matches_the_typed_features(synthetic: RoadNetwork) -> None:
    speed = synthetic.free_speed_kph.copy()
    speed[0] = 7.5
    factor = np.ones(synthetic.edge_count)
    factor[1], factor[2] = np.inf, 2.5
    fast = json.loads(synthetic.geojson(speed, factor))
    assert fast == synthetic.features(speed, factor).model_dump(mode="json")
    assert fast["features"][1]["properties"]["closed"] is True
