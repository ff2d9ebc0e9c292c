// Public opinion over time on the Text page: volume and sentiment per category or area from
// GET /api/v1/text/opinion, with text.surge events marked on the volume chart and listed.
import { api } from "./api.js";
import { lineChart } from "./chart.js";
import { t } from "./i18n.js";
import { el, emptyState, errorBox, timeEl } from "./ui.js";

const SETTINGS = "citysentinel.opinion";
const RANGES = { "6h": 6, "24h": 24, "7d": 168 };
const WINDOWS = ["15m", "1h", "6h", "1d"];
const MAX_KEYS = 8;
// Line colours with at least 3:1 contrast on white.
const COLOURS = ["#0b5cad", "#1b7a3a", "#8a4b00", "#6a3d9a", "#00727a", "#a0306e", "#4d5b69", "#7a5200"];
const SURGE = "#b3261e";

function load() {
  try {
    return { range: "24h", window: "1h", by: "category", ...JSON.parse(sessionStorage.getItem(SETTINGS) || "{}") };
  } catch {
    return { range: "24h", window: "1h", by: "category" };
  }
}

/** The opinion panel; `refresh()` reloads it, `stop()` drops late answers. */
export function opinionPanel() {
  const settings = load();
  let alive = true;
  let seq = 0;
  const body = el("div", { id: "opinion-body" }, el("p", { class: "loading" }, t("app.loading")));
  const control = (id, labelKey, name, options) => {
    const s = el("select", { id, name, onchange: (e) => {
      settings[name] = e.target.value;
      sessionStorage.setItem(SETTINGS, JSON.stringify(settings));
      refresh();
    } }, options.map(([v, text]) => el("option", { value: v }, text)));
    s.value = settings[name];
    return el("label", { class: "field", for: id }, el("span", {}, t(labelKey)), s);
  };
  const form = el("form", { class: "filters", id: "opinion-controls", onsubmit: (e) => e.preventDefault() },
    control("op-range", "text.timeRange", "range", Object.keys(RANGES).map((r) => [r, t(`filter.${r}`)])),
    control("op-window", "opinion.window", "window", WINDOWS.map((w) => [w, t(`opinion.every.${w}`)])),
    control("op-by", "opinion.by", "by", [["category", t("opinion.byCategory")], ["area", t("opinion.byArea")]]));
  const section = el("section", { class: "panel", id: "text-opinion", "aria-labelledby": "h-opinion" },
    el("h2", { id: "h-opinion" }, t("opinion.title")), form, body);

  async function refresh() {
    const mine = ++seq;
    const until = new Date();
    const since = new Date(until.getTime() - RANGES[settings.range] * 3600_000);
    try {
      const [report, surges] = await Promise.all([
        api.get("/api/v1/text/opinion", { window: settings.window, by: settings.by,
          since: since.toISOString(), until: until.toISOString() }),
        api.get("/api/v1/events", { kind: "text.surge", since: since.toISOString(), limit: 200 })
          .then((p) => p.items.map((s) => s.event)).catch(() => []),
      ]);
      if (!alive || mine !== seq) return;
      body.replaceChildren(...render(report, surges));
      section.dataset.state = "ready";
    } catch (err) {
      if (!alive || mine !== seq) return;
      section.dataset.state = err.status === 404 ? "empty" : "error";
      body.replaceChildren(err.status === 404
        ? emptyState(t("opinion.unavailableTitle"), t("opinion.unavailable"))
        : errorBox(err, t("opinion.title"), refresh));
    }
  }

  return { section, refresh, stop: () => { alive = false; } };
}

