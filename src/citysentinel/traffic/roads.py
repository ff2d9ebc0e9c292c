"""Road networks from OpenStreetMap XML files: drivable roads with lengths, speeds and times.

`load_road_network(path)` reads a `.osm` or `.osm.bz2` file with osmnx (never the
network: only `graph_from_xml`, with osmnx's download URLs pointed at nowhere) into a
`RoadNetwork`: a networkx `MultiDiGraph` whose edges carry `eid` (index into the
network's arrays), `length` (m), `speed_kph` (free flow) and `travel_time` (s), and
the same per-edge values as numpy arrays for fast state updates by the router.
"""

from __future__ import annotations

import functools
import json
import logging
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from pydantic import BaseModel, Field

if TYPE_CHECKING:
    import networkx as nx  # type: ignore[import-untyped]  # networkx ships no stubs

log = logging.getLogger(__name__)

# Free-flow speeds (km/h) by OSM highway class when a road has no usable `maxspeed`:
# urban European/US typical limits, *_link a step below their road (docs/traffic.md).
DEFAULT_SPEED_KPH: dict[str, float] = {
    "motorway": 100,
    "motorway_link": 60,
    "trunk": 80,
    "trunk_link": 50,
    "primary": 60,
    "primary_link": 40,
    "secondary": 50,
    "secondary_link": 40,
    "tertiary": 40,
    "tertiary_link": 30,
    "unclassified": 30,
    "residential": 30,
    "road": 30,
    "service": 20,
    "living_street": 10,
}
FALLBACK_SPEED_KPH = 30.0
# Service roads that are not through roads for vehicles (osmnx's "drive" filter agrees).
EXCLUDED_SERVICE = {"parking_aisle", "driveway", "private", "parking", "emergency_access"}
EXCLUDED_ACCESS = {"private", "no"}
# Implicit limits written as e.g. "DE:urban" or "zone30".
IMPLICIT_KPH = {"urban": 50.0, "rural": 100.0, "living_street": 10.0, "walk": 6.0}
_SPEED = re.compile(r"^(\d+(?:\.\d+)?)\s*(mph|km/h|kmh|kph|knots)?$")
_ZONE = re.compile(r"zone:?(\d+)")
_TO_KPH = {"mph": 1.609344, "knots": 1.852}


class RoadNetworkError(Exception):
    """A road network file that cannot be used; the message names the file."""


class LineString(BaseModel):
    """A GeoJSON LineString; positions are `[lon, lat]`."""

    type: Literal["LineString"] = "LineString"
    coordinates: list[tuple[float, float]] = Field(description="[lon, lat] positions, WGS84.")


class RoadProperties(BaseModel):
    """One directed road segment as drawn on the map, with its current state."""

    id: int = Field(description="Segment index (stable while the server runs).")
    name: str | None = Field(description="Street name, if OSM has one.")
    highway: str = Field(description="OSM highway class (residential, primary, ...).")
    oneway: bool = Field(description="True when only this direction exists.")
    length_m: float = Field(description="Length in metres.")
    free_flow_speed_kph: float = Field(description="From maxspeed, else the class default.")
    speed_kph: float = Field(description="Current speed: live sensor reading or free flow.")
    travel_time_s: float = Field(description="Current time to drive it, incident penalty included.")
    closed: bool = Field(description="Closed around an open incident.")
    penalty: float = Field(description="Travel time multiplier from open incidents (1 = none).")


class RoadFeature(BaseModel):
    """One directed road segment as a GeoJSON Feature."""

    type: Literal["Feature"] = "Feature"
    geometry: LineString
    properties: RoadProperties


class RoadFeatureCollection(BaseModel):
    """The road network as GeoJSON: one LineString feature per directed segment."""

    type: Literal["FeatureCollection"] = "FeatureCollection"
    features: list[RoadFeature]


def parse_maxspeed(value: object) -> float | None:
    """A `maxspeed` tag in km/h, or None when it gives no usable number.

    Plain numbers are km/h; "mph" and "knots" are converted; "a;b" and lists (merged
    ways) give the mean; "DE:urban", "zone30" and "walk" use the usual implicit limit.

    Example:
        >>> parse_maxspeed("30 mph"), parse_maxspeed("50;70"), parse_maxspeed("none")
        (48.28032, 60.0, None)
    """
    if isinstance(value, list | tuple):
        parts = [p for v in value for p in str(v).replace("|", ";").split(";")]
    elif isinstance(value, str):
        parts = value.replace("|", ";").split(";")
    else:
        return None
    speeds = [s for s in (_one_speed(p) for p in parts) if s is not None]
    return round(sum(speeds) / len(speeds), 5) if speeds else None


