// Incident detail: summary, facts, evidence, location, timeline, actions and CAP download.
import { actionButtons, canAct } from "../actions.js";
import { api, download } from "../api.js";
import { seriesChart } from "../chart.js";
import { createMap, fit, incidentLayer, zoneLayer } from "../geo.js";
import { currentLang, t, term } from "../i18n.js";
import { onResync } from "../live.js";
import { getIncident, onStoreChange, upsert } from "../store.js";
import { add, el, emptyState, errorBox, errorMessage, sevBadge, statusText, timeEl, toast } from "../ui.js";

export function mount(root, params, ctx) {
  const id = params.id;
  const urls = [];
  let map = null;
  let seq = 0;
  root.append(el("p", { class: "loading" }, t("app.loading")));

  async function load() {
    const mine = ++seq;
    try {
      const base = `/api/v1/incidents/${encodeURIComponent(id)}`;
      const [inc, timeline, events] = await Promise.all([
        api.get(base),
        api.get(`${base}/timeline`),
        api.get("/api/v1/events", { incident_id: id, limit: 50 }),
      ]);
      if (mine !== seq) return;
      upsert(inc);
      render(getIncident(id) || inc, timeline, events.items.map((s) => s.event));
    } catch (err) {
      if (mine !== seq) return;
      root.replaceChildren(
        el("p", {}, el("a", { href: "#/incidents" }, t("detail.back"))),
        errorBox(err, t("detail.what"), load),
      );
    }
  }

  function render(inc, timeline, events) {
    if (map) {
      map.remove();
      map = null;
    }
    const mapBox = el("div", { class: "map map-small", id: "incident-map" });
    root.replaceChildren();
    add(root,
      el("p", {}, el("a", { href: "#/incidents" }, t("detail.back"))),
      el("div", { class: "page-head", dataset: { incidentId: inc.id, status: inc.status } },
        el("h1", { tabindex: "-1" }, inc.title),
        sevBadge(inc.severity), statusText(inc.status),
        inc.silenced ? el("span", { class: "tag" }, t("detail.silenced")) : null),
      canAct() ? null : el("p", { class: "banner" }, t("role.viewerNote")),
      el("div", { class: "actions panel" }, actionButtons(inc, { compact: false }),
        el("button", { type: "button", class: "btn btn-quiet", id: "cap-download",
          onclick: () => download(`/api/v1/incidents/${encodeURIComponent(inc.id)}/cap`,
            `incident-${inc.id}.cap.xml`).catch((err) => toast(errorMessage(err), "error")) },
        t("action.cap"))),
      el("div", { class: "grid" },
        el("section", { class: "panel", "aria-labelledby": "h-summary" },
          el("h2", { id: "h-summary" }, t("detail.summary")), summaries(inc)),
        el("section", { class: "panel", "aria-labelledby": "h-facts" },
          el("h2", { id: "h-facts" }, t("detail.facts")), facts(inc)),
        el("section", { class: "panel", "aria-labelledby": "h-evidence", id: "evidence" },
          el("h2", { id: "h-evidence" }, t("detail.evidence")), evidence(inc, events)),
        el("section", { class: "panel", "aria-labelledby": "h-location" },
          el("h2", { id: "h-location" }, t("detail.location")), mapBox),
        el("section", { class: "panel", "aria-labelledby": "h-timeline" },
          el("h2", { id: "h-timeline" }, t("detail.timeline")), timelineList(timeline)),
      ),
    );
    map = drawMap(mapBox, inc, ctx.site);
  }

  function evidence(inc, events) {
    const seen = new Set();
    const items = [];
    for (const ev of [...inc.evidence, ...events.flatMap((e) => e.evidence || [])]) {
      const k = JSON.stringify(ev);
      if (seen.has(k)) continue;
      seen.add(k);
      items.push(ev);
    }
    if (!items.length) return el("p", { class: "muted" }, t("detail.noEvidence"));
    return el("ul", { class: "evidence-list" }, items.slice(0, 20).map((ev) => el("li", {}, evidenceItem(ev))));
  }

  function evidenceItem(ev) {
    const caption = ev.caption ? el("p", { class: "muted" }, ev.caption) : null;
    if ((ev.type === "snapshot" || ev.type === "clip") && ev.path) {
      const img = el("img", { class: "evidence-img", alt: t("detail.snapshotAlt", { caption: ev.caption || ev.path }) });
      const fig = el("figure", {}, img, caption);
      api.blob(`/api/v1/evidence/${ev.path.split("/").map(encodeURIComponent).join("/")}`)
        .then((blob) => {
          const url = URL.createObjectURL(blob);
          urls.push(url);
          img.src = url;
        })
        .catch((err) => img.replaceWith(el("p", { class: "error-box" },
          t("detail.imageMissing", { path: ev.path, detail: errorMessage(err) }))));
      return fig;
    }
    if (ev.type === "text" && ev.text) return el("div", {}, el("blockquote", { class: "excerpt" }, ev.text), caption);
    if (ev.type === "series" && ev.series) {
      // The sensor's live readings and forecast are one click away on the Traffic page.
      const open = () => sessionStorage.setItem("citysentinel.trafficSensor", ev.series.sensor);
      return el("div", {}, seriesChart(ev.series, { title: ev.caption }),
        el("p", { class: "small" }, el("a", { href: "#/traffic", class: "sensor-link", onclick: open },
          t("detail.openSensor", { sensor: ev.series.sensor }))));
    }
    // Only web links: a javascript: or data: URL in an event would run in the dashboard.
    if (ev.url && /^https?:\/\//i.test(ev.url)) {
      return el("p", {}, el("a", { href: ev.url, rel: "noopener noreferrer", target: "_blank" }, ev.caption || t("detail.link")));
    }
    if (ev.url) return el("p", { class: "muted" }, ev.caption || "", " ", el("code", {}, ev.url));
    return el("p", { class: "muted" }, ev.type);
  }

  const offStore = onStoreChange((inc) => {
    if (inc.id === id) load();
  });
  const offResync = onResync(() => load());
  load();
  return () => {
    seq++;
    offStore();
    offResync();
    if (map) map.remove();
    for (const url of urls) URL.revokeObjectURL(url);
  };
}

