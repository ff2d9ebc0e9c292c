// Optional sound and browser notification when a high or critical incident opens or escalates.
import { t, term } from "./i18n.js";
import { onStoreChange } from "./store.js";

const STORAGE_KEY = "citysentinel.alerts";
let audio = null;

export function alertsEnabled() {
  return localStorage.getItem(STORAGE_KEY) === "on";
}

export async function setAlerts(on) {
  localStorage.setItem(STORAGE_KEY, on ? "on" : "off");
  if (!on) return;
  // Both need a user gesture: this runs from the checkbox click.
  try {
    audio = audio || new AudioContext();
    await audio.resume();
  } catch {
    audio = null;
  }
  if ("Notification" in window && Notification.permission === "default") {
    try {
      await Notification.requestPermission();
    } catch {
      /* the browser refused to ask; sound still works */
    }
  }
}

function beep() {
  if (!audio) return;
  const osc = audio.createOscillator();
  const gain = audio.createGain();
  osc.type = "square";
  osc.frequency.value = 880;
  gain.gain.value = 0.08;
  osc.connect(gain).connect(audio.destination);
  osc.start();
  osc.stop(audio.currentTime + 0.35);
}

onStoreChange((inc, change) => {
  if (!alertsEnabled() || change.local || change.replayed) return;
  if (!["opened", "escalated"].includes(change.action)) return;
  if (!["high", "critical"].includes(inc.severity)) return;
  beep();
  if ("Notification" in window && Notification.permission === "granted") {
    const body = t("incidents.alertNew", { severity: term("severity", inc.severity), title: inc.title });
    const note = new Notification("citysentinel", { body, tag: inc.id });
    note.onclick = () => {
      window.focus();
      window.location.hash = `#/incidents/${encodeURIComponent(inc.id)}`;
    };
  }
});