def _one_speed(text: str) -> float | None:
    token = text.strip().lower()
    match = _SPEED.match(token)
    if match:
        speed = float(match.group(1)) * _TO_KPH.get(match.group(2) or "", 1.0)
        return speed if speed > 0 else None
    zone = _ZONE.search(token)
    if zone:
        return float(zone.group(1))
    return IMPLICIT_KPH.get(token.rsplit(":", 1)[-1])


def _first(value: object) -> str | None:
    """osmnx gives a list when merged ways disagree on a tag; keep the first."""
    if isinstance(value, list | tuple):
        value = value[0] if value else None
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else str(value)


def _name(value: object) -> str | None:
    if isinstance(value, list | tuple):
        return " / ".join(dict.fromkeys(str(v) for v in value)) or None
    return _first(value)


def _drivable(data: dict[str, Any]) -> bool:
    highway = _first(data.get("highway"))
    if highway not in DEFAULT_SPEED_KPH or _first(data.get("area")) == "yes":
        return False
    return (
        _first(data.get("service")) not in EXCLUDED_SERVICE
        and _first(data.get("access")) not in EXCLUDED_ACCESS
    )


@dataclass(frozen=True)
class RoadNetwork:
    """A drivable road graph and its per-edge arrays (index = the edge's `eid`).

    `routable` holds the nodes of the largest strongly connected part: points snap to
    those only, so a route exists between any two snapped points (roads cut off at the
    file's border, e.g. a one-way street leaving it, are kept for the map).
    """

    source: Path
    graph: nx.MultiDiGraph
    edges: tuple[tuple[int, int, int], ...]
    length_m: np.ndarray
    free_speed_kph: np.ndarray
    names: tuple[str | None, ...]
    highways: tuple[str, ...]
    oneway: tuple[bool, ...]
    coords: tuple[tuple[tuple[float, float], ...], ...]  # [lon, lat] per edge
    routable: frozenset[int]

    @property
    def free_time_s(self) -> np.ndarray:
        return self.length_m / (self.free_speed_kph / 3.6)

    @property
    def node_count(self) -> int:
        return int(self.graph.number_of_nodes())

    @property
    def edge_count(self) -> int:
        return len(self.edges)

    def node_lonlat(self, node: int) -> tuple[float, float]:
        data = self.graph.nodes[node]
        return float(data["x"]), float(data["y"])

    @functools.cached_property
    def _static_json(self) -> list[str]:
        """Each feature's JSON up to its live properties (built once: geometry is fixed)."""
        out = []
        for i in range(self.edge_count):
            geometry = json.dumps({"type": "LineString", "coordinates": self.coords[i]})
            head = {
                "id": i,
                "name": self.names[i],
                "highway": self.highways[i],
                "oneway": self.oneway[i],
                "length_m": round(float(self.length_m[i]), 1),
                "free_flow_speed_kph": round(float(self.free_speed_kph[i]), 1),
            }
            props = json.dumps(head, ensure_ascii=False)[:-1]
            out.append(f'{{"type":"Feature","geometry":{geometry},"properties":{props},')
        return out

    def geojson(self, speed_kph: np.ndarray, factor: np.ndarray) -> bytes:
        """The same FeatureCollection as `features`, serialised without pydantic (fast)."""
        closed = np.isinf(factor)
        time_s = self.length_m / (speed_kph / 3.6) * np.where(closed, 1.0, factor)
        penalty = np.where(closed, 1.0, factor)
        parts = [
            f'{head}"speed_kph":{round(float(v), 1)!r},"travel_time_s":{round(float(t), 2)!r},'
            f'"closed":{"true" if c else "false"},"penalty":{round(float(p), 3)!r}}}}}'
            for head, v, t, c, p in zip(
                self._static_json, speed_kph, time_s, closed, penalty, strict=True
            )
        ]
        return ('{"type":"FeatureCollection","features":[' + ",".join(parts) + "]}").encode()

    def features(
        self, speed_kph: np.ndarray, factor: np.ndarray, eids: Sequence[int] | None = None
    ) -> RoadFeatureCollection:
        """GeoJSON of the segments (all, or `eids`) with current speeds and incident factors."""
        out = []
        for i in range(self.edge_count) if eids is None else eids:
            closed = bool(np.isinf(factor[i]))
            time_s = float(self.length_m[i] / (speed_kph[i] / 3.6)) * (1.0 if closed else factor[i])
            props = RoadProperties(
                id=i,
                name=self.names[i],
                highway=self.highways[i],
                oneway=self.oneway[i],
                length_m=round(float(self.length_m[i]), 1),
                free_flow_speed_kph=round(float(self.free_speed_kph[i]), 1),
                speed_kph=round(float(speed_kph[i]), 1),
                travel_time_s=round(time_s, 2),
                closed=closed,
                penalty=1.0 if closed else round(float(factor[i]), 3),
            )
            geometry = LineString(coordinates=list(self.coords[i]))
            out.append(RoadFeature(geometry=geometry, properties=props))
        return RoadFeatureCollection(features=out)


