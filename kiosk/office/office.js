// The office page after the event: anomaly queue, a volunteer's timeline, corrections, approvals, exports.
// Login: #token=...&event=... in a link, or the form (shared/session.js). All data from /api/v1/events/{id}/...
import { ApiError, request } from "../shared/api.js";
import { $, el, plain } from "../shared/dom.js";
import { labelPage, wireLang } from "../shared/bar.js";
import { getLang, label, t, useText } from "../shared/i18n.js";
import { StaffSession, hideLogin, showLogin as showLoginForm, wireLogin } from "../shared/session.js";

const TEXT = {
  "zh-TW": {
    title: "服務時數核對", refresh: "重新整理", logout: "登出", loginTitle: "辦公室登入", eventId: "活動代碼",
    token: "管理員或協調員權杖", loginGo: "開始", summary: "活動統計", queue: "待處理異常", kind: "類型", allKinds: "全部",
    volunteer: "志工", team: "志工隊", day: "服務日", evidence: "證據（刷卡）", timeline: "志工時間軸",
    volunteerId: "志工編號", show: "查看", hoursTotal: "時數", scans: "刷卡紀錄", time: "時間", verdict: "結果",
    gate: "閘口", how: "經手", notes: "備註", annulledCol: "撤銷", sessions: "服務時段", start: "開始", end: "結束", minutes: "計入分鐘", flags: "標記",
    days: "每日時數", approved: "已核定", corrections: "更正紀錄", when: "時間", action: "動作", reason: "原因",
    actor: "操作者", change: "變更", correctTitle: "更正時數", actChange: "修改時段", actVoid: "作廢時段",
    actAdd: "新增時段（紙本）", session: "時段代碼", reasonRequired: "原因（必填）", submit: "送出更正",
    approvals: "各隊每日核定", unit: "運用單位", people: "人數", open: "待處理", exports: "匯出（CSV，Excel 可開）",
    expRecords: "志願服務紀錄冊", expTeams: "各隊每日統計", expCompanies: "企業志工時數", expSummary: "活動統計（市府計畫）",
    expExcluded: "未計入紀錄冊（及原因）", certificate: "開立服務證明（PDF）", certified: "服務證明 {no} 已開立，核驗碼 {code}",
    certKept: "時數未變，沿用服務證明 {no}，核驗碼 {code}",
    approve: "核定", isApproved: "已核定", yes: "是", no: "否", edit: "修改", voidIt: "作廢", saved: "已更正，時數 {h}",
    approvedMsg: "{team} {day} 已核定", dayApproved: "此日已核定，只有管理員可以更正", denied: "權杖無效或無權限", badEvent: "找不到此活動", unreachable: "無法連到伺服器",
    loading: "計算中…", none: "沒有待處理的異常", volunteers: "志工人數", totalHours: "總時數", average: "平均每人時數",
    seniors: "65 歲以上比例",
    kinds: { missing_checkout: "漏簽退", unpaired_checkout: "無簽到的簽退", overlong_session: "時段過長",
      outside_shift: "班表外簽到", wrong_zone: "非所屬據點", many_duplicates: "多次重複刷卡", clock_skew: "裝置時間異常",
      after_revocation: "已註銷的卡", overlapping_sessions: "時段重疊", stale_correction: "失效的更正" },
    verdicts: { checked_in: "簽到", checked_out: "簽退", duplicate: "重複刷卡", rejected: "拒絕" },
    reasons: { event_closed: "活動未開放", wrong_gate: "非本活動的閘口", invalid_card: "卡片無效或遭竄改",
      unknown_key: "卡片簽章金鑰不明", revoked: "已停用的卡", not_on_roster: "不在本活動名冊", not_insured: "未投保意外險",
      debounce: "短時間內重複刷卡", already_on_site: "已在場內", not_on_site: "尚未簽到",
      confirm_checkout: "簽到後不久刷卡，等待再刷一次確認簽退" },
    warnings: { outside_shift: "不在排定班別時間", clock_skew: "裝置時間不準，已改用伺服器時間",
      over_rest_limit: "超過連續或當日服務時間上限" },
    sessionFlags: { missing_checkout: "漏簽退", closed_at_shift_end: "以班別結束時間結算", inferred_start: "以班別開始時間起算",
      added: "紙本新增", order_repaired: "已校正刷卡順序", voided: "已作廢", corrected: "已更正",
      break_deducted: "已扣休息時間", below_minimum: "未達最低計入時間", split: "跨服務日分段", on_site: "仍在場" },
    sources: { device: "刷卡", manual: "人工操作", group: "隊長整隊" },
    annulledMark: "（已撤銷）", byKiosk: "閘口裝置 {name}", operatorBy: "{how}：{name}", sep: "、",
    actions: { add: "新增", change: "修改", void: "作廢" },
  },
  en: {
    title: "Service hours", refresh: "Refresh", logout: "Log out", loginTitle: "Office sign-in", eventId: "Event id",
    token: "Admin or coordinator token", loginGo: "Open", summary: "Event figures", queue: "Open anomalies", kind: "Kind",
    allKinds: "All", volunteer: "Volunteer", team: "Team", day: "Service day", evidence: "Evidence (scans)",
    timeline: "Volunteer timeline", volunteerId: "Volunteer id", show: "Show", hoursTotal: "Hours", scans: "Scans",
    time: "Time", verdict: "Verdict", gate: "Gate", how: "Made by", notes: "Notes", annulledCol: "Undone", sessions: "Sessions", start: "Start", end: "End",
    minutes: "Credited min", flags: "Flags", days: "Hours per day", approved: "Approved", corrections: "Corrections",
    when: "When", action: "Action", reason: "Reason", actor: "By", change: "Change", correctTitle: "Correct hours",
    actChange: "Change a session", actVoid: "Void a session", actAdd: "Add a session (paper)", session: "Session key",
    reasonRequired: "Reason (required)", submit: "Save correction", approvals: "Approve per team and day",
    unit: "Unit", people: "People", open: "Open", exports: "Exports (CSV, opens in Excel)",
    expRecords: "Service record book", expTeams: "Team days", expCompanies: "Company (CSR) hours",
    expSummary: "Event figures (city plan)", expExcluded: "Left out of the record book (why)",
    certificate: "Issue a certificate (PDF)", certified: "Certificate {no} issued, check code {code}",
    certKept: "Hours unchanged: certificate {no} still holds, check code {code}", approve: "Approve", isApproved: "Approved", yes: "yes", no: "no",
    edit: "Change", voidIt: "Void", saved: "Saved; hours now {h}", approvedMsg: "{team} {day} approved",
    dayApproved: "This day is approved; only an admin may correct it",
    denied: "Token refused", badEvent: "No such event", unreachable: "Cannot reach the server", loading: "Computing…",
    none: "No open anomalies", volunteers: "Volunteers", totalHours: "Total hours", average: "Average hours each",
    seniors: "Share aged 65+",
    kinds: { missing_checkout: "Missing check-out", unpaired_checkout: "Check-out without check-in",
      overlong_session: "Overlong session", outside_shift: "Outside any shift", wrong_zone: "Another post's gate",
      many_duplicates: "Many double scans", clock_skew: "Device clock off", after_revocation: "Revoked card",
      overlapping_sessions: "Overlapping sessions", stale_correction: "Stale correction" },
    verdicts: { checked_in: "Check-in", checked_out: "Check-out", duplicate: "Double scan", rejected: "Refused" },
    reasons: { event_closed: "The event was not open", wrong_gate: "A gate not of this event",
      invalid_card: "Invalid or altered card", unknown_key: "Card signed with an unknown key", revoked: "Revoked card",
      not_on_roster: "Not on this event's roster", not_insured: "No accident insurance",
      debounce: "Scanned again within moments", already_on_site: "Already on site", not_on_site: "Not checked in",
      confirm_checkout: "Soon after check-in: asked to scan again to check out" },
    warnings: { outside_shift: "Outside the scheduled shift", clock_skew: "Device clock off; server time used",
      over_rest_limit: "Over the continuous or daily service limit" },
    sessionFlags: { missing_checkout: "Missing check-out", closed_at_shift_end: "Closed at the shift's end",
      inferred_start: "Started at the shift's start", added: "Added from paper", order_repaired: "Scan order repaired",
      voided: "Voided", corrected: "Corrected", break_deducted: "Break deducted", below_minimum: "Below the minimum",
      split: "Split at the service day's end", on_site: "Still on site" },
    sources: { device: "Card", manual: "By hand", group: "Team lead, whole team" },
    annulledMark: " (undone)", byKiosk: "Kiosk {name}", operatorBy: "{how}: {name}", sep: ", ",
    actions: { add: "add", change: "change", void: "void" },
  },
};
const PAGE = 50;
const DOWNLOAD_TIMEOUT_MS = 120000; // a whole event's record book is made while the office waits
const session = new StaffSession("office");
let queueOffset = 0;
let timeZone = "Asia/Taipei";
let current = null; // the timeline shown

