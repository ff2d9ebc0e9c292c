// Text feeds: configured feeds, classified messages from GET /api/v1/text/messages (filters,
// cursor paging, live refresh) and a chart of messages per hour by category.
import { api } from "../api.js";
import { vendorMissing } from "../chart.js";
import { t } from "../i18n.js";
import { onIncidentChange } from "../live.js";
import { opinionPanel } from "../opinion.js";
import { el, emptyState, errorBox, formatTime, pageHead, siteTimeZone, timeEl } from "../ui.js";

const FILTER_KEY = "citysentinel.textFilters";
const DEFAULTS = { feed: "", label: "", lang: "", time: "" };
const WINDOWS = { "1h": 3600, "6h": 6 * 3600, "24h": 86400, "7d": 7 * 86400 };
const LANGS = ["en", "zh", "other", "und"];
const PAGE = 50;
const REFRESH_MS = 10_000;
const OPINION_MS = 60_000; // aggregated server-side from every stored report: not too often
// Line colours with at least 3:1 contrast on white.
const COLOURS = ["#0b5cad", "#b3261e", "#1b7a3a", "#8a4b00", "#6a3d9a", "#00727a", "#a0306e", "#4d5b69"];

function loadFilters() {
  try {
    return { ...DEFAULTS, ...JSON.parse(sessionStorage.getItem(FILTER_KEY) || "{}") };
  } catch {
    return { ...DEFAULTS };
  }
}

function langName(code) {
  return code ? t(`text.lang.${code}`, {}, code) : "";
}

function field(id, labelKey, control) {
  return el("label", { class: "field", for: id }, el("span", {}, t(labelKey)), control);
}

function select(id, value, options, onchange) {
  const s = el("select", { id, name: id, onchange }, options.map(([v, text]) => el("option", { value: v }, text)));
  s.value = value;
  return s;
}

