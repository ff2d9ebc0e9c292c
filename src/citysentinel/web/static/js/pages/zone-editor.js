// The zone and line editor: draw, move, name and delete a camera's zones and counting lines on
// its latest frame (normalised 0-1 coordinates), check them with the API and export the YAML
// snippet for the site config. The server never rewrites the config file.
import { api } from "../api.js";
import { t } from "../i18n.js";
import { el, errorMessage, toast } from "../ui.js";

const NS = "http://www.w3.org/2000/svg";
const STEP = 0.01;
const BIG_STEP = 0.05;
const FINE_STEP = 0.001;
const ARROW_PX = 26;
// Drafts per camera survive a language switch (which re-renders the page).
const drafts = new Map();

function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS(NS, tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    node.setAttribute(name, String(value));
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

const round = (v) => Math.round(v * 10000) / 10000;
const clamp = (v) => round(Math.min(1, Math.max(0, v)));
const fmt = ([x, y]) => `${x.toFixed(3)}, ${y.toFixed(3)}`;

function fromConfig(cam) {
  return [
    ...(cam.zones || []).map((z) => ({ kind: "zone", name: z.name, points: z.polygon.map(([x, y]) => [x, y]) })),
    ...(cam.lines || []).map((l) => ({ kind: "line", name: l.name, points: l.points.map(([x, y]) => [x, y]) })),
  ];
}

function payload(shapes) {
  return {
    zones: shapes.filter((s) => s.kind === "zone").map((s) => ({ name: s.name, polygon: s.points })),
    lines: shapes.filter((s) => s.kind === "line").map((s) => ({ name: s.name, points: s.points })),
  };
}

function uniqueName(shapes, kind) {
  const used = new Set(shapes.map((s) => s.name));
  for (let i = 1; ; i += 1) {
    const name = `${kind}-${i}`;
    if (!used.has(name)) return name;
  }
}

/**
 * Open the editor for `cam` (its config from /api/v1/site) inside `host`.
 * `canEdit` (admin keys) allows drawing and exporting; others see it read-only.
 * Returns a function that removes it without calling `onClose` (for leaving the page).
 */
export function openEditor(host, cam, { canEdit, onClose }) {
  const id = cam.id;
  const label = cam.name || cam.id;
  const state = {
    shapes: drafts.get(id) || fromConfig(cam),
    selected: -1,
    drawing: null, // {kind, points} while drawing a new shape
    cursor: [0.5, 0.5], // the keyboard crosshair while drawing
    drag: null,
    focusVertex: null,
    dirty: false,
  };
  drafts.set(id, state.shapes);
  let frameUrl = null;
  let size = { w: 0, h: 0 };

  // --- layout
  const heading = el("h2", { id: "zone-editor-title", tabindex: "-1" }, t("geometry.title", { name: label }));
  const how = el("p", { class: "note" }, t("geometry.how"));
  const readOnly = canEdit ? null : el("p", { class: "note note-warn", id: "geometry-readonly" }, t("geometry.readOnly"));
  const help = el("p", { id: "zone-editor-help", class: "muted small" }, t(canEdit ? "geometry.keys" : "geometry.keysReadOnly"));
  const img = el("img", { alt: t("cameras.frameAlt", { name: label }), class: "stage-img" });
  const noFrame = el("p", { class: "stage-empty" }, t("geometry.noFrame"));
  const overlay = svg("svg", { class: "stage-svg" });
  const stage = el("div", {
    class: "stage", id: "zone-stage", tabindex: "0", role: "application",
    "aria-label": t("geometry.stage", { name: label }), "aria-describedby": "zone-editor-help",
  }, noFrame, overlay);
  const list = el("ol", { class: "shape-list", id: "shape-list", "aria-label": t("geometry.shapes") });
  const result = el("div", { id: "geometry-result", role: "status", "aria-live": "polite" });
  const yamlText = el("textarea", { id: "geometry-yaml", readonly: true, rows: "10", spellcheck: "false", class: "yaml" });
  const yamlBox = el("div", { class: "yaml-out", hidden: true },
    el("label", { for: "geometry-yaml", class: "field-label" }, t("geometry.yamlLabel")), yamlText,
    el("div", { class: "actions" },
      el("button", { type: "button", class: "btn btn-secondary", id: "geometry-copy", onclick: copyYaml }, t("geometry.copy")),
      el("button", { type: "button", class: "btn btn-secondary", id: "geometry-download", onclick: downloadYaml }, t("geometry.download"))),
    el("p", { class: "muted small" }, t("geometry.restart")));

  const btn = (idName, key, onclick, cls = "btn btn-secondary") =>
    el("button", { type: "button", class: cls, id: idName, onclick }, t(key));
  const newZone = btn("geometry-new-zone", "geometry.newZone", () => startDrawing("zone"));
  const newLine = btn("geometry-new-line", "geometry.newLine", () => startDrawing("line"));
  const finish = btn("geometry-finish", "geometry.finish", () => finishDrawing());
  const cancel = btn("geometry-cancel", "geometry.cancelDrawing", () => cancelDrawing(), "btn btn-quiet");
  const drawState = el("span", { class: "muted", id: "geometry-draw-state", role: "status", "aria-live": "polite" });
  const toolbar = el("div", { class: "actions toolbar", role: "toolbar", "aria-label": t("geometry.tools") },
    canEdit ? [newZone, newLine, finish, cancel] : null,
    btn("geometry-reload", "geometry.reloadFrame", loadFrame, "btn btn-quiet"),
    canEdit ? btn("geometry-reset", "geometry.reset", reset, "btn btn-quiet") : null,
    btn("geometry-close", "geometry.close", close, "btn btn-quiet"),
    drawState);
  const checkBtn = btn("geometry-validate", "geometry.validate", validate, "btn");
  const yamlBtn = canEdit ? btn("geometry-get-yaml", "geometry.getYaml", getYaml, "btn") : null;

  const section = el("section", { class: "panel zone-editor", id: "zone-editor", "aria-labelledby": "zone-editor-title", dataset: { camera: id } },
    heading, how, readOnly, toolbar,
    el("div", { class: "editor-body" },
      el("div", { class: "stage-wrap" }, stage, help),
      el("div", { class: "editor-side" },
        el("h3", {}, t("geometry.shapes")), list,
        el("div", { class: "actions" }, checkBtn, yamlBtn),
        result, yamlBox)));
  host.replaceChildren(section);
  host.hidden = false;

  const resize = new ResizeObserver(() => render());
  resize.observe(stage);

  // --- frame
  async function loadFrame() {
    try {
      const blob = await api.blob(`/api/v1/cameras/${encodeURIComponent(id)}/frame.jpg?overlays=false`);
      const url = URL.createObjectURL(blob);
      img.onload = () => {
        if (img.naturalWidth && img.naturalHeight) stage.style.aspectRatio = `${img.naturalWidth} / ${img.naturalHeight}`;
        render();
      };
      img.src = url;
      if (frameUrl) URL.revokeObjectURL(frameUrl);
      frameUrl = url;
      noFrame.replaceWith(img);
      stage.dataset.frame = "yes";
    } catch (err) {
      if (err.status !== 404) toast(errorMessage(err), "error");
      stage.dataset.frame = "no";
    }
  }

  // --- geometry helpers
  function toPx([x, y]) {
    return [x * size.w, y * size.h];
  }

  function eventPoint(ev) {
    const r = stage.getBoundingClientRect();
    return [clamp((ev.clientX - r.left) / r.width), clamp((ev.clientY - r.top) / r.height)];
  }

  function shapeName(i) {
    const s = state.shapes[i];
    return s.name || t(`geometry.${s.kind}`);
  }

  // --- rendering
  function render() {
    size = { w: stage.clientWidth, h: stage.clientHeight };
    overlay.setAttribute("viewBox", `0 0 ${size.w} ${size.h}`);
    const defs = svg("defs", {}, svg("marker", { id: "in-arrow", viewBox: "0 0 10 10", refX: "8", refY: "5", markerWidth: "6", markerHeight: "6", orient: "auto-start-reverse" },
      svg("path", { d: "M 0 0 L 10 5 L 0 10 z", class: "arrow-head" })));
    const nodes = [defs];
    state.shapes.forEach((s, i) => nodes.push(shapeNodes(s, i)));
    if (state.drawing) nodes.push(drawingNodes());
    overlay.replaceChildren(...nodes);
    section.dataset.shapes = String(state.shapes.length);
    if (state.focusVertex) {
      const [si, vi] = state.focusVertex;
      state.focusVertex = null;
      overlay.querySelector(`[data-shape="${si}"][data-vertex="${vi}"]`)?.focus();
    }
  }

  function shapeNodes(s, i) {
    const selected = i === state.selected;
    const pts = s.points.map(toPx);
    const g = svg("g", { class: `shape shape-${s.kind}${selected ? " selected" : ""}`, "data-shape": i });
    if (s.kind === "zone") {
      g.append(svg("polygon", { points: pts.map((p) => p.join(",")).join(" "), "data-shape": i, class: "body" }));
    } else {
      const [a, b] = pts;
      g.append(svg("line", { x1: a[0], y1: a[1], x2: b[0], y2: b[1], "data-shape": i, class: "body" }));
      const dx = b[0] - a[0];
      const dy = b[1] - a[1];
      const len = Math.hypot(dx, dy) || 1;
      // 'in' is the on-screen left of a->b; with y down that is (dy, -dx).
      const nx = dy / len;
      const ny = -dx / len;
      const m = [(a[0] + b[0]) / 2, (a[1] + b[1]) / 2];
      const tip = [m[0] + nx * ARROW_PX, m[1] + ny * ARROW_PX];
      g.append(svg("line", { x1: m[0], y1: m[1], x2: tip[0], y2: tip[1], class: "in-arrow", "marker-end": "url(#in-arrow)" }));
      g.append(svg("text", { x: tip[0] + nx * 12, y: tip[1] + ny * 12 + 4, class: "in-label", "text-anchor": "middle" }, t("geometry.in")));
      g.append(svg("text", { x: a[0], y: a[1] - 8, class: "end-label", "text-anchor": "middle" }, "A"));
      g.append(svg("text", { x: b[0], y: b[1] - 8, class: "end-label", "text-anchor": "middle" }, "B"));
    }
    const anchor = s.kind === "zone" ? pts[0] : [(pts[0][0] + pts[1][0]) / 2, (pts[0][1] + pts[1][1]) / 2];
    g.append(svg("text", { x: anchor[0] + 6, y: anchor[1] + (s.kind === "zone" ? 16 : -10), class: "shape-label" }, s.name));
    pts.forEach((p, vi) => {
      const focusable = selected;
      g.append(svg("circle", {
        cx: p[0], cy: p[1], r: selected ? 7 : 4, class: "vertex", "data-shape": i, "data-vertex": vi,
        tabindex: focusable ? "0" : null, role: focusable ? "button" : null,
        "aria-label": focusable ? t("geometry.vertex", { n: vi + 1, count: pts.length, name: shapeName(i), at: fmt(s.points[vi]) }) : null,
      }));
    });
    return g;
  }

  function drawingNodes() {
    const d = state.drawing;
    const pts = d.points.map(toPx);
    const g = svg("g", { class: `shape shape-${d.kind} drawing` });
    if (pts.length > 1) g.append(svg("polyline", { points: pts.map((p) => p.join(",")).join(" "), class: "body" }));
    for (const p of pts) g.append(svg("circle", { cx: p[0], cy: p[1], r: 5, class: "vertex" }));
    const c = toPx(state.cursor);
    g.append(svg("path", { d: `M ${c[0] - 10} ${c[1]} H ${c[0] + 10} M ${c[0]} ${c[1] - 10} V ${c[1] + 10}`, class: "crosshair" }));
    return g;
  }

  function renderList() {
    const counts = { zone: 0, line: 0 };
    const items = state.shapes.map((s, i) => {
      counts[s.kind] += 1;
      const inputId = `shape-name-${i}`;
      const input = el("input", {
        id: inputId, type: "text", value: s.name, readonly: !canEdit, required: true, autocomplete: "off",
        oninput: (ev) => {
          s.name = ev.target.value;
          changed(false);
        },
      });
      const pressed = i === state.selected;
      return el("li", { class: `shape-item${pressed ? " selected" : ""}`, dataset: { shape: String(i), kind: s.kind } },
        el("label", { for: inputId, class: "field-label" },
          t(s.kind === "zone" ? "geometry.zoneName" : "geometry.lineName", { n: counts[s.kind] })),
        input,
        el("span", { class: "muted small" }, s.kind === "zone"
          ? t("geometry.points", { n: s.points.length })
          : t("geometry.linePoints", { a: fmt(s.points[0]), b: fmt(s.points[1]) })),
        el("div", { class: "actions" },
          el("button", { type: "button", class: "btn btn-quiet", "aria-pressed": pressed ? "true" : "false", onclick: () => select(i, true) },
            t(canEdit ? "geometry.edit" : "geometry.show")),
          canEdit && s.kind === "line"
            ? el("button", { type: "button", class: "btn btn-quiet", onclick: () => reverse(i) }, t("geometry.reverse"))
            : null,
          canEdit
            ? el("button", { type: "button", class: "btn btn-danger", onclick: () => remove(i), "aria-label": t("geometry.deleteShape", { name: shapeName(i) }) }, t("geometry.delete"))
            : null));
    });
    list.replaceChildren(...(items.length ? items : [el("li", { class: "muted" }, t("geometry.noShapes"))]));
  }

  function renderTools() {
    const drawing = Boolean(state.drawing);
    if (canEdit) {
      newZone.disabled = drawing;
      newLine.disabled = drawing;
      finish.hidden = !drawing || state.drawing.kind !== "zone";
      finish.disabled = drawing && state.drawing.points.length < 3;
      cancel.hidden = !drawing;
    }
    stage.dataset.mode = drawing ? `draw-${state.drawing.kind}` : "select";
    drawState.textContent = drawing
      ? t(state.drawing.kind === "zone" ? "geometry.drawingZone" : "geometry.drawingLine", { n: state.drawing.points.length })
      : "";
  }

  function changed(structure = true) {
    state.dirty = true;
    yamlBox.hidden = true;
    if (structure) renderList();
    renderTools();
    render();
  }

  // --- actions
  function select(i, focusFirstVertex = false) {
    state.selected = i;
    if (focusFirstVertex && i >= 0) state.focusVertex = [i, 0];
    renderList();
    render();
  }

  function startDrawing(kind) {
    state.drawing = { kind, points: [] };
    state.selected = -1;
    state.cursor = [0.5, 0.5];
    renderTools();
    renderList();
    render();
    stage.focus();
  }

  function addDrawingPoint(p) {
    const d = state.drawing;
    d.points.push(p);
    if (d.kind === "line" && d.points.length === 2) {
      finishDrawing();
      return;
    }
    renderTools();
    render();
  }

  function finishDrawing() {
    const d = state.drawing;
    if (!d) return;
    if (d.points.length < (d.kind === "zone" ? 3 : 2)) {
      toast(t(d.kind === "zone" ? "geometry.needThree" : "geometry.needTwo"));
      return;
    }
    state.shapes.push({ kind: d.kind, name: uniqueName(state.shapes, d.kind), points: d.points });
    state.drawing = null;
    state.selected = state.shapes.length - 1;
    changed();
    const input = list.querySelector(`#shape-name-${state.selected}`);
    input?.focus();
    input?.select();
  }

  function cancelDrawing() {
    state.drawing = null;
    renderTools();
    render();
    stage.focus();
  }

  function remove(i) {
    state.shapes.splice(i, 1);
    state.selected = -1;
    changed();
    toast(t("geometry.deleted"));
    (list.querySelector("input") || stage).focus();
  }

  function reverse(i) {
    state.shapes[i].points.reverse();
    changed();
  }

  function reset() {
    state.shapes = fromConfig(cam);
    drafts.set(id, state.shapes);
    state.selected = -1;
    state.drawing = null;
    result.replaceChildren();
    changed();
    state.dirty = false;
  }

  function dispose() {
    resize.disconnect();
    if (frameUrl) URL.revokeObjectURL(frameUrl);
    host.replaceChildren();
    host.hidden = true;
  }

  function close() {
    dispose();
    onClose?.();
  }

  // --- pointer: click to add points while drawing; drag vertices to move them
  stage.addEventListener("pointerdown", (ev) => {
    if (ev.button !== 0) return;
    const p = eventPoint(ev);
    if (state.drawing) {
      ev.preventDefault();
      state.cursor = p;
      addDrawingPoint(p);
      return;
    }
    const target = ev.target.closest?.("[data-shape]");
    if (!target) {
      if (state.selected !== -1) select(-1);
      return;
    }
    const si = Number(target.dataset.shape);
    if (target.dataset.vertex !== undefined && canEdit && si === state.selected) {
      ev.preventDefault();
      state.drag = { si, vi: Number(target.dataset.vertex), pointer: ev.pointerId };
      stage.setPointerCapture(ev.pointerId);
      return;
    }
    if (si !== state.selected) select(si);
  });
  stage.addEventListener("pointermove", (ev) => {
    if (!state.drag || ev.pointerId !== state.drag.pointer) return;
    state.shapes[state.drag.si].points[state.drag.vi] = eventPoint(ev);
    render();
  });
  const endDrag = (ev) => {
    if (!state.drag || ev.pointerId !== state.drag.pointer) return;
    const { si, vi } = state.drag;
    state.drag = null;
    state.focusVertex = [si, vi];
    changed();
  };
  stage.addEventListener("pointerup", endDrag);
  stage.addEventListener("pointercancel", endDrag);

  // --- keyboard: the crosshair while drawing, vertex nudges otherwise
  stage.addEventListener("keydown", (ev) => {
    const step = ev.shiftKey ? BIG_STEP : ev.altKey ? FINE_STEP : STEP;
    const delta = { ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, -step], ArrowDown: [0, step] }[ev.key];
    const vertex = ev.target.dataset?.vertex !== undefined ? ev.target : null;
    if (state.drawing) {
      if (delta) {
        state.cursor = [clamp(state.cursor[0] + delta[0]), clamp(state.cursor[1] + delta[1])];
        render();
      } else if (ev.key === "Enter" || ev.key === " ") {
        addDrawingPoint([...state.cursor]);
      } else if (ev.key === "Escape") {
        if (state.drawing.kind === "zone" && state.drawing.points.length >= 3) finishDrawing();
        else cancelDrawing();
      } else {
        return;
      }
      ev.preventDefault();
      return;
    }
    if (!vertex || !canEdit) return;
    const si = Number(vertex.dataset.shape);
    const vi = Number(vertex.dataset.vertex);
    const s = state.shapes[si];
    if (delta) {
      const [x, y] = s.points[vi];
      s.points[vi] = [clamp(x + delta[0]), clamp(y + delta[1])];
      state.focusVertex = [si, vi];
      changed();
    } else if (ev.key === "Enter" && s.kind === "zone") {
      // A new vertex halfway to the next one.
      const a = s.points[vi];
      const b = s.points[(vi + 1) % s.points.length];
      s.points.splice(vi + 1, 0, [round((a[0] + b[0]) / 2), round((a[1] + b[1]) / 2)]);
      state.focusVertex = [si, vi + 1];
      changed();
      toast(t("geometry.vertexAdded"));
    } else if ((ev.key === "Delete" || ev.key === "Backspace") && s.kind === "zone") {
      if (s.points.length <= 3) {
        toast(t("geometry.needThree"));
      } else {
        s.points.splice(vi, 1);
        state.focusVertex = [si, Math.min(vi, s.points.length - 1)];
        changed();
      }
    } else if (ev.key === "Escape") {
      select(-1);
      stage.focus();
    } else {
      return;
    }
    ev.preventDefault();
  });

  // --- API
  function showProblems(err) {
    const problems = Array.isArray(err.body?.detail) ? err.body.detail : null;
    const zones = state.shapes.map((s, i) => [s, i]).filter(([s]) => s.kind === "zone");
    const lines = state.shapes.map((s, i) => [s, i]).filter(([s]) => s.kind === "line");
    const where = (loc) => {
      if (loc[0] !== "body" || typeof loc[2] !== "number") return null;
      const hit = (loc[1] === "zones" ? zones : loc[1] === "lines" ? lines : [])[loc[2]];
      return hit ? shapeName(hit[1]) : null;
    };
    result.className = "error-box";
    result.replaceChildren(
      el("h4", {}, t("geometry.invalid")),
      problems
        ? el("ul", {}, problems.map((p) => {
          const name = where(p.loc || []);
          return el("li", {}, name ? `${name}: ${p.msg}` : p.msg);
        }))
        : el("p", {}, errorMessage(err)));
  }

  async function validate() {
    result.className = "";
    result.replaceChildren(t("geometry.checking"));
    try {
      const ok = await api.post(`/api/v1/cameras/${encodeURIComponent(id)}/geometry/validate`, payload(state.shapes));
      result.className = "ok-box";
      result.replaceChildren(el("p", {}, t("geometry.valid", { zones: ok.zones.length, lines: ok.lines.length })),
        ok.referenced.length ? el("p", { class: "small" }, t("geometry.referenced", { names: ok.referenced.join(", ") })) : null);
      section.dataset.valid = "yes";
      return true;
    } catch (err) {
      section.dataset.valid = "no";
      if (err.status === 422) showProblems(err);
      else {
        result.className = "error-box";
        result.replaceChildren(errorMessage(err));
      }
      return false;
    }
  }

  async function getYaml() {
    if (!(await validate())) return;
    try {
      const text = await api.postText(`/api/v1/cameras/${encodeURIComponent(id)}/geometry/yaml`, payload(state.shapes));
      yamlText.value = text;
      yamlBox.hidden = false;
      yamlText.focus();
      yamlText.setSelectionRange(0, 0);
      yamlText.scrollTop = 0;
    } catch (err) {
      if (err.status === 422) showProblems(err);
      else toast(errorMessage(err), "error");
    }
  }

  async function copyYaml() {
    try {
      await navigator.clipboard.writeText(yamlText.value);
    } catch {
      yamlText.select();
      document.execCommand?.("copy");
    }
    toast(t("geometry.copied"));
  }

  function downloadYaml() {
    const url = URL.createObjectURL(new Blob([yamlText.value], { type: "application/yaml" }));
    const a = el("a", { href: url, download: `${id}-geometry.yaml` });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  }

  renderList();
  renderTools();
  render();
  loadFrame();
  heading.focus();
  return dispose;
}
