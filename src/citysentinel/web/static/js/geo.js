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

/**
 * Tooltip or popup content as text. Leaflet puts a string in with innerHTML, so an incident
 * title, zone, road or sensor name holding markup would run as HTML; a text node never does.
 */
export function asText(text) {
  return () => document.createTextNode(String(text));
}

export function zoneLayer(zone) {
  const L = window.L;
  // GeoJSON rings are [lon, lat]; Leaflet wants [lat, lon].
  const ring = zone.polygon.map(([lon, lat]) => [lat, lon]);
  return L.polygon(ring, { color: COLORS.zone, weight: 2, fillOpacity: 0.12 })
    .bindTooltip(asText(zone.name));
}

export function pointLayer(point, { color, radius = 8, label, popup }) {
  const L = window.L;
  const [lon, lat] = point.coordinates;
  const marker = L.circleMarker([lat, lon], {
    radius, color: "#ffffff", weight: 2, fillColor: color, fillOpacity: 0.95,
  });
  if (label) marker.bindTooltip(asText(label));
  if (popup) marker.bindPopup(typeof popup === "string" ? asText(popup) : popup);
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

// Sensor status colours (text labels always accompany them; never colour alone).
export const STATUS_COLORS = {
  free: "#1d6b34",
  slow: "#c98a00",
  congested: "#b3261e",
  unknown: "#4a5866",
};

const MAJOR = new Set(["motorway", "trunk", "primary", "motorway_link", "trunk_link", "primary_link"]);
const MIDDLE = new Set(["secondary", "tertiary", "secondary_link", "tertiary_link"]);

/** How a road segment looks: width by class, colour by its current speed against free flow. */
export function roadStyle(p) {
  const weight = MAJOR.has(p.highway) ? 4.5 : MIDDLE.has(p.highway) ? 3.5 : 2.5;
  if (p.closed) return { color: "#8a1111", weight: weight + 1, opacity: 0.95, dashArray: "6 5" };
  const ratio = p.free_flow_speed_kph ? p.speed_kph / p.free_flow_speed_kph : 1;
  const color = ratio < 0.5 ? STATUS_COLORS.congested : ratio < 0.8 ? "#b36b00" : "#6b7f94";
  return { color, weight, opacity: ratio < 0.8 ? 0.95 : 0.75 };
}

function speedText(p) {
  const speed = p.speed_kph ?? p.speed;
  return typeof speed === "number" ? `${Math.round(speed)} km/h` : "";
}

/** The road network (GeoJSON LineStrings) on one canvas, so thousands of segments stay fast. */
export function roadsLayer(collection) {
  const L = window.L;
  const renderer = L.canvas({ padding: 0.3 });
  return L.geoJSON(collection, {
    renderer,
    style: (f) => roadStyle(f.properties || {}),
    onEachFeature: (f, layer) => {
      const p = f.properties || {};
      const parts = [p.name || t("roads.unnamed"), term("highway", p.highway), speedText(p)];
      if (p.closed) parts.push(t("roads.closed"));
      layer.bindTooltip(asText(parts.filter(Boolean).join(" · ")), { sticky: true });
    },
  });
}

/** Counts for the features table and legend: segments, named streets, closed, slow. */
export function roadSummary(collection) {
  const features = collection?.features || [];
  const names = new Set();
  let closed = 0;
  let slow = 0;
  for (const f of features) {
    const p = f.properties || {};
    if (p.name) names.add(p.name);
    if (p.closed) closed += 1;
    else if (p.free_flow_speed_kph && p.speed_kph / p.free_flow_speed_kph < 0.8) slow += 1;
  }
  return { segments: features.length, streets: names.size, closed, slow };
}

/** GET /api/v1/roads: {roads} or {missing: reason} when the site has no network (404/503). */
export async function loadRoads(api) {
  try {
    const roads = await api.get("/api/v1/roads");
    return { roads };
  } catch (err) {
    if (err.status === 404 || err.status === 503) return { missing: err.detail || String(err.status) };
    throw err;
  }
}

/** A sensor marker coloured by status; a stale sensor is drawn hollow. */
export function sensorMarker(sensor, { onSelect } = {}) {
  const L = window.L;
  const color = STATUS_COLORS[sensor.status] || STATUS_COLORS.unknown;
  const marker = L.circleMarker([sensor.location.lat, sensor.location.lon], {
    radius: 9, color: sensor.stale ? color : "#ffffff", weight: sensor.stale ? 3 : 2,
    fillColor: sensor.stale ? "#ffffff" : color, fillOpacity: 0.95,
  });
  const value = sensor.latest && sensor.latest.value !== null ? `${round1(sensor.latest.value)} ${sensor.unit}` : t("traffic.noReading");
  const label = `${sensor.id}${sensor.road ? ` (${sensor.road})` : ""}: ${value}, ${term("sensorStatus", sensor.status)}${sensor.stale ? `, ${t("traffic.stale")}` : ""}`;
  marker.bindTooltip(asText(label));
  if (onSelect) marker.on("click", () => onSelect(sensor.id));
  return marker;
}

export function round1(v) {
  return Math.round(v * 10) / 10;
}

/**
 * Fit to the site's own features, taking in the road network too when it is local (under
 * 15 km across): a few sensors on one street would otherwise fill the view edge to edge.
 */
export function fitSite(map, own, roads, center) {
  const L = window.L;
  const ownGroup = L.featureGroup(own);
  const roadBounds = roads.length ? L.featureGroup(roads).getBounds() : null;
  const local = roadBounds?.isValid()
    && roadBounds.getSouthWest().distanceTo(roadBounds.getNorthEast()) < 15_000;
  if (local || (!own.length && roadBounds?.isValid())) {
    const bounds = ownGroup.getBounds();
    const all = bounds.isValid() ? bounds.extend(roadBounds) : roadBounds;
    map.fitBounds(all.pad(0.1), { maxZoom: 17 });
  } else {
    fit(map, ownGroup, center);
  }
  // Incidents go on top of sensors that share their spot.
  for (const layer of own) if (layer.options?.radius > 10 && layer.bringToFront) layer.bringToFront();
}
