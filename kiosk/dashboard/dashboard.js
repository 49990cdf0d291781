// The coordinators' dashboard: one HTTP snapshot, then the live server's websocket (snapshot + section deltas).
// Login: #token=...&event=... in the link `checkin up` prints, or the form (shared/session.js).
import { ApiError, request } from "../shared/api.js";
import { $, el, plain, svg } from "../shared/dom.js";
import { labelPage, wireLang } from "../shared/bar.js";
import { getLang, t, useText } from "../shared/i18n.js";
import { StaffSession, hideLogin, showLogin as showLoginForm, wireLogin } from "../shared/session.js";
import { OperationsViews } from "./ops.js";

const TEXT = {
  "zh-TW": {
    title: "志工即時人數", logout: "登出", loginTitle: "協調員登入", eventId: "活動代碼", token: "協調員權杖",
    loginGo: "開始", loginHint: "帳號由管理員在主控台的「工作人員帳號」建立，並以一次性連結設定密碼", onSite: "在場人數",
    inToday: "今日簽到", outToday: "今日簽退", seniors: "高齡志工在場", rate: "每分鐘刷卡", dupToday: "今日重複刷卡", rejToday: "今日拒絕",
    zones: "服務據點", zone: "據點", present: "在場", required: "需求", staffing: "人力", chartTitle: "今日每小時簽到／簽退",
    arrivals: "簽到", departures: "簽退", missing: "已開班未到", shifts: "班別", shift: "班別", time: "時間",
    gates: "閘口", gate: "閘口", lastScan: "最後刷卡", teams: "志工隊", team: "志工隊", expected: "應到",
    live: "即時", connecting: "連線中…", stale: "資料可能延遲", offline: "已斷線，重新連線中", denied: "權杖無效或無權限",
    ok: "足額", low: "略缺", short: "不足", none: "—", more: "另有 {n} 人", notStarted: "未開班", badEvent: "找不到此活動",
    unreachable: "無法連到伺服器",
    restTitle: "超過服務時間上限（請安排休息）", restNone: "目前沒有人超過上限", volunteer: "志工", sessionMin: "本次連續",
    dayMin: "今日累計", limits: "上限", minutes: "{h} 小時 {m} 分", limitsText: "連續 {c}／每日 {d}", noLimit: "不限",
    refusedTitle: "拒絕刷卡報表（依閘口與時段）", reload: "重新整理", refusedCsv: "下載 CSV", refusedNone: "沒有拒絕的刷卡",
    hour: "時段", card: "卡號", device: "裝置", scanId: "刷卡編號", scansOf: "{gate} {hour}・{reason}：{n} 筆",
    moreScans: "只列出前 {n} 筆", countOf: "{gate} {hour} {reason} {n} 筆，點選查看",
    reasons: { event_closed: "活動未開放", wrong_gate: "非本活動的閘口", invalid_card: "卡片無效或遭竄改",
      unknown_key: "卡片簽章金鑰不明", revoked: "已停用的卡", not_on_roster: "不在本活動名冊", not_insured: "未投保意外險",
      debounce: "短時間內重複刷卡", already_on_site: "已在場內", not_on_site: "尚未簽到", confirm_checkout: "剛簽到不久，再刷一次才簽退" },
  },
  en: {
    title: "Volunteers on site", logout: "Log out", loginTitle: "Coordinator sign-in", eventId: "Event id",
    token: "Coordinator token", loginGo: "Open", loginHint: "An admin adds your account on the console's Staff accounts page and sends a one-time link to set your password",
    onSite: "On site now", inToday: "Checked in today", outToday: "Checked out today", seniors: "Aged 65+ on site",
    rate: "Scans per minute", dupToday: "Repeat scans today", rejToday: "Refused today", zones: "Posts", zone: "Post", present: "Present",
    required: "Required", staffing: "Staffing", chartTitle: "Arrivals and departures per hour today",
    arrivals: "Arrivals", departures: "Departures", missing: "Not yet arrived", shifts: "Shifts", shift: "Shift",
    time: "Time", gates: "Gates", gate: "Gate", lastScan: "Last scan", teams: "Teams", team: "Team",
    expected: "Expected", live: "Live", connecting: "Connecting…", stale: "Data may be late",
    offline: "Disconnected, reconnecting", denied: "Token refused", ok: "OK", low: "Low", short: "Short", none: "—",
    more: "{n} more", notStarted: "not started", badEvent: "No such event", unreachable: "Cannot reach the server",
    restTitle: "Past the service limits (arrange a rest)", restNone: "No one is past a limit", volunteer: "Volunteer",
    sessionMin: "This session", dayMin: "Today", limits: "Limits", minutes: "{h} h {m} min",
    limitsText: "continuous {c} / daily {d}", noLimit: "none",
    refusedTitle: "Refused scans by gate and hour", reload: "Refresh", refusedCsv: "Download CSV",
    refusedNone: "No refused scans", hour: "Hour", card: "Card", device: "Device", scanId: "Scan id",
    scansOf: "{gate} {hour} · {reason}: {n}", moreScans: "Only the first {n} are listed",
    countOf: "{gate} {hour} {reason}: {n}, open the list",
    reasons: { event_closed: "The event was not open", wrong_gate: "A gate not of this event",
      invalid_card: "Invalid or altered card", unknown_key: "Card signed with an unknown key", revoked: "Revoked card",
      not_on_roster: "Not on this event's roster", not_insured: "No accident insurance",
      debounce: "Scanned again within moments", already_on_site: "Already on site", not_on_site: "Not checked in",
      confirm_checkout: "Checked in moments ago: scan again to check out" },
  },
};
const STALE_MS = 12000; // the server beats every 5 s; twice that and more means the line is dead
const session = new StaffSession("dashboard");
let view = null;
let socket = null;
let lastMessage = 0;
let retryMs = 500;
let connState = "idle";
let timeZone; // the event's, so a coordinator abroad still reads local shift times
let ops = null; // the rest-limit list and the refused-scan report, polled beside the live view

