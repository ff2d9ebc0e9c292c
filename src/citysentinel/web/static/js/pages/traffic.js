// Traffic: sensors on the road map coloured by status, observed against forecast speed for the
// chosen sensor, traffic incidents and events, and the route tool.
import { api } from "../api.js";
import { lineChart, onTimes, unionTimes } from "../chart.js";
import {
  STATUS_COLORS, createMap, fit, fitSite, incidentLayer, loadRoads, roadSummary, roadsLayer, round1, sensorMarker,
} from "../geo.js";
import { t, term } from "../i18n.js";
import { onIncidentChange } from "../live.js";
import { routeTool } from "../route-tool.js";
import { upsert } from "../store.js";
import { ago, el, emptyState, errorBox, errorMessage, formatTime, pageHead, sevBadge, timeEl } from "../ui.js";

const KINDS = ["traffic.congestion", "traffic.incident", "sensor.health"];
const SPANS = { "3h": 3, "6h": 6, "24h": 24 };
const REFRESH_MS = 30_000;
const SELECTED = "citysentinel.trafficSensor";

export function mount(root, _params, ctx) {
  const zones = new Map((ctx.site?.zones || []).map((z) => [z.name, z]));
  let alive = true;
  let sensors = [];
  let selected = sessionStorage.getItem(SELECTED) || "";
  let span = "3h";

  const mapBox = el("div", { class: "map", id: "traffic-map" });
  const roadsNote = el("div", { id: "roads-status", "aria-live": "polite" });
  const sensorsPanel = panel("traffic-sensors", "h-sensors", t("traffic.sensors"));
  const chartBody = el("div", { id: "traffic-chart-body" });
  const spanSelect = el("select", { id: "tc-span", onchange: (e) => {
    span = e.target.value;
    loadSeries();
  } }, Object.keys(SPANS).map((k) => el("option", { value: k }, t(`filter.${k}`))));
  const chartPanel = el("section", { class: "panel", id: "traffic-chart", "aria-labelledby": "h-chart" },
    el("div", { class: "panel-head" }, el("h2", { id: "h-chart" }, t("traffic.chartTitle")),
      el("label", { class: "field field-inline", for: "tc-span" }, el("span", {}, t("traffic.period")), spanSelect)),
    chartBody);
  const incidentsPanel = panel("traffic-incidents", "h-tincidents", t("traffic.incidents"));
  const eventsPanel = panel("traffic-events", "h-traffic", t("traffic.events"));
  const routePanel = el("section", { class: "panel", id: "route-panel", "aria-labelledby": "h-route" },
    el("h2", { id: "h-route" }, t("route.title")));

  root.append(
    pageHead("traffic.title", el("a", { href: "#/map" }, t("nav.map"))),
    el("div", { class: "traffic-top" },
      el("section", { class: "panel traffic-map-panel", "aria-labelledby": "h-tmap" },
        el("h2", { id: "h-tmap" }, t("traffic.mapTitle")), legend(), roadsNote, mapBox),
      routePanel),
    sensorsPanel, chartPanel, incidentsPanel, eventsPanel,
  );

  const map = createMap(mapBox);
  const L = window.L;
  const layers = map ? {
    roads: L.featureGroup().addTo(map),
    sensors: L.featureGroup().addTo(map),
    incidents: L.featureGroup().addTo(map),
  } : null;
  if (map) {
    L.control.layers(null, {
      [t("map.roads")]: layers.roads, [t("map.sensors")]: layers.sensors, [t("traffic.incidents")]: layers.incidents,
    }, { collapsed: false }).addTo(map);
    if (ctx.site?.site?.center) fit(map, L.featureGroup(), ctx.site.site.center);
    else map.setView([20, 0], 2);
  }
  const tool = routeTool(map);
  routePanel.append(tool.panel);

  function refit() {
    if (!map) return;
    const own = [...layers.sensors.getLayers(), ...layers.incidents.getLayers()];
    fitSite(map, own, layers.roads.getLayers(), ctx.site?.site?.center);
  }

  async function loadRoadLayer() {
    try {
      const answer = await loadRoads(api);
      if (!alive) return;
      if (answer.missing) {
        roadsNote.replaceChildren(el("p", { class: "note-later", id: "roads-missing" }, t("roads.missing", { detail: answer.missing })));
      } else {
        layers?.roads.clearLayers();
        if (layers) roadsLayer(answer.roads).addTo(layers.roads);
        roadsNote.replaceChildren(el("p", { class: "muted small", id: "roads-summary" }, t("roads.summary", roadSummary(answer.roads))));
      }
    } catch (err) {
      if (alive) roadsNote.replaceChildren(el("p", { class: "error-box" }, `${t("roads.what")}: ${errorMessage(err)}`));
    }
  }

  async function loadSensors() {
    try {
      sensors = (await api.get("/api/v1/traffic/sensors")).items;
    } catch (err) {
      if (!alive) return;
      sensors = [];
      const body = err.status === 404
        ? emptyState(t("traffic.noSensorsTitle"), t("traffic.noSensorsApi", { detail: err.detail }))
        : errorBox(err, t("traffic.sensors"), loadSensors);
      sensorsPanel.replaceChildren(sensorsPanel.firstChild, body);
      sensorsPanel.dataset.state = "empty";
      chartBody.replaceChildren(emptyState(null, t("traffic.chartNoSensor")));
      return;
    }
    if (!alive) return;
    if (!sensors.some((s) => s.id === selected)) selected = (sensors.find((s) => s.location) || sensors[0])?.id || "";
    renderSensors();
    if (layers) {
      layers.sensors.clearLayers();
      for (const s of sensors) if (s.location) sensorMarker(s, { onSelect: select }).addTo(layers.sensors);
    }
  }

  function renderSensors() {
    const head = sensorsPanel.firstChild;
    if (!sensors.length) {
      sensorsPanel.replaceChildren(head, emptyState(t("traffic.noSensorsTitle"), t("traffic.noSensors")));
      sensorsPanel.dataset.state = "empty";
      return;
    }
    sensorsPanel.replaceChildren(head, el("div", { class: "table-wrap" }, el("table", { id: "sensor-table" },
      el("thead", {}, el("tr", {}, ["col.sensor", "col.road", "col.status", "traffic.latest", "col.chart"]
        .map((k) => el("th", { scope: "col" }, t(k))))),
      el("tbody", {}, sensors.map((s) => el("tr", { dataset: { sensor: s.id, status: s.status }, class: s.id === selected ? "selected" : "" },
        el("td", {}, s.id, s.kind ? el("div", { class: "muted small" }, term("sensorKind", s.kind)) : null),
        el("td", {}, s.road || ""),
        el("td", {}, statusBadge(s)),
        el("td", {}, s.latest
          ? [s.latest.value === null ? "–" : `${round1(s.latest.value)} ${s.unit}`, el("div", { class: "muted small" }, ago(s.latest.time))]
          : el("span", { class: "muted" }, t("traffic.noReading"))),
        el("td", {}, el("button", { type: "button", class: "btn btn-secondary", "aria-pressed": String(s.id === selected),
          "aria-label": t("traffic.showChartFor", { sensor: s.id }), onclick: () => select(s.id) }, t("traffic.showChart")))))))));
    sensorsPanel.dataset.state = "ready";
  }

  function select(id) {
    selected = id;
    sessionStorage.setItem(SELECTED, id);
    renderSensors();
    loadSeries();
  }

  let seriesSeq = 0;
  async function loadSeries() {
    const mine = ++seriesSeq;
    if (!selected) {
      chartBody.replaceChildren(emptyState(null, t("traffic.chartNoSensor")));
      chartPanel.dataset.state = "empty";
      return;
    }
    chartPanel.dataset.state = "loading";
    const until = new Date();
    const since = new Date(until.getTime() - SPANS[span] * 3600_000);
    try {
      const series = await api.get(`/api/v1/traffic/sensors/${encodeURIComponent(selected)}/series`,
        { since: since.toISOString(), until: until.toISOString() });
      if (!alive || mine !== seriesSeq) return;
      chartBody.replaceChildren(forecastChart(series));
      chartPanel.dataset.state = "ready";
    } catch (err) {
      if (!alive || mine !== seriesSeq) return;
      chartBody.replaceChildren(errorBox(err, t("traffic.chartFor", { sensor: selected }), loadSeries));
      chartPanel.dataset.state = "error";
    }
  }

  async function loadIncidents() {
    try {
      const page = await api.get("/api/v1/incidents", { category: "traffic", status: ["open", "acknowledged"], limit: 100 });
      if (!alive) return;
      layers?.incidents.clearLayers();
      for (const inc of page.items) {
        upsert(inc);
        const layer = layers && incidentLayer(inc, zones);
        if (layer) layer.addTo(layers.incidents);
      }
      const head = incidentsPanel.firstChild;
      incidentsPanel.replaceChildren(head, page.items.length
        ? el("ul", { class: "plain incident-list" }, page.items.map((inc) => el("li", {}, sevBadge(inc.severity), " ",
          el("a", { href: `#/incidents/${encodeURIComponent(inc.id)}` }, inc.title), " ",
          el("span", { class: "muted small" }, `${term("status", inc.status)} · ${ago(inc.last_seen)}`))))
        : emptyState(null, t("traffic.noIncidents")));
      incidentsPanel.dataset.state = "ready";
    } catch (err) {
      if (alive) incidentsPanel.replaceChildren(incidentsPanel.firstChild, errorBox(err, t("traffic.incidents"), loadIncidents));
    }
  }

  async function loadEvents() {
    try {
      const page = await api.get("/api/v1/events", { kind: KINDS, limit: 100 });
      if (!alive) return;
      const items = page.items.map((s) => s.event);
      const head = eventsPanel.firstChild;
      eventsPanel.replaceChildren(head, items.length ? el("div", { class: "table-wrap" }, el("table", {},
        el("thead", {}, el("tr", {}, ["col.time", "col.sensor", "col.kind", "col.labels", "col.score"]
          .map((k) => el("th", { scope: "col" }, t(k))))),
        el("tbody", {}, items.map((e) => el("tr", {},
          el("td", {}, timeEl(e.time)), el("td", {}, e.source), el("td", {}, term("kind", e.kind)),
          el("td", {}, e.labels.map((l) => el("span", { class: "tag" }, l))),
          el("td", { class: "count" }, e.confidence.toFixed(2)))))))
        : emptyState(t("traffic.emptyTitle"), t("traffic.empty")));
      eventsPanel.dataset.state = "ready";
    } catch (err) {
      if (alive) eventsPanel.replaceChildren(eventsPanel.firstChild, errorBox(err, t("traffic.what"), loadEvents));
    }
  }

  async function refresh() {
    await Promise.allSettled([loadSensors(), loadIncidents(), loadEvents()]);
    if (!alive) return;
    layers?.incidents.eachLayer((l) => l.bringToFront?.()); // above a sensor on the same spot
    loadSeries();
  }

  Promise.allSettled([loadRoadLayer(), refresh()]).then(() => {
    if (!alive) return;
    refit();
    mapBox.dataset.state = "ready";
  });
  const timer = setInterval(refresh, REFRESH_MS);
  let soon = null;
  const stopLive = onIncidentChange((change) => {
    if (change.incident?.category !== "traffic") return;
    clearTimeout(soon);
    soon = setTimeout(() => Promise.allSettled([loadIncidents(), loadEvents()]), 500);
  });
  return () => {
    alive = false;
    clearInterval(timer);
    clearTimeout(soon);
    stopLive();
    if (map) map.remove();
  };
}

