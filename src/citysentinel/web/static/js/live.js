// The live incident stream (SSE): reconnects, catches up with Last-Event-ID, reports its state.
import { api, getKey } from "./api.js";

const listeners = new Set();
const stateListeners = new Set();
const resyncListeners = new Set();
let source = null;
let lastId = null;
let state = "idle";
let retryTimer = null;
let backoff = 1000;
let onExpired = () => {};

function setState(next) {
  if (next === state) return;
  const previous = state;
  state = next;
  for (const fn of stateListeners) fn(next, previous);
}

export function liveState() {
  return state;
}

export function onLiveState(fn) {
  stateListeners.add(fn);
  return () => stateListeners.delete(fn);
}

/** Called when the stream is back after a drop: reload lists the stream may not have replayed. */
export function onResync(fn) {
  resyncListeners.add(fn);
  return () => resyncListeners.delete(fn);
}

/** Called with each change: {type, action, actor, at, note, incident, replayed?}. */
export function onIncidentChange(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

function connect() {
  clearTimeout(retryTimer);
  const key = getKey();
  if (!key) return;
  const url = new URL("/api/v1/stream/incidents", window.location.origin);
  url.searchParams.set("api_key", key);
  // A new EventSource cannot set Last-Event-ID itself; `since` says the same thing.
  if (lastId !== null) url.searchParams.set("since", String(lastId));
  const es = new EventSource(url);
  source = es;
  es.onopen = () => {
    backoff = 1000;
    const dropped = state === "reconnecting";
    setState("live");
    // Last-Event-ID replays what was missed, but only after the first change was seen.
    if (dropped) for (const fn of resyncListeners) fn();
  };
  es.addEventListener("incident", (msg) => {
    if (msg.lastEventId) lastId = Number(msg.lastEventId);
    let change;
    try {
      change = JSON.parse(msg.data);
    } catch {
      return;
    }
    change.receivedAt = performance.timeOrigin + performance.now();
    for (const fn of listeners) fn(change);
  });
  es.onerror = () => {
    if (source !== es) return;
    setState("reconnecting");
    if (es.readyState === EventSource.CLOSED) {
      // The browser gave up (the server answered an error): find out why, then retry.
      es.close();
      source = null;
      checkThenRetry();
    }
    // Otherwise the browser reconnects by itself and sends Last-Event-ID.
  };
}

async function checkThenRetry() {
  try {
    await api.session(getKey());
  } catch (err) {
    if (err.status === 401) {
      stopLive();
      onExpired(err);
      return;
    }
  }
  retryTimer = setTimeout(connect, backoff);
  backoff = Math.min(backoff * 2, 5000);
}

export function startLive({ expired }) {
  onExpired = expired;
  if (source) return;
  setState("connecting");
  connect();
}

export function stopLive() {
  clearTimeout(retryTimer);
  if (source) source.close();
  source = null;
  lastId = null;
  setState("idle");
}
