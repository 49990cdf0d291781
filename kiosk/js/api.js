// Calls to the gateway. Every failure is an ApiError: status 0 means the network did not answer.
import { observe } from "./clock.js";

const TIMEOUT_MS = 5000;

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message || code);
    this.status = status;
    this.code = code;
  }
  get offline() { return this.status === 0 || this.status >= 500; }
}

async function call(method, path, { token, body } = {}) {
  const headers = { Accept: "application/json" };
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const sentAt = Date.now();
  let resp;
  try {
    resp = await fetch(path, {
      method, headers, body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store", signal: AbortSignal.timeout(TIMEOUT_MS),
    });
  } catch (err) {
    throw new ApiError(0, "network", String(err));
  }
  const receivedAt = Date.now();
  let data = null;
  try { data = await resp.json(); } catch { data = null; }
  // server_time: epoch milliseconds, or an RFC 3339 text
  const raw = data && data.server_time;
  const serverTime = typeof raw === "number" ? raw : typeof raw === "string" ? Date.parse(raw) : NaN;
  if (Number.isFinite(serverTime)) await observe(serverTime, sentAt, receivedAt);
  if (!resp.ok) {
    throw new ApiError(resp.status, (data && data.error) || `http_${resp.status}`, data && data.message);
  }
  return data;
}

export const enroll = (code, pin) => call("POST", "/api/v1/enroll", { body: pin ? { code, pin } : { code } });
export const checkPin = (token, pin) => call("POST", "/api/v1/device/pin-check", { token, body: { pin } });
export const annul = (token, scanId) => call("POST", `/api/v1/scans/${encodeURIComponent(scanId)}/annul`,
  { token, body: { reason: "undone at the kiosk" } });
export const deviceInfo = (token) => call("GET", "/api/v1/device", { token });
export const postScan = (token, scan) => call("POST", "/api/v1/scans", { token, body: scan });
export const postBatch = (token, scans) => call("POST", "/api/v1/scans/batch", { token, body: { scans } });