export function mount(root, _params, ctx) {
  const feeds = ctx.site?.text_feeds || [];
  const filters = loadFilters();
  if (filters.feed && !feeds.some((f) => f.id === filters.feed)) filters.feed = "";
  const items = new Map(); // id -> message, all loaded pages
  let cursor = null; // next older page
  let alive = true;
  let busy = false;
  let generation = 0; // bumped on a filter change; late answers of older filters are dropped

  // --- filters
  const changed = () => {
    sessionStorage.setItem(FILTER_KEY, JSON.stringify(filters));
    reload();
  };
  const bind = (name) => (e) => {
    filters[name] = e.target.value.trim();
    changed();
  };
  let labelTimer = null;
  const labelList = el("datalist", { id: "tf-label-list" });
  const form = el("form", { class: "filters panel", id: "text-filters", "aria-label": t("filter.label"),
    onsubmit: (e) => e.preventDefault() },
  field("tf-feed", "col.feed", select("tf-feed", filters.feed,
    [["", t("filter.any")], ...feeds.map((f) => [f.id, f.id])], bind("feed"))),
  field("tf-label", "text.label", el("input", { id: "tf-label", name: "label", list: "tf-label-list",
    value: filters.label, autocomplete: "off", oninput: (e) => {
      clearTimeout(labelTimer);
      labelTimer = setTimeout(() => bind("label")(e), 400);
    } })),
  labelList,
  field("tf-lang", "col.lang", select("tf-lang", filters.lang,
    [["", t("filter.any")], ...LANGS.map((l) => [l, langName(l)])], bind("lang"))),
  field("tf-time", "text.timeRange", select("tf-time", filters.time,
    [["", t("filter.any")], ...Object.keys(WINDOWS).map((w) => [w, t(`filter.${w}`)])], bind("time"))),
  el("button", { type: "button", class: "btn btn-quiet", id: "tf-reset", onclick: () => {
    Object.assign(filters, DEFAULTS);
    for (const [id, v] of [["tf-feed", ""], ["tf-label", ""], ["tf-lang", ""], ["tf-time", ""]]) {
      form.querySelector(`#${id}`).value = v;
    }
    changed();
  } }, t("filter.reset")));

  // --- charts, list
  const status = el("p", { class: "muted small", id: "text-status", "aria-live": "polite" });
  const chartBox = el("div", { id: "text-chart" });
  const charts = el("section", { class: "panel", "aria-labelledby": "h-text-charts", id: "text-charts" },
    el("h2", { id: "h-text-charts" }, t("text.charts")),
    chartBox);
  const opinion = opinionPanel();
  const problem = el("div", { id: "text-problem" });
  const listBox = el("div", { id: "text-list" }, el("p", { class: "loading" }, t("app.loading")));
  const more = el("button", { type: "button", class: "btn btn-secondary", id: "text-more", hidden: true,
    onclick: () => loadMore() }, t("text.loadMore"));
  const messages = el("section", { class: "panel", "aria-labelledby": "h-messages", id: "text-messages" },
    el("h2", { id: "h-messages" }, t("text.messages")), status, problem, listBox, more);

  root.append(
    pageHead("text.title"),
    el("section", { class: "panel", "aria-labelledby": "h-feeds" },
      el("h2", { id: "h-feeds" }, t("text.feeds")),
      feeds.length ? el("div", { class: "table-wrap" }, el("table", {},
        el("thead", {}, el("tr", {}, ["col.feed", "col.type", "col.lang", "col.area"].map((k) => el("th", { scope: "col" }, t(k))))),
        el("tbody", {}, feeds.map((f) => el("tr", {},
          el("td", {}, f.id), el("td", {}, f.type), el("td", {}, f.lang || ""), el("td", {}, f.area || ""))))))
        : el("p", { class: "muted" }, t("text.noFeeds"))),
    form,
    opinion.section,
    charts,
    messages,
  );

  function params(extra = {}) {
    const w = WINDOWS[filters.time];
    return {
      feed: filters.feed, label: filters.label, lang: filters.lang,
      since: w ? new Date(Date.now() - w * 1000).toISOString() : undefined,
      limit: PAGE, ...extra,
    };
  }

  function sorted() {
    return [...items.values()].sort((a, b) => b.seq - a.seq);
  }

  function fail(err, retry) {
    problem.replaceChildren(errorBox(err, t("text.what"), () => {
      problem.replaceChildren();
      retry();
    }));
  }

  let drawnKey = "";
  function render() {
    const list = sorted();
    messages.dataset.state = "ready";
    more.hidden = !cursor;
    const filtered = Object.values(filters).some(Boolean);
    status.textContent = list.length
      ? t("text.shown", { n: list.length }) + (cursor ? ` ${t("text.moreAvailable")}` : "")
      : "";
    const labels = new Set(list.flatMap((m) => m.labels));
    labelList.replaceChildren(...[...labels].sort().map((l) => el("option", { value: l })));
    const key = list.map((m) => m.id).join(",") + currentKey();
    if (key === drawnKey) return;
    drawnKey = key;
    if (!list.length) {
      listBox.replaceChildren(filtered
        ? emptyState(t("text.noMatchTitle"), t("text.noMatch"))
        : emptyState(t("text.emptyTitle"), t("text.empty")));
      chartBox.replaceChildren(el("p", { class: "muted" }, t("text.chartEmpty")));
      return;
    }
    listBox.replaceChildren(messageTable(list));
    chartBox.replaceChildren(volumeChart(list));
  }

  function currentKey() {
    return `|${document.documentElement.lang}`;
  }

  async function reload() {
    const gen = ++generation;
    busy = true;
    try {
      const page = await api.get("/api/v1/text/messages", params());
      if (!alive || gen !== generation) return;
      items.clear();
      for (const m of page.items) items.set(m.id, m);
      cursor = page.next_cursor;
      problem.replaceChildren();
      drawnKey = "";
      render();
    } catch (err) {
      if (!alive || gen !== generation) return;
      if (!items.size) listBox.replaceChildren();
      messages.dataset.state = "error";
      fail(err, reload);
    } finally {
      if (gen === generation) busy = false;
    }
  }

  async function loadMore() {
    if (!cursor || busy) return;
    const gen = generation;
    busy = true;
    more.disabled = true;
    try {
      const page = await api.get("/api/v1/text/messages", params({ cursor }));
      if (!alive || gen !== generation) return;
      for (const m of page.items) items.set(m.id, m);
      cursor = page.next_cursor;
      problem.replaceChildren();
      render();
      if (!cursor) messages.querySelector("#h-messages")?.focus?.();
    } catch (err) {
      if (alive && gen === generation) fail(err, loadMore);
    } finally {
      more.disabled = false;
      if (gen === generation) busy = false;
    }
  }

  /** Newest messages since the last look, added on top; older pages stay as loaded. */
  async function refresh() {
    if (busy || !alive) return;
    if (!items.size && !messages.dataset.state) return;
    const gen = generation;
    busy = true;
    try {
      const page = await api.get("/api/v1/text/messages", params());
      if (!alive || gen !== generation) return;
      if (items.size && page.next_cursor && !page.items.some((m) => items.has(m.id))) {
        // More arrived than one page holds: start again rather than leave a gap.
        busy = false;
        reload();
        return;
      }
      if (!items.size) cursor = page.next_cursor;
      for (const m of page.items) items.set(m.id, m);
      if (problem.childElementCount) problem.replaceChildren();
      render();
    } catch (err) {
      if (alive && gen === generation) fail(err, refresh);
    } finally {
      if (gen === generation) busy = false;
    }
  }

  reload();
  opinion.refresh();
  const timer = setInterval(refresh, REFRESH_MS);
  const opinionTimer = setInterval(opinion.refresh, OPINION_MS);
  let soon = null;
  const stopLive = onIncidentChange(() => {
    clearTimeout(soon);
    soon = setTimeout(refresh, 800);
  });
  return () => {
    alive = false;
    clearInterval(timer);
    clearInterval(opinionTimer);
    opinion.stop();
    clearTimeout(soon);
    clearTimeout(labelTimer);
    stopLive();
  };
}

