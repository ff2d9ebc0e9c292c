// Live incidents: a filtered table kept current over SSE, with actions in place.
import { actionButtons, canAct } from "../actions.js";
import { alertsEnabled, setAlerts } from "../alerts.js";
import { api } from "../api.js";
import { t, term } from "../i18n.js";
import { onResync } from "../live.js";
import { allIncidents, onStoreChange, upsert } from "../store.js";
import {
  add, CATEGORIES, SEVERITIES, ago, el, emptyState, errorBox, every, pageHead, sevBadge, statusText, timeEl,
} from "../ui.js";

const FILTER_KEY = "citysentinel.filters";
const DEFAULTS = { status: "active", severity: "", category: "", source: "", time: "" };
const WINDOWS = { "1h": 3600, "6h": 6 * 3600, "24h": 86400, "7d": 7 * 86400 };

function loadFilters() {
  try {
    return { ...DEFAULTS, ...JSON.parse(localStorage.getItem(FILTER_KEY) || "{}") };
  } catch {
    return { ...DEFAULTS };
  }
}

function statuses(f) {
  if (f.status === "active") return ["open", "acknowledged"];
  if (f.status === "all") return [];
  return [f.status];
}

function since(f) {
  const s = WINDOWS[f.time];
  return s ? new Date(Date.now() - s * 1000) : null;
}

/** The same filter as the API's, applied to incidents that arrive live. */
export function matches(inc, f) {
  const st = statuses(f);
  if (st.length && !st.includes(inc.status)) return false;
  if (f.severity && SEVERITIES.indexOf(inc.severity) < SEVERITIES.indexOf(f.severity)) return false;
  if (f.category && inc.category !== f.category) return false;
  if (f.source && inc.source !== f.source && !(inc.sources || []).includes(f.source)) return false;
  const from = since(f);
  if (from && new Date(inc.last_seen) < from) return false;
  return true;
}

function select(id, label, value, options, onchange) {
  const s = el("select", { id, name: id, onchange },
    options.map(([v, text]) => el("option", { value: v }, text)));
  s.value = value;
  return el("label", { class: "field", for: id }, el("span", {}, t(label)), s);
}

function sourceIds(site) {
  if (!site) return [];
  return [
    ...site.cameras.map((c) => c.id),
    ...site.text_feeds.map((f) => f.id),
    ...site.sensors.map((s) => s.id),
  ];
}

function buildRow(inc) {
  const tr = el("tr", {
    class: `row-${inc.severity}`,
    dataset: { incidentId: inc.id, key: inc.key, version: String(inc.version), status: inc.status },
  },
    el("td", {}, sevBadge(inc.severity)),
    el("td", { class: "title" },
      el("a", { href: `#/incidents/${encodeURIComponent(inc.id)}` }, inc.title),
      el("div", {}, el("span", { class: "tag" }, term("sub", inc.sub_category)),
        inc.silenced ? el("span", { class: "tag" }, t("fact.silenced")) : null)),
    el("td", { class: "nowrap" }, term("category", inc.category)),
    el("td", {}, inc.source),
    el("td", {}, inc.zone || ""),
    el("td", { class: "nowrap" }, statusText(inc.status)),
    el("td", {}, inc.assignee || ""),
    el("td", {}, timeEl(inc.last_seen), el("div", { class: "muted ago", dataset: { at: inc.last_seen } }, ago(inc.last_seen))),
    el("td", { class: "count" }, String(inc.event_count)),
    el("td", {}, actionButtons(inc)),
  );
  return tr;
}