function panel(id, headingId, title) {
  return el("section", { class: "panel", id, "aria-labelledby": headingId },
    el("h2", { id: headingId }, title), el("p", { class: "loading" }, t("app.loading")));
}

function statusBadge(s) {
  return el("span", { class: "sensor-status" },
    el("span", { class: `swatch${s.stale ? " swatch-stale" : ""}`, style: `--c:${STATUS_COLORS[s.status] || STATUS_COLORS.unknown}` }),
    term("sensorStatus", s.status), s.stale ? el("span", { class: "tag tag-warn" }, t("traffic.staleShort")) : null);
}

/** Observed readings and the latest forecast of one sensor on one time axis. */
function forecastChart(series) {
  const observed = series.observed || [];
  const points = series.forecast?.points || [];
  if (!observed.some((p) => p.value !== null) && !points.length) {
    return emptyState(t("traffic.noReadingsTitle"), t("traffic.noReadings", { sensor: series.sensor }));
  }
  const xs = unionTimes(observed, points);
  const obs = onTimes(xs, observed);
  const fc = onTimes(xs, points);
  if (series.forecast) {
    // Start the forecast line at the last observed step it was issued from, so the two join.
    const issued = Math.round(Date.parse(series.forecast.issued_at) / 1000);
    const i = xs.indexOf(issued);
    if (i >= 0 && obs[i] !== null && fc[i] === null) fc[i] = obs[i];
  }
  const note = series.forecast
    ? t("traffic.forecastNote", { model: series.forecast.model, issued: formatTime(series.forecast.issued_at) })
      + (series.forecast.stale ? ` ${t("traffic.forecastStale")}` : "")
    : t("traffic.noForecast");
  return lineChart({
    id: "sensor-series",
    title: t("traffic.seriesTitle", { sensor: series.sensor, unit: series.unit }),
    note,
    xs,
    yLabel: series.unit,
    digits: 1,
    lines: [
      { label: t("detail.observed"), values: obs, stroke: "#0b5cad" },
      { label: t("traffic.forecast"), values: fc, stroke: "#b3261e", dash: [6, 4] },
    ],
  });
}

function legend() {
  return el("div", { class: "legend", "aria-label": t("map.layers") },
    ["free", "slow", "congested", "unknown"].map((s) => el("span", {},
      el("span", { class: "swatch", style: `background:${STATUS_COLORS[s]}` }), `${t("map.sensors")}: ${term("sensorStatus", s)}`)),
    el("span", {}, el("span", { class: "swatch swatch-stale", style: `--c:${STATUS_COLORS.unknown}` }), t("traffic.staleShort")));
}
