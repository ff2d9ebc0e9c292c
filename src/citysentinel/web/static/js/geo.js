// Leaflet maps drawn without any tile server: the site's own GeoJSON features on a plain background.
import { t, term } from "./i18n.js";
import { vendorMissing } from "./chart.js";

export const COLORS = {
  zone: "#0b5cad",
  camera: "#13263a",
  sensor: "#7a5200",
  informational: "#4a5866",
  low: "#1d6b34",
  medium: "#c98a00",
  high: "#b3261e",
  critical: "#6d0f3f",
};

export function hasLeaflet() {
  return typeof window.L === "object" && window.L !== null;
}

/** A Leaflet map in `container` with no tiles, or a clear message when Leaflet is missing. */
export function createMap(container) {
  if (!hasLeaflet()) {
    container.replaceWith(vendorMissing("Leaflet"));
    return null;
  }
  const L = window.L;
  const map = L.map(container, { zoomSnap: 0.25, attributionControl: true, keyboard: true });
  map.attributionControl.setPrefix("Leaflet");
  return map;
}

export function zoneLayer(zone) {
  const L = window.L;
  // GeoJSON rings are [lon, lat]; Leaflet wants [lat, lon].
  const ring = zone.polygon.map(([lon, lat]) => [lat, lon]);
  return L.polygon(ring, { color: COLORS.zone, weight: 2, fillOpacity: 0.12 })
    .bindTooltip(zone.name);
}

export function pointLayer(point, { color, radius = 8, label, popup }) {
  const L = window.L;
  const [lon, lat] = point.coordinates;
  const marker = L.circleMarker([lat, lon], {
    radius, color: "#ffffff", weight: 2, fillColor: color, fillOpacity: 0.95,
  });
  if (label) marker.bindTooltip(label);
  if (popup) marker.bindPopup(popup);
  return marker;
}

export function incidentLayer(inc, zonesByName) {
  const color = COLORS[inc.severity] || COLORS.high;
  const label = `${term("severity", inc.severity)}: ${inc.title}`;
  const link = document.createElement("a");
  link.href = `#/incidents/${encodeURIComponent(inc.id)}`;
  link.textContent = inc.title;
  if (inc.point) return pointLayer(inc.point, { color, radius: 11, label, popup: link });
  const zone = inc.zone && zonesByName.get(inc.zone);
  if (!zone) return null;
  const centre = centroid(zone.polygon);
  return pointLayer({ coordinates: centre }, { color, radius: 11, label, popup: link });
}

export function centroid(ring) {
  const n = ring.length;
  const lon = ring.reduce((s, p) => s + p[0], 0) / n;
  const lat = ring.reduce((s, p) => s + p[1], 0) / n;
  return [lon, lat];
}

/** Fit to the features, or centre on the site, or show the world. */
export function fit(map, group, center) {
  const bounds = group.getBounds();
  if (bounds.isValid()) {
    map.fitBounds(bounds.pad(0.15), { maxZoom: 17 });
  } else if (center) {
    map.setView([center.coordinates[1], center.coordinates[0]], 15);
  } else {
    map.setView([20, 0], 2);
  }
}

export function noTilesNote() {
  const p = document.createElement("p");
  p.className = "muted";
  p.textContent = t("map.noTiles");
  return p;
}
