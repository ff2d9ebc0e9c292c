// The site map: zones, cameras, sensors and active incidents as layers, without a tile server.
import { api } from "../api.js";
import { COLORS, createMap, fit, incidentLayer, noTilesNote, pointLayer, zoneLayer } from "../geo.js";
import { t, term } from "../i18n.js";
import { upsert } from "../store.js";
import { el, emptyState, errorBox, pageHead } from "../ui.js";

export function mount(root, _params, ctx) {
  const site = ctx.site;
  const box = el("div", { class: "map map-large", id: "site-map" });
  const list = el("section", { class: "panel", "aria-labelledby": "h-features" });
  root.append(
    pageHead("map.title"),
    noTilesNote(),
    legend(),
    box,
    list,
  );
  if (!site) {
    box.replaceWith(errorBox({ message: t("error.load", { what: t("map.what") }) }, t("map.what")));
    return null;
  }
  const map = createMap(box);
  const zones = new Map(site.zones.map((z) => [z.name, z]));
  const features = [];
  let layers = null;
  if (map) {
    const L = window.L;
    layers = {
      zones: L.featureGroup(),
      cameras: L.featureGroup(),
      sensors: L.featureGroup(),
      incidents: L.featureGroup(),
    };
    for (const z of site.zones) zoneLayer(z).addTo(layers.zones);
    for (const c of site.cameras) {
      if (c.location) pointLayer(c.location, { color: COLORS.camera, label: c.name || c.id }).addTo(layers.cameras);
    }
    for (const s of site.sensors) {
      if (s.location) pointLayer(s.location, { color: COLORS.sensor, radius: 7, label: `${s.id} (${s.road || s.kind})` }).addTo(layers.sensors);
    }
    for (const g of Object.values(layers)) g.addTo(map);
    L.control.layers(null, {
      [t("map.zones")]: layers.zones,
      [t("map.cameras")]: layers.cameras,
      [t("map.sensors")]: layers.sensors,
      [t("map.incidents")]: layers.incidents,
    }, { collapsed: false }).addTo(map);
  }
  for (const z of site.zones) features.push([t("map.zones"), z.name, `${z.polygon.length} pts`]);
  for (const c of site.cameras) features.push([t("map.cameras"), c.name || c.id, where(c.location)]);
  for (const s of site.sensors) features.push([t("map.sensors"), `${s.id} (${s.road || s.kind})`, where(s.location)]);
  renderList();

  let alive = true;
  (async () => {
    try {
      const page = await api.get("/api/v1/incidents", { status: ["open", "acknowledged"], limit: 200 });
      if (!alive) return;
      for (const inc of page.items) {
        upsert(inc);
        const layer = layers && incidentLayer(inc, zones);
        if (layer) layer.addTo(layers.incidents);
        if (inc.point || zones.has(inc.zone)) {
          features.push([t("map.incidents"), el("a", { href: `#/incidents/${encodeURIComponent(inc.id)}` },
            `${term("severity", inc.severity)}: ${inc.title}`), inc.zone || where(inc.point)]);
        }
      }
    } catch (err) {
      if (alive) list.append(errorBox(err, t("incidents.what")));
    }
    if (!alive) return;
    renderList();
    if (map) {
      const all = window.L.featureGroup(Object.values(layers).flatMap((g) => g.getLayers()));
      fit(map, all, site.site.center);
    }
    box.dataset.state = "ready";
  })();

  function renderList() {
    const body = [el("h2", { id: "h-features" }, t("map.features"))];
    if (!features.length) body.push(emptyState(null, t("map.noFeatures")));
    else {
      body.push(el("div", { class: "table-wrap" }, el("table", {},
        el("thead", {}, el("tr", {}, ["col.layer", "col.name", "col.where"].map((k) => el("th", { scope: "col" }, t(k))))),
        el("tbody", {}, features.map(([layer, name, place]) => el("tr", {}, el("td", {}, layer), el("td", {}, name), el("td", {}, place)))))));
    }
    list.replaceChildren(...body);
  }

  if (map) fit(map, window.L.featureGroup(Object.values(layers).flatMap((g) => g.getLayers())), site.site.center);
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
    [COLORS.zone, t("map.zones")], [COLORS.camera, t("map.cameras")], [COLORS.sensor, t("map.sensors")],
    ...["low", "medium", "high", "critical"].map((s) => [COLORS[s], `${t("map.incidents")}: ${term("severity", s)}`]),
  ];
  return el("div", { class: "legend", "aria-label": t("map.layers") },
    items.map(([color, label]) => el("span", {}, el("span", { class: "swatch", style: `background:${color}` }), label)));
}
