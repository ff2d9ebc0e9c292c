// Sign in with a username and password (a session token that expires) or with an API key;
// either is kept only in this tab's sessionStorage.
import { api, setKey } from "../api.js";
import { currentLang, setLang, t } from "../i18n.js";
import { el, errorMessage } from "../ui.js";

const MODE_KEY = "citysentinel.signinMode";

export function mount(root, params, ctx) {
  let mode = localStorage.getItem(MODE_KEY) === "key" ? "key" : "password";
  const status = el("p", { id: "signin-status", role: "alert", class: params.message ? "error-box" : "" },
    params.message || "");
  const username = el("input", {
    id: "username", name: "username", type: "text", autocomplete: "username",
    autocapitalize: "none", spellcheck: "false", required: true, "aria-describedby": "signin-status",
  });
  const password = el("input", {
    id: "password", name: "password", type: "password", autocomplete: "current-password",
    required: true, "aria-describedby": "signin-status",
  });
  const keyInput = el("input", {
    id: "api-key", name: "key", type: "password", autocomplete: "off",
    required: true, "aria-describedby": "signin-key-help signin-status", spellcheck: "false",
  });
  const passwordPart = el("div", { class: "signin-part", id: "signin-password-part" },
    el("label", { class: "field", for: "username" }, el("span", {}, t("signin.username")), username),
    el("label", { class: "field", for: "password" }, el("span", {}, t("signin.password")), password),
    el("p", { class: "muted small" }, t("signin.passwordHelp")));
  const keyPart = el("div", { class: "signin-part", id: "signin-key-part" },
    el("label", { class: "field", for: "api-key" }, el("span", {}, t("signin.key")), keyInput),
    el("p", { class: "muted small", id: "signin-key-help" }, t("signin.keyHelp")));
  const radio = (value, labelKey) => el("label", { class: "check", for: `signin-mode-${value}` },
    el("input", { type: "radio", name: "signin-mode", id: `signin-mode-${value}`, value,
      checked: mode === value, onchange: () => switchTo(value) }),
    t(labelKey));
  const modes = el("fieldset", { class: "signin-modes" },
    el("legend", {}, t("signin.mode")),
    radio("password", "signin.modePassword"),
    radio("key", "signin.modeKey"));
  const lang = el("select", { id: "signin-lang", class: "lang-select" },
    el("option", { value: "en" }, "English"),
    el("option", { value: "zh-CN", lang: "zh-CN" }, "简体中文"));
  lang.value = currentLang();
  lang.addEventListener("change", () => setLang(lang.value));
  const submit = el("button", { type: "submit", class: "btn" }, t("signin.submit"));

  function switchTo(next, focus = true) {
    mode = next;
    localStorage.setItem(MODE_KEY, mode);
    passwordPart.hidden = mode !== "password";
    keyPart.hidden = mode !== "key";
    // Hidden fields must not block submitting the visible ones.
    for (const input of [username, password]) input.disabled = mode !== "password";
    keyInput.disabled = mode !== "key";
    if (focus) (mode === "password" ? username : keyInput).focus();
  }

  async function withKey() {
    const key = keyInput.value.trim();
    if (!key) return show(t("signin.empty"), keyInput);
    busy(t("signin.checking"));
    try {
      await api.session(key);
      setKey(key);
      if (!(await ctx.signedIn())) show(t("signin.invalid"), keyInput);
    } catch (err) {
      show(err.status === 401 ? t("signin.invalid") : errorMessage(err), keyInput);
    }
  }

  async function withPassword() {
    const name = username.value.trim();
    if (!name || !password.value) return show(t("signin.emptyPassword"), name ? password : username);
    busy(t("signin.checkingPassword"));
    try {
      const session = await api.login(name, password.value);
      password.value = "";
      setKey(session.token);
      if (!(await ctx.signedIn())) show(t("signin.expired"), username);
    } catch (err) {
      password.value = "";
      if (err.status === 401) show(t("signin.badPassword"), password);
      else if (err.status === 429) show(t("signin.locked", { detail: err.detail }), password);
      else if (err.status === 403) show(t("signin.disabled"), username);
      else show(errorMessage(err), password);
    }
  }

  async function onSubmit(event) {
    event.preventDefault();
    submit.disabled = true;
    try {
      await (mode === "password" ? withPassword() : withKey());
    } finally {
      submit.disabled = false;
    }
  }

  function busy(message) {
    status.className = "muted";
    status.textContent = message;
  }

  function show(message, focus) {
    status.className = "error-box";
    status.textContent = message;
    focus?.focus();
  }

  root.append(
    el("section", { class: "signin panel", "aria-labelledby": "signin-title" },
      el("h1", { id: "signin-title", tabindex: "-1" }, t("signin.title")),
      el("p", { id: "signin-help" }, t("signin.intro")),
      el("form", { onsubmit: onSubmit, novalidate: true, "aria-describedby": "signin-help" },
        modes,
        passwordPart,
        keyPart,
        status,
        submit,
        el("label", { class: "field", for: "signin-lang" }, el("span", {}, t("app.language")), lang),
        el("p", { class: "muted" }, t("signin.storage")),
      ),
    ),
  );
  switchTo(mode);
  return null;
}
