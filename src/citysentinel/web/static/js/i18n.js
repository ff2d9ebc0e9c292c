// English and Simplified Chinese labels; the choice persists in localStorage.
const LANGS = ["en", "zh-CN"];
const STORAGE_KEY = "citysentinel.lang";
let lang = "en";
let dict = {};
let fallback = {};
const listeners = new Set();

function preferred() {
  const saved = localStorage.getItem(STORAGE_KEY);
  if (LANGS.includes(saved)) return saved;
  return (navigator.language || "").toLowerCase().startsWith("zh") ? "zh-CN" : "en";
}

async function load(code) {
  const res = await fetch(`i18n/${code}.json`, { cache: "no-cache" });
  if (!res.ok) throw new Error(`i18n/${code}.json: ${res.status}`);
  return res.json();
}

export async function initI18n() {
  fallback = await load("en");
  await setLang(preferred(), { persist: false });
}

export function currentLang() {
  return lang;
}

export async function setLang(code, { persist = true } = {}) {
  lang = LANGS.includes(code) ? code : "en";
  dict = lang === "en" ? fallback : await load(lang);
  if (persist) localStorage.setItem(STORAGE_KEY, lang);
  document.documentElement.lang = lang;
  applyI18n(document);
  for (const fn of listeners) fn(lang);
}

export function onLangChange(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

/** The label for `key` in the current language, with `{name}` placeholders filled. */
export function t(key, vars = {}, otherwise) {
  let text = dict[key] ?? fallback[key] ?? otherwise ?? key;
  for (const [name, value] of Object.entries(vars)) {
    text = text.replaceAll(`{${name}}`, String(value));
  }
  return text;
}

/** A vocabulary value (severity, status, category, ...) in the current language. */
export function term(group, value) {
  if (value === null || value === undefined || value === "") return "";
  return t(`${group}.${value}`, {}, String(value));
}

/** Fill `data-i18n` text and `data-i18n-attr="attr:key,attr:key"` attributes under `root`. */
export function applyI18n(root) {
  for (const el of root.querySelectorAll("[data-i18n]")) {
    el.textContent = t(el.dataset.i18n);
  }
  for (const el of root.querySelectorAll("[data-i18n-attr]")) {
    for (const pair of el.dataset.i18nAttr.split(",")) {
      const [attr, key] = pair.split(":");
      el.setAttribute(attr.trim(), t(key.trim()));
    }
  }
}
