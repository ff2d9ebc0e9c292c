// The site map: road network, zones, cameras, sensors and active incidents as layers, drawn
// without a tile server.
import { api } from "../api.js";
import {
  COLORS, STATUS_COLORS, createMap, fit, fitSite, incidentLayer, loadRoads, noTilesNote, pointLayer,
  roadSummary, roadsLayer, sensorMarker, zoneLayer,
} from "../geo.js";
import { t, term } from "../i18n.js";
import { upsert } from "../store.js";
import { el, emptyState, errorBox, errorMessage, pageHead } from "../ui.js";

export function mount(root, _params, ctx) {
  const site = ctx.site;
  const box = el("div", { class: "map map-large", id: "site-map" });
  const roadsNote = el("div", { id: "roads-status", "aria-live": "polite" });
  const list = el("section", { class: "panel", "aria-labelledby": "h-features" });
  root.append(pageHead("map.title"), noTilesNote(), legend(), roadsNote, box, list);
  if (!site) {
    box.replaceWith(errorBox({ message: t("error.load", { what: t("map.what") }) }, t("map.what")));
    return null;
  }
  const map = createMap(box);
  const zones = new Map(site.zones.map((z) => [z.name, z]));
  const rows = { roads: [], zones: [], cameras: [], sensors: [], incidents: [] };
  let layers = null;
  if (map) {
    const L = window.L;
    layers = {
      roads: L.featureGroup(),
      zones: L.featureGroup(),
      cameras: L.featureGroup(),
      sensors: L.featureGroup(),
      incidents: L.featureGroup(),
    };
    for (const z of site.zones) zoneLayer(z).addTo(layers.zones);
    for (const c of site.cameras) {
      if (c.location) pointLayer(c.location, { color: COLORS.camera, label: c.name || c.id }).addTo(layers.cameras);
    }
    for (const g of Object.values(layers)) g.addTo(map);
    L.control.layers(null, {
      [t("map.roads")]: layers.roads,
      [t("map.zones")]: layers.zones,
      [t("map.cameras")]: layers.cameras,
      [t("map.sensors")]: layers.sensors,
      [t("map.incidents")]: layers.incidents,
    }, { collapsed: false }).addTo(map);
  }
  rows.zones = site.zones.map((z) => [t("map.zones"), z.name, `${z.polygon.length} pts`]);
  rows.cameras = site.cameras.map((c) => [t("map.cameras"), c.name || c.id, where(c.location)]);
  siteSensors();
  renderList();

  let alive = true;
  const jobs = [loadIncidents(), loadSensors(), loadRoadLayer()];
  Promise.allSettled(jobs).then(() => {
    if (!alive) return;
    renderList();
    if (map) fitSite(map, own(), layers.roads.getLayers(), site.site.center);
    box.dataset.state = "ready";
  });

  function siteSensors() {
    layers?.sensors.clearLayers();
    rows.sensors = site.sensors.map((s) => {
      if (layers && s.location) {
        pointLayer(s.location, { color: COLORS.sensor, radius: 7, label: `${s.id} (${s.road || s.kind})` })
          .addTo(layers.sensors);
      }
      return [t("map.sensors"), `${s.id} (${s.road || s.kind})`, where(s.location)];
    });
  }

  async function loadSensors() {
    // Live status from the traffic API when it exists; the configured sensors otherwise.
    let items;
    try {
      items = (await api.get("/api/v1/traffic/sensors")).items;
    } catch {
      return;
    }
    if (!alive || !items.length) return;
    layers?.sensors.clearLayers();
    rows.sensors = items.map((s) => {
      if (layers && s.location) sensorMarker(s).addTo(layers.sensors);
      const state = `${term("sensorStatus", s.status)}${s.stale ? `, ${t("traffic.stale")}` : ""}`;
      return [t("map.sensors"), `${s.id} (${s.road || s.kind}): ${state}`,
        s.location ? `${s.location.lat.toFixed(5)}, ${s.location.lon.toFixed(5)}` : ""];
    });
  }

  async function loadRoadLayer() {
    let answer;
    try {
      answer = await loadRoads(api);
    } catch (err) {
      if (alive) roadsNote.replaceChildren(el("p", { class: "error-box" }, `${t("roads.what")}: ${errorMessage(err)}`));
      return;
    }
    if (!alive) return;
    if (answer.missing) {
      roadsNote.replaceChildren(el("p", { class: "note-later", id: "roads-missing" }, t("roads.missing", { detail: answer.missing })));
      return;
    }
    const summary = roadSummary(answer.roads);
    if (!summary.segments) {
      roadsNote.replaceChildren(el("p", { class: "note-later", id: "roads-missing" }, t("roads.empty")));
      return;
    }
    if (layers) roadsLayer(answer.roads).addTo(layers.roads);
    roadsNote.replaceChildren(el("p", { class: "muted small", id: "roads-summary" }, t("roads.summary", summary)));
    rows.roads = [[t("map.roads"), t("roads.summary", summary), ""]];
  }

  async function loadIncidents() {
    try {
      const page = await api.get("/api/v1/incidents", { status: ["open", "acknowledged"], limit: 200 });
      if (!alive) return;
      for (const inc of page.items) {
        upsert(inc);
        const layer = layers && incidentLayer(inc, zones);
        if (layer) layer.addTo(layers.incidents);
        if (inc.point || zones.has(inc.zone)) {
          rows.incidents.push([t("map.incidents"), el("a", { href: `#/incidents/${encodeURIComponent(inc.id)}` },
            `${term("severity", inc.severity)}: ${inc.title}`), inc.zone || where(inc.point)]);
        }
      }
    } catch (err) {
      if (alive) list.append(errorBox(err, t("incidents.what")));
    }
  }

  function own() {
    return ["zones", "cameras", "sensors", "incidents"].flatMap((k) => layers[k].getLayers());
  }

  function renderList() {
    const features = Object.values(rows).flat();
    const body = [el("h2", { id: "h-features" }, t("map.features"))];
    if (!features.length) body.push(emptyState(null, t("map.noFeatures")));
    else {
      body.push(el("div", { class: "table-wrap" }, el("table", {},
        el("thead", {}, el("tr", {}, ["col.layer", "col.name", "col.where"].map((k) => el("th", { scope: "col" }, t(k))))),
        el("tbody", {}, features.map(([layer, name, place]) => el("tr", {}, el("td", {}, layer), el("td", {}, name), el("td", {}, place)))))));
    }
    list.replaceChildren(...body);
  }

  if (map) fit(map, window.L.featureGroup(own()), site.site.center);
  return () => {
    alive = false;
    if (map) map.remove();
  };
}