const num = (n) => (n ?? 0).toLocaleString(getLang());
const hhmm = (ms) => (ms ? new Date(ms).toLocaleTimeString(getLang(), { hour: "2-digit", minute: "2-digit", hour12: false, timeZone }) : "—");

function setConn(state) {
  connState = state;
  $("conn").dataset.state = state;
  $("conn").textContent = state === "idle" ? "" : t(state);
}

function applyLanguage() {
  labelPage();
  setConn(connState);
  if (view) render();
  if (ops) ops.render();
}

// ---- rendering ----------------------------------------------------------------------------------

function meterRow(cells, status, present, required) {
  const share = required > 0 ? Math.min(100, (100 * present) / required) : 0;
  const bar = el("i");
  bar.style.width = `${share}%`; // set through the DOM: the page's policy refuses style attributes
  const meter = el("div", { class: "meter" }, bar);
  const label = el("span", { class: "tag" }, t(status));
  const row = el("tr", { dataset: { status } }, ...cells.map((c) => (c instanceof Node ? c : el("td", {}, c))));
  row.append(el("td", {}, meter), el("td", {}, label));
  return row;
}

function fill(tableId, rows) {
  const body = $(tableId).tBodies[0];
  body.replaceChildren(...rows);
}

function renderTotals(v) {
  $("on-site").textContent = num(v.on_site);
  $("in-today").textContent = num(v.checked_in_today);
  $("out-today").textContent = num(v.checked_out_today);
  $("seniors").textContent = num(v.seniors_on_site);
  $("rate").textContent = num(v.scans_per_minute);
  $("dup-today").textContent = num(v.duplicates_today);
  $("rej-today").textContent = num(v.rejected_today);
}

function renderZones(zones) {
  fill("zones", zones.map((z) => {
    const row = meterRow([el("td", {}, z.name), el("td", { class: "num" }, num(z.present)),
      el("td", { class: "num" }, z.required ? num(z.required) : "—")], z.status, z.present, z.required);
    row.dataset.zone = z.zone_id;
    return row;
  }));
}

// Shift rows say their staffing the way zone rows do: a meter and its word, so no bar is left unexplained.
function renderShifts(shifts) {
  fill("shifts", shifts.map((s) => {
    const status = s.started ? s.status : "none";
    const name = el("td", {}, s.name, s.started ? "" : el("small", { class: "tag" }, t("notStarted")));
    return meterRow([name, el("td", {}, `${hhmm(s.starts_ms)}–${hhmm(s.ends_ms)}`),
      el("td", { class: "num" }, num(s.present)), el("td", { class: "num" }, num(s.required))],
    status, s.present, s.required);
  }));
}

function renderMissing(missing) {
  const total = missing.reduce((n, m) => n + m.count, 0);
  $("missing-count").textContent = num(total);
  $("missing").replaceChildren(...missing.map((m) => {
    const list = el("ul", {}, ...m.people.map((p) => el("li", {}, p.name, el("small", {}, p.team))));
    const more = m.count > m.people.length ? el("p", { class: "more" }, t("more", { n: m.count - m.people.length })) : "";
    return el("div", { dataset: { shift: m.shift_id } }, el("h3", {}, `${m.name} · ${num(m.count)}`), list, more);
  }));
}

function renderGates(gates) {
  fill("gates", gates.map((g) => el("tr", {}, el("td", {}, g.name), el("td", { class: "num" }, num(g.in)),
    el("td", { class: "num" }, num(g.out)), el("td", { class: "num" }, hhmm(g.last_scan_ms)))));
}

function renderTeams(teams) {
  fill("teams", teams.map((x) => el("tr", {}, el("td", {}, x.team || "—"), el("td", { class: "num" }, num(x.present)),
    el("td", { class: "num" }, num(x.expected)))));
}