export function mount(root, _params, ctx) {
  const filters = loadFilters();
  const rows = new Map();
  let loaded = false;
  let flashId = null;

  const tbody = el("tbody");
  const table = el("table", { id: "incident-table", "aria-busy": "true" },
    el("caption", {}, t("incidents.caption")),
    el("thead", {}, el("tr", {},
      ["col.severity", "col.incident", "col.category", "col.source", "col.zone", "col.status",
        "col.assignee", "col.lastSeen", "col.events", "col.actions"].map((k) => el("th", { scope: "col" }, t(k))))),
    tbody);
  const count = el("span", { class: "muted", id: "incident-count" });
  const body = el("div", { id: "incident-body" }, el("p", { class: "loading" }, t("app.loading")));
  const empty = emptyState(t("incidents.empty"), t("incidents.emptyHint"));

  const changed = () => {
    localStorage.setItem(FILTER_KEY, JSON.stringify(filters));
    load();
  };
  const bind = (name) => (e) => {
    filters[name] = e.target.value;
    changed();
  };
  let sourceTimer = null;
  const sourceInput = el("input", { id: "f-source", name: "source", list: "f-source-list", value: filters.source,
    oninput: (e) => {
      clearTimeout(sourceTimer);
      sourceTimer = setTimeout(() => bind("source")(e), 400);
    } });
  const alertBox = el("input", { type: "checkbox", id: "f-alerts", checked: alertsEnabled(),
    onchange: (e) => setAlerts(e.target.checked) });

  const form = el("form", { class: "filters panel", "aria-label": t("filter.label"), onsubmit: (e) => e.preventDefault() },
    select("f-status", "filter.status", filters.status, [
      ["active", t("filter.active")], ["open", term("status", "open")],
      ["acknowledged", term("status", "acknowledged")], ["resolved", term("status", "resolved")],
      ["all", t("filter.all")]], bind("status")),
    select("f-severity", "filter.severity", filters.severity,
      [["", t("filter.any")], ...SEVERITIES.map((s) => [s, term("severity", s)])], bind("severity")),
    select("f-category", "filter.category", filters.category,
      [["", t("filter.any")], ...CATEGORIES.map((c) => [c, term("category", c)])], bind("category")),
    el("label", { class: "field", for: "f-source" }, el("span", {}, t("filter.source")), sourceInput),
    el("datalist", { id: "f-source-list" }, sourceIds(ctx.site).map((id) => el("option", { value: id }))),
    select("f-time", "filter.time", filters.time,
      [["", t("filter.any")], ...Object.keys(WINDOWS).map((w) => [w, t(`filter.${w}`)])], bind("time")),
    el("button", { type: "button", class: "btn btn-quiet", onclick: () => {
      Object.assign(filters, DEFAULTS);
      localStorage.removeItem(FILTER_KEY);
      root.replaceChildren();
      cleanup();
      cleanup = mount(root, _params, ctx);
    } }, t("filter.reset")),
    el("label", { class: "check", for: "f-alerts" }, alertBox, t("incidents.alerts")),
  );

  add(root,
    pageHead("incidents.title", count),
    canAct() ? null : el("p", { class: "banner", id: "viewer-note" }, t("role.viewerNote")),
    form,
    body,
  );

  function render() {
    const list = allIncidents().filter((i) => matches(i, filters))
      .sort((a, b) => (a.last_seen < b.last_seen ? 1 : a.last_seen > b.last_seen ? -1 : 0))
      .slice(0, 500);
    const wanted = new Set();
    let cursor = tbody.firstChild;
    for (const inc of list) {
      wanted.add(inc.id);
      let row = rows.get(inc.id);
      if (!row || row.dataset.version !== String(inc.version) || row.dataset.status !== inc.status) {
        const fresh = buildRow(inc);
        const focused = row && row.contains(document.activeElement) ? document.activeElement : null;
        if (row) {
          if (cursor === row) cursor = row.nextSibling;
          row.replaceWith(fresh);
          if (inc.id === flashId) fresh.classList.add("flash");
        } else if (loaded) {
          fresh.classList.add("flash");
        }
        rows.set(inc.id, fresh);
        row = fresh;
        if (focused) refocus(fresh, focused);
      }
      if (row === cursor) cursor = cursor.nextSibling;
      else tbody.insertBefore(row, cursor);
    }
    for (const [id, row] of rows) {
      if (!wanted.has(id)) {
        row.remove();
        rows.delete(id);
      }
    }
    count.textContent = t("incidents.count", { n: list.length });
    const shown = list.length ? table : empty;
    if (body.firstChild !== shown) body.replaceChildren(shown);
    table.setAttribute("aria-busy", "false");
    body.dataset.state = "ready";
  }

  function refocus(row, old) {
    const action = old.dataset?.action;
    const target = (action && row.querySelector(`[data-action="${action}"]:not([disabled])`))
      || row.querySelector("button:not([disabled])") || row.querySelector("a");
    target?.focus();
  }

  let seq = 0;
  async function load() {
    const mine = ++seq;
    body.dataset.state = "loading";
    const from = since(filters);
    try {
      const page = await api.get("/api/v1/incidents", {
        status: statuses(filters),
        min_severity: filters.severity,
        category: filters.category,
        source: filters.source,
        since: from ? from.toISOString() : "",
        limit: 200,
      });
      if (mine !== seq) return;
      for (const inc of page.items) upsert(inc);
      render();
      loaded = true;
    } catch (err) {
      if (mine !== seq) return;
      body.replaceChildren(errorBox(err, t("incidents.what"), load));
      body.dataset.state = "error";
    }
  }

  const offStore = onStoreChange((inc) => {
    flashId = inc.id;
    if (loaded) render();
  });
  const stopAgo = every(15000, () => {
    for (const node of root.querySelectorAll(".ago")) node.textContent = ago(node.dataset.at);
  });
  const offResync = onResync(() => load());
  load();
  let cleanup = () => {
    offStore();
    offResync();
    stopAgo();
    clearTimeout(sourceTimer);
  };
  return () => cleanup();
}