function summaries(inc) {
  const zh = currentLang() === "zh-CN";
  const first = zh ? inc.summary_zh : inc.summary_en;
  const other = zh ? inc.summary_en : inc.summary_zh;
  return el("div", {},
    el("p", { class: "summary", lang: zh ? "zh-CN" : "en" }, first || inc.title),
    other ? el("p", { class: "muted", lang: zh ? "en" : "zh-CN" }, other) : null);
}

function facts(inc) {
  const rows = [
    ["fact.category", `${term("category", inc.category)} / ${term("sub", inc.sub_category)}`],
    ["fact.rule", inc.rule],
    ["fact.sources", (inc.sources?.length ? inc.sources : [inc.source]).join(", ")],
    ["fact.zone", inc.zone],
    ["fact.address", inc.address],
    ["fact.firstSeen", timeEl(inc.first_seen)],
    ["fact.lastSeen", timeEl(inc.last_seen)],
    ["fact.events", String(inc.event_count)],
    ["fact.assignee", inc.assignee],
    ["fact.acknowledged", inc.acknowledged_by && [inc.acknowledged_by, " · ", timeEl(inc.acknowledged_at)]],
    ["fact.resolved", inc.resolved_by && [inc.resolved_by, " · ", timeEl(inc.resolved_at)]],
    ["fact.resolution", inc.resolution],
  ];
  return el("dl", { class: "facts" }, rows.filter(([, v]) => v).map(([k, v]) => [el("dt", {}, t(k)), el("dd", {}, v)]));
}

function timelineList(entries) {
  if (!entries.length) return el("p", { class: "muted" }, t("detail.noTimeline"));
  return el("ol", { class: "timeline", id: "timeline" }, entries.map((e) => el("li", { dataset: { action: e.action } },
    el("div", {}, el("strong", {}, term("changeAction", e.action)), " · ", e.actor, " · ", timeEl(e.at)),
    e.note ? el("div", {}, e.note) : null,
    diffText(e.action, e.diff))));
}

const QUIET = new Set(["version", "updated_at", "last_seen", "summary_en", "summary_zh", "evidence", "grouped_keys"]);

/** What changed, as "field: before → after" (diff values are [before, after] pairs). */
function diffText(action, diff) {
  if (action === "opened") return null;
  const keys = Object.keys(diff || {}).filter((k) => !QUIET.has(k));
  if (!keys.length) return null;
  const parts = keys.slice(0, 6).map((k) => {
    const d = diff[k];
    if (Array.isArray(d) && d.length === 2) return `${k}: ${short(d[0])} → ${short(d[1])}`;
    return `${k}: ${short(d)}`;
  });
  return el("div", { class: "diff" }, parts.join("; "));
}

function short(v) {
  if (v === null || v === undefined) return "–";
  const s = typeof v === "string" ? v : JSON.stringify(v);
  return s.length > 60 ? `${s.slice(0, 57)}…` : s;
}

function drawMap(box, inc, site) {
  const zones = new Map((site?.zones || []).map((z) => [z.name, z]));
  const zone = inc.zone && zones.get(inc.zone);
  if (!inc.point && !zone) {
    box.replaceWith(emptyState(null, t("detail.noLocation")));
    return null;
  }
  const map = createMap(box);
  if (!map) return null;
  const group = window.L.featureGroup().addTo(map);
  if (zone) zoneLayer(zone).addTo(group);
  const m = incidentLayer(inc, zones);
  if (m) m.addTo(group);
  fit(map, group, site?.site?.center);
  return map;
}
