// A series window (observed and expected) drawn with the vendored uPlot, plus a data table.
import { t } from "./i18n.js";
import { el, formatTime, siteTimeZone } from "./ui.js";

export function vendorMissing(lib) {
  return el("p", { class: "error-box", role: "alert" }, t("error.vendor", { lib }));
}

/** A chart of `series` = {sensor, start, step_s, values, expected?}, with a table fallback. */
export function seriesChart(series, { title } = {}) {
  const start = new Date(series.start).getTime() / 1000;
  const xs = series.values.map((_, i) => start + i * series.step_s);
  const wrap = el("figure", { class: "chart-wrap" },
    el("figcaption", {}, title || t("traffic.chartFor", { sensor: series.sensor })));
  const box = el("div", { class: "chart", role: "img",
    "aria-label": title || t("traffic.chartFor", { sensor: series.sensor }) });
  wrap.append(box);
  const rows = xs.map((x, i) => el("tr", {},
    el("td", {}, formatTime(new Date(x * 1000).toISOString())),
    el("td", {}, fmt(series.values[i])),
    series.expected ? el("td", {}, fmt(series.expected[i])) : null));
  wrap.append(el("details", {}, el("summary", {}, t("detail.chartTable")),
    el("table", {}, el("thead", {}, el("tr", {},
      el("th", { scope: "col" }, t("col.time")),
      el("th", { scope: "col" }, t("detail.observed")),
      series.expected ? el("th", { scope: "col" }, t("detail.expected")) : null)),
    el("tbody", {}, rows))));
  if (typeof window.uPlot !== "function") {
    box.replaceWith(vendorMissing("uPlot"));
    return wrap;
  }
  const data = [xs, series.values.map(nullable)];
  const lines = [{}, { label: t("detail.observed"), stroke: "#0b5cad", width: 2, spanGaps: false }];
  if (series.expected) {
    data.push(series.expected.map(nullable));
    lines.push({ label: t("detail.expected"), stroke: "#b3261e", width: 2, dash: [6, 4] });
  }
  // Draw once the figure is in the document and has a width.
  requestAnimationFrame(() => {
    const width = Math.max(280, box.clientWidth || 480);
    // eslint-disable-next-line no-new, new-cap
    const zone = siteTimeZone();
    const tzDate = zone ? (ts) => window.uPlot.tzDate(new Date(ts * 1e3), zone) : undefined;
    new window.uPlot({ width, height: 220, series: lines, axes: [{}, {}], tzDate, legend: { live: false } }, data, box);
  });
  return wrap;
}

function nullable(v) {
  return v === null || v === undefined ? null : v;
}

function fmt(v) {
  return v === null || v === undefined ? "–" : String(Math.round(v * 100) / 100);
}

/** A bar-like line chart of counts per hour from a list of ISO times. */
export function countsChart(times, label) {
  if (!times.length) return null;
  const buckets = new Map();
  for (const iso of times) {
    const h = Math.floor(new Date(iso).getTime() / 3_600_000) * 3600;
    buckets.set(h, (buckets.get(h) || 0) + 1);
  }
  const xs = [...buckets.keys()].sort((a, b) => a - b);
  return seriesChart(
    { sensor: label, start: new Date(xs[0] * 1000).toISOString(), step_s: 3600,
      values: fill(xs, buckets) },
    { title: label },
  );
}

function fill(xs, buckets) {
  const out = [];
  for (let h = xs[0]; h <= xs[xs.length - 1]; h += 3600) out.push(buckets.get(h) || 0);
  return out;
}

/**
 * A line chart of several series over shared times (Unix seconds), with a data table.
 * `lines` = [{label, values, stroke, dash?, points?}]; values may hold nulls (gaps).
 */
export function lineChart({ id, title, note, xs, lines, height = 240, yLabel, yRange, digits = 2 }) {
  const aria = note ? `${title}. ${note}` : title;
  const box = el("div", { class: "chart", role: "img", "aria-label": aria });
  const wrap = el("figure", { class: "chart-wrap", id },
    el("figcaption", {}, title, note ? el("div", { class: "muted small chart-note" }, note) : null), box);
  const round = (v) => (v === null || v === undefined ? "–" : String(Math.round(v * 10 ** digits) / 10 ** digits));
  wrap.append(el("details", {}, el("summary", {}, t("detail.chartTable")),
    el("div", { class: "table-wrap" }, el("table", {},
      el("thead", {}, el("tr", {}, el("th", { scope: "col" }, t("col.time")),
        lines.map((l) => el("th", { scope: "col" }, l.label)))),
      el("tbody", {}, xs.map((x, i) => lines.some((l) => l.values[i] !== null && l.values[i] !== undefined)
        ? el("tr", {}, el("td", {}, formatTime(new Date(x * 1000).toISOString())),
          lines.map((l) => el("td", { class: "count" }, round(l.values[i]))))
        : null))))));
  if (typeof window.uPlot !== "function") {
    box.replaceWith(vendorMissing("uPlot"));
    return wrap;
  }
  const data = [xs, ...lines.map((l) => l.values.map(nullable))];
  const series = [{}, ...lines.map((l) => (l.marks
    // Marks only (e.g. surges): big points, no line between them.
    ? { label: l.label, stroke: l.stroke, width: 2, paths: () => null,
      points: { show: true, size: 12, width: 3, fill: "#ffffff", stroke: l.stroke } }
    : { label: l.label, stroke: l.stroke, width: 2, dash: l.dash, spanGaps: false,
      points: { show: l.points ?? xs.length < 60, size: 5, fill: l.stroke } }))];
  requestAnimationFrame(() => {
    if (!box.isConnected) return;
    const width = Math.max(280, box.clientWidth || 480);
    const zone = siteTimeZone();
    const tzDate = zone ? (ts) => window.uPlot.tzDate(new Date(ts * 1e3), zone) : undefined;
    const single = xs.length === 1 ? [xs[0] - 1800, xs[0] + 1800] : undefined;
    // eslint-disable-next-line no-new, new-cap
    new window.uPlot({
      width, height, series, tzDate, legend: { live: false },
      scales: { x: { time: true, range: single }, ...(yRange ? { y: { range: yRange } } : {}) },
      axes: [{}, { label: yLabel, size: 56 }],
    }, data, box);
  });
  return wrap;
}

/** Sorted union of Unix-second times from several [{time}] lists. */
export function unionTimes(...lists) {
  const set = new Set();
  for (const list of lists) for (const p of list) set.add(Math.round(Date.parse(p.time) / 1000));
  return [...set].sort((a, b) => a - b);
}

/** Values of `points` ([{time, value}]) placed on `xs`, null where a time is missing. */
export function onTimes(xs, points, pick = (p) => p.value) {
  const at = new Map(points.map((p) => [Math.round(Date.parse(p.time) / 1000), pick(p)]));
  return xs.map((x) => (at.has(x) ? at.get(x) : null));
}
