"""Fastest routes on a road network with live speeds and closures around open incidents.

A `Router` keeps the state of the roads in numpy arrays indexed by edge (`eid`):
the current speed (free flow, or a live sensor reading) and an incident factor
(1, a penalty, or infinity = closed). Routes and dispatch multiply the two into
the data of a sparse matrix for scipy's Dijkstra, so an update never copies the graph.
Both arrays are replaced whole under a lock (copy on write), never written in place:
a request reads one consistent state while another request applies new readings.
"""

from __future__ import annotations

import itertools
import math
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from citysentinel.incidents import Incident
from citysentinel.traffic.roads import LineString, RoadFeatureCollection, RoadNetwork
from citysentinel.traffic.spatial import SpatialIndex

EARTH_RADIUS_M = 6_371_008.8
CANDIDATE_M = 30.0  # edges this much further than the nearest still count as "at" a sensor
_BEARINGS = {"northbound": 0.0, "eastbound": 90.0, "southbound": 180.0, "westbound": 270.0}
_NO_EDGES = np.zeros(0, dtype=np.int64)
SPEED_UNITS = {"km/h": 1.0, "kmh": 1.0, "kph": 1.0, "mph": 1.609344, "m/s": 3.6}


class NotOnNetwork(ValueError):
    """A point further from the routable roads than the router accepts."""


class NoRoute(LookupError):
    """No open road connects the two points (closures can cut a network in two)."""


@dataclass(frozen=True)
class LatLon:
    """A WGS84 point, latitude first as people write it."""

    lat: float
    lon: float

    @classmethod
    def parse(cls, text: str) -> LatLon:
        """Read "lat,lon"; a clear ValueError otherwise.

        Example:
            >>> LatLon.parse("37.8077, -122.3005")
            LatLon(lat=37.8077, lon=-122.3005)
        """
        parts = text.split(",")
        try:
            lat, lon = (float(p) for p in parts)
        except ValueError:
            msg = f"{text!r} is not 'lat,lon' (two numbers, e.g. 37.8077,-122.3005)"
            raise ValueError(msg) from None
        if not (math.isfinite(lat) and math.isfinite(lon) and -90 <= lat <= 90):
            raise ValueError(f"{text!r}: latitude must be in -90..90")
        if not -180 <= lon <= 180:
            raise ValueError(f"{text!r}: longitude must be in -180..180")
        return cls(lat, lon)


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres.

    Example:
        >>> round(haversine_m(51.4791, -0.1570, 51.4791, -0.1470))
        693
    """
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


@dataclass(frozen=True)
class ClosurePolicy:
    """What an open incident does to the roads within `radius_m` of it."""

    radius_m: float = 50.0
    mode: Literal["closed", "penalty"] = "closed"
    penalty_factor: float = 5.0


@dataclass(frozen=True)
class IncidentSite:
    """An open incident's id and place, as routing sees it."""

    id: str
    lat: float
    lon: float

    @staticmethod
    def from_incidents(
        incidents: Iterable[Incident], categories: Sequence[str] = ()
    ) -> list[IncidentSite]:
        """Active incidents with a point (of `categories`, when given).

        Example:
            >>> IncidentSite.from_incidents(store_incidents, ["traffic"])  # doctest: +SKIP
            [IncidentSite(id='4f2c...', lat=51.4796, lon=-0.1679)]
        """
        return [
            IncidentSite(i.id, i.point.lat, i.point.lon)
            for i in incidents
            if i.is_active and i.point is not None and (not categories or i.category in categories)
        ]


@dataclass(frozen=True)
class Route:
    """The fastest route between two points under the current road state."""

    distance_m: float
    duration_s: float
    free_flow_duration_s: float  # the same roads at free-flow speeds
    geometry: LineString
    roads: list[str]
    avoided: list[str]  # incidents on the best route without closures, not on this one
    snap_m: tuple[float, float]  # how far origin and destination were from their nodes
    nodes: list[int]


@dataclass(frozen=True)
class _Closures:
    """Incident factors per edge and which edges each incident touches (swapped atomically)."""

    key: frozenset[IncidentSite]
    factor: np.ndarray
    by_incident: dict[str, np.ndarray]


@dataclass(frozen=True)
class _Speeds:
    """Current speed (km/h) and travel time (s) per edge; replaced whole, never written."""

    speed: np.ndarray
    time: np.ndarray


