// Boot: language, session check, the hash router and the shared header.
import { api, getKey, setKey, setUnauthorizedHandler } from "./api.js";
import { setRole } from "./actions.js";
import { applyI18n, currentLang, initI18n, onLangChange, setLang, t, term } from "./i18n.js";
import { onLiveState, startLive, stopLive } from "./live.js";
import { clearIncidents } from "./store.js";
import { el, errorBox, setSiteTimeZone, toast } from "./ui.js";
import * as signin from "./pages/signin.js";
import * as incidents from "./pages/incidents.js";
import * as incident from "./pages/incident.js";
import * as cameras from "./pages/cameras.js";
import * as text from "./pages/text.js";
import * as traffic from "./pages/traffic.js";
import * as map from "./pages/map.js";

const ROUTES = { signin, incidents, incident, cameras, text, traffic, map };
const ctx = { session: null, site: null };
let unmount = null;
let signinMessage = null;

function parseHash() {
  const parts = window.location.hash.replace(/^#\/?/, "").split("/").filter(Boolean);
  if (parts[0] === "incidents" && parts[1]) return { name: "incident", params: { id: decodeURIComponent(parts[1]) } };
  const name = parts[0] && ROUTES[parts[0]] ? parts[0] : "incidents";
  return { name, params: {} };
}

// Started at once on load, in parallel with the language files and the scripts.
let early = null;

async function loadSession() {
  const key = getKey();
  if (!key) return false;
  const prefetched = early;
  early = null;
  try {
    ctx.session = await (prefetched?.session ?? api.session(key));
  } catch (err) {
    if (err.status === 401) {
      setKey(null);
      signinMessage = t("signin.expired");
      return false;
    }
    throw err;
  }
  setRole(ctx.session.role);
  try {
    ctx.site = await (prefetched?.site ?? api.get("/api/v1/site"));
    setSiteTimeZone(ctx.site.site.timezone);
  } catch (err) {
    ctx.site = null;
    toast(`${t("error.load", { what: t("map.what") })} ${err.detail || ""}`, "error");
  }
  return true;
}

export function signOut(message, { endSession = false } = {}) {
  stopLive();
  // A password sign-in is a server-side session: end it there too (best effort).
  const key = getKey();
  if (endSession && key && ctx.session?.actor?.startsWith("user:")) api.logout(key).catch(() => {});
  setKey(null);
  clearIncidents();
  ctx.session = null;
  signinMessage = message || null;
  if (window.location.hash !== "#/signin") window.location.hash = "#/signin";
  else route();
}

export async function signedIn() {
  const ok = await loadSession();
  if (!ok) return false;
  window.location.hash = "#/incidents";
  return true;
}

function renderHeader(name) {
  const bar = document.getElementById("topbar");
  bar.hidden = name === "signin";
  if (ctx.session) {
    document.getElementById("who").textContent = t("app.whoami", {
      name: ctx.session.name,
      role: term("role", ctx.session.role),
    });
  }
  document.getElementById("site-name").textContent = ctx.site?.site?.name || "citysentinel";
  const current = name === "incident" ? "incidents" : name;
  for (const a of document.querySelectorAll("[data-route]")) {
    if (a.dataset.route === current) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  document.getElementById("lang-select").value = currentLang();
}

async function route() {
  let { name, params } = parseHash();
  if (!ctx.session && name !== "signin") {
    try {
      if (!(await loadSession())) name = "signin";
    } catch (err) {
      showFatal(err);
      return;
    }
  }
  if (ctx.session && name === "signin") name = "incidents";
  if (unmount) {
    try {
      unmount();
    } catch (err) {
      console.error(err);
    }
    unmount = null;
  }
  if (ctx.session) startLive({ expired: () => signOut(t("signin.expired")) });
  renderHeader(name);
  const main = document.getElementById("main");
  main.replaceChildren();
  const page = ROUTES[name];
  const message = signinMessage;
  signinMessage = null;
  try {
    unmount = page.mount(main, { ...params, message }, { ...ctx, signOut, signedIn }) || null;
  } catch (err) {
    console.error(err);
    main.replaceChildren(errorBox(err, name, () => route()));
  }
  document.title = `${t(`nav.${name === "incident" ? "incidents" : name}`, {}, "citysentinel")} · citysentinel`;
  const heading = main.querySelector("h1");
  if (heading && document.activeElement !== document.body) heading.focus();
}

function showFatal(err) {
  document.getElementById("topbar").hidden = true;
  document.getElementById("main").replaceChildren(errorBox(err, "citysentinel", () => route()));
}

function liveBanner(state, previous) {
  const badge = document.getElementById("live-state");
  badge.dataset.state = state;
  badge.textContent = t(`live.${state === "idle" ? "connecting" : state}`);
  const banner = document.getElementById("banner");
  if (state === "reconnecting") {
    banner.textContent = t("live.banner");
    banner.hidden = false;
  } else if (state === "live" && previous === "reconnecting") {
    banner.textContent = t("live.caughtUp");
    setTimeout(() => { if (document.getElementById("live-state").dataset.state === "live") banner.hidden = true; }, 4000);
  } else {
    banner.hidden = true;
  }
}

async function boot() {
  if (getKey()) {
    early = { session: api.session(getKey()), site: api.get("/api/v1/site") };
    // Errors are handled where these are awaited; do not report them twice.
    early.session.catch(() => {});
    early.site.catch(() => {});
  }
  try {
    await initI18n();
  } catch (err) {
    showFatal(err);
    return;
  }
  setUnauthorizedHandler(() => signOut(t("signin.expired")));
  onLiveState(liveBanner);
  liveBanner("connecting", "idle");
  document.getElementById("lang-select").addEventListener("change", (e) => setLang(e.target.value));
  document.getElementById("sign-out").addEventListener("click", () => signOut(t("signin.signedOut"), { endSession: true }));
  onLangChange(() => {
    liveBanner(document.getElementById("live-state").dataset.state, null);
    route();
  });
  window.addEventListener("hashchange", route);
  window.addEventListener("unhandledrejection", (e) => toast(String(e.reason?.message || e.reason), "error"));
  applyI18n(document);
  await route();
}

boot();
