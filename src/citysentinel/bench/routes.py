"""`citysentinel bench routes`: road network load time, route latency, routes/s over HTTP.

Route latency is `Router.route` between seeded random pairs of routable nodes, in
this process; `roads_json_ms` is the median of 5 serialisations of the whole
network as GeoJSON (what `GET /api/v1/roads` sends). The HTTP figure runs a live
server on the same file (uvicorn in a thread, as `bench pipeline` does) and a few
concurrent clients asking `GET /api/v1/routes` for pairs prepared before the
clock starts.
"""

from __future__ import annotations

import logging
import math
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

from citysentinel.app import build
from citysentinel.bench.pipeline import _percentile, _Server
from citysentinel.config import Settings, SiteConfig
from citysentinel.traffic.roads import RoadNetworkError, import_osmnx, load_road_network
from citysentinel.traffic.routing import LatLon, Router

log = logging.getLogger(__name__)


def write_grid_osm(path: Path, n: int, spacing_m: float = 100.0) -> Path:
    """A made-up n x n street grid as OSM XML (our own data, for scaling figures).

    Every fifth street is a 50 km/h primary road, the others residential (class
    default 30 km/h); every third residential street is one-way.
    """
    lat0, lon0 = 48.0, 11.0
    dlat = spacing_m / 111_195.0
    dlon = dlat / math.cos(math.radians(lat0))
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', '<osm version="0.6" generator="bench">']
    for i in range(n):
        for j in range(n):
            lat, lon = lat0 + i * dlat, lon0 + j * dlon
            lines.append(f'<node id="{i * n + j + 1}" lat="{lat:.7f}" lon="{lon:.7f}"/>')
    way = 0
    for horizontal in (True, False):
        for i in range(n):
            way += 1
            refs = [(i * n + j + 1) if horizontal else (j * n + i + 1) for j in range(n)]
            tags = {"highway": "primary", "maxspeed": "50"} if i % 5 == 0 else {}
            tags = tags or {"highway": "residential", **({"oneway": "yes"} if i % 3 == 0 else {})}
            tags["name"] = f"{'Row' if horizontal else 'Column'} {i}"
            lines.append(f'<way id="{way}">')
            lines += [f'<nd ref="{r}"/>' for r in refs]
            lines += [f'<tag k="{k}" v="{v}"/>' for k, v in tags.items()]
            lines.append("</way>")
    path.write_text("\n".join([*lines, "</osm>"]) + "\n", encoding="utf-8")
    return path


def _pairs(router: Router, n: int, rng: random.Random) -> list[tuple[LatLon, LatLon]]:
    nodes = sorted(router.network.routable)
    if len(nodes) < 2:
        raise RoadNetworkError(
            f"{router.network.source}: fewer than 2 routable nodes, so there is no route to time"
        )
    out = []
    for _ in range(n):
        a, b = rng.sample(nodes, 2)
        (lon_a, lat_a), (lon_b, lat_b) = (
            router.network.node_lonlat(a),
            router.network.node_lonlat(b),
        )
        out.append((LatLon(lat_a, lon_a), LatLon(lat_b, lon_b)))
    return out


def _api_routes(base: str, key: str, pairs: list[tuple[LatLon, LatLon]], clients: int) -> float:
    """Seconds for `clients` threads to get every route in `pairs` from the API."""

    def worker(chunk: list[tuple[LatLon, LatLon]]) -> None:
        headers = {"Authorization": f"Bearer {key}"}
        with httpx.Client(base_url=base, headers=headers, timeout=60) as c:
            for a, b in chunk:
                r = c.get(
                    "/api/v1/routes", params={"from": f"{a.lat},{a.lon}", "to": f"{b.lat},{b.lon}"}
                )
                r.raise_for_status()

    chunks = [pairs[i::clients] for i in range(clients)]
    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(worker, chunks))
    return time.perf_counter() - started


def run_routes_bench(
    osm: Path | None,
    *,
    grid: int | None = None,
    routes: int = 1000,
    api_routes: int = 1000,
    clients: int = 4,
    seed: int = 7,
    progress: bool = True,
) -> dict[str, Any]:
    """Measure and return the figures, on `osm` or a made-up `grid` x `grid` street grid.

    Raises RoadNetworkError for an unusable file.
    """
    say = log.info if progress else log.debug
    label = str(osm) if osm is not None else f"grid {grid} x {grid}"
    with tempfile.TemporaryDirectory() as tmp:
        if osm is None:
            if grid is None or grid < 2:
                raise RoadNetworkError("give an OSM file (--osm) or a grid size of 2 or more")
            say("bench: writing a %d x %d street grid", grid, grid)
            osm = write_grid_osm(Path(tmp) / f"grid-{grid}.osm", grid)
        import_osmnx()  # the import of osmnx itself (~1 s) is not part of loading a network
        started = time.perf_counter()
        router = Router(load_road_network(osm))
        load_s = time.perf_counter() - started
        rng = random.Random(seed)
        say("bench: %s loaded in %.2f s; timing %d routes", osm, load_s, routes)
        timings = []
        for a, b in _pairs(router, routes, rng):
            t0 = time.perf_counter()
            router.route(a, b)
            timings.append((time.perf_counter() - t0) * 1000)
        router.roads_json()  # the first call builds the fixed per-segment text
        json_ms = []
        for _ in range(5):
            t0 = time.perf_counter()
            router.roads_json()
            json_ms.append((time.perf_counter() - t0) * 1000)
        api_s = _serve_routes(osm, Path(tmp), _pairs(router, api_routes, rng), clients, say)
    return {
        "osm": label,
        "nodes": router.network.node_count,
        "edges": router.network.edge_count,
        "routable_nodes": len(router.network.routable),
        "load_s": round(load_s, 3),
        "routes": routes,
        "route_ms_p50": round(statistics.median(timings), 3),
        "route_ms_p99": round(_percentile(timings, 99), 3),
        "roads_json_ms": round(statistics.median(json_ms), 1),
        "api_routes": api_routes,
        "clients": clients,
        "api_routes_per_s": round(api_routes / api_s, 1),
    }


def _serve_routes(
    osm: Path,
    tmp: Path,
    pairs: list[tuple[LatLon, LatLon]],
    clients: int,
    say: Callable[..., None],
) -> float:
    """Seconds a live server on `osm` takes to answer every pair (after a warm-up)."""
    site = SiteConfig.model_validate({"site": {"name": "routes bench"}, "roads": {"osm": str(osm)}})
    settings = Settings(database_url=f"sqlite:///{tmp}/bench.sqlite", data_dir=tmp)
    runtime = build(site, settings, sinks=[], cameras=False)
    key = runtime.ensure_admin_key(None) or ""
    with _Server(runtime) as server:
        base = f"http://127.0.0.1:{server.port}"
        _api_routes(base, key, pairs[: clients * 5], clients)  # warm connections and keys
        say("bench: %d routes over HTTP with %d clients", len(pairs), clients)
        return _api_routes(base, key, pairs, clients)