function render(report, surges) {
  const buckets = report.buckets || [];
  const out = [];
  if (report.truncated) out.push(el("p", { class: "note-later" }, t("opinion.truncated", { n: report.scanned })));
  if (!buckets.length) {
    out.push(emptyState(t("opinion.emptyTitle"), t("opinion.empty")));
    out.push(surgeList(surges));
    return out;
  }
  const none = report.by === "area" ? t("opinion.noArea") : t("text.uncategorised");
  const name = (key) => key ?? none;
  const totals = new Map();
  for (const b of buckets) totals.set(name(b.key), (totals.get(name(b.key)) || 0) + b.count);
  const keys = [...totals.keys()].sort((a, b) => totals.get(b) - totals.get(a)).slice(0, MAX_KEYS);
  const xs = timeline(report);
  const index = new Map(xs.map((x, i) => [x, i]));
  const grid = (pick) => {
    const rows = new Map(keys.map((k) => [k, xs.map(() => null)]));
    for (const b of buckets) {
      const row = rows.get(name(b.key));
      const i = index.get(Math.round(Date.parse(b.start) / 1000));
      if (row && i !== undefined) row[i] = pick(b);
    }
    return rows;
  };
  const counts = grid((b) => b.count);
  for (const row of counts.values()) for (let i = 0; i < row.length; i++) row[i] ??= 0;
  const polarity = grid((b) => b.mean_polarity);
  const lines = (rows) => keys.map((k, i) => ({ label: k, values: rows.get(k), stroke: COLOURS[i % COLOURS.length] }));
  const marks = surgeMarks(surges, xs, report.window_s);
  const volumeLines = lines(counts);
  if (marks.some((v) => v !== null)) {
    volumeLines.push({ label: t("opinion.surgeMark"), values: marks, stroke: SURGE, points: true, marks: true });
  }
  const total = buckets.reduce((s, b) => s + b.count, 0);
  const scored = buckets.reduce((s, b) => s + b.scored, 0);
  const covers = t("opinion.covers", { n: total, scored, groups: totals.size, shown: keys.length });
  out.push(el("div", { class: "grid" },
    lineChart({ id: "opinion-volume", title: t("opinion.volume"), note: covers, xs, lines: volumeLines, digits: 0,
      yLabel: t("opinion.messages") }),
    scored
      ? lineChart({ id: "opinion-sentiment", title: t("opinion.sentiment"), note: t("opinion.sentimentNote"), xs,
        lines: lines(polarity), digits: 2, yLabel: t("opinion.polarity"), yRange: [-1, 1] })
      : emptyState(t("opinion.noScoresTitle"), t("opinion.noScores"))));
  const emotions = emotionTotals(buckets);
  if (emotions.length) {
    out.push(el("p", { class: "muted small", id: "opinion-emotions" },
      t("opinion.emotions", { list: emotions.map(([e, n]) => `${t(`emotion.${e}`, {}, e)} ${n}`).join(", ") })));
  }
  out.push(surgeList(surges));
  return out;
}

/** Every window start from `since` to `until` (so gaps show as zero, not as a jump). */
function timeline(report) {
  const step = report.window_s;
  const first = Math.floor(Date.parse(report.since) / 1000 / step) * step;
  const last = Math.floor(Date.parse(report.until) / 1000 / step) * step;
  const xs = [];
  for (let x = first; x <= last && xs.length < 2000; x += step) xs.push(x);
  const seen = new Set(xs);
  for (const b of report.buckets) {
    const x = Math.round(Date.parse(b.start) / 1000);
    if (!seen.has(x)) {
      seen.add(x);
      xs.push(x);
    }
  }
  return xs.sort((a, b) => a - b);
}

/** The observed count of each surge, placed on the window it fell in. */
function surgeMarks(surges, xs, step) {
  const marks = xs.map(() => null);
  for (const e of surges) {
    const x = Math.floor(Date.parse(e.time) / 1000 / step) * step;
    const i = xs.indexOf(x);
    if (i >= 0) marks[i] = Math.max(marks[i] ?? 0, e.payload?.observed ?? 0);
  }
  return marks;
}

function emotionTotals(buckets) {
  const totals = new Map();
  for (const b of buckets) for (const [e, n] of Object.entries(b.emotions || {})) totals.set(e, (totals.get(e) || 0) + n);
  return [...totals.entries()].sort((a, b) => b[1] - a[1]);
}

function surgeList(surges) {
  const head = el("h3", { id: "h-surges" }, t("opinion.surges"));
  if (!surges.length) return el("div", { id: "opinion-surges" }, head, el("p", { class: "muted" }, t("opinion.noSurges")));
  return el("div", { id: "opinion-surges" }, head, el("div", { class: "table-wrap" }, el("table", {},
    el("thead", {}, el("tr", {}, ["col.time", "col.category", "col.area", "opinion.observed", "opinion.expected", "col.score"]
      .map((k) => el("th", { scope: "col" }, t(k))))),
    el("tbody", {}, surges.map((e) => el("tr", {},
      el("td", { class: "nowrap" }, timeEl(e.time)),
      el("td", {}, e.payload?.category || ""),
      el("td", {}, e.payload?.area || ""),
      el("td", { class: "count" }, String(e.payload?.observed ?? "")),
      el("td", { class: "count" }, e.payload?.expected === undefined ? "" : e.payload.expected.toFixed(1)),
      el("td", { class: "count" }, typeof e.payload?.score === "number" ? e.payload.score.toFixed(1) : "")))))));
}