class Router:
    """Routes and travel times on one road network; thread-safe for concurrent requests.

    Example:
        >>> router = Router(load_road_network("roads.osm"))  # doctest: +SKIP
        >>> router.route(LatLon(37.8077, -122.3005), LatLon(37.8090, -122.2976))  # doctest: +SKIP
    """

    def __init__(
        self,
        network: RoadNetwork,
        closures: ClosurePolicy | None = None,
        *,
        max_snap_m: float = 500.0,
    ) -> None:
        self.network = network
        self.policy = closures or ClosurePolicy()
        self.max_snap_m = max_snap_m
        self.index = SpatialIndex(network)
        self._csr = _Csr(network)
        self._state = _Speeds(network.free_speed_kph.copy(), network.free_time_s.copy())
        self._lock = threading.Lock()  # serialises writers; readers take `_state` once
        ones = np.ones(network.edge_count)
        self._closures = _Closures(frozenset(), ones, {})
        self._sensors: dict[str, tuple[np.ndarray, float]] = {}  # edges, unit -> km/h
        self.incidents_at = -math.inf  # monotonic time of the last `set_incidents`

    # --- state -----------------------------------------------------------------------------

    def set_incidents(self, sites: Iterable[IncidentSite]) -> None:
        """Close or penalise the roads around these incidents (and reopen all others)."""
        key = frozenset(sites)
        if key == self._closures.key:
            self.incidents_at = time.monotonic()
            return
        factor = np.ones(self.network.edge_count)
        by_incident: dict[str, np.ndarray] = {}
        value = math.inf if self.policy.mode == "closed" else self.policy.penalty_factor
        for site in key:
            eids = self.index.edges_within(site.lat, site.lon, self.policy.radius_m)
            by_incident[site.id] = eids
            factor[eids] = value
        self._closures = _Closures(key, factor, by_incident)
        self.incidents_at = time.monotonic()  # after the swap: others then see the new state

    def map_sensor(
        self, sensor_id: str, point: LatLon, road: str | None = None, unit: str = "km/h"
    ) -> list[int]:
        """Tie a speed sensor to the road link at `point` (its direction, when `road` says).

        The link runs between intersections; `road` text such as "Bridge Road northbound"
        prefers edges of that name and direction. Readings are in `unit` (mph, km/h,
        m/s). Returns the edges, empty when the sensor is too far from any road.
        """
        to_kph = SPEED_UNITS.get(unit.strip().lower())
        if to_kph is None:
            raise ValueError(
                f"sensor {sensor_id}: speed unit {unit!r} is not one of {', '.join(SPEED_UNITS)}"
            )
        eids = self.index.sensor_link(
            point.lat, point.lon, bearing_of(road), road, CANDIDATE_M, self.max_snap_m
        )
        self._sensors[sensor_id] = (np.asarray(eids, dtype=np.int64), to_kph)
        return list(eids)

    def update_speed(self, sensor_id: str, value: float) -> bool:
        """A live speed reading (in the sensor's unit); False when unmapped or unusable.

        Readings <= 0 or not finite are ignored: loop detectors report 0 for "no data".
        """
        if not (math.isfinite(value) and value > 0):
            return False
        return self._write({sensor_id: value}) > 0

    def apply_readings(self, latest: Mapping[str, float | None]) -> int:
        """Latest speed per sensor (None: no fresh reading, back to free flow); how many applied.

        All readings are applied as one change: a concurrent route sees all or none of them.
        """
        return self._write(latest)

    def clear_speed(self, sensor_id: str) -> None:
        """Back to free flow on a sensor's link (e.g. the sensor went silent)."""
        self._write({sensor_id: None})

    def _write(self, latest: Mapping[str, float | None]) -> int:
        """Copy the speed arrays, set the mapped sensors' links, swap the copy in."""
        net = self.network
        with self._lock:
            speed, time_s = self._state.speed.copy(), self._state.time.copy()
            applied = 0
            for sensor_id, value in latest.items():
                eids, to_kph = self._sensors.get(sensor_id, (_NO_EDGES, 1.0))
                if not len(eids):
                    continue
                if value is not None and math.isfinite(value) and value > 0:
                    speed[eids] = value * to_kph
                    time_s[eids] = net.length_m[eids] / (value * to_kph / 3.6)
                    applied += 1
                else:
                    speed[eids], time_s[eids] = net.free_speed_kph[eids], net.free_time_s[eids]
            self._state = _Speeds(speed, time_s)
        return applied

    @property
    def sensors(self) -> dict[str, list[int]]:
        return {k: v.tolist() for k, (v, _) in self._sensors.items()}

    # --- queries ---------------------------------------------------------------------------

    def snap(self, point: LatLon) -> tuple[int, float]:
        """The nearest routable node and its distance in metres; NotOnNetwork when too far."""
        node, dist = self.index.nearest_node(point.lat, point.lon)
        if dist > self.max_snap_m:
            raise NotOnNetwork(
                f"{point.lat:.6f},{point.lon:.6f} is {dist:.0f} m from the nearest road"
                f" (at most {self.max_snap_m:.0f} m)"
            )
        return node, dist

    def route(self, origin: LatLon, destination: LatLon, *, avoid_incidents: bool = True) -> Route:
        """The fastest route; raises NotOnNetwork or NoRoute with a clear message."""
        (src, d0), (dst, d1) = self.snap(origin), self.snap(destination)
        closures, times = self._closures, self._state.time
        factor = closures.factor if avoid_incidents else np.ones(self.network.edge_count)
        weights = times * factor
        nodes = self._csr.path(weights, src, dst)
        if nodes is None:
            raise NoRoute(
                f"no open road from {origin.lat},{origin.lon} to"
                f" {destination.lat},{destination.lon} (closed around incidents:"
                f" {', '.join(sorted(closures.by_incident)) or 'none'})"
            )
        eids = self.path_edges(nodes, weights)
        avoided = self._avoided(src, dst, eids, closures, times) if avoid_incidents else []
        return self._describe(nodes, eids, weights, avoided, (d0, d1))

    def travel_times_to(self, target: int, *, ignore_incident: str | None = None) -> TravelTimes:
        """Seconds from every node to `target`, from one search on the reversed graph.

        `ignore_incident` lifts that incident's own closures so units can still reach it.
        """
        closures, times = self._closures, self._state.time
        factor = closures.factor
        if ignore_incident in closures.by_incident:
            factor = np.ones(self.network.edge_count)
            value = math.inf if self.policy.mode == "closed" else self.policy.penalty_factor
            for incident_id, eids in closures.by_incident.items():
                if incident_id != ignore_incident:
                    factor[eids] = value
        weights = times * factor
        seconds, pred = self._csr.search(weights, target, reverse=True)
        return TravelTimes(self, target, weights, seconds, pred)

    def roads(self) -> RoadFeatureCollection:
        """The network as GeoJSON with current speeds, closures and penalties."""
        return self.network.features(self._state.speed, self._closures.factor)

    def roads_json(self) -> bytes:
        """`roads()` serialised, fast enough for city-sized networks."""
        return self.network.geojson(self._state.speed, self._closures.factor)

    # --- helpers ---------------------------------------------------------------------------

    def path_edges(self, nodes: Sequence[int], weights: np.ndarray) -> list[int]:
        """The edge ids along a node path: the cheapest of parallel edges at each step."""
        graph = self.network.graph
        return [
            min((int(d["eid"]) for d in graph[u][v].values()), key=lambda e: weights[e])
            for u, v in itertools.pairwise(nodes)
        ]

    def _avoided(
        self, src: int, dst: int, taken: list[int], closures: _Closures, times: np.ndarray
    ) -> list[str]:
        """Incidents whose roads lie on the best route without closures but not on this one."""
        if not closures.by_incident:
            return []
        nodes = self._csr.path(times, src, dst)
        unconstrained = set(self.path_edges(nodes or [], times))
        used = set(taken)
        return sorted(
            incident_id
            for incident_id, eids in closures.by_incident.items()
            if unconstrained.intersection(eids.tolist()) and not used.intersection(eids.tolist())
        )

    def _describe(
        self,
        nodes: list[int],
        eids: list[int],
        weights: np.ndarray,
        avoided: list[str],
        snap_m: tuple[float, float],
    ) -> Route:
        net = self.network
        idx = np.asarray(eids, dtype=np.int64)
        coords: list[tuple[float, float]] = []
        for eid in eids:
            part = list(net.coords[eid])
            coords.extend(part[1:] if coords and coords[-1] == part[0] else part)
        if not coords:  # origin and destination snap to the same node
            coords = [net.node_lonlat(nodes[0])] * 2
        roads = [n for n in dict.fromkeys(net.names[e] for e in eids) if n is not None]
        return Route(
            distance_m=round(float(net.length_m[idx].sum()), 1),
            duration_s=round(float(weights[idx].sum()), 1),  # the weights the path was found on
            free_flow_duration_s=round(float(net.free_time_s[idx].sum()), 1),
            geometry=LineString(coordinates=coords),
            roads=roads,
            avoided=avoided,
            snap_m=(round(snap_m[0], 1), round(snap_m[1], 1)),
            nodes=list(nodes),
        )


