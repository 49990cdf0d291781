// The team leads' page (隊長): their team's members and who is on site, a group check-in of the members chosen,
// and the team's scan report. Signed in with the team lead's token (shared/session.js), which opens their own
// team only: the gateway refuses anything else.
import { ApiError, request } from "../shared/api.js";
import { $, el } from "../shared/dom.js";
import { labelPage, wireLang } from "../shared/bar.js";
import { getLang, label, t, useText } from "../shared/i18n.js";
import { StaffSession, hideLogin, showLogin as showLoginForm, wireLogin } from "../shared/session.js";

const TEXT = {
  "zh-TW": {
    title: "隊長頁面", refresh: "重新整理", logout: "登出", loginTitle: "隊長登入", eventId: "活動代碼", token: "隊長權杖",
    loginGo: "開始", members: "隊員", gate: "閘口", selectAbsent: "勾選未到的隊員", groupGo: "整隊簽到", choose: "選取",
    name: "姓名", volunteerId: "志工編號", presence: "狀態", result: "整隊結果", reportTitle: "本隊刷卡紀錄",
    checkIns: "簽到次數", checkOuts: "簽退次數", firstIn: "首次簽到", lastOut: "最後簽退", how: "經手",
    onSite: "在場", away: "未到", unknown: "—", noCard: "無有效卡片", present: "在場 {n} / {total} 人",
    chooseSome: "請先勾選要簽到的隊員", done: "整隊簽到完成：{ok} 人簽到，{other} 人未簽到",
    chooseMember: "選取 {name}", denied: "權杖無效或無權限（隊長只能看自己的隊）", badEvent: "找不到此活動或隊伍",
    unreachable: "無法連到伺服器", sep: "、", noteLabel: "提醒：{note}",
    verdicts: { checked_in: "簽到", checked_out: "簽退", duplicate: "已在場內", rejected: "拒絕" },
    reasons: { event_closed: "活動未開放", wrong_gate: "非本活動的閘口", invalid_card: "卡片無效或遭竄改",
      unknown_key: "卡片簽章金鑰不明", revoked: "已停用的卡", not_on_roster: "不在本活動名冊", not_insured: "未投保意外險",
      debounce: "短時間內重複刷卡", already_on_site: "已在場內", not_on_site: "尚未簽到", confirm_checkout: "剛簽到不久，再刷一次才簽退", not_your_team: "不是本隊隊員",
      no_active_card: "沒有有效的卡片，請洽協調員" },
    sources: { device: "刷卡", manual: "人工操作", group: "隊長整隊" },
  },
  en: {
    title: "Team lead", refresh: "Refresh", logout: "Log out", loginTitle: "Team lead sign-in", eventId: "Event id",
    token: "Team lead token", loginGo: "Open", members: "Members", gate: "Gate", selectAbsent: "Tick those not yet here",
    groupGo: "Check the group in", choose: "Choose", name: "Name", volunteerId: "Volunteer id", presence: "Status",
    result: "Group check-in", reportTitle: "The team's scans", checkIns: "Check-ins", checkOuts: "Check-outs",
    firstIn: "First in", lastOut: "Last out", how: "Made by", onSite: "On site", away: "Not here", unknown: "—",
    noCard: "No working card", present: "{n} of {total} on site", chooseSome: "Tick the members to check in first",
    done: "Group check-in done: {ok} checked in, {other} not", chooseMember: "Choose {name}",
    denied: "Token refused (a team lead sees their own team only)", badEvent: "No such event or team",
    unreachable: "Cannot reach the server", sep: ", ", noteLabel: "Note: {note}",
    verdicts: { checked_in: "Checked in", checked_out: "Checked out", duplicate: "Already on site", rejected: "Refused" },
    reasons: { event_closed: "The event was not open", wrong_gate: "A gate not of this event",
      invalid_card: "Invalid or altered card", unknown_key: "Card signed with an unknown key", revoked: "Revoked card",
      not_on_roster: "Not on this event's roster", not_insured: "No accident insurance",
      debounce: "Scanned again within moments", already_on_site: "Already on site", not_on_site: "Not checked in",
      confirm_checkout: "Checked in moments ago: scan again to check out",
      not_your_team: "Not a member of this team", no_active_card: "No working card: ask a coordinator" },
    sources: { device: "Card", manual: "By hand", group: "Team lead, whole team" },
  },
};

const POLL_MS = 15000; // presence and the report, while the page is open
const REPORT_LAG_MS = 2000;
const session = new StaffSession("team");
let poller = null;
let team = null;
let report = null;
const results = new Map(); // volunteer id -> the group check-in's result for them

async function api(path, options = {}) {
  try {
    return await request(session.eventPath(path), { token: session.token, ...options });
  } catch (err) {
    if (err.status === 401 || err.status === 403) showLogin(t("denied"));
    else if (err.status === 404) showLogin(t("badEvent"));
    throw err;
  }
}

