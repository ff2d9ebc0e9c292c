// Sign in with an API key; the key stays in this tab's sessionStorage.
import { api, setKey } from "../api.js";
import { currentLang, setLang, t } from "../i18n.js";
import { el, errorMessage } from "../ui.js";

export function mount(root, params, ctx) {
  const status = el("p", { id: "signin-status", role: "alert", class: params.message ? "error-box" : "" },
    params.message || "");
  const input = el("input", {
    id: "api-key", name: "key", type: "password", autocomplete: "current-password",
    required: true, "aria-describedby": "signin-help signin-status", spellcheck: "false",
  });
  const lang = el("select", { id: "signin-lang", class: "lang-select" },
    el("option", { value: "en" }, "English"),
    el("option", { value: "zh-CN", lang: "zh-CN" }, "简体中文"));
  lang.value = currentLang();
  lang.addEventListener("change", () => setLang(lang.value));
  const submit = el("button", { type: "submit", class: "btn" }, t("signin.submit"));

  async function onSubmit(event) {
    event.preventDefault();
    const key = input.value.trim();
    if (!key) {
      show(t("signin.empty"));
      return;
    }
    submit.disabled = true;
    status.className = "muted";
    status.textContent = t("signin.checking");
    try {
      await api.session(key);
      setKey(key);
      if (!(await ctx.signedIn())) show(t("signin.invalid"));
    } catch (err) {
      show(err.status === 401 ? t("signin.invalid") : errorMessage(err));
    } finally {
      submit.disabled = false;
    }
  }

  function show(message) {
    status.className = "error-box";
    status.textContent = message;
    input.focus();
  }

  root.append(
    el("section", { class: "signin panel", "aria-labelledby": "signin-title" },
      el("h1", { id: "signin-title", tabindex: "-1" }, t("signin.title")),
      el("p", { id: "signin-help" }, t("signin.intro")),
      el("form", { onsubmit: onSubmit, novalidate: true },
        el("label", { class: "field", for: "api-key" }, el("span", {}, t("signin.key")), input),
        status,
        submit,
        el("label", { class: "field", for: "signin-lang" }, el("span", {}, t("app.language")), lang),
        el("p", { class: "muted" }, t("signin.storage")),
      ),
    ),
  );
  input.focus();
  return null;
}