def import_osmnx() -> Any:
    """Import osmnx with its download URLs pointed at a closed local port and no cache.

    Only `graph_from_xml` is called, which reads the file; this is a second fence so
    that no osmnx call in this process can reach Overpass or Nominatim.
    """
    try:
        import osmnx as ox
    except ImportError as exc:  # the traffic extra is not installed
        raise RoadNetworkError(
            "road networks need the traffic extra: pip install 'citysentinel[traffic]'"
        ) from exc
    ox.settings.overpass_url = "http://127.0.0.1:9/overpass-disabled"
    ox.settings.nominatim_url = "http://127.0.0.1:9/nominatim-disabled"
    ox.settings.elevation_url_template = "http://127.0.0.1:9/elevation-disabled"
    ox.settings.use_cache = False
    ox.settings.log_console = False
    ox.settings.log_file = False
    return ox


def load_road_network(path: str | Path, *, simplify: bool = False) -> RoadNetwork:
    """Read the drivable roads of an OSM XML file (`.osm`, or `.osm.bz2`).

    `simplify` merges the nodes between intersections (fewer nodes, faster routes,
    but points snap to intersections only). Raises `RoadNetworkError` naming the file.

    Example:
        >>> net = load_road_network("../shared/data/roads/West-Oakland.osm.bz2")  # doctest: +SKIP
        >>> net.node_count, net.edge_count  # doctest: +SKIP
        (108, 199)
    """
    path = Path(path)
    if not path.is_file():
        raise RoadNetworkError(f"{path}: the road network file does not exist")
    ox = import_osmnx()
    try:
        graph = ox.graph_from_xml(path, simplify=False, retain_all=True)
    except ox._errors.InsufficientResponseError as exc:
        raise RoadNetworkError(f"{path}: the file has no OSM nodes and ways") from exc
    except Exception as exc:  # sax, bz2, osmnx and pandas errors all mean "not usable OSM XML"
        reason = str(exc).strip() or type(exc).__name__
        raise RoadNetworkError(f"{path}: not a readable OSM XML file ({reason})") from exc
    drop = [(u, v, k) for u, v, k, d in graph.edges(keys=True, data=True) if not _drivable(d)]
    graph.remove_edges_from(drop)
    graph.remove_nodes_from([n for n in list(graph) if graph.degree(n) == 0])
    if graph.number_of_edges() == 0:
        raise RoadNetworkError(f"{path}: the file has no drivable roads (OSM highway ways)")
    if simplify:
        graph = ox.simplify_graph(graph)
    return _index(path, graph)


def _index(path: Path, graph: nx.MultiDiGraph) -> RoadNetwork:
    import networkx as nx

    edges, lengths, speeds, names, highways, oneway, coords = [], [], [], [], [], [], []
    for eid, (u, v, k, d) in enumerate(graph.edges(keys=True, data=True)):
        highway = _first(d.get("highway")) or "road"
        speed = parse_maxspeed(d.get("maxspeed")) or DEFAULT_SPEED_KPH.get(
            highway, FALLBACK_SPEED_KPH
        )
        d["eid"] = eid
        d["speed_kph"] = speed
        d["travel_time"] = float(d["length"]) / (speed / 3.6)
        edges.append((u, v, k))
        lengths.append(max(float(d["length"]), 0.01))  # zero-length edges would tie everything
        speeds.append(speed)
        names.append(_name(d.get("name")))
        highways.append(highway)
        oneway.append(not graph.has_edge(v, u))
        coords.append(_edge_coords(graph, u, v, d))
    routable = max(nx.strongly_connected_components(graph), key=len)
    log.info(
        "road network %s: %d nodes, %d edges (%d nodes routable)",
        path,
        graph.number_of_nodes(),
        len(edges),
        len(routable),
    )
    return RoadNetwork(
        source=path,
        graph=graph,
        edges=tuple(edges),
        length_m=np.asarray(lengths, dtype=np.float64),
        free_speed_kph=np.asarray(speeds, dtype=np.float64),
        names=tuple(names),
        highways=tuple(highways),
        oneway=tuple(oneway),
        coords=tuple(coords),
        routable=frozenset(routable),
    )


def _edge_coords(
    graph: nx.MultiDiGraph, u: int, v: int, data: dict[str, Any]
) -> tuple[tuple[float, float], ...]:
    geometry = data.get("geometry")
    if geometry is not None:  # simplified edges carry the merged way's shape
        return tuple((round(x, 7), round(y, 7)) for x, y in geometry.coords)
    a, b = graph.nodes[u], graph.nodes[v]
    return (round(a["x"], 7), round(a["y"], 7)), (round(b["x"], 7), round(b["y"], 7))
