"""Nearest road node, roads near a point and a sensor's road link, from STR-trees.

Example:
    >>> index = SpatialIndex(load_road_network("roads.osm"))  # doctest: +SKIP
    >>> index.edges_within(37.8077, -122.3005, 50.0)  # doctest: +SKIP
    array([12, 13, 40])
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from citysentinel.traffic.roads import RoadNetwork


class SpatialIndex:
    """Nearest routable node, edges near a point and a sensor's road link, without O(n) scans.

    Coordinates are projected to metres around the network's centre (equirectangular:
    under 1% off across a city) into shapely STR-trees; the node finally chosen among
    near-ties is the one nearest by haversine, and that is the distance reported.

    Example:
        >>> index = SpatialIndex(load_road_network("roads.osm"))  # doctest: +SKIP
        >>> index.nearest_node(37.8077, -122.3005)  # doctest: +SKIP
        (53027353, 4.2)
    """

    def __init__(self, network: RoadNetwork) -> None:
        import shapely  # type: ignore[import-untyped]  # shapely ships no stubs

        self.network = network
        nodes = sorted(network.routable)
        lonlat = np.asarray([network.node_lonlat(n) for n in nodes], dtype=np.float64)
        self._lon0, lat0 = (float(c) for c in lonlat.mean(axis=0))
        self._kx = math.radians(1) * 6_371_008.8 * math.cos(math.radians(lat0))
        self._ky = math.radians(1) * 6_371_008.8
        self._lat0 = lat0
        self._nodes = np.asarray(nodes, dtype=np.int64)
        self._node_lonlat = lonlat
        self._node_tree = shapely.STRtree(shapely.points(self._xy(lonlat)))
        # One vectorised call for all edges: building them one by one costs seconds per 10k.
        flat = np.asarray([p for c in network.coords for p in c], dtype=np.float64)
        which = np.repeat(np.arange(network.edge_count), [len(c) for c in network.coords])
        self._edge_lines = shapely.linestrings(self._xy(flat), indices=which)
        self._edge_tree = shapely.STRtree(self._edge_lines)

    def _xy(self, lonlat: np.ndarray) -> np.ndarray:
        return np.column_stack(
            ((lonlat[:, 0] - self._lon0) * self._kx, (lonlat[:, 1] - self._lat0) * self._ky)
        )

    def _point(self, lat: float, lon: float) -> Any:
        import shapely

        return shapely.Point((lon - self._lon0) * self._kx, (lat - self._lat0) * self._ky)

    def nearest_node(self, lat: float, lon: float) -> tuple[int, float]:
        """The routable node nearest to (lat, lon) and its haversine distance in metres."""
        from citysentinel.traffic.routing import haversine_m

        point = self._point(lat, lon)
        _, dist = self._node_tree.query_nearest(point, return_distance=True)
        near = self._node_tree.query(point, predicate="dwithin", distance=dist[0] * 1.01 + 1.0)
        best = min(
            (haversine_m(lat, lon, self._node_lonlat[i][1], self._node_lonlat[i][0]), int(i))
            for i in near
        )
        return int(self._nodes[best[1]]), best[0]

    def edges_within(self, lat: float, lon: float, radius_m: float) -> np.ndarray:
        """Edge ids passing within `radius_m` of the point."""
        found = self._edge_tree.query(self._point(lat, lon), predicate="dwithin", distance=radius_m)
        return np.sort(np.asarray(found, dtype=np.int64))

    def sensor_link(
        self,
        lat: float,
        lon: float,
        bearing: float | None,
        road: str | None,
        slack_m: float,
        max_m: float,
    ) -> list[int]:
        """The directed road link(s) a sensor at (lat, lon) measures; [] beyond `max_m`.

        Among edges within `slack_m` of the nearest: those named like `road` win, then
        the direction closest to `bearing`. Without a bearing both directions are taken.
        """
        point = self._point(lat, lon)
        _, dist = self._edge_tree.query_nearest(point, return_distance=True)
        if not len(dist) or dist[0] > max_m:
            return []
        near = self._edge_tree.query(point, predicate="dwithin", distance=dist[0] + slack_m)
        text = (road or "").lower()
        names = self.network.names

        def rank(eid: int) -> tuple[bool, float, float]:
            name = (names[eid] or "").lower()
            unnamed = not (name and text and (name in text or text in name))
            turn = 0.0 if bearing is None else _angle(self._bearing(eid), bearing)
            return unnamed, turn, float(self._edge_lines[eid].distance(point))

        best = min((int(e) for e in near), key=rank)
        link = self.link(best)
        u, v, _ = self.network.edges[best]
        if bearing is None and self.network.graph.has_edge(v, u):
            back = int(next(iter(self.network.graph[v][u].values()))["eid"])
            link += [e for e in self.link(back) if e not in link]
        return link

    def _bearing(self, eid: int) -> float:
        (x0, y0), (x1, y1) = self.network.coords[eid][0], self.network.coords[eid][-1]
        dx = (x1 - x0) * math.cos(math.radians(self._lat0))
        return math.degrees(math.atan2(dx, y1 - y0)) % 360

    def link(self, eid: int) -> list[int]:
        """`eid` extended both ways along the same street through nodes without a junction."""
        graph = self.network.graph
        name = self.network.names[eid]
        u, v, _ = self.network.edges[eid]
        out, seen = [eid], {u, v}

        def step(a: int, b: int, forward: bool) -> tuple[int, int, int] | None:
            # From edge a->b (forward) or b->a (backward), the next edge beyond b.
            around = set(graph.successors(b)) | set(graph.predecessors(b))
            if len(around) != 2:
                return None
            (c,) = around - {a}
            if c in seen:
                return None
            x, y = (b, c) if forward else (c, b)
            if not graph.has_edge(x, y):
                return None
            following = int(next(iter(graph[x][y].values()))["eid"])
            return (following, c, b) if self.network.names[following] == name else None

        for forward in (True, False):
            a, b = (u, v) if forward else (v, u)
            while (nxt := step(a, b, forward)) is not None:
                eid_next, c, _ = nxt
                out.append(eid_next) if forward else out.insert(0, eid_next)
                seen.add(c)
                a, b = b, c
        return out


def _angle(a: float, b: float) -> float:
    diff = abs(a - b) % 360
    return min(diff, 360 - diff)