const hours = (h) => (Math.round(h * 100) / 100).toLocaleString(getLang());
const when = (iso) => (iso ? new Date(iso).toLocaleString(getLang(), { timeZone, hour12: false,
  month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit" }) : "—");
// "2024-02-24T12:00" in the event's zone, for a datetime-local input (the server reads it in that zone too)
const localInput = (iso) => (iso ? new Date(iso).toLocaleString("sv-SE", { timeZone, hour12: false })
  .slice(0, 16).replace(" ", "T") : "");

const row = (...cells) => el("tr", {}, ...cells.map((c) => (c instanceof Node && c.tagName === "TD" ? c : el("td", {}, c))));

// path: below the event's API; a refused token sends the page back to its login form.
async function api(path, options = {}) {
  try {
    return await request(session.eventPath(path.slice(1)), { token: session.token, ...options });
  } catch (err) {
    if (err.status === 401 || err.status === 403) showLogin(t("denied"));
    throw err;
  }
}

function notice(text) { $("notice").textContent = text; }

function applyLanguage() {
  labelPage();
  const filter = $("kind-filter");
  const chosen = filter.value;
  filter.replaceChildren(el("option", { value: "" }, t("allKinds")),
    ...Object.keys(TEXT[getLang()].kinds).map((k) => el("option", { value: k }, label("kinds", k))));
  filter.value = chosen;
  if (current) renderTimeline(current);
  if (!$("office").hidden) loadAll();
}

// ---- the sections ---------------------------------------------------------------------------------

async function loadSummary() {
  const s = await api("/summary");
  $("summary").replaceChildren(...[["volunteers", s.volunteers.toLocaleString(getLang())], ["totalHours", hours(s.total_hours)],
    ["average", hours(s.average_hours)], ["seniors", `${(s.senior_share * 100).toFixed(1)}%`]]
    .map(([k, v]) => el("div", {}, el("dt", {}, t(k)), el("dd", {}, v))));
}

async function loadQueue() {
  const kind = $("kind-filter").value;
  const page = await api(`/anomalies?limit=${PAGE}&offset=${queueOffset}${kind ? `&kind=${kind}` : ""}`);
  $("queue-count").textContent = page.total.toLocaleString(getLang());
  const rows = page.items.map((a) => row(
    el("td", {}, el("a", { href: "#", dataset: { volunteer: a.volunteer_id } }, a.name || a.volunteer_id),
      el("small", {}, ` ${a.volunteer_id}`)),
    a.team || "", label("kinds", a.kind), a.day || "", el("td", { class: "ids" }, a.scan_ids.map((id) => id.slice(0, 8)).join(" "))));
  $("anomalies").tBodies[0].replaceChildren(...(rows.length ? rows : [row(el("td", { colspan: 5 }, t("none")))]));
  $("queue-page").textContent = page.total ? `${page.offset + 1}–${Math.min(page.total, page.offset + PAGE)} / ${page.total}` : "";
  $("queue-prev").disabled = queueOffset === 0;
  $("queue-next").disabled = queueOffset + PAGE >= page.total;
}

async function loadTeams() {
  const { items } = await api("/teams");
  $("teams").tBodies[0].replaceChildren(...items.map((d) => {
    const action = d.approved ? el("td", { class: "ok" }, t("isApproved")) : !d.team_id ? el("td", {}, "—")
      : el("td", {}, el("button", { type: "button", dataset: { team: d.team_id, day: d.day, name: d.team } }, t("approve")));
    return row(d.team, d.unit, d.day, d.volunteers, hours(d.hours), d.open_anomalies, action);
  }));
}

// Who made a scan: a card, or the person who scanned by hand (a coordinator) or for a team (its lead).
function madeBy(s) {
  const how = label("sources", s.source || "device");
  return s.operator ? t("operatorBy", { how, name: s.operator.name || s.operator.id }) : how;
}

// An annulled scan stays in the log (it counts for nothing): who undid it, when and why.
function annulment(a) {
  if (!a) return "";
  const name = a.by.name || a.by.id;
  const who = a.by.kind === "device" ? t("byKiosk", { name }) : name;
  return [who, when(a.at), a.reason].filter(Boolean).join(" · ");
}

function scanRow(s) {
  const notes = [s.reason && label("reasons", s.reason), ...s.warnings.map((w) => `⚠ ${label("warnings", w)}`)];
  const tr = row(when(s.at), label("verdicts", s.verdict) + (s.annulled ? t("annulledMark") : ""),
    s.gate_name || s.gate_id, madeBy(s), notes.filter(Boolean).join(t("sep")), annulment(s.annulled));
  if (s.annulled) tr.dataset.annulled = "true";
  if (s.operator) tr.dataset.operator = s.operator.id;
  return tr;
}

async function showTimeline(volunteerId) {
  current = await api(`/volunteers/${encodeURIComponent(volunteerId)}/timeline`);
  renderTimeline(current);
}

function renderTimeline(tl) {
  timeZone = tl.timezone || timeZone;
  $("timeline").hidden = false;
  $("tl-name").textContent = plain(tl.name);
  $("tl-id").textContent = tl.volunteer_id;
  $("tl-team").textContent = tl.team || "";
  $("tl-hours").textContent = hours(tl.hours);
  $("tl-scans").tBodies[0].replaceChildren(...tl.scans.map(scanRow));
  $("tl-sessions").tBodies[0].replaceChildren(...tl.sessions.map((s) => row(when(s.start), when(s.end), s.day,
    s.credited_minutes, s.flags.map((f) => label("sessionFlags", f)).join(t("sep")), el("td", {},
      el("button", { type: "button", dataset: { edit: s.key } }, t("edit")), " ",
      el("button", { type: "button", dataset: { void: s.key } }, t("voidIt"))))));
  $("tl-days").tBodies[0].replaceChildren(...tl.days.map((d) => row(d.day, hours(d.hours), d.approved ? t("yes") : t("no"))));
  $("tl-corrections").tBodies[0].replaceChildren(...tl.corrections.map((c) => row(when(c.at), label("actions", c.action),
    c.reason, c.actor_name || c.actor, `${c.before ? c.before.credited_minutes : "—"} → ${c.after ? c.after.credited_minutes : "—"}`)));
  $("c-volunteer").value = tl.volunteer_id;
}

function prefill(action, key) {
  const s = current && current.sessions.find((x) => x.key === key);
  $("c-action").value = action;
  $("c-session").value = key || "";
  $("c-start").value = s && action === "change" ? localInput(s.start) : "";
  $("c-end").value = s && action === "change" ? localInput(s.end) : "";
  $("c-reason").focus();
}

async function submitCorrection(event) {
  event.preventDefault();
  $("c-error").textContent = "";
  for (const node of $("correct").querySelectorAll(".bad")) node.classList.remove("bad");
  const body = { volunteer_id: $("c-volunteer").value.trim(), action: $("c-action").value,
    reason: $("c-reason").value.trim(), session_key: $("c-session").value.trim() || null,
    start: $("c-start").value || null, end: $("c-end").value || null };
  try {
    const done = await api("/corrections", { method: "POST", body });
    notice(t("saved", { h: hours(done.hours) }));
    $("c-reason").value = "";
    await Promise.all([showTimeline(body.volunteer_id), loadQueue(), loadTeams(), loadSummary()]);
  } catch (err) {
    if (!(err instanceof ApiError) || err.status === 0) { $("c-error").textContent = t("unreachable"); return; }
    $("c-error").textContent = err.code === "day_approved" ? `${t("dayApproved")} (${err.message})` : err.message;
    const input = err.field && $("correct").querySelector(`[name="${err.field}"]`);
    if (input) input.classList.add("bad");
  }
}

async function approve(button) {
  button.disabled = true;
  try {
    await api("/approvals", { method: "POST", body: { team_id: button.dataset.team, day: button.dataset.day } });
    notice(t("approvedMsg", { team: button.dataset.name, day: button.dataset.day }));
    await loadTeams();
    if (current) await showTimeline(current.volunteer_id);
  } catch (err) {
    notice(err.shown || err.message);
    button.disabled = false;
  }
}

async function issueCertificate(button) {
  // The server keeps a certificate whose hours still hold (a reprint); otherwise it issues a new one and
  // the earlier one verifies as superseded.
  button.disabled = true;
  try {
    const made = await api(`/volunteers/${encodeURIComponent(current.volunteer_id)}/certificates`, { method: "POST" });
    notice(t(made.new ? "certified" : "certKept", { no: made.cert_id, code: made.code }));
    save(await api(`/certificates/${encodeURIComponent(made.cert_id)}.pdf`, { timeoutMs: DOWNLOAD_TIMEOUT_MS }),
      `${session.event}-${made.cert_id}.pdf`);
  } finally {
    button.disabled = false;
  }
}

async function download(kind) {
  save(await api(`/exports/${kind}.csv`, { timeoutMs: DOWNLOAD_TIMEOUT_MS }), `${session.event}-${kind}.csv`);
}

function save(blob, name) {
  const link = el("a", { href: URL.createObjectURL(blob), download: name });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 10000);
}

async function loadAll() {
  notice(t("loading"));
  try {
    await Promise.all([loadSummary(), loadQueue(), loadTeams()]);
    notice("");
    $("event-name").textContent = session.event;
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) showLogin(t("badEvent"));
    else if (!(err instanceof ApiError) || err.status === 0) notice(t("unreachable"));
  }
}

// ---- login and wiring -------------------------------------------------------------------------------

function showLogin(message = "") {
  showLoginForm(session, "office", message);
}

function start() {
  session.save();
  hideLogin("office");
  loadAll();
}

function wire() {
  useText(TEXT);
  wireLang("office.lang", applyLanguage);
  session.readLink();
  wireLogin(session, { onOpen: start, onLogout: () => showLogin() });
  $("refresh").onclick = loadAll;
  $("kind-filter").onchange = () => { queueOffset = 0; loadQueue(); };
  $("queue-prev").onclick = () => { queueOffset = Math.max(0, queueOffset - PAGE); loadQueue(); };
  $("queue-next").onclick = () => { queueOffset += PAGE; loadQueue(); };
  $("lookup").onsubmit = (e) => { e.preventDefault(); showTimeline($("lookup-id").value.trim()).catch((err) => notice(err.message)); };
  $("anomalies").onclick = (e) => {
    const link = e.target.closest("[data-volunteer]");
    if (link) { e.preventDefault(); showTimeline(link.dataset.volunteer).catch((err) => notice(err.message)); }
  };
  $("tl-sessions").onclick = (e) => {
    const b = e.target.closest("button");
    if (b) prefill(b.dataset.edit ? "change" : "void", b.dataset.edit || b.dataset.void);
  };
  $("correct").onsubmit = submitCorrection;
  $("tl-certificate").onclick = (e) => { if (current) issueCertificate(e.currentTarget).catch((err) => notice(err.message)); };
  $("teams").onclick = (e) => { const b = e.target.closest("button[data-team]"); if (b) approve(b); };
  for (const b of document.querySelectorAll("[data-export]")) b.onclick = () => download(b.dataset.export).catch((err) => notice(err.message));
  applyLanguage();
  if (session.complete) start(); else showLogin();
}

wire();
