// The coordinators' dashboard: one HTTP snapshot, then the live server's websocket (snapshot + section deltas).
// Login: #token=...&event=... in the link `checkin up` prints, or the form; both kept in localStorage.

const TEXT = {
  "zh-TW": {
    title: "志工即時人數", logout: "登出", loginTitle: "協調員登入", eventId: "活動代碼", token: "協調員權杖",
    loginGo: "開始", loginHint: "權杖由管理員以 checkin user add --role coordinator 產生", onSite: "在場人數",
    inToday: "今日簽到", outToday: "今日簽退", seniors: "高齡志工在場", rate: "每分鐘刷卡", dupRej: "重複／拒絕",
    zones: "服務據點", zone: "據點", present: "在場", required: "需求", staffing: "人力", chartTitle: "每 5 分鐘簽到／簽退",
    arrivals: "簽到", departures: "簽退", missing: "已開班未到", shifts: "班別", shift: "班別", time: "時間",
    gates: "閘口", gate: "閘口", lastScan: "最後刷卡", teams: "志工隊", team: "志工隊", expected: "應到",
    live: "即時", connecting: "連線中…", stale: "資料可能延遲", offline: "已斷線，重新連線中", denied: "權杖無效或無權限",
    ok: "足額", low: "略缺", short: "不足", none: "—", more: "另有 {n} 人", notStarted: "未開班", badEvent: "找不到此活動",
    unreachable: "無法連到伺服器",
  },
  en: {
    title: "Volunteers on site", logout: "Log out", loginTitle: "Coordinator sign-in", eventId: "Event id",
    token: "Coordinator token", loginGo: "Open", loginHint: "An admin makes tokens with checkin user add --role coordinator",
    onSite: "On site now", inToday: "Checked in today", outToday: "Checked out today", seniors: "Aged 65+ on site",
    rate: "Scans per minute", dupRej: "Duplicate / refused", zones: "Posts", zone: "Post", present: "Present",
    required: "Required", staffing: "Staffing", chartTitle: "Arrivals and departures per 5 minutes",
    arrivals: "Arrivals", departures: "Departures", missing: "Not yet arrived", shifts: "Shifts", shift: "Shift",
    time: "Time", gates: "Gates", gate: "Gate", lastScan: "Last scan", teams: "Teams", team: "Team",
    expected: "Expected", live: "Live", connecting: "Connecting…", stale: "Data may be late",
    offline: "Disconnected, reconnecting", denied: "Token refused", ok: "OK", low: "Low", short: "Short", none: "—",
    more: "{n} more", notStarted: "not started", badEvent: "No such event", unreachable: "Cannot reach the server",
  },
};
const STALE_MS = 12000; // the server beats every 5 s; twice that and more means the line is dead
const $ = (id) => document.getElementById(id);
let lang = localStorage.getItem("dashboard.lang") || "zh-TW";
let view = null;
let socket = null;
let lastMessage = 0;
let retryMs = 500;
let connState = "idle";
let timeZone; // the event's, so a coordinator abroad still reads local shift times

const t = (key, vars = {}) => (TEXT[lang][key] ?? key).replace(/\{(\w+)\}/g, (_, k) => vars[k]);
const num = (n) => (n ?? 0).toLocaleString(lang);
const hhmm = (ms) => (ms ? new Date(ms).toLocaleTimeString(lang, { hour: "2-digit", minute: "2-digit", hour12: false, timeZone }) : "—");

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v; else if (k === "dataset") Object.assign(node.dataset, v);
    else node.setAttribute(k, v);
  }
  for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return node;
}

function setConn(state) {
  connState = state;
  $("conn").dataset.state = state;
  $("conn").textContent = state === "idle" ? "" : t(state);
}

