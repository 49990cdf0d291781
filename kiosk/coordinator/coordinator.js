// Manual check-in for a coordinator: search the event's roster, check a volunteer in or out at a gate,
// undo the last scan. Login: #token=...&event=... in a link, or the form (shared/session.js).
import { request } from "../shared/api.js";
import { $, plain } from "../shared/dom.js";
import { labelPage, wireLang } from "../shared/bar.js";
import { label, t, useText } from "../shared/i18n.js";
import { StaffSession, hideLogin, showLogin as showLoginForm, wireLogin } from "../shared/session.js";

const TEXT = {
  "zh-TW": {
    title: "人工簽到", logout: "登出", loginTitle: "協調員登入", eventId: "活動代碼", token: "協調員權杖", loginGo: "開始",
    gate: "閘口", searchLabel: "姓名、電話末碼或紀錄冊編號", searchGo: "搜尋", undo: "撤銷", onSite: "在場",
    in: "簽到", out: "簽退", nobody: "查無此人", undoConfirm: "撤銷 {name} 的刷卡？請寫下原因：",
    undoReason: "服務台操作錯誤", gateOption: "{name}（{mode}）", unreachable: "無法連到伺服器",
    noteLabel: "提醒：{note}",
    cardRevoked: "此卡已停用（{reason}）", noReasonGiven: "未註明", noCardIssued: "尚未發卡",
    byHandNote: "可人工處理，需填原因", byHandInReason: "人工簽到原因：", byHandOutReason: "人工簽退原因：",
    verdicts: { checked_in: "簽到成功", checked_out: "簽退成功", duplicate: "重複刷卡", rejected: "無法受理",
      annulled: "已撤銷" },
    reasons: { event_closed: "活動未開放", wrong_gate: "此閘口不屬於本活動", invalid_card: "卡片無效或遭竄改",
      unknown_key: "卡片簽章金鑰不明", revoked: "此卡已停用", not_on_roster: "不在本活動名冊", not_insured: "未投保意外險",
      debounce: "剛剛已刷過", already_on_site: "已在場內", not_on_site: "尚未簽到",
      confirm_checkout: "剛簽到不久，再刷一次才簽退" },
    warnings: { outside_shift: "不在排定班別時間", clock_skew: "裝置時間不準，已改用伺服器時間",
      over_rest_limit: "超過連續或當日服務時間上限，請安排休息" },
    modes: { entry: "入口", exit: "出口", auto: "進出自動判斷" },
    // the gateway's refusal codes a coordinator meets here; any other shows the server's message
    errors: { no_active_card: "此志工沒有有效的服務證", not_on_roster: "不在本活動名冊", unknown_gate: "本活動沒有這個閘口",
      day_approved: "當日時數已核定，請洽辦公室更正", not_annullable: "只有簽到或簽退可以撤銷",
      forbidden: "此帳號無權操作本活動", unauthorized: "權杖無效，請重新登入" },
  },
  en: {
    title: "Manual check-in", logout: "Log out", loginTitle: "Coordinator", eventId: "Event", token: "Token",
    loginGo: "Open", gate: "Gate", searchLabel: "Name, phone digits or record book no.", searchGo: "Search",
    undo: "Undo", onSite: "on site", in: "In", out: "Out", nobody: "Nobody found",
    undoConfirm: "Undo {name}'s scan? Say why:", undoReason: "Mistake at the desk", gateOption: "{name} ({mode})",
    unreachable: "Cannot reach the server", noteLabel: "Note: {note}",
    cardRevoked: "Card revoked ({reason})", noReasonGiven: "no reason given", noCardIssued: "No card issued",
    byHandNote: "can be done by hand, with a reason", byHandInReason: "Reason for checking in by hand:",
    byHandOutReason: "Reason for checking out by hand:",
    verdicts: { checked_in: "Checked in", checked_out: "Checked out", duplicate: "Already scanned", rejected: "Refused",
      annulled: "Undone" },
    reasons: { event_closed: "The event is not open", wrong_gate: "This gate is not part of the event",
      invalid_card: "Invalid or altered card", unknown_key: "Card signed with an unknown key",
      revoked: "This card has been revoked", not_on_roster: "Not on this event's roster",
      not_insured: "No accident insurance", debounce: "Scanned a moment ago", already_on_site: "Already on site",
      confirm_checkout: "Checked in moments ago: scan again to check out",
      not_on_site: "Not checked in" },
    warnings: { outside_shift: "Outside the scheduled shift", clock_skew: "Device clock is off; server time used",
      over_rest_limit: "Over the continuous or daily service limit: time for a rest" },
    modes: { entry: "entry only", exit: "exit only", auto: "in or out by presence" },
    errors: { no_active_card: "This volunteer has no active card", not_on_roster: "Not on this event's roster",
      unknown_gate: "The event has no such gate", day_approved: "The day's hours are approved: ask the office",
      not_annullable: "Only a check-in or a check-out can be undone",
      forbidden: "This account may not operate this event", unauthorized: "Token refused: sign in again" },
  },
};
const session = new StaffSession("coordinator");
let last = null; // the last scan made here, for the undo button

const api = (path, options = {}) => request(path, { token: session.token, ...options });
const eventPath = (rest) => session.eventPath(rest);
let gates = []; // the event's gates, for their names in the chosen language