function messageTable(list) {
  return el("div", { class: "table-wrap" }, el("table", { id: "text-table" },
    el("caption", { class: "visually-hidden" }, t("text.caption")),
    el("thead", {}, el("tr", {}, ["col.time", "col.feed", "col.lang", "col.labels", "col.text"]
      .map((k) => el("th", { scope: "col" }, t(k))))),
    el("tbody", {}, list.map((m) => el("tr", { dataset: { id: m.id, lang: m.lang || "" } },
      el("td", { class: "nowrap" }, timeEl(m.time)),
      el("td", {}, m.feed, m.channel && m.channel !== m.feed
        ? el("div", { class: "muted small" }, t("text.channel", { channel: m.channel })) : null),
      el("td", { class: "nowrap msg-lang" }, langName(m.lang)),
      el("td", { class: "msg-labels" }, labelTags(m)),
      el("td", { class: "msg-text" },
        el("span", { lang: m.lang === "zh" ? "zh-CN" : m.lang === "en" ? "en" : undefined }, m.text || ""),
        m.truncated ? el("span", { class: "tag tag-warn" }, t("text.truncated")) : null,
        m.address ? el("div", { class: "muted small" }, t("text.about", { place: m.address })) : null))))));
}

function labelTags(m) {
  const labels = m.labels.length ? m.labels : [];
  const tags = labels.map((l) => el("span", { class: "tag" }, `${l} ${score(m.scores?.[l] ?? m.confidence)}`));
  const others = Object.entries(m.scores || {}).filter(([l]) => !labels.includes(l))
    .sort((a, b) => b[1] - a[1]);
  if (!tags.length) tags.push(el("span", { class: "muted" }, t("text.noLabel")));
  if (others.length) {
    tags.push(el("div", { class: "muted small" },
      t("text.otherScores", { scores: others.map(([l, s]) => `${l} ${score(s)}`).join(", ") })));
  }
  return tags;
}

function score(v) {
  return typeof v === "number" ? v.toFixed(2) : "";
}

/** Messages per hour, one line per category, from the loaded messages (with a table). */
function volumeChart(list) {
  const none = t("text.uncategorised");
  const cats = new Map(); // category -> Map(hour -> count)
  let lo = Infinity;
  let hi = -Infinity;
  for (const m of list) {
    const h = Math.floor(new Date(m.time).getTime() / 3_600_000) * 3600;
    lo = Math.min(lo, h);
    hi = Math.max(hi, h);
    const c = m.category || none;
    if (!cats.has(c)) cats.set(c, new Map());
    const b = cats.get(c);
    b.set(h, (b.get(h) || 0) + 1);
  }
  const xs = [];
  for (let h = lo; h <= hi && xs.length < 24 * 31; h += 3600) xs.push(h);
  const names = [...cats.keys()].sort();
  const times = list.map((m) => m.time).sort();
  const covers = t("text.chartCovers", {
    n: list.length, from: formatTime(times[0]), to: formatTime(times[times.length - 1]),
  });
  const title = t("text.volume");
  const box = el("div", { class: "chart", role: "img", "aria-label": `${title}. ${covers}` });
  const wrap = el("figure", { class: "chart-wrap", id: "text-volume" },
    el("figcaption", {}, title, el("div", { class: "muted small", id: "text-chart-covers" }, covers)), box);
  wrap.append(el("details", {}, el("summary", {}, t("detail.chartTable")),
    el("div", { class: "table-wrap" }, el("table", {},
      el("thead", {}, el("tr", {}, el("th", { scope: "col" }, t("text.hour")),
        names.map((n) => el("th", { scope: "col" }, n)))),
      el("tbody", {}, xs.filter((x) => names.some((n) => cats.get(n).get(x))).map((x) => el("tr", {},
        el("td", {}, formatTime(new Date(x * 1000).toISOString())),
        names.map((n) => el("td", { class: "count" }, String(cats.get(n).get(x) || 0))))))))));
  if (typeof window.uPlot !== "function") {
    box.replaceWith(vendorMissing("uPlot"));
    return wrap;
  }
  const data = [xs, ...names.map((n) => xs.map((x) => cats.get(n).get(x) || 0))];
  const series = [{}, ...names.map((n, i) => ({
    label: n, stroke: COLOURS[i % COLOURS.length], width: 2,
    points: { show: true, size: 6, fill: COLOURS[i % COLOURS.length] },
  }))];
  requestAnimationFrame(() => {
    if (!box.isConnected) return;
    const width = Math.max(280, box.clientWidth || 480);
    const zone = siteTimeZone();
    const tzDate = zone ? (ts) => window.uPlot.tzDate(new Date(ts * 1e3), zone) : undefined;
    // eslint-disable-next-line no-new, new-cap
    new window.uPlot({
      width, height: 220, series, tzDate, legend: { live: false },
      scales: { x: { time: true, range: xs.length === 1 ? [xs[0] - 1800, xs[0] + 1800] : undefined } },
      axes: [{}, { incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500] }],
    }, data, box);
  });
  return wrap;
}
