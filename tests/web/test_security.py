"""The dashboard never runs markup from the server, and it survives a dropped live stream."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from citysentinel.incidents import IncidentChange
from citysentinel.pipeline import INCIDENTS
from tests.conftest import LiveServer
from tests.web.conftest import Pages, incident_for, post_event, sign_in

if TYPE_CHECKING:
    from playwright.sync_api import Request

# Would set window.__xss if a tooltip, popup or link put it in as HTML.
MARKUP = '<img src="x" onerror="window.__xss=1">'

# Builds every kind of map layer with MARKUP as its name, opens each tooltip and popup, and
# reports what they hold. The module is the one the dashboard already loaded.
OPEN_LAYERS = """async (markup) => {
  const geo = await import('./js/geo.js');
  const box = document.createElement('div');
  box.style.cssText = 'width:480px;height:320px';
  document.body.append(box);
  const map = geo.createMap(box);
  map.setView([51.48, -0.16], 16);
  const point = {coordinates: [-0.16, 51.48]};
  const layers = [
    geo.pointLayer(point, {color: '#000', label: markup, popup: markup}),
    geo.incidentLayer({id: 'i-1', severity: 'high', title: markup, point}, new Map()),
    geo.zoneLayer({name: markup, polygon: [[-0.161, 51.48], [-0.159, 51.48], [-0.16, 51.481]]}),
    geo.sensorMarker({id: markup, road: markup, unit: 'mph', status: 'ok', stale: false,
                      latest: null, location: {lat: 51.48, lon: -0.16}}),
    ...geo.roadsLayer({type: 'FeatureCollection', features: [{type: 'Feature',
      properties: {name: markup, highway: 'primary'},
      geometry: {type: 'LineString', coordinates: [[-0.161, 51.48], [-0.159, 51.48]]}}]})
      .getLayers(),
  ];
  const shown = [];
  for (const layer of layers) {
    layer.addTo(map);
    for (const overlay of [layer.getTooltip(), layer.getPopup()]) {
      if (!overlay) continue;
      if (overlay === layer.getTooltip()) layer.openTooltip(); else layer.openPopup();
      const node = overlay.getElement();
      shown.push({text: node.textContent, elements: node.querySelectorAll('img').length});
    }
  }
  box.remove();
  return shown;
}"""


def test_map_tooltips_and_popups_show_names_as_text(pages: Pages, site_server: LiveServer) -> None:
    page = pages.new()
    sign_in(page, site_server)
    shown: list[dict[str, Any]] = page.evaluate(OPEN_LAYERS, MARKUP)
    # point (tooltip, popup), incident (tooltip, popup link), zone, sensor, road
    assert len(shown) == 7
    assert all(s["elements"] == 0 for s in shown), shown
    assert all(MARKUP in s["text"] for s in shown), shown
    assert page.evaluate("window.__xss") is None


def test_only_web_links_from_evidence_are_links(pages: Pages, site_server: LiveServer) -> None:
    post_event(
        site_server,
        kind="video.fall",
        source="cam-links",
        labels=["person"],
        evidence=[
            {"type": "url", "url": "javascript:window.__xss=1", "caption": "bad link"},
            {"type": "url", "url": "https://example.org/clip/1", "caption": "good link"},
        ],
    )
    inc = incident_for(site_server, "cam-links")
    page = pages.new()
    sign_in(page, site_server)
    page.goto(f"{site_server.url}/ui/#/incidents/{inc['id']}")
    page.wait_for_selector("#evidence a[href='https://example.org/clip/1']")
    hrefs = page.eval_on_selector_all("#evidence a", "links => links.map(a => a.href)")
    assert hrefs == ["https://example.org/clip/1"]
    # The refused one is still shown, as text, so nothing is silently dropped.
    assert "javascript:window.__xss=1" in page.inner_text("#evidence")


def drop_live_streams(server: LiveServer, wake: IncidentChange) -> int:
    """End every open browser stream the way the bus does when one falls behind."""
    bus = server.runtime.pipeline.incident_bus

    async def drop() -> int:
        streams = [s for s in bus.subscribers(INCIDENTS) if s.name.startswith("sse-")]
        for sub in streams:
            sub.overflowed = True
            bus.unsubscribe(sub)
            sub.queue.put_nowait(wake)  # wakes the waiting reader, which then finds it closed
        return len(streams)

    return asyncio.run_coroutine_threadsafe(drop(), server.loop).result(5)


def test_a_dropped_stream_reconnects_and_replays_what_it_missed(
    pages: Pages, site_server: LiveServer
) -> None:
    page = pages.new()
    streams: list[Request] = []
    page.on("request", lambda r: streams.append(r) if "/stream/incidents" in r.url else None)
    sign_in(page, site_server)
    page.wait_for_selector("#live-state[data-state=live]")
    bus = site_server.runtime.pipeline.incident_bus
    capture = bus.subscribe(INCIDENTS, "test-capture", maxsize=100, lossy=True)
    try:
        post_event(site_server, kind="video.fall", source="cam-drop-1", labels=["person"])
        first = incident_for(site_server, "cam-drop-1")
        seen = capture.get_nowait_batch(10)
    finally:
        bus.unsubscribe(capture)
    page.wait_for_selector(f'tr[data-incident-id="{first["id"]}"]', timeout=5000)
    assert drop_live_streams(site_server, seen[-1]) == 1
    # Posted while the browser waits to reconnect (the stream asks for 2 s).
    post_event(site_server, kind="video.fall", source="cam-drop-2", labels=["person"])
    missed = incident_for(site_server, "cam-drop-2")
    page.wait_for_selector(f'tr[data-incident-id="{missed["id"]}"]', timeout=15_000)
    page.wait_for_selector("#live-state[data-state=live]", timeout=10_000)
    # The reconnect said where it had got to, so the server replayed what came after.
    resumed = [r.all_headers().get("last-event-id") for r in streams]
    assert resumed[0] is None and str(seen[-1].seq) in resumed[1:], resumed
