// Small DOM helpers: element builder, toasts, error and empty states, time and severity.
import { t, term, currentLang } from "./i18n.js";

/** el("a", {href: "#", class: "x", onclick: fn}, "text", child) */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") {
      node.addEventListener(name.slice(2), value);
    } else if (name === "class") {
      node.className = value;
    } else if (name === "dataset") {
      Object.assign(node.dataset, value);
    } else if (value === true) {
      node.setAttribute(name, "");
    } else {
      node.setAttribute(name, String(value));
    }
  }
  append(node, children);
  return node;
}

/** Append children to `node`, skipping null, undefined and false. */
export function add(node, ...children) {
  append(node, children);
  return node;
}

function append(node, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function toast(message, kind = "info", ms = 6000) {
  const box = document.getElementById(kind === "error" ? "alerts" : "toasts");
  const item = el("div", { class: `toast${kind === "error" ? " toast-error" : ""}` }, message);
  box.append(item);
  setTimeout(() => item.remove(), kind === "error" ? ms * 2 : ms);
}

/** The clear words for an API error (never a blank page). */
export function errorMessage(err) {
  if (!err || err.status === undefined) return String(err?.message || err);
  if (err.status === 0) return t("error.network");
  if (err.status === 403) return t("error.forbidden", { detail: err.detail });
  if (err.status === 404) return t("error.notFound", { detail: err.detail });
  if (err.status === 409) return t("error.conflict", { detail: err.detail });
  return t("error.http", { status: err.status, detail: err.detail });
}

export function errorBox(err, what, retry) {
  return el(
    "div",
    { class: "error-box", role: "alert" },
    el("h2", {}, t("error.load", { what })),
    el("p", {}, errorMessage(err)),
    retry ? el("button", { type: "button", class: "btn", onclick: retry }, t("app.retry")) : null,
  );
}

export function emptyState(title, text) {
  return el("div", { class: "empty" }, title ? el("h2", {}, title) : null, el("p", {}, text));
}

let siteZone = undefined;
export function setSiteTimeZone(zone) {
  siteZone = zone || undefined;
}

export function siteTimeZone() {
  return siteZone;
}

export function formatTime(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  try {
    return new Intl.DateTimeFormat(currentLang(), {
      dateStyle: "short",
      timeStyle: "medium",
      timeZone: siteZone,
    }).format(d);
  } catch {
    return d.toLocaleString();
  }
}

export function ago(iso) {
  if (!iso) return t("app.never");
  const s = Math.max(0, Math.round((Date.now() - new Date(iso).getTime()) / 1000));
  if (s < 90) return t("app.secondsAgo", { n: s });
  if (s < 90 * 60) return t("app.minutesAgo", { n: Math.round(s / 60) });
  if (s < 36 * 3600) return t("app.hoursAgo", { n: Math.round(s / 3600) });
  return t("app.daysAgo", { n: Math.round(s / 86400) });
}

export function timeEl(iso) {
  return el("time", { datetime: iso, title: iso }, formatTime(iso));
}

export const SEVERITIES = ["informational", "low", "medium", "high", "critical"];
export const CATEGORIES = [
  "traffic", "naturalDisaster", "weather", "environment", "health", "security", "agriculture",
];

export function sevBadge(severity) {
  return el("span", { class: `sev sev-${severity}` }, term("severity", severity));
}

export function statusText(status) {
  return el("span", { class: `status status-${status}` }, term("status", status));
}

export function pageHead(titleKey, ...extra) {
  return el("div", { class: "page-head" }, el("h1", { tabindex: "-1" }, t(titleKey)), ...extra);
}

/** Run `fn` every `ms` while the page is mounted; returns a stop function. */
export function every(ms, fn) {
  let stopped = false;
  let timer = null;
  const tick = async () => {
    if (stopped) return;
    try {
      await fn();
    } finally {
      if (!stopped) timer = setTimeout(tick, ms);
    }
  };
  tick();
  return () => {
    stopped = true;
    clearTimeout(timer);
  };
}