// The chart is drawn in CSS pixels at the width it is shown (no stretching), so its labels keep their size.
const LABEL_PX = 44; // room one "HH:MM" label needs
function renderChart(chart) {
  const shown = Math.round($("chart").getBoundingClientRect().width);
  const W = shown > 0 ? shown : 720, H = 220, left = 34, bottom = 20, top = 8;
  $("chart").setAttribute("viewBox", `0 0 ${W} ${H}`);
  const buckets = chart.buckets;
  const peak = Math.max(4, ...buckets.map((b) => Math.max(b[1], b[2])));
  const step = Math.pow(10, Math.floor(Math.log10(peak)));
  const max = Math.ceil(peak / step) * step;
  const slot = (W - left) / buckets.length;
  const bar = Math.max(1, slot / 2 - 1);
  const every = [1, 2, 3, 4, 6, 12, 24].find((n) => n * slot >= LABEL_PX) ?? 24;
  const y = (n) => H - bottom - ((H - bottom - top) * n) / max;
  const nodes = [];
  for (const tick of [0, max / 2, max]) {
    nodes.push(svg("line", { x1: left, x2: W, y1: y(tick), y2: y(tick) }));
    nodes.push(svg("text", { x: left - 4, y: y(tick) + 4, "text-anchor": "end" }, num(tick)));
  }
  buckets.forEach(([start, arrivals, departures], i) => {
    const x = left + i * slot;
    const title = `${hhmm(start)} ${t("arrivals")} ${arrivals} · ${t("departures")} ${departures}`;
    const a = svg("rect", { class: "in", x, y: y(arrivals), width: bar, height: y(0) - y(arrivals) });
    const d = svg("rect", { class: "out", x: x + bar + 1, y: y(departures), width: bar, height: y(0) - y(departures) });
    a.append(svg("title", {}, title));
    d.append(svg("title", {}, title));
    nodes.push(a, d);
    if (i % every === 0) nodes.push(svg("text", { x, y: H - 5 }, hhmm(start)));
  });
  $("chart").replaceChildren(...nodes);
}

function render() {
  renderTotals(view.totals);
  renderZones(view.zones);
  renderShifts(view.shifts);
  renderMissing(view.missing);
  renderGates(view.gates);
  renderTeams(view.teams);
  renderChart(view.chart);
}

// ---- data ---------------------------------------------------------------------------------------

function take(message) {
  lastMessage = Date.now();
  if (message.type === "snapshot") view = message.view;
  else if (message.type === "delta" && view) Object.assign(view, message.view);
  else return;
  if (message.event_name) $("event-name").textContent = plain(message.event_name);
  if (message.tz) timeZone = message.tz;
  render();
}

function connect(live) {
  setConn("connecting");
  // Signed in with a password, the browser sends the session cookie with the handshake: no token in the address.
  const query = session.token ? `?token=${encodeURIComponent(session.token)}` : "";
  const url = `${live.ws_url}${live.ws_path}${encodeURIComponent(session.event)}${query}`;
  const ws = new WebSocket(url);
  socket = ws;
  ws.onopen = () => { retryMs = 500; };
  ws.onmessage = (e) => { take(JSON.parse(e.data)); setConn("live"); };
  ws.onclose = () => {
    if (socket !== ws) return; // replaced on purpose (log out, language is not a reason)
    setConn("offline");
    // The next snapshot replaces everything, so a reconnect leaves no gap; back off up to 10 s.
    setTimeout(start, retryMs + Math.random() * 250);
    retryMs = Math.min(retryMs * 2, 10000);
  };
}

async function start() {
  session.save();
  hideLogin("board");
  setConn("connecting");
  let body;
  try {
    body = await request(session.eventPath("headcount"), { token: session.token });
  } catch (err) {
    if (err instanceof ApiError && [401, 403, 404].includes(err.status)) {
      return showLogin(t(err.status === 404 ? "badEvent" : "denied"));
    }
    setConn("offline");
    setTimeout(start, retryMs);
    retryMs = Math.min(retryMs * 2, 10000);
    return;
  }
  take(body);
  connect(body.live);
  if (!ops) ops = new OperationsViews(session);
  ops.start();
}

function showLogin(error) {
  if (socket) { const s = socket; socket = null; s.close(); }
  if (ops) ops.stop();
  showLoginForm(session, "board", error);
  setConn(error ? "denied" : "idle");
}

useText(TEXT);
wireLang("dashboard.lang", applyLanguage);
wireLogin(session, { onOpen: start, onLogout: () => showLogin("") });
let resizing = 0;
window.addEventListener("resize", () => {
  cancelAnimationFrame(resizing);
  resizing = requestAnimationFrame(() => { if (view) renderChart(view.chart); });
});
setInterval(() => {
  const quiet = Date.now() - lastMessage;
  if (connState === "live" && quiet > STALE_MS) setConn("stale");
  if (connState === "stale" && quiet > 3 * STALE_MS && socket) socket.close(); // reconnects in onclose
}, 2000);

applyLanguage();
session.readLink();
if (session.complete) start(); else showLogin("");