class _Csr:
    """The road graph as a sparse matrix over node indices, for scipy's C Dijkstra.

    Parallel edges become one entry holding their minimum; a closed edge weighs
    infinity. Only the data array is rebuilt per search (O(edges) numpy work).
    """

    def __init__(self, network: RoadNetwork) -> None:
        self.nodes = np.asarray(list(network.graph.nodes), dtype=np.int64)
        self.index = {int(n): i for i, n in enumerate(self.nodes)}
        u = np.asarray([self.index[e[0]] for e in network.edges], dtype=np.int64)
        v = np.asarray([self.index[e[1]] for e in network.edges], dtype=np.int64)
        self.order = np.lexsort((v, u))  # edges sorted by (u, v)
        su, sv = u[self.order], v[self.order]
        first = np.ones(len(su), dtype=bool)
        first[1:] = (su[1:] != su[:-1]) | (sv[1:] != sv[:-1])
        self.starts = np.flatnonzero(first)
        self.columns = sv[self.starts].astype(np.int32)
        n = len(self.nodes)
        self.indptr = np.searchsorted(su[self.starts], np.arange(n + 1)).astype(np.int32)
        self.shape = (n, n)

    def search(
        self, weights: np.ndarray, source: int, *, reverse: bool = False
    ) -> tuple[np.ndarray, np.ndarray]:
        """Seconds and predecessor indices from `source` (to it, when `reverse`)."""
        from scipy.sparse import csr_matrix  # type: ignore[import-untyped]  # no stubs
        from scipy.sparse.csgraph import dijkstra  # type: ignore[import-untyped]

        data = np.minimum.reduceat(weights[self.order], self.starts)
        matrix = csr_matrix((data, self.columns, self.indptr), shape=self.shape)
        if reverse:
            matrix = matrix.T.tocsr()
        seconds, pred = dijkstra(
            matrix, directed=True, indices=self.index[source], return_predecessors=True
        )
        return seconds, pred

    def path(self, weights: np.ndarray, src: int, dst: int) -> list[int] | None:
        """Node ids of the cheapest path, or None when `dst` cannot be reached."""
        _, pred = self.search(weights, src)
        i, start = self.index[dst], self.index[src]
        out = [i]
        while i != start:
            i = int(pred[i])
            if i < 0:
                return None
            out.append(i)
        return [int(self.nodes[j]) for j in reversed(out)]


