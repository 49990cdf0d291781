// The gate's calls to the gateway, over the pages' one fetch wrapper. Every answer's server_time
// corrects this device's clock; a scan waits at most 5 s before the gate answers on its own.
import { request } from "../shared/api.js";
import { observe } from "./clock.js";

const TIMEOUT_MS = 5000;

export { ApiError } from "../shared/api.js";

// server_time: epoch milliseconds, or an RFC 3339 text
async function readClock(data, sentAt, receivedAt) {
  const raw = data.server_time;
  const serverTime = typeof raw === "number" ? raw : typeof raw === "string" ? Date.parse(raw) : NaN;
  if (Number.isFinite(serverTime)) await observe(serverTime, sentAt, receivedAt);
}

const call = (method, path, { token, body } = {}) =>
  request(path, { method, token, body, timeoutMs: TIMEOUT_MS, onAnswer: readClock });

export const enroll = (code, pin) => call("POST", "/api/v1/enroll", { body: pin ? { code, pin } : { code } });
export const checkPin = (token, pin) => call("POST", "/api/v1/device/pin-check", { token, body: { pin } });
// reason: in the kiosk's language, as the office reads it beside the undone scan
export const annul = (token, scanId, reason) => call("POST", `/api/v1/scans/${encodeURIComponent(scanId)}/annul`,
  { token, body: { reason } });
// The page's version, as the office's device list shows it; changed with the offline copy's (kiosk/sw.js).
export const APP_VERSION = "2026.12.03-v8";
// report: {unsent, held} of this kiosk's journal, told on the poll so the office sees what waits on the device.
export const deviceInfo = (token, report = null) => {
  const query = new URLSearchParams({ app: APP_VERSION });
  if (report) for (const [k, v] of Object.entries(report)) if (Number.isInteger(v)) query.set(k, String(v));
  return call("GET", `/api/v1/device?${query}`, { token });
};
export const postScan = (token, scan) => call("POST", "/api/v1/scans", { token, body: scan });
export const postBatch = (token, scans) => call("POST", "/api/v1/scans/batch", { token, body: { scans } });
export const health = () => call("GET", "/healthz");
// A whole copy of a big event is megabytes (compressed to about a tenth): it may take longer than a scan.
export const gateCopy = (token, since) => request(
  `/api/v1/device/gate-copy${since ? `?since=${encodeURIComponent(since)}` : ""}`,
  { method: "GET", token, timeoutMs: 30000, onAnswer: readClock });
