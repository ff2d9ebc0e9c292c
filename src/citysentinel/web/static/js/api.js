// The API client: the key from sessionStorage, typed errors, blobs for authenticated images.
const KEY_STORAGE = "citysentinel.key";

export class ApiError extends Error {
  constructor(status, detail, path, body = null) {
    super(`${status}: ${detail}`);
    this.status = status;
    this.detail = detail;
    this.path = path;
    this.body = body; // the parsed JSON error body, e.g. a 422's list of problems
  }
}

let onUnauthorized = () => {};

export function setUnauthorizedHandler(fn) {
  onUnauthorized = fn;
}

export function getKey() {
  return sessionStorage.getItem(KEY_STORAGE);
}

export function setKey(key) {
  if (key) sessionStorage.setItem(KEY_STORAGE, key);
  else sessionStorage.removeItem(KEY_STORAGE);
}

function detailOf(body, fallback) {
  if (!body) return fallback;
  const d = body.detail;
  if (typeof d === "string") return d;
  if (Array.isArray(d)) return d.map((e) => `${(e.loc || []).join(".")}: ${e.msg}`).join("; ");
  return fallback;
}

async function request(path, { method = "GET", body, params, key, raw = false } = {}) {
  const url = new URL(path, window.location.origin);
  for (const [name, value] of Object.entries(params || {})) {
    if (value === undefined || value === null || value === "") continue;
    for (const v of Array.isArray(value) ? value : [value]) url.searchParams.append(name, v);
  }
  const headers = { Accept: raw ? "*/*" : "application/json" };
  const token = key ?? getKey();
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let res;
  try {
    res = await fetch(url, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store",
    });
  } catch (err) {
    throw new ApiError(0, String(err.message || err), path);
  }
  if (!res.ok) {
    let parsed = null;
    try {
      parsed = await res.json();
    } catch {
      parsed = null;
    }
    const error = new ApiError(res.status, detailOf(parsed, res.statusText), path, parsed);
    if (res.status === 401 && key === undefined) onUnauthorized(error);
    throw error;
  }
  if (raw) return res.blob();
  if (res.status === 204) return null;
  return res.json();
}

export const api = {
  get: (path, params) => request(path, { params }),
  post: (path, body) => request(path, { method: "POST", body: body ?? {} }),
  blob: (path) => request(path, { raw: true }),
  /** POST JSON and read a text answer (such as a YAML snippet). */
  postText: async (path, body) => (await request(path, { method: "POST", body: body ?? {}, raw: true })).text(),
  /** Check a key without touching the stored one: resolves to {name, role, actor}. */
  session: (key) => request("/ui/session", { key }),
  /** Username and password for a session token: {token, expires_at, username, role}.
   * Sent with no key (""), so a 401 here means wrong credentials, not an ended session. */
  login: (username, password) =>
    request("/api/v1/auth/login", { method: "POST", body: { username, password }, key: "" }),
  /** End a sign-in session on the server; the key is passed so a 401 does not loop. */
  logout: (key) => request("/api/v1/auth/logout", { method: "POST", body: {}, key }),
};

/** Fetch an authenticated file and hand it to the browser as a download. */
export async function download(path, filename) {
  const blob = await api.blob(path);
  const url = URL.createObjectURL(blob);
  const a = document.createElement("a");
  a.href = url;
  a.download = filename;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
