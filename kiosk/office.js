// The office page after the event: anomaly queue, a volunteer's timeline, corrections, approvals, exports.
// Login: #token=...&event=... in a link, or the form; both kept in localStorage. All data from /api/v1/events/{id}/...

const TEXT = {
  "zh-TW": {
    title: "服務時數核對", refresh: "重新整理", logout: "登出", loginTitle: "辦公室登入", eventId: "活動代碼",
    token: "管理員或協調員權杖", loginGo: "開始", summary: "活動統計", queue: "待處理異常", kind: "類型", allKinds: "全部",
    volunteer: "志工", team: "志工隊", day: "服務日", evidence: "證據（刷卡）", timeline: "志工時間軸",
    volunteerId: "志工編號", show: "查看", hoursTotal: "時數", scans: "刷卡紀錄", time: "時間", verdict: "結果",
    gate: "閘口", notes: "備註", sessions: "服務時段", start: "開始", end: "結束", minutes: "計入分鐘", flags: "標記",
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
    verdicts: { checked_in: "簽到", checked_out: "簽退", duplicate: "重複", rejected: "拒絕" },
    actions: { add: "新增", change: "修改", void: "作廢" },
  },
  en: {
    title: "Service hours", refresh: "Refresh", logout: "Log out", loginTitle: "Office sign-in", eventId: "Event id",
    token: "Admin or coordinator token", loginGo: "Open", summary: "Event figures", queue: "Open anomalies", kind: "Kind",
    allKinds: "All", volunteer: "Volunteer", team: "Team", day: "Service day", evidence: "Evidence (scans)",
    timeline: "Volunteer timeline", volunteerId: "Volunteer id", show: "Show", hoursTotal: "Hours", scans: "Scans",
    time: "Time", verdict: "Verdict", gate: "Gate", notes: "Notes", sessions: "Sessions", start: "Start", end: "End",
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
    verdicts: { checked_in: "check-in", checked_out: "check-out", duplicate: "duplicate", rejected: "refused" },
    actions: { add: "add", change: "change", void: "void" },
  },
};
const PAGE = 50;
const $ = (id) => document.getElementById(id);
let lang = localStorage.getItem("office.lang") || "zh-TW";
let auth = { token: localStorage.getItem("office.token"), event: localStorage.getItem("office.event") };
let queueOffset = 0;
let timeZone = "Asia/Taipei";
let current = null; // the timeline shown

const t = (key, vars = {}) => String(TEXT[lang][key] ?? key).replace(/\{(\w+)\}/g, (_, k) => vars[k]);
const label = (group, key) => TEXT[lang][group][key] ?? key;
const hours = (h) => (Math.round(h * 100) / 100).toLocaleString(lang);
const when = (iso) => (iso ? new Date(iso).toLocaleString(lang, { timeZone, hour12: false,
  month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit" }) : "—");
// "2024-02-24T12:00" in the event's zone, for a datetime-local input (the server reads it in that zone too)
const localInput = (iso) => (iso ? new Date(iso).toLocaleString("sv-SE", { timeZone, hour12: false })
  .slice(0, 16).replace(" ", "T") : "");

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v; else if (k === "dataset") Object.assign(node.dataset, v);
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v); else node.setAttribute(k, v);
  }
  for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(String(c ?? "")));
  return node;
}
const row = (...cells) => el("tr", {}, ...cells.map((c) => (c instanceof Node && c.tagName === "TD" ? c : el("td", {}, c))));

class ApiFailure extends Error {
  constructor(status, body) {
    super(body.message || String(status));
    Object.assign(this, { status, field: body.field, code: body.error });
  }
}

async function api(path, options = {}) {
  const resp = await fetch(`/api/v1/events/${encodeURIComponent(auth.event)}${path}`, {
    ...options, headers: { Authorization: `Bearer ${auth.token}`, "Content-Type": "application/json" },
  });
  if (resp.status === 401 || resp.status === 403) { showLogin(t("denied")); throw new ApiFailure(resp.status, {}); }
  const type = resp.headers.get("Content-Type") || "";
  if (!resp.ok) throw new ApiFailure(resp.status, type.includes("json") ? await resp.json() : {});
  return type.includes("json") ? resp.json() : resp.blob();
}

function notice(text) { $("notice").textContent = text; }