function where(loc) {
  if (!loc?.coordinates) return "";
  const [lon, lat] = loc.coordinates;
  return `${lat.toFixed(5)}, ${lon.toFixed(5)}`;
}

function legend() {
  const items = [
    [COLORS.zone, t("map.zones")], [COLORS.camera, t("map.cameras")],
    ...["free", "slow", "congested", "unknown"].map((s) => [STATUS_COLORS[s], `${t("map.sensors")}: ${term("sensorStatus", s)}`]),
    ...["low", "medium", "high", "critical"].map((s) => [COLORS[s], `${t("map.incidents")}: ${term("severity", s)}`]),
  ];
  return el("div", { class: "legend", "aria-label": t("map.layers") },
    items.map(([color, label]) => el("span", {}, el("span", { class: "swatch", style: `background:${color}` }), label)),
    el("span", {}, el("span", { class: "swatch swatch-line", style: "background:#6b7f94" }), t("roads.legendFree")),
    el("span", {}, el("span", { class: "swatch swatch-line", style: "background:#b36b00" }), t("roads.legendSlow")),
    el("span", {}, el("span", { class: "swatch swatch-line", style: `background:${STATUS_COLORS.congested}` }), t("roads.legendCongested")),
    el("span", {}, el("span", { class: "swatch swatch-line swatch-closed" }), t("roads.legendClosed")));
}
