// The route tool of the Traffic page: from / to picked on the map or typed as "lat,lon",
// GET /api/v1/routes, the route drawn with its duration, delay and the incidents it avoided.
import { api } from "./api.js";
import { t } from "./i18n.js";
import { getIncident } from "./store.js";
import { el, errorMessage } from "./ui.js";

const LATLON = /^\s*(-?\d+(?:\.\d+)?)\s*,\s*(-?\d+(?:\.\d+)?)\s*$/;

export function formatDuration(seconds) {
  const s = Math.round(seconds);
  if (s < 90) return t("unit.seconds", { n: s });
  const min = Math.round(s / 60);
  if (min < 90) return t("unit.minutes", { n: min });
  return t("unit.hoursMinutes", { h: Math.floor(min / 60), m: min % 60 });
}

export function formatDistance(metres) {
  return metres < 1000 ? t("unit.metres", { n: Math.round(metres) }) : t("unit.km", { n: (metres / 1000).toFixed(1) });
}

/** "lat,lon" -> [lat, lon], or null when it is not two numbers in range. */
export function parseLatLon(text) {
  const m = LATLON.exec(text || "");
  if (!m) return null;
  const lat = Number(m[1]);
  const lon = Number(m[2]);
  if (Math.abs(lat) > 90 || Math.abs(lon) > 180) return null;
  return [lat, lon];
}

