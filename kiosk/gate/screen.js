// What the gate shows: the status strip, the ready screen, a full-screen answer, the enrollment form.
import { $, el, plain } from "../shared/dom.js";
import { label, t } from "../shared/i18n.js";
import { clockText } from "./clock.js";

const ANSWER_MS = 3500;
// Each answer stays at least the gate policy's answer_min_ms (from the gate copy; this default before the first
// copy) before a later one may replace it, so the volunteer it belongs to reads it; later answers wait in order
// behind it (none is dropped). An answer alone on screen stays ANSWER_MS, or the minimum if that is longer.
const DEFAULT_ANSWER_MIN_MS = 2500;
let answerMinMs = DEFAULT_ANSWER_MIN_MS;
let answerTimer = null;
let shownAt = 0;
const queued = []; // [{answer, onDone, onShow}] waiting for the screen

export function setAnswerMinMs(ms) {
  answerMinMs = Number.isFinite(ms) && ms >= 0 ? ms : DEFAULT_ANSWER_MIN_MS;
  document.body.dataset.answerMinMs = String(answerMinMs);
}

export function showView(name) {
  for (const id of ["ready", "answer", "enroll"]) $(id).hidden = id !== name;
}

// As the printed card shows it: DNW6 QA4F, two groups of four.
const cardText = (id) => String(id).replace(/^(.{4})(?=.)/, "$1 ");

function timeText(ms) {
  if (!ms) return t("never");
  return clockText(ms, { seconds: true });
}

export function renderStatus(state, device) {
  $("gate-name").textContent = device ? plain(device.gate_name || device.gate_id) : "—";
  $("event-name").textContent = device ? plain(device.event_name || device.event_id) : "";
  const conn = $("conn");
  const mode = state.unauthorized ? "unauthorized" : state.online === false ? "offline" : state.online ? "online" : "unknown";
  conn.dataset.state = mode;
  conn.textContent = mode === "unknown" ? "…" : t(mode);
  // One plain phrase: every scan is safely stored, or how many are not yet (sent or not).
  const unsaved = state.pending + state.held;
  $("journal").textContent = unsaved ? t("unsaved", { n: unsaved }) : t("allSaved");
  $("journal").dataset.pending = String(state.pending);
  $("journal").dataset.held = String(state.held);
  $("last-sync").textContent = timeText(state.lastSync);
  $("on-site").textContent = state.onSite ?? "—";
  $("copy-synced").textContent = timeText(state.copySynced);
  $("copy").dataset.synced = String(state.copySynced || "");
  $("diffs").dataset.count = String(state.differences || 0);
  $("diff-count").textContent = String(state.differences || 0);
  const banner = $("offline-banner");
  banner.hidden = state.online !== false;
  banner.textContent = t("offlineBanner", { n: state.pending });
}

// answer: the gateway's JSON, or a provisional local one ({provisional: true, card_id}). onShow runs when it
// reaches the screen (its sound), onDone when the screen goes back to idle.
export function showAnswer(answer, onDone, onShow = () => {}) {
  queued.push({ answer, onDone, onShow });
  if ($("answer").hidden || performance.now() - shownAt >= answerMinMs) showNext();
  else renderQueue();
}

function renderQueue() {
  const note = $("answer-next");
  note.hidden = queued.length === 0;
  note.textContent = t("nextWaiting", { n: queued.length });
}

function showNext() {
  const { answer, onDone, onShow } = queued.shift();
  renderAnswer(answer);
  shownAt = performance.now();
  $("answer").dataset.shownAt = String(Math.round(shownAt));
  renderQueue();
  onShow();
  clearTimeout(answerTimer);
  answerTimer = setTimeout(() => {
    if (queued.length) showNext();
    else answerTimer = setTimeout(onDone, Math.max(0, ANSWER_MS - answerMinMs));
  }, answerMinMs);
}

