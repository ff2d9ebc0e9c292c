// Text feeds: configured feeds and classified messages; a clear empty state until the analyzer lands.
import { api } from "../api.js";
import { countsChart } from "../chart.js";
import { t } from "../i18n.js";
import { el, emptyState, errorBox, pageHead, timeEl } from "../ui.js";

const KINDS = ["text.report", "text.surge"];

export function mount(root, _params, ctx) {
  const feeds = ctx.site?.text_feeds || [];
  const messages = el("section", { class: "panel", "aria-labelledby": "h-messages", id: "text-messages" },
    el("h2", { id: "h-messages" }, t("text.messages")), el("p", { class: "loading" }, t("app.loading")));
  root.append(
    pageHead("text.title"),
    el("section", { class: "panel", "aria-labelledby": "h-feeds" },
      el("h2", { id: "h-feeds" }, t("text.feeds")),
      feeds.length ? el("div", { class: "table-wrap" }, el("table", {},
        el("thead", {}, el("tr", {}, ["col.feed", "col.type", "col.lang", "col.area"].map((k) => el("th", { scope: "col" }, t(k))))),
        el("tbody", {}, feeds.map((f) => el("tr", {},
          el("td", {}, f.id), el("td", {}, f.type), el("td", {}, f.lang || ""), el("td", {}, f.area || ""))))))
        : el("p", { class: "muted" }, t("text.noFeeds"))),
    messages,
  );
  let alive = true;
  async function load() {
    try {
      const page = await api.get("/api/v1/events", { kind: KINDS, limit: 200 });
      if (!alive) return;
      const items = page.items.map((s) => s.event);
      const body = [el("h2", { id: "h-messages" }, t("text.messages"))];
      if (!items.length) {
        body.push(emptyState(t("text.emptyTitle"), t("text.empty")));
      } else {
        body.push(countsChart(items.map((e) => e.time), t("text.volume")));
        body.push(el("div", { class: "table-wrap" }, el("table", {},
          el("thead", {}, el("tr", {}, ["col.time", "col.feed", "col.kind", "col.labels", "col.score", "col.text"]
            .map((k) => el("th", { scope: "col" }, t(k))))),
          el("tbody", {}, items.map((e) => el("tr", {},
            el("td", {}, timeEl(e.time)), el("td", {}, e.source), el("td", {}, e.kind),
            el("td", {}, e.labels.map((l) => el("span", { class: "tag" }, l))),
            el("td", { class: "count" }, e.confidence.toFixed(2)),
            el("td", {}, excerpt(e))))))));
      }
      messages.replaceChildren(...body.filter(Boolean));
      messages.dataset.state = "ready";
    } catch (err) {
      if (alive) messages.replaceChildren(errorBox(err, t("text.what"), load));
    }
  }
  load();
  return () => {
    alive = false;
  };
}

function excerpt(event) {
  const ev = (event.evidence || []).find((x) => x.type === "text" && x.text);
  return ev ? ev.text : "";
}