/** The tool's panel; `map` may be null (no Leaflet): typing still works, nothing is drawn. */
export function routeTool(map) {
  const L = window.L;
  const layer = map ? L.featureGroup().addTo(map) : null;
  const ends = { from: null, to: null }; // markers
  let picking = null;
  const result = el("div", { id: "route-result", "aria-live": "polite" });
  const hint = el("p", { class: "muted small", id: "route-hint", "aria-live": "polite" }, t("route.hint"));
  const inputs = {};
  const pickButtons = {};

  function endField(which) {
    const id = `route-${which}`;
    inputs[which] = el("input", { id, name: which, placeholder: t("route.placeholder"), autocomplete: "off",
      inputmode: "decimal", spellcheck: "false", "aria-describedby": "route-hint",
      onchange: () => placeEnd(which, parseLatLon(inputs[which].value)) });
    pickButtons[which] = el("button", { type: "button", class: "btn btn-secondary", id: `route-pick-${which}`,
      "aria-pressed": "false", disabled: !map, onclick: () => startPick(which) }, t("route.pick"));
    return el("div", { class: "route-end" },
      el("label", { class: "field", for: id }, el("span", {}, t(`route.${which}`)), inputs[which]),
      pickButtons[which]);
  }

  const avoid = el("input", { type: "checkbox", id: "route-avoid", checked: true });
  const submit = el("button", { type: "submit", class: "btn", id: "route-go" }, t("route.go"));
  const form = el("form", { id: "route-form", class: "route-form", novalidate: true, onsubmit: (e) => {
    e.preventDefault();
    find();
  } },
  endField("from"), endField("to"),
  el("label", { class: "check", for: "route-avoid" }, avoid, t("route.avoid")),
  el("div", { class: "actions" }, submit,
    el("button", { type: "button", class: "btn btn-quiet", id: "route-clear", onclick: clear }, t("route.clear"))),
  hint);

  function startPick(which) {
    picking = picking === which ? null : which;
    for (const [name, button] of Object.entries(pickButtons)) button.setAttribute("aria-pressed", String(picking === name));
    map?.getContainer().classList.toggle("picking", Boolean(picking));
    hint.textContent = picking ? t("route.picking", { end: t(`route.${picking}`) }) : t("route.hint");
  }

  function placeEnd(which, latlon) {
    if (!layer) return;
    if (ends[which]) layer.removeLayer(ends[which]);
    ends[which] = null;
    if (!latlon) return;
    ends[which] = L.circleMarker(latlon, { radius: 8, color: "#ffffff", weight: 3,
      fillColor: which === "from" ? "#0b5cad" : "#13263a", fillOpacity: 1 })
      .bindTooltip(t(`route.${which}`), { permanent: true, direction: "top", offset: [0, -8] })
      .addTo(layer);
  }

  if (map) {
    map.on("click", (e) => {
      if (!picking) return;
      const which = picking;
      inputs[which].value = `${e.latlng.lat.toFixed(5)},${e.latlng.lng.toFixed(5)}`;
      placeEnd(which, [e.latlng.lat, e.latlng.lng]);
      startPick(which); // toggles off
      inputs[which].focus();
    });
    map.getContainer().addEventListener("keydown", (e) => {
      if (e.key === "Escape" && picking) startPick(picking);
    });
  }

  function clear() {
    layer?.clearLayers();
    ends.from = ends.to = null;
    inputs.from.value = inputs.to.value = "";
    result.replaceChildren();
    delete result.dataset.state;
  }

  async function find() {
    const from = parseLatLon(inputs.from.value);
    const to = parseLatLon(inputs.to.value);
    if (!from || !to) {
      show(el("p", { class: "error-box" }, t("route.badPoint")), "error");
      (from ? inputs.to : inputs.from).focus();
      return;
    }
    placeEnd("from", from);
    placeEnd("to", to);
    submit.disabled = true;
    show(el("p", { class: "loading" }, t("route.finding")), "loading");
    try {
      const route = await api.get("/api/v1/routes", {
        from: from.join(","), to: to.join(","), avoid_incidents: avoid.checked ? "true" : "false",
      });
      draw(route);
      show(describe(route), "ready");
    } catch (err) {
      const text = err.status === 404 && err.detail === "Not Found" ? t("route.unavailable") : errorMessage(err);
      show(el("p", { class: "error-box" }, t("route.failed", { detail: text })), "error");
    } finally {
      submit.disabled = false;
    }
  }

  function show(node, state) {
    result.replaceChildren(node);
    result.dataset.state = state;
  }

  function draw(route) {
    if (!layer) return;
    for (const l of layer.getLayers()) if (l.options?.className === "route-line") layer.removeLayer(l);
    const line = route.geometry.coordinates.map(([lon, lat]) => [lat, lon]);
    L.polyline(line, { color: "#ffffff", weight: 9, opacity: 0.9, className: "route-line" }).addTo(layer);
    L.polyline(line, { color: "#0b5cad", weight: 5, opacity: 1, className: "route-line" }).addTo(layer);
    for (const which of ["from", "to"]) ends[which]?.bringToFront();
    if (line.length) map.fitBounds(L.latLngBounds(line).pad(0.2), { maxZoom: 17 });
  }

  return { panel: el("div", { class: "route-tool" }, form, result), clear };
}

function describe(route) {
  const delay = route.duration_s - route.free_flow_duration_s;
  const roads = route.roads.filter((r, i) => r && r !== route.roads[i - 1]);
  const avoided = route.avoided.length
    ? el("ul", { class: "plain" }, route.avoided.map((id) => el("li", {},
      el("a", { href: `#/incidents/${encodeURIComponent(id)}` }, getIncident(id)?.title || id))))
    : el("span", {}, t("route.avoidedNone"));
  return el("div", { class: "route-summary" },
    el("p", { class: "route-headline" },
      el("strong", { id: "route-duration" }, formatDuration(route.duration_s)), " · ",
      el("span", { id: "route-distance" }, formatDistance(route.distance_m))),
    el("dl", { class: "facts" },
      el("dt", {}, t("route.freeFlow")), el("dd", {}, formatDuration(route.free_flow_duration_s)),
      el("dt", {}, t("route.delay")), el("dd", {}, delay > 30 ? formatDuration(delay) : t("route.noDelay")),
      el("dt", {}, t("route.roads")), el("dd", { id: "route-roads" }, roads.length ? roads.slice(0, 15).join(" → ") + (roads.length > 15 ? " …" : "") : t("route.unnamedRoads")),
      el("dt", {}, t("route.avoided")), el("dd", { id: "route-avoided" }, avoided)));
}