function applyLanguage() {
  document.documentElement.lang = lang;
  for (const node of document.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
  for (const node of document.querySelectorAll("[data-i18n-placeholder]")) node.placeholder = t(node.dataset.i18nPlaceholder);
  $("lang").textContent = lang === "zh-TW" ? "English" : "中文";
  const filter = $("kind-filter");
  const chosen = filter.value;
  filter.replaceChildren(el("option", { value: "" }, t("allKinds")),
    ...Object.keys(TEXT[lang].kinds).map((k) => el("option", { value: k }, label("kinds", k))));
  filter.value = chosen;
  if (!$("office").hidden) loadAll();
}

// ---- the sections ---------------------------------------------------------------------------------

async function loadSummary() {
  const s = await api("/summary");
  $("summary").replaceChildren(...[["volunteers", s.volunteers.toLocaleString(lang)], ["totalHours", hours(s.total_hours)],
    ["average", hours(s.average_hours)], ["seniors", `${(s.senior_share * 100).toFixed(1)}%`]]
    .map(([k, v]) => el("div", {}, el("dt", {}, t(k)), el("dd", {}, v))));
}

async function loadQueue() {
  const kind = $("kind-filter").value;
  const page = await api(`/anomalies?limit=${PAGE}&offset=${queueOffset}${kind ? `&kind=${kind}` : ""}`);
  $("queue-count").textContent = page.total.toLocaleString(lang);
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

async function showTimeline(volunteerId) {
  const tl = await api(`/volunteers/${encodeURIComponent(volunteerId)}/timeline`);
  current = tl;
  timeZone = tl.timezone || timeZone;
  $("timeline").hidden = false;
  $("tl-name").textContent = tl.name || "";
  $("tl-id").textContent = tl.volunteer_id;
  $("tl-team").textContent = tl.team || "";
  $("tl-hours").textContent = hours(tl.hours);
  $("tl-scans").tBodies[0].replaceChildren(...tl.scans.map((s) => row(when(s.at), label("verdicts", s.verdict),
    s.gate_id, [s.reason, ...s.warnings].filter(Boolean).join(", "))));
  $("tl-sessions").tBodies[0].replaceChildren(...tl.sessions.map((s) => row(when(s.start), when(s.end), s.day,
    s.credited_minutes, s.flags.join(", "), el("td", {},
      el("button", { type: "button", dataset: { edit: s.key } }, t("edit")), " ",
      el("button", { type: "button", dataset: { void: s.key } }, t("voidIt"))))));
  $("tl-days").tBodies[0].replaceChildren(...tl.days.map((d) => row(d.day, hours(d.hours), d.approved ? t("yes") : t("no"))));
  $("tl-corrections").tBodies[0].replaceChildren(...tl.corrections.map((c) => row(when(c.at), label("actions", c.action),
    c.reason, c.actor, `${c.before ? c.before.credited_minutes : "—"} → ${c.after ? c.after.credited_minutes : "—"}`)));
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
    const done = await api("/corrections", { method: "POST", body: JSON.stringify(body) });
    notice(t("saved", { h: hours(done.hours) }));
    $("c-reason").value = "";
    await Promise.all([showTimeline(body.volunteer_id), loadQueue(), loadTeams(), loadSummary()]);
  } catch (err) {
    if (!(err instanceof ApiFailure)) { $("c-error").textContent = t("unreachable"); return; }
    $("c-error").textContent = err.code === "day_approved" ? `${t("dayApproved")} (${err.message})` : err.message;
    const input = err.field && $("correct").querySelector(`[name="${err.field}"]`);
    if (input) input.classList.add("bad");
  }
}

async function approve(button) {
  button.disabled = true;
  try {
    await api("/approvals", { method: "POST", body: JSON.stringify({ team_id: button.dataset.team, day: button.dataset.day }) });
    notice(t("approvedMsg", { team: button.dataset.name, day: button.dataset.day }));
    await loadTeams();
    if (current) await showTimeline(current.volunteer_id);
  } catch (err) {
    notice(err.message);
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
    save(await api(`/certificates/${encodeURIComponent(made.cert_id)}.pdf`), `${auth.event}-${made.cert_id}.pdf`);
  } finally {
    button.disabled = false;
  }
}

async function download(kind) {
  save(await api(`/exports/${kind}.csv`), `${auth.event}-${kind}.csv`);
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
    $("event-name").textContent = auth.event;
  } catch (err) {
    if (err instanceof ApiFailure && err.status === 404) showLogin(t("badEvent"));
    else if (!(err instanceof ApiFailure)) notice(t("unreachable"));
  }
}

// ---- login and wiring -------------------------------------------------------------------------------

function showLogin(message = "") {
  $("office").hidden = true;
  $("logout").hidden = $("refresh").hidden = true;
  $("login").hidden = false;
  $("login-event").value = auth.event || "";
  $("login-error").textContent = message;
}

function start() {
  localStorage.setItem("office.token", auth.token);
  localStorage.setItem("office.event", auth.event);
  $("login").hidden = true;
  $("office").hidden = false;
  $("logout").hidden = $("refresh").hidden = false;
  loadAll();
}

function wire() {
  const hash = new URLSearchParams(location.hash.slice(1));
  if (hash.get("token")) {
    auth = { token: hash.get("token"), event: hash.get("event") || auth.event };
    history.replaceState(null, "", location.pathname); // keep the token out of the address bar and history
  }
  $("lang").onclick = () => { lang = lang === "zh-TW" ? "en" : "zh-TW"; localStorage.setItem("office.lang", lang); applyLanguage(); };
  $("logout").onclick = () => { localStorage.removeItem("office.token"); auth.token = null; showLogin(); };
  $("refresh").onclick = loadAll;
  $("login").onsubmit = (e) => { e.preventDefault(); auth = { token: $("login-token").value.trim(), event: $("login-event").value.trim() }; start(); };
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
  if (auth.token && auth.event) start(); else showLogin();
}

wire();
