"""The Traffic page and the map's road layer in a real browser, on a small synthetic road map."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import LiveServer, make_runtime, make_site, start_live
from tests.web.conftest import Pages, axe_violations, incident_for, post_event, screenshot, sign_in

# Two roads from A (west) to B (east) 1 km apart: "Mill Lane" straight, "Ring Road" looping
# 300 m north. Sensors sit on each; a road incident sits on Mill Lane.
LAT0, LON0 = 51.48, -0.16
M_LAT = 111_195.0
M_LON = M_LAT * math.cos(math.radians(LAT0))


def at(east_m: float, north_m: float) -> tuple[float, float]:
    return LAT0 + north_m / M_LAT, LON0 + east_m / M_LON


NODES = {
    1: at(0, 0),
    2: at(500, 0),
    3: at(1000, 0),
    4: at(0, 300),
    5: at(500, 300),
    6: at(1000, 300),
}
WAYS = [
    (100, [1, 2, 3], {"highway": "secondary", "name": "Mill Lane", "maxspeed": "30 mph"}),
    (101, [1, 4, 5, 6, 3], {"highway": "primary", "name": "Ring Road", "maxspeed": "40 mph"}),
]


def write_osm(path: Path) -> Path:
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', '<osm version="0.6" generator="test">']
    lines += [
        f'<node id="{n}" lat="{la:.7f}" lon="{lo:.7f}" version="1"/>'
        for n, (la, lo) in NODES.items()
    ]
    for wid, refs, tags in WAYS:
        lines.append(f'<way id="{wid}" version="1">')
        lines += [f'<nd ref="{r}"/>' for r in refs]
        lines += [f'<tag k="{k}" v="{v}"/>' for k, v in tags.items()]
        lines.append("</way>")
    path.write_text("\n".join([*lines, "</osm>"]), encoding="utf-8")
    return path


def point(east_m: float, north_m: float) -> dict[str, Any]:
    lat, lon = at(east_m, north_m)
    return {"coordinates": [lon, lat]}


def traffic_site(osm: Path | None) -> dict[str, Any]:
    return {
        "sensors": [
            {
                "id": "mill-1",
                "kind": "speed",
                "road": "Mill Lane",
                "unit": "mph",
                "free_flow": 30,
                "location": point(500, 0),
            },
            {
                "id": "ring-1",
                "kind": "speed",
                "road": "Ring Road",
                "unit": "mph",
                "free_flow": 40,
                "location": point(500, 300),
            },
        ],
        "roads": {"osm": str(osm)} if osm else {},
        "rules": [
            {
                "id": "road",
                "match": {"kind": "traffic.incident"},
                "incident": {
                    "category": "traffic",
                    "sub_category": "carAccident",
                    "severity": "high",
                },
            }
        ],
    }


@pytest.fixture(scope="module")
def traffic_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    tmp = tmp_path_factory.mktemp("traffic-web")
    site = make_site(**traffic_site(write_osm(tmp / "roads.osm")))
    server = start_live(make_runtime(f"sqlite:///{tmp / 'cs.sqlite'}", tmp, site))
    try:
        yield server
    finally:
        server.stop()


def post_readings(server: LiveServer) -> None:
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    readings = []
    for k in range(36):  # three hours of five-minute steps; Ring Road slows down at the end
        t = (now - timedelta(minutes=5 * (36 - k))).isoformat()
        readings.append({"sensor": "mill-1", "time": t, "value": 28 + (k % 3)})
        readings.append({"sensor": "ring-1", "time": t, "value": 38 - (k // 30) * 14 + (k % 2)})
    with server.client() as c:
        r = c.post("/api/v1/traffic/readings", json={"readings": readings})
    assert r.status_code == 200, r.text


def test_traffic_page_sensors_chart_incidents_and_route(
    pages: Pages, traffic_server: LiveServer
) -> None:
    post_readings(traffic_server)
    lat, lon = at(500, 0)
    post_event(
        traffic_server,
        kind="traffic.incident",
        source="mill-1",
        labels=["crash"],
        location={"point": {"coordinates": [lon, lat]}},
    )
    inc = incident_for(traffic_server, "mill-1")
    page = pages.new(height=1400)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    sign_in(page, traffic_server)
    page.goto(f"{traffic_server.url}/ui/#/traffic")
    page.wait_for_selector("#traffic-map[data-state=ready]", timeout=10_000)
    page.wait_for_selector("#traffic-sensors[data-state=ready]")
    assert "2 named streets" in page.inner_text("#roads-summary")
    rows = page.locator("#sensor-table tbody tr")
    assert rows.count() == 2
    assert page.get_attribute('#sensor-table tr[data-sensor="mill-1"]', "data-status") == "free"
    assert page.get_attribute('#sensor-table tr[data-sensor="ring-1"]', "data-status") != "free"
    # The chart follows the chosen sensor; the keyboard reaches it through the table.
    page.locator('#sensor-table tr[data-sensor="ring-1"] button').focus()
    page.keyboard.press("Enter")
    page.wait_for_selector("#traffic-chart[data-state=ready] #sensor-series >> text=ring-1")
    assert page.locator("#sensor-series canvas").count() >= 1
    page.wait_for_selector(f'#traffic-incidents a[href="#/incidents/{inc["id"]}"]')
    # Route: typed ends, from A to B; the crash closes Mill Lane, so the route takes Ring Road.
    page.fill("#route-from", "{:.5f},{:.5f}".format(*at(0, 0)))
    page.fill("#route-to", "{:.5f},{:.5f}".format(*at(1000, 0)))
    page.click("#route-go")
    page.wait_for_selector("#route-result[data-state=ready]", timeout=10_000)
    summary = page.inner_text("#route-result")
    assert "Ring Road" in page.inner_text("#route-roads")
    assert inc["id"] in page.inner_html("#route-avoided")
    assert "min" in page.inner_text("#route-duration") or " s" in page.inner_text("#route-duration")
    assert "km" in summary or " m" in summary
    time.sleep(0.3)
    screenshot(page, "traffic-route")
    assert axe_violations(page) == []
    # Picking an end on the map fills the field.
    page.click("#route-pick-from")
    assert page.get_attribute("#route-pick-from", "aria-pressed") == "true"
    box = page.locator("#traffic-map").bounding_box()
    assert box is not None
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    assert "," in page.input_value("#route-from")
    assert page.get_attribute("#route-pick-from", "aria-pressed") == "false"
    page.fill("#route-to", "not a place")
    page.click("#route-go")
    page.wait_for_selector("#route-result[data-state=error]")
    assert "lat,lon" in page.inner_text("#route-result")
    assert errors == []


def test_traffic_page_in_chinese(pages: Pages, traffic_server: LiveServer) -> None:
    page = pages.new()
    sign_in(page, traffic_server)
    page.select_option("#lang-select", "zh-CN")
    page.goto(f"{traffic_server.url}/ui/#/traffic")
    page.wait_for_selector("#traffic-sensors[data-state=ready]")
    assert page.inner_text("#h-route") == "路线"
    assert page.inner_text("#route-go") == "查找路线"
    screenshot(page, "traffic-zh")
    assert axe_violations(page) == []


def test_map_draws_the_road_network(pages: Pages, traffic_server: LiveServer) -> None:
    page = pages.new()
    sign_in(page, traffic_server)
    page.goto(f"{traffic_server.url}/ui/#/map")
    page.wait_for_selector("#site-map[data-state=ready]", timeout=10_000)
    assert "road segments" in page.inner_text("#roads-summary")
    assert "Roads" in page.inner_text(".leaflet-control-layers")
    assert page.locator("#site-map canvas").count() >= 1  # the roads' canvas renderer
    screenshot(page, "map-roads")
    assert axe_violations(page) == []


def test_without_roads_or_readings_the_pages_say_so(pages: Pages, site_server: LiveServer) -> None:
    # The shared site has a sensor but no road network and no readings.
    page = pages.new()
    sign_in(page, site_server)
    page.goto(f"{site_server.url}/ui/#/traffic")
    page.wait_for_selector("#traffic-map[data-state=ready]", timeout=10_000)
    assert "No road network" in page.inner_text("#roads-missing")
    page.wait_for_selector("#traffic-chart[data-state=ready]")
    assert "No readings in this period" in page.inner_text("#traffic-chart")
    page.fill("#route-from", "51.48,-0.16")
    page.fill("#route-to", "51.49,-0.15")
    page.click("#route-go")
    page.wait_for_selector("#route-result[data-state=error]")
    assert "No route" in page.inner_text("#route-result")
    assert axe_violations(page) == []
    page.goto(f"{site_server.url}/ui/#/map")
    page.wait_for_selector("#site-map[data-state=ready]", timeout=10_000)
    assert "No road network" in page.inner_text("#roads-missing")


def test_a_traffic_incident_detail_charts_its_window_and_links_the_sensor(
    pages: Pages, traffic_server: LiveServer
) -> None:
    start = (datetime.now(UTC) - timedelta(minutes=30)).replace(second=0, microsecond=0)
    window = {
        "sensor": "ring-1",
        "start": start.isoformat(),
        "step_s": 300,
        "values": [38, 37, 30, 22, None, 20],
        "expected": [38, 38, 38, 37, 37, 37],
    }
    evidence = [{"type": "series", "series": window, "caption": "ring-1 speed"}]
    post_event(
        traffic_server, kind="traffic.incident", source="ring-1", labels=["x"], evidence=evidence
    )
    inc = incident_for(traffic_server, "ring-1")
    page = pages.new()
    sign_in(page, traffic_server)
    page.goto(f"{traffic_server.url}/ui/#/incidents/{inc['id']}")
    page.wait_for_selector(".chart-wrap canvas", timeout=10_000)
    assert "ring-1 speed" in page.inner_text(".chart-wrap figcaption")
    page.click("a.sensor-link")
    page.wait_for_selector("#traffic-chart[data-state=ready] #sensor-series >> text=ring-1")
    assert (
        page.get_attribute('#sensor-table tr[data-sensor="ring-1"] button', "aria-pressed")
        == "true"
    )