function applyLanguage() {
  document.documentElement.lang = lang;
  for (const node of document.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
  $("lang").textContent = lang === "zh-TW" ? "English" : "中文";
  setConn(connState);
  if (view) render();
}

// ---- rendering ----------------------------------------------------------------------------------

function meterRow(cells, status, present, required) {
  const share = required > 0 ? Math.min(100, (100 * present) / required) : 0;
  const meter = el("div", { class: "meter" }, el("i", { style: `width:${share}%` }));
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
  $("dup-rej").textContent = `${num(v.duplicates)} / ${num(v.rejected)}`;
}

function renderZones(zones) {
  fill("zones", zones.map((z) => {
    const row = meterRow([el("td", {}, z.name), el("td", { class: "num" }, num(z.present)),
      el("td", { class: "num" }, z.required ? num(z.required) : "—")], z.status, z.present, z.required);
    row.dataset.zone = z.zone_id;
    return row;
  }));
  $("zones").tHead.rows[0].cells[3].colSpan = 2;
}

function renderShifts(shifts) {
  fill("shifts", shifts.map((s) => {
    const status = s.started ? s.status : "none";
    const name = el("td", {}, s.name, s.started ? "" : el("small", { class: "tag" }, t("notStarted")));
    return el("tr", { dataset: { status } }, name, el("td", {}, `${hhmm(s.starts_ms)}–${hhmm(s.ends_ms)}`),
      el("td", { class: "num" }, num(s.present)), el("td", { class: "num" }, num(s.required)));
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

const SVG = "http://www.w3.org/2000/svg";
function svg(tag, attrs, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}

function renderChart(chart) {
  const W = 720, H = 220, left = 34, bottom = 20, top = 8;
  const buckets = chart.buckets;
  const peak = Math.max(4, ...buckets.map((b) => Math.max(b[1], b[2])));
  const step = Math.pow(10, Math.floor(Math.log10(peak)));
  const max = Math.ceil(peak / step) * step;
  const slot = (W - left) / buckets.length;
  const bar = Math.max(1, slot / 2 - 1);
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
    if (i % 6 === 0) nodes.push(svg("text", { x, y: H - 5 }, hhmm(start)));
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
  if (message.event_name) $("event-name").textContent = message.event_name;
  if (message.tz) timeZone = message.tz;
  render();
}

function connect(session, live) {
  setConn("connecting");
  const url = `${live.ws_url}${live.ws_path}${encodeURIComponent(session.event)}?token=${encodeURIComponent(session.token)}`;
  const ws = new WebSocket(url);
  socket = ws;
  ws.onopen = () => { retryMs = 500; };
  ws.onmessage = (e) => { take(JSON.parse(e.data)); setConn("live"); };
  ws.onclose = () => {
    if (socket !== ws) return; // replaced on purpose (log out, language is not a reason)
    setConn("offline");
    // The next snapshot replaces everything, so a reconnect leaves no gap; back off up to 10 s.
    setTimeout(() => start(session), retryMs + Math.random() * 250);
    retryMs = Math.min(retryMs * 2, 10000);
  };
}

async function start(session) {
  $("login").hidden = true;
  $("board").hidden = false;
  $("logout").hidden = false;
  setConn("connecting");
  let body;
  try {
    const resp = await fetch(`/api/v1/events/${encodeURIComponent(session.event)}/headcount`,
      { headers: { Authorization: `Bearer ${session.token}` }, cache: "no-store" });
    body = await resp.json();
    if (resp.status === 401 || resp.status === 403 || resp.status === 404) {
      return showLogin(t(resp.status === 404 ? "badEvent" : "denied"), session);
    }
    if (!resp.ok) throw new Error(body.message);
  } catch (err) {
    setConn("offline");
    setTimeout(() => start(session), retryMs);
    retryMs = Math.min(retryMs * 2, 10000);
    return;
  }
  take(body);
  connect(session, body.live);
}

function showLogin(error, session) {
  if (socket) { const s = socket; socket = null; s.close(); }
  $("board").hidden = true;
  $("logout").hidden = true;
  $("login").hidden = false;
  $("login-error").textContent = error || "";
  if (session) $("login-event").value = session.event;
  setConn(error ? "denied" : "idle");
}

function savedSession() {
  const hash = new URLSearchParams(location.hash.slice(1));
  const query = new URLSearchParams(location.search);
  if (hash.get("token")) {
    localStorage.setItem("dashboard.token", hash.get("token"));
    if (hash.get("event")) localStorage.setItem("dashboard.event", hash.get("event"));
    history.replaceState(null, "", location.pathname + location.search); // the token leaves the address bar
  }
  const event = query.get("event") || hash.get("event") || localStorage.getItem("dashboard.event");
  const token = localStorage.getItem("dashboard.token");
  return event && token ? { event, token } : null;
}

$("login").addEventListener("submit", (e) => {
  e.preventDefault();
  const session = { event: $("login-event").value.trim(), token: $("login-token").value.trim() };
  localStorage.setItem("dashboard.event", session.event);
  localStorage.setItem("dashboard.token", session.token);
  $("login-token").value = "";
  start(session);
});
$("logout").addEventListener("click", () => {
  localStorage.removeItem("dashboard.token");
  showLogin("");
});
$("lang").addEventListener("click", () => {
  lang = lang === "zh-TW" ? "en" : "zh-TW";
  localStorage.setItem("dashboard.lang", lang);
  applyLanguage();
});
setInterval(() => {
  const quiet = Date.now() - lastMessage;
  if (connState === "live" && quiet > STALE_MS) setConn("stale");
  if (connState === "stale" && quiet > 3 * STALE_MS && socket) socket.close(); // reconnects in onclose
}, 2000);

applyLanguage();
const session = savedSession();
if (session) start(session); else showLogin("");
