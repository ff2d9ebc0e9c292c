// Acknowledge, assign, resolve and note, in place; a viewer sees the buttons disabled.
import { api } from "./api.js";
import { t } from "./i18n.js";
import { notifyLocal, upsert } from "./store.js";
import { el, errorMessage, toast } from "./ui.js";

let role = "viewer";

export function setRole(value) {
  role = value;
}

export function canAct() {
  return role === "operator" || role === "admin";
}

const FORMS = {
  assign: [{ name: "assignee", label: "dialog.assignee", required: true, tag: "input" },
    { name: "note", label: "dialog.noteOptional", tag: "textarea" }],
  resolve: [{ name: "resolution", label: "dialog.resolution", required: true, tag: "textarea" }],
  note: [{ name: "text", label: "dialog.note", required: true, tag: "textarea" }],
};

const LABEL_FOR = {
  acknowledge: "action.ackFor",
  assign: "action.assignFor",
  resolve: "action.resolveFor",
  note: "action.noteFor",
};

/** The action buttons for one incident. */
export function actionButtons(inc, { compact = true } = {}) {
  const allowed = canAct();
  const resolved = inc.status === "resolved";
  const specs = [
    ["acknowledge", inc.status === "open"],
    ["assign", !resolved],
    ["resolve", !resolved],
    ["note", true],
  ];
  const buttons = specs
    .filter(([, show]) => show)
    .map(([action]) =>
      el(
        "button",
        {
          type: "button",
          class: action === "acknowledge" ? "btn" : "btn btn-secondary",
          dataset: { action, incident: inc.id },
          "aria-label": compact ? t(LABEL_FOR[action], { title: inc.title }) : null,
          title: allowed ? null : t("role.disabled"),
          disabled: !allowed,
          onclick: () => run(action, inc),
        },
        t(`action.${action}`),
      ),
    );
  return el("div", { class: "actions" }, buttons);
}

function ask(action, inc) {
  const fields = FORMS[action];
  if (!fields) return Promise.resolve({});
  const dialog = document.getElementById("action-dialog");
  dialog.replaceChildren();
  const titleId = "action-dialog-title";
  const inputs = {};
  const form = el(
    "form",
    { method: "dialog" },
    el("h2", { id: titleId }, t(LABEL_FOR[action], { title: inc.title })),
    fields.map((f) => {
      const input = el(f.tag, { name: f.name, required: f.required, maxlength: 5000 });
      inputs[f.name] = input;
      return el("label", { class: "field" }, el("span", {}, t(f.label)), input);
    }),
    el(
      "div",
      { class: "actions" },
      el("button", { type: "button", class: "btn btn-quiet", value: "cancel",
        onclick: () => dialog.close("cancel") }, t("app.cancel")),
      el("button", { type: "submit", class: "btn", value: "ok" }, t("dialog.save")),
    ),
  );
  dialog.append(form);
  return new Promise((resolve) => {
    dialog.addEventListener(
      "close",
      () => {
        if (dialog.returnValue !== "ok") return resolve(null);
        const values = {};
        for (const [name, input] of Object.entries(inputs)) {
          if (input.value.trim()) values[name] = input.value.trim();
        }
        resolve(values);
      },
      { once: true },
    );
    dialog.returnValue = "";
    dialog.showModal();
    fields.length && inputs[fields[0].name].focus();
  });
}

export async function run(action, inc) {
  if (!canAct()) {
    toast(t("role.viewerNote"), "error");
    return;
  }
  const values = await ask(action, inc);
  if (values === null) return;
  const path = `/api/v1/incidents/${encodeURIComponent(inc.id)}/${action === "note" ? "notes" : action}`;
  try {
    const updated = await api.post(path, values);
    upsert(updated);
    notifyLocal(updated, { action, local: true });
    toast(t(`action.done.${action}`, { title: updated.title }));
  } catch (err) {
    toast(errorMessage(err), "error");
    if (err.status === 409 || err.status === 404) await refresh(inc.id);
  }
}

async function refresh(id) {
  try {
    const current = await api.get(`/api/v1/incidents/${encodeURIComponent(id)}`);
    upsert(current);
    notifyLocal(current, { action: "refresh", local: true });
  } catch (err) {
    toast(errorMessage(err), "error");
  }
}
