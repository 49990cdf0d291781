// What the gate shows: the status strip, the ready screen, a full-screen answer, the enrollment form.
import { getLang, reasonText, t } from "./i18n.js";

const ANSWER_MS = 3500;
const $ = (id) => document.getElementById(id);
let answerTimer = null;

export function showView(name) {
  for (const id of ["ready", "answer", "enroll"]) $(id).hidden = id !== name;
}

function timeText(ms) {
  if (!ms) return t("never");
  return new Date(ms).toLocaleTimeString(getLang(), { hour: "2-digit", minute: "2-digit", second: "2-digit" });
}

export function renderStatus(state, device) {
  $("gate-name").textContent = device ? device.gate_name || device.gate_id : "—";
  $("event-name").textContent = device ? device.event_name || device.event_id : "";
  const conn = $("conn");
  const mode = state.unauthorized ? "unauthorized" : state.online === false ? "offline" : state.online ? "online" : "unknown";
  conn.dataset.state = mode;
  conn.textContent = mode === "unknown" ? "…" : t(mode);
  const parts = [t("waiting", state.pending)];
  if (state.held) parts.push(t("held", state.held));
  $("journal").textContent = parts.join(" · ");
  $("journal").dataset.pending = String(state.pending);
  $("journal").dataset.held = String(state.held);
  $("last-sync").textContent = timeText(state.lastSync);
  $("on-site").textContent = state.onSite ?? "—";
  const banner = $("offline-banner");
  banner.hidden = state.online !== false;
  banner.textContent = t("offlineBanner", state.pending);
}

// answer: the gateway's JSON, or a provisional local one ({provisional: true, card_id}).
export function showAnswer(answer, onDone) {
  const box = $("answer");
  box.dataset.verdict = answer.verdict;
  box.dataset.provisional = answer.provisional ? "true" : "false";
  box.dataset.reason = answer.reason || "";
  $("answer-title").textContent = t(answer.verdict);
  const v = answer.volunteer;
  $("answer-name").textContent = v ? v.display_name : answer.card_id ? t("card", answer.card_id) : "";
  $("answer-team").textContent = v ? v.team || "" : "";
  const details = [];
  if (answer.verdict === "checked_out" && typeof answer.session_minutes === "number" && answer.session_minutes >= 0) {
    details.push(t("session", answer.session_minutes));
  }
  if (answer.reason) details.push(reasonText(answer.reason));
  for (const w of answer.warnings || []) details.push(`⚠ ${reasonText(w)}`);
  $("answer-detail").textContent = details.join(" · ");
  const note = $("answer-provisional");
  note.hidden = !answer.provisional;
  note.textContent = t("provisional");
  showView("answer");
  clearTimeout(answerTimer);
  answerTimer = setTimeout(onDone, ANSWER_MS);
}

export function setCameraState(ok, detail) {
  $("camera-state").textContent = ok ? "" : `${t("cameraOff")} ${detail || ""}`;
  $("camera").hidden = !ok;
}
