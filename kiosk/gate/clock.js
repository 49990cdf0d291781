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

// 24-hour wall-clock text (15:02, or 15:02:07): at a UTC offset in minutes (the event's), else the device's
// own zone. Never a locale's 12-hour form, where 上午12:10 reads as noon to many.
export function clockText(ms, { seconds = false, offsetMin = null } = {}) {
  const shift = offsetMin === null ? -new Date(ms).getTimezoneOffset() : offsetMin;
  return new Date(ms + shift * 60000).toISOString().slice(11, seconds ? 19 : 16);
}
