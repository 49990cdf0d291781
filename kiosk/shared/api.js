// Every page's calls to the gateway: one time limit, one error shape. A failure is always an ApiError;
// status 0 means no answer came (network down or the time limit passed).
import { problemText } from "./i18n.js";

const DEFAULT_TIMEOUT_MS = 20000; // staff pages wait for reports computed on demand; the gate asks for less

const SAFE_METHODS = ["GET", "HEAD"];
const CSRF_COOKIE = "checkin_csrf";

// The session's CSRF token, which sign-in leaves in a cookie this page may read (the session cookie it may not).
export function csrfToken() {
  if (typeof document === "undefined") return null; // a service worker has no cookies to read
  const found = document.cookie.split("; ").find((c) => c.startsWith(`${CSRF_COOKIE}=`));
  return found ? decodeURIComponent(found.slice(CSRF_COOKIE.length + 1)) : null;
}

export class ApiError extends Error {
  constructor(status, code, message, field = null, requestId = null) {
    super(message || code);
    this.status = status;
    this.code = code;
    this.field = field;
    this.requestId = requestId; // the gateway's X-Request-Id: shown on error screens, found in its log
  }

  // The message with the request id, for a screen a person may read out to whoever runs the gateway.
  get shown() { return this.requestId ? `${this.message} (${this.requestId})` : this.message; }

  // The gateway is out of reach or cannot serve now: worth trying again later.
  get offline() { return this.status === 0 || this.status >= 500; }
}

function headersFor(method, token, body, accept) {
  const headers = { Accept: accept };
  if (token) headers.Authorization = `Bearer ${token}`;
  else if (!SAFE_METHODS.includes(method.toUpperCase())) {
    const csrf = csrfToken();
    if (csrf) headers["X-CSRF-Token"] = csrf; // a signed-in page's change; the gateway refuses one without it
  }
  if (body !== undefined) headers["Content-Type"] = "application/json";
  return headers;
}

// JSON in, and JSON (or a Blob for a download) out. onAnswer(data, sentAt, receivedAt) sees every JSON
// body, refusals included, before the result is returned (the gate reads the server's clock from it).
// onProgress(sent, total), if given, hears how much of the body has left (see sendTracked).
export async function request(path, { method = "GET", token, body, timeoutMs = DEFAULT_TIMEOUT_MS, onAnswer,
  onProgress } = {}) {
  const headers = headersFor(method, token, body, "application/json");
  const text = body === undefined ? undefined : JSON.stringify(body);
  const sentAt = Date.now();
  let answer;
  try {
    answer = onProgress ? await sendTracked(path, method, headers, text, timeoutMs, onProgress)
      : await sendFetched(path, method, headers, text, timeoutMs);
  } catch (err) {
    throw new ApiError(0, "network", String(err));
  }
  const { data } = answer;
  if (data && !(data instanceof Blob) && onAnswer) await onAnswer(data, sentAt, Date.now());
  if (!answer.ok) {
    const refusal = data instanceof Blob ? null : data;
    const err = new ApiError(answer.status, refusal?.error || `http_${answer.status}`, refusal && problemText(refusal),
      refusal?.field, refusal?.request_id || answer.header("X-Request-Id"));
    err.retryAfter = Number(answer.header("Retry-After")) || null; // seconds, on a 429 or 503
    throw err;
  }
  return data;
}

// {ok, status, header(name), data}: data is the JSON body, a Blob for any other answer that is ok, or null.
async function sendFetched(path, method, headers, text, timeoutMs) {
  const resp = await fetch(path, { method, headers, body: text, cache: "no-store", signal: AbortSignal.timeout(timeoutMs) });
  let data = null;
  if ((resp.headers.get("Content-Type") || "").includes("json")) data = await resp.json().catch(() => null);
  else if (resp.ok) data = await resp.blob();
  return { ok: resp.ok, status: resp.status, header: (name) => resp.headers.get(name), data };
}

// The same through XMLHttpRequest, the one API that reports an upload's progress: onProgress(sent, total) in
// bytes as the body leaves (a large file on an office's uplink). JSON answers only.
function sendTracked(path, method, headers, text, timeoutMs, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open(method, path);
    for (const [name, value] of Object.entries(headers)) xhr.setRequestHeader(name, value);
    xhr.timeout = timeoutMs;
    xhr.upload.onprogress = (e) => { if (e.lengthComputable) onProgress(e.loaded, e.total); };
    xhr.onload = () => {
      let data = null;
      try { data = JSON.parse(xhr.responseText); } catch { data = null; }
      resolve({ ok: xhr.status >= 200 && xhr.status < 300, status: xhr.status,
        header: (name) => xhr.getResponseHeader(name), data });
    };
    xhr.onerror = () => reject(new Error("the request failed"));
    xhr.ontimeout = () => reject(new Error(`no answer within ${timeoutMs} ms`));
    xhr.send(text);
  });
}

// A long answer in lines of JSON (application/x-ndjson: a cards PDF's progress, then the file), each line given
// to onLine as it arrives; returns the last. No time limit: the gateway keeps sending while it works.
export async function requestLines(path, { method = "POST", token, body, onLine = () => {} } = {}) {
  let resp;
  try {
    resp = await fetch(path, { method, headers: headersFor(method, token, body, "application/x-ndjson, application/json"),
      body: body === undefined ? undefined : JSON.stringify(body), cache: "no-store" });
  } catch (err) {
    throw new ApiError(0, "network", String(err));
  }
  if (!resp.ok) {
    const refusal = await resp.json().catch(() => null);
    throw new ApiError(resp.status, refusal?.error || `http_${resp.status}`, refusal && problemText(refusal),
      refusal?.field, refusal?.request_id || resp.headers.get("X-Request-Id"));
  }
  let last = null;
  let buffer = "";
  try {
    const reader = resp.body.pipeThrough(new TextDecoderStream()).getReader();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      for (let nl = buffer.indexOf("\n"); nl >= 0; nl = buffer.indexOf("\n")) {
        last = JSON.parse(buffer.slice(0, nl));
        buffer = buffer.slice(nl + 1);
        onLine(last);
      }
    }
  } catch (err) {
    throw new ApiError(0, "network", String(err)); // the answer broke off
  }
  return last;
}