// A refusal in words: the code's own when the page knows it, else what the server said.
function problem(err) {
  if (err.status === 0) return t("unreachable");
  const words = err.code ? label("errors", err.code) : err.code;
  return words && words !== err.code ? words : err.message;
}

function showAnswer(verdict, text, undoable) {
  const box = $("answer");
  box.hidden = false;
  box.dataset.verdict = verdict;
  $("answer-text").textContent = plain(text);
  $("undo").hidden = !undoable;
}

// Why a volunteer's card does not work, in words; null when it does.
function cardProblem(person) {
  if (person.has_card) return null;
  const card = person.card || { status: "none" };
  return card.status === "revoked"
    ? t("cardRevoked", { reason: plain(card.reason) || t("noReasonGiven") })
    : t("noCardIssued");
}

async function scan(person, action) {
  let reason;
  if (!person.has_card) { // by hand: the server keeps the reason in the audit log
    reason = window.prompt(`${cardProblem(person)}\n${t(action === "in" ? "byHandInReason" : "byHandOutReason")}`);
    if (!reason || !reason.trim()) return;
  }
  try {
    const answer = await api(eventPath("manual-scans"), {
      method: "POST", body: { volunteer_id: person.volunteer_id, gate_id: $("gate").value, action, reason },
    });
    const detail = [answer.reason && label("reasons", answer.reason),
      ...(answer.warnings || []).map((w) => `⚠ ${label("warnings", w)}`),
      answer.note && t("noteLabel", { note: answer.note })].filter(Boolean).join(" · ");
    const accepted = answer.verdict === "checked_in" || answer.verdict === "checked_out";
    last = accepted ? { ...answer, name: person.name } : null;
    showAnswer(answer.verdict, `${label("verdicts", answer.verdict)} · ${person.name} ${detail}`, accepted);
    await search();
  } catch (err) {
    showAnswer("rejected", `${label("verdicts", "rejected")} · ${person.name} · ${problem(err)}`, false);
  }
}

async function undo() {
  if (!last) return;
  // The office reads this reason beside the undone scan.
  const reason = window.prompt(t("undoConfirm", { name: last.name }), t("undoReason"));
  if (reason === null) return;
  const target = last;
  last = null;
  try {
    await api(`/api/v1/scans/${encodeURIComponent(target.scan_id)}/annul`, {
      method: "POST", body: { reason: reason.trim() || t("undoReason") },
    });
    showAnswer("annulled", `${label("verdicts", "annulled")} · ${target.name}`, false);
    await search();
  } catch (err) {
    showAnswer("rejected", `${label("verdicts", "rejected")} · ${problem(err)}`, false);
  }
}

function row(person) {
  const li = document.createElement("li");
  li.dataset.volunteer = person.volunteer_id;
  li.dataset.onSite = String(person.on_site);
  const who = document.createElement("span");
  who.className = "who";
  const extra = [person.team, person.record_book_no, person.phone_tail && `…${person.phone_tail}`].filter(Boolean);
  who.textContent = `${plain(person.name)} (${extra.join(" · ")}) ${person.on_site ? t("onSite") : ""}`;
  li.append(who);
  const problem = cardProblem(person);
  if (problem) {
    const note = document.createElement("span");
    note.className = "card-problem";
    note.textContent = `${problem} · ${t("byHandNote")}`;
    li.append(note);
  }
  for (const action of ["in", "out"]) {
    const button = document.createElement("button");
    button.type = "button";
    button.dataset.action = action;
    button.textContent = t(action);
    button.onclick = () => scan(person, action);
    li.append(button);
  }
  return li;
}

async function search(ev) {
  if (ev) ev.preventDefault();
  const q = $("q").value.trim();
  if (!q) return;
  $("search-error").textContent = "";
  try {
    const found = await api(eventPath(`roster/search?q=${encodeURIComponent(q)}`));
    $("results").replaceChildren(...found.results.map(row));
    if (!found.results.length) $("search-error").textContent = t("nobody");
  } catch (err) {
    $("search-error").textContent = problem(err);
  }
}

function showLogin(message = "") {
  showLoginForm(session, "desk", message);
}

async function start() {
  try {
    ({ gates } = await api(eventPath("gates")));
    showGates();
    const auto = gates.find((g) => g.mode === "auto");
    if (auto) $("gate").value = auto.gate_id;
  } catch (err) {
    showLogin(problem(err));
    return;
  }
  session.save();
  $("event-id").textContent = session.event;
  hideLogin("desk");
  document.body.dataset.ready = "true";
}

// Gates by name, with what they do in words; the choice survives a change of language.
function showGates() {
  const chosen = $("gate").value;
  $("gate").replaceChildren(...gates.map((g) => Object.assign(document.createElement("option"),
    { value: g.gate_id, textContent: plain(t("gateOption", { name: g.name, mode: label("modes", g.mode) })) })));
  if (chosen) $("gate").value = chosen;
}

function applyLanguage() {
  labelPage();
  document.title = t("title");
  showGates();
  if (!$("desk").hidden && $("q").value.trim()) search();
}

useText(TEXT);
wireLang("coordinator.lang", applyLanguage);
applyLanguage();
session.readLink();
wireLogin(session, { onOpen: start, onLogout: () => showLogin() });
$("search-form").onsubmit = search;
$("undo").onclick = undo;
if (session.complete) start(); else showLogin();
