// The incidents this tab knows about, kept current by the live stream and by fetches.
import { onIncidentChange } from "./live.js";

const incidents = new Map();
const listeners = new Set();

/** Keep the newer version of an incident; returns true when it changed. */
export function upsert(incident) {
  const known = incidents.get(incident.id);
  if (known && known.version > incident.version) return false;
  incidents.set(incident.id, incident);
  return true;
}

export function getIncident(id) {
  return incidents.get(id);
}

export function allIncidents() {
  return [...incidents.values()];
}

export function clearIncidents() {
  incidents.clear();
}

/** Called with (incident, change) after a live change was folded in. */
export function onStoreChange(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

export function notifyLocal(incident, change) {
  for (const fn of listeners) fn(incident, change);
}

onIncidentChange((change) => {
  const inc = change.incident;
  if (!inc) return;
  if (upsert(inc) || change.replayed) notifyLocal(incidents.get(inc.id), change);
});
