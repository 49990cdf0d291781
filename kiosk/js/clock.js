// The offset between this device's clock and the gateway's, so scans carry server-comparable times.
import { getKv, setKv } from "./store.js";

let offsetMs = 0;

export async function loadClock() {
  offsetMs = (await getKv("clock_offset_ms")) || 0;
}

export function now() {
  return Date.now() + offsetMs;
}

export function offset() {
  return offsetMs;
}

// serverMs was read between sentAt and receivedAt (device clock): assume the middle of the round trip.
export async function observe(serverMs, sentAt, receivedAt) {
  if (!Number.isFinite(serverMs)) return;
  offsetMs = Math.round(serverMs - (sentAt + receivedAt) / 2);
  await setKv("clock_offset_ms", offsetMs);
}

// RFC 3339 with the device's own UTC offset, e.g. 2023-02-05T18:00:00.123+08:00
export function stamp(ms) {
  const d = new Date(ms);
  const tz = -d.getTimezoneOffset();
  const local = new Date(ms + tz * 60000).toISOString().slice(0, 23);
  const sign = tz >= 0 ? "+" : "-";
  const hh = String(Math.floor(Math.abs(tz) / 60)).padStart(2, "0");
  const mm = String(Math.abs(tz) % 60).padStart(2, "0");
  return `${local}${sign}${hh}:${mm}`;
}
