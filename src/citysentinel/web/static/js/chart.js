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
