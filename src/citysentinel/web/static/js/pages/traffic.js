// Traffic: configured sensors and congestion / road incident events with their series windows.
import { api } from "../api.js";
import { seriesChart } from "../chart.js";
import { t } from "../i18n.js";
import { el, emptyState, errorBox, pageHead, timeEl } from "../ui.js";

const KINDS = ["traffic.congestion", "traffic.incident", "sensor.health"];

export function mount(root, _params, ctx) {
  const sensors = ctx.site?.sensors || [];
  const events = el("section", { class: "panel", "aria-labelledby": "h-traffic", id: "traffic-events" },
    el("h2", { id: "h-traffic" }, t("traffic.events")), el("p", { class: "loading" }, t("app.loading")));
  root.append(
    pageHead("traffic.title", el("a", { href: "#/map" }, t("nav.map"))),
    el("section", { class: "panel", "aria-labelledby": "h-sensors" },
      el("h2", { id: "h-sensors" }, t("traffic.sensors")),
      sensors.length ? el("div", { class: "table-wrap" }, el("table", {},
        el("thead", {}, el("tr", {}, ["col.sensor", "col.kind", "col.road", "col.unit", "col.where"].map((k) => el("th", { scope: "col" }, t(k))))),
        el("tbody", {}, sensors.map((s) => el("tr", {},
          el("td", {}, s.id), el("td", {}, s.kind || ""), el("td", {}, s.road || ""), el("td", {}, s.unit || ""),
          el("td", {}, s.location?.coordinates ? [...s.location.coordinates].reverse().map((c) => c.toFixed(5)).join(", ") : ""))))))
        : el("p", { class: "muted" }, t("traffic.noSensors"))),
    events,
  );
  let alive = true;
  async function load() {
    try {
      const page = await api.get("/api/v1/events", { kind: KINDS, limit: 200 });
      if (!alive) return;
      const items = page.items.map((s) => s.event);
      const body = [el("h2", { id: "h-traffic" }, t("traffic.events"))];
      if (!items.length) {
        body.push(emptyState(t("traffic.emptyTitle"), t("traffic.empty")));
      } else {
        const latest = new Map();
        for (const e of items) {
          for (const ev of e.evidence || []) {
            if (ev.type === "series" && ev.series && !latest.has(ev.series.sensor)) latest.set(ev.series.sensor, ev.series);
          }
        }
        body.push(el("div", { class: "grid" }, [...latest.values()].slice(0, 8).map((s) => seriesChart(s))));
        body.push(el("div", { class: "table-wrap" }, el("table", {},
          el("thead", {}, el("tr", {}, ["col.time", "col.sensor", "col.kind", "col.labels", "col.score"]
            .map((k) => el("th", { scope: "col" }, t(k))))),
          el("tbody", {}, items.map((e) => el("tr", {},
            el("td", {}, timeEl(e.time)), el("td", {}, e.source), el("td", {}, e.kind),
            el("td", {}, e.labels.map((l) => el("span", { class: "tag" }, l))),
            el("td", { class: "count" }, e.confidence.toFixed(2))))))));
      }
      events.replaceChildren(...body);
      events.dataset.state = "ready";
    } catch (err) {
      if (alive) events.replaceChildren(errorBox(err, t("traffic.what"), load));
    }
  }
  load();
  return () => {
    alive = false;
  };
}
