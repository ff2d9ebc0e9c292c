"""The routes bench reports its documented figures, on a made-up grid and on bad input."""

from __future__ import annotations

from pathlib import Path

import pytest

from citysentinel.bench.routes import run_routes_bench, write_grid_osm
from citysentinel.traffic.roads import RoadNetworkError, load_road_network

KEYS = {
    "nodes",
    "edges",
    "load_s",
    "route_ms_p50",
    "route_ms_p99",
    "roads_json_ms",
    "api_routes_per_s",
}


def test_grid_is_a_connected_street_network(tmp_path: Path) -> None:
    net = load_road_network(write_grid_osm(tmp_path / "grid.osm", 6))
    assert net.node_count == 36
    assert len(net.routable) >= 35  # a one-way street may leave one corner one-way only
    assert set(net.highways) == {"primary", "residential"}


def test_bench_reports_its_figures_on_a_small_grid() -> None:
    result = run_routes_bench(None, grid=5, routes=5, api_routes=8, clients=2, progress=False)
    assert set(result) >= KEYS
    assert result["nodes"] == 25 and result["osm"] == "grid 5 x 5"
    assert result["route_ms_p50"] > 0 and result["api_routes_per_s"] > 0
    assert result["roads_json_ms"] > 0


def test_a_network_without_two_routable_nodes_is_a_clear_error(tmp_path: Path) -> None:
    osm = tmp_path / "one-way.osm"
    osm.write_text(
        '<osm version="0.6"><node id="1" lat="48.0" lon="11.0"/><node id="2" lat="48.001"'
        ' lon="11.0"/><way id="1"><nd ref="1"/><nd ref="2"/><tag k="highway" v="primary"/>'
        '<tag k="oneway" v="yes"/></way></osm>\n',
        encoding="utf-8",
    )
    with pytest.raises(RoadNetworkError, match="fewer than 2 routable nodes"):
        run_routes_bench(osm, routes=1, api_routes=1, progress=False)


@pytest.mark.parametrize("grid", [None, 1])
def test_bench_needs_a_file_or_a_grid(grid: int | None) -> None:
    with pytest.raises(RoadNetworkError, match="--osm"):
        run_routes_bench(None, grid=grid, routes=1, api_routes=1, progress=False)