function notice(text) { $("notice").textContent = text; }

const when = (iso) => (iso ? new Date(iso).toLocaleString(getLang(), { hour12: false }) : "—");

function resultText(r) {
  if (!r) return "";
  if (r.error) return label("reasons", r.error);
  return [label("verdicts", r.verdict), r.reason && r.reason !== "already_on_site" ? label("reasons", r.reason) : "",
    r.note ? t("noteLabel", { note: r.note }) : ""].filter(Boolean).join(" · ");
}

function renderMembers() {
  const chosen = new Set([...document.querySelectorAll("#members input:checked")].map((b) => b.value));
  $("team-name").textContent = `${team.team}${team.unit ? ` · ${team.unit}` : ""}`;
  const present = team.members.filter((m) => m.on_site).length;
  $("present-count").textContent = t("present", { n: present, total: team.members.length });
  $("members").tBodies[0].replaceChildren(...team.members.map((m) => {
    const status = m.on_site === null ? t("unknown") : m.on_site ? t("onSite") : t("away");
    const box = el("input", { type: "checkbox", value: m.volunteer_id, "aria-label": t("chooseMember", { name: m.name }) });
    box.checked = chosen.has(m.volunteer_id);
    box.disabled = !m.has_card;
    return el("tr", { dataset: { volunteer: m.volunteer_id, onSite: String(Boolean(m.on_site)) } },
      el("td", {}, box), el("td", {}, m.name), el("td", {}, m.volunteer_id),
      el("td", { class: m.on_site ? "on" : "" }, m.has_card ? status : `${status} · ${t("noCard")}`),
      el("td", { class: "result" }, resultText(results.get(m.volunteer_id))));
  }));
}

function renderReport() {
  $("report").tBodies[0].replaceChildren(...report.members.map((m) => el("tr", { dataset: { volunteer: m.volunteer_id } },
    el("td", {}, m.name), el("td", { class: "num" }, m.check_ins), el("td", { class: "num" }, m.check_outs),
    el("td", {}, when(m.first_in)), el("td", {}, when(m.last_out)),
    el("td", {}, m.sources.map((s) => label("sources", s)).join(t("sep"))))));
}

async function loadAll() {
  try {
    team = await api("team-members");
    renderMembers();
    report = await api(`teams/${encodeURIComponent(team.team_id)}/report`);
    renderReport();
    document.body.dataset.ready = "true";
  } catch (err) {
    if (err instanceof ApiError && err.offline) notice(t("unreachable"));
  }
}

async function loadGates() {
  const { gates } = await api("gates");
  const chosen = $("gate").value || localStorage.getItem("team.gate");
  $("gate").replaceChildren(...gates.map((g) => el("option", { value: g.gate_id }, g.name || g.gate_id)));
  if (gates.some((g) => g.gate_id === chosen)) $("gate").value = chosen;
}

async function groupCheckin(e) {
  e.preventDefault();
  $("group-error").textContent = "";
  const ids = [...document.querySelectorAll("#members input:checked")].map((b) => b.value);
  if (!ids.length) { $("group-error").textContent = t("chooseSome"); return; }
  localStorage.setItem("team.gate", $("gate").value);
  try {
    const done = await api("group-checkin", { method: "POST", body: { gate_id: $("gate").value, volunteer_ids: ids } });
    for (const r of done.results) results.set(r.volunteer_id, r);
    const ok = done.results.filter((r) => r.verdict === "checked_in").length;
    notice(t("done", { ok, other: done.results.length - ok }));
    for (const b of document.querySelectorAll("#members input:checked")) b.checked = false;
    await loadAll();
    setTimeout(loadAll, REPORT_LAG_MS); // the report reads the scan log, which the recorder fills a moment later
  } catch (err) {
    $("group-error").textContent = err instanceof ApiError ? err.shown : String(err);
  }
}

function selectAbsent() {
  for (const row of $("members").tBodies[0].rows) {
    const box = row.querySelector("input");
    if (!box.disabled) box.checked = row.dataset.onSite !== "true";
  }
}

function applyLanguage() {
  labelPage();
  if (team) renderMembers();
  if (report) renderReport();
}

function showLogin(message = "") {
  clearInterval(poller);
  showLoginForm(session, "team", message);
}

function start() {
  session.save();
  hideLogin("team");
  loadGates().catch(() => {});
  loadAll();
  clearInterval(poller);
  poller = setInterval(loadAll, POLL_MS);
}

function wire() {
  useText(TEXT);
  wireLang("team.lang", applyLanguage);
  session.readLink();
  wireLogin(session, { onOpen: start, onLogout: () => showLogin() });
  $("refresh").onclick = loadAll;
  $("group-form").onsubmit = groupCheckin;
  $("select-absent").onclick = selectAbsent;
  applyLanguage();
  if (session.complete) start(); else showLogin();
}

wire();
