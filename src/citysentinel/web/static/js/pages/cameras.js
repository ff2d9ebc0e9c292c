// Cameras: the latest annotated frame per camera (every ~2 s), health and live counts.
import { api } from "../api.js";
import { t } from "../i18n.js";
import { ago, el, emptyState, errorBox, every, pageHead } from "../ui.js";
import { openEditor } from "./zone-editor.js";

const REFRESH_MS = 2000;
// The camera whose editor is open: reopened when the page re-renders (a language switch).
let editing = null;

export function mount(root, _params, ctx) {
  const configured = ctx.site?.cameras || [];
  const grid = el("div", { class: "cams", id: "camera-grid" });
  const status = el("div", { id: "camera-status" });
  const editorHost = el("div", { id: "zone-editor-host", hidden: true });
  root.append(pageHead("cameras.title", el("span", { class: "muted" }, t("cameras.refresh"))), status, editorHost, grid);
  if (!configured.length && ctx.site) {
    grid.replaceWith(emptyState(null, t("cameras.empty")));
    return null;
  }
  const cards = new Map();
  const urls = new Map();
  let busy = false;
  let closeEditor = null;
  // Only admin keys edit zones and lines; the others see them read-only.
  const canEdit = ctx.session?.role === "admin";

  function edit(id, opener) {
    const config = configured.find((c) => c.id === id);
    if (!config) return;
    if (closeEditor) closeEditor();
    editing = id;
    closeEditor = openEditor(editorHost, config, {
      canEdit,
      onClose: () => {
        closeEditor = null;
        editing = null;
        (opener() || root.querySelector("h1"))?.focus();
      },
    });
  }
  const editButton = (id) => grid.querySelector(`article[data-camera="${CSS.escape(id)}"] button.edit-geometry`);
  if (editing) {
    const id = editing;
    edit(id, () => editButton(id));
  }

  function card(cam) {
    let c = cards.get(cam.id);
    if (c) return c;
    const frame = el("div", { class: "frame" }, t("cameras.noFrame"));
    const img = el("img", { alt: t("cameras.frameAlt", { name: cam.name || cam.id }) });
    const info = el("dl", { class: "facts" });
    const counts = el("div", {});
    const heading = el("h2", {}, cam.name || cam.id);
    const editBtn = configured.some((x) => x.id === cam.id)
      ? el("button", {
        type: "button", class: "btn btn-secondary edit-geometry",
        "aria-label": t(canEdit ? "geometry.openEditFor" : "geometry.openViewFor", { name: cam.name || cam.id }),
      }, t(canEdit ? "geometry.openEdit" : "geometry.openView"))
      : null;
    editBtn?.addEventListener("click", () => edit(cam.id, () => editBtn));
    const node = el("article", { class: "panel cam", dataset: { camera: cam.id }, "aria-label": cam.name || cam.id },
      heading, el("figure", {}, frame), editBtn, info, el("h3", {}, t("cameras.counts")), counts);
    c = { node, frame, img, info, counts, hasImage: false };
    cards.set(cam.id, c);
    grid.append(node);
    return c;
  }

  function renderStatus(c, cam) {
    const up = cam.status === "up" || cam.status === "ok" || cam.status === "running";
    const rows = [
      ["col.status", el("span", { class: up ? "health-up" : "health-down" }, cam.enabled === false ? t("cameras.disabled") : cam.status)],
      ["cameras.fps", cam.fps !== undefined ? String(cam.fps) : "–"],
      ["cameras.lastFrame", cam.last_frame_at ? ago(cam.last_frame_at) : t("app.never")],
      ["cameras.frames", cam.frames !== undefined ? String(cam.frames) : "–"],
      ["cameras.objects", cam.objects !== undefined ? String(cam.objects) : "–"],
      ["cameras.errors", cam.errors !== undefined ? String(cam.errors) : "–"],
    ];
    if (cam.last_error) rows.push(["cameras.lastError", cam.last_error]);
    c.info.replaceChildren(...rows.flatMap(([k, v]) => [el("dt", {}, t(k)), el("dd", {}, v)]));
    const stats = flatten(cam.stats || {});
    c.counts.replaceChildren(stats.length
      ? el("dl", { class: "facts" }, stats.flatMap(([k, v]) => [el("dt", {}, k), el("dd", { class: "count" }, v)]))
      : el("p", { class: "muted" }, t("cameras.noCounts")));
  }

  async function refreshFrame(c, id) {
    try {
      const blob = await api.blob(`/api/v1/cameras/${encodeURIComponent(id)}/frame.jpg`);
      const url = URL.createObjectURL(blob);
      const old = urls.get(id);
      c.img.src = url;
      urls.set(id, url);
      if (old) URL.revokeObjectURL(old);
      if (!c.hasImage) {
        c.frame.replaceChildren(c.img);
        c.hasImage = true;
      }
    } catch (err) {
      if (err.status !== 404) throw err;
      if (c.hasImage) c.hasImage = false;
      c.frame.replaceChildren(t("cameras.noFrame"));
    }
  }

  const stop = every(REFRESH_MS, async () => {
    if (busy) return;
    busy = true;
    try {
      const cams = await api.get("/api/v1/cameras");
      status.replaceChildren();
      await Promise.all(cams.map(async (cam) => {
        const c = card(cam);
        renderStatus(c, cam);
        await refreshFrame(c, cam.id);
      }));
      grid.dataset.state = "ready";
    } catch (err) {
      status.replaceChildren(errorBox(err, t("cameras.what")));
    } finally {
      busy = false;
    }
  });
  return () => {
    stop();
    if (closeEditor) closeEditor();
    for (const url of urls.values()) URL.revokeObjectURL(url);
  };
}

/** Counts from the analyzer's stats, one level of nesting spelled out as "a / b". */
function flatten(stats, prefix = "") {
  const out = [];
  for (const [k, v] of Object.entries(stats)) {
    const name = prefix ? `${prefix} / ${k}` : k;
    // Lists are time windows (oldest first): the last one is the current count.
    const value = Array.isArray(v) && v.length && typeof v[v.length - 1] === "object" ? v[v.length - 1] : v;
    if (value && typeof value === "object" && !Array.isArray(value)) out.push(...flatten(value, name));
    else out.push([name, Array.isArray(value) ? value.join(" / ") : String(value)]);
  }
  return out.slice(0, 40);
}