@dataclass(frozen=True)
class TravelTimes:
    """Every node's travel time to one target, with the way there (a reversed search).

    Example:
        >>> times = router.travel_times_to(incident_node)  # doctest: +SKIP
        >>> times.to_target(unit_node), times.distance_m(unit_node)  # doctest: +SKIP
        (74.3, 612.0)
    """

    router: Router
    target: int
    weights: np.ndarray
    seconds: np.ndarray
    pred: np.ndarray

    def to_target(self, node: int) -> float | None:
        """Seconds from `node` to the target; None when it cannot get there."""
        value = float(self.seconds[self.router._csr.index[node]])
        return None if math.isinf(value) else value

    def path(self, node: int) -> list[int]:
        """Node ids from `node` to the target (call only when `to_target` is not None)."""
        csr = self.router._csr
        i, end, out = csr.index[node], csr.index[self.target], [node]
        while i != end:
            i = int(self.pred[i])  # in a reversed search: the next node towards the target
            out.append(int(csr.nodes[i]))
        return out

    def distance_m(self, node: int) -> float:
        """Road metres from `node` to the target along the fastest way."""
        eids = self.router.path_edges(self.path(node), self.weights)
        return float(self.router.network.length_m[eids].sum()) if eids else 0.0


def bearing_of(road: str | None) -> float | None:
    """Compass bearing named in a sensor's road text ("... northbound"), or None."""
    text = (road or "").lower()
    return next((b for word, b in _BEARINGS.items() if word in text), None)