function renderAnswer(answer) {
  const box = $("answer");
  box.dataset.verdict = answer.verdict;
  box.dataset.provisional = answer.provisional ? "true" : "false";
  box.dataset.reason = answer.reason || "";
  // A provisional answer says so in its title too, not only in the note under it (and is hatched: gate.css).
  // A check-out asked to be confirmed says so as its title: the volunteer must act on it, or walk on.
  const title = answer.reason === "confirm_checkout" ? label("reasons", answer.reason) : t(answer.verdict);
  $("answer-title").textContent = answer.provisional ? `${t("provisionalTag")} ${title}` : title;
  const v = answer.volunteer;
  $("answer-name").textContent = v ? plain(v.display_name) : answer.card_id ? t("card", { id: cardText(answer.card_id) }) : "";
  $("answer-team").textContent = v ? plain(v.team) : "";
  const details = [];
  if (answer.verdict === "checked_out" && typeof answer.session_minutes === "number" && answer.session_minutes >= 0) {
    const m = answer.session_minutes;
    details.push(t("session", { h: Math.floor(m / 60), m: m % 60 }));
  }
  const last = answer.verdict === "duplicate" && answer.last_scan;
  if (last) {
    // What it duplicates, in words a volunteer unsure whether it worked can act on.
    const time = clockText(Date.parse(last.at), { offsetMin: answer.offset_min ?? null });
    const words = answer.reason === "confirm_checkout" ? "confirmDetail"
      : last.verdict === "checked_in" ? "dupCheckedIn" : "dupCheckedOut";
    details.push(t(words, { time }));
  } else if (answer.reason && answer.reason !== "confirm_checkout") details.push(label("reasons", answer.reason));
  for (const w of answer.warnings || []) details.push(`⚠ ${label("reasons", w)}`);
  $("answer-detail").textContent = details.join(" · ");
  // The attention note (提醒) a check-in carries, from the server's answer or the gate copy.
  const attention = $("answer-note");
  const noted = answer.verdict === "checked_in" && typeof answer.note === "string" && answer.note !== "";
  attention.hidden = !noted;
  attention.textContent = noted ? t("noteLabel", { note: plain(answer.note) }) : "";
  const note = $("answer-provisional");
  note.hidden = !answer.provisional;
  note.textContent = t("provisional");
  showView("answer");
}

const verdictText = (v) => [t(v.verdict), v.reason ? label("reasons", v.reason) : ""].filter(Boolean).join(" · ");

// The gate lead's list: each scan answered offline that the server then decided otherwise.
export function renderDifferences(list) {
  const body = $("diffs-list");
  body.replaceChildren();
  const sorted = [...list].sort((a, b) => Date.parse(b.scanned_at) - Date.parse(a.scanned_at));
  for (const d of sorted) {
    const who = d.name || (d.card_id ? t("card", { id: cardText(d.card_id) }) : "—");
    body.append(el("li", { dataset: { scanId: d.scan_id } },
      `${timeText(Date.parse(d.scanned_at))} ${who} · ${t("provisionalTag")} ${verdictText(d.provisional)}`
      + ` → ${t("serverSaid")} ${verdictText(d.final)}`));
  }
  $("diffs-empty").hidden = list.length > 0;
}

// Until the browser lets the gate sound, a large prompt says so and the strip shows the gate lead.
export function setSound(on) {
  $("sound-prompt").hidden = on;
  const strip = $("sound");
  strip.dataset.on = String(on);
  strip.dataset.i18n = on ? "soundOn" : "soundOff";
  strip.textContent = t(strip.dataset.i18n);
}

export function setCameraState(ok, detail) {
  $("camera-state").textContent = ok ? "" : `${t("cameraOff")} ${detail || ""}`;
  $("viewfinder").hidden = !ok;
}

// A code is in view but too small or blurred to read: 請靠近一點 / Hold it closer.
export function setCloser(on) {
  $("closer").hidden = !on;
}
