// Manual check-in for a coordinator: search the event's roster, check a volunteer in or out at a gate,
// undo the last scan. Login: #token=...&event=... in a link, or the form; kept in localStorage.
const $ = (id) => document.getElementById(id);
const VERDICTS = {
  checked_in: "簽到成功 Checked in", checked_out: "簽退成功 Checked out", duplicate: "重複 Duplicate",
  rejected: "無法受理 Refused", annulled: "已撤銷 Undone",
};
let auth = { token: localStorage.getItem("coordinator.token"), event: localStorage.getItem("coordinator.event") };
let last = null; // the last scan made here, for the undo button

async function api(path, options = {}) {
  const resp = await fetch(path, {
    ...options, cache: "no-store",
    headers: { Authorization: `Bearer ${auth.token}`, "Content-Type": "application/json" },
  });
  let data = null;
  try { data = await resp.json(); } catch { data = null; }
  if (!resp.ok) throw Object.assign(new Error((data && data.message) || `HTTP ${resp.status}`), { status: resp.status, code: data && data.error });
  return data;
}

const eventPath = (rest) => `/api/v1/events/${encodeURIComponent(auth.event)}/${rest}`;

function showAnswer(verdict, text, undoable) {
  const box = $("answer");
  box.hidden = false;
  box.dataset.verdict = verdict;
  $("answer-text").textContent = text;
  $("undo").hidden = !undoable;
}

async function scan(person, action) {
  try {
    const answer = await api(eventPath("manual-scans"), {
      method: "POST", body: JSON.stringify({ volunteer_id: person.volunteer_id, gate_id: $("gate").value, action }),
    });
    const detail = [answer.reason, ...(answer.warnings || []).map((w) => `⚠ ${w}`)].filter(Boolean).join(" · ");
    const accepted = answer.verdict === "checked_in" || answer.verdict === "checked_out";
    last = accepted ? { ...answer, name: person.name } : null;
    showAnswer(answer.verdict, `${VERDICTS[answer.verdict] || answer.verdict} · ${person.name} ${detail}`, accepted);
    await search();
  } catch (err) {
    showAnswer("rejected", `${VERDICTS.rejected} · ${person.name} · ${err.message}`, false);
  }
}

async function undo() {
  if (!last || !window.confirm(`撤銷 ${last.name} 的刷卡？ Undo ${last.name}'s scan?`)) return;
  const target = last;
  last = null;
  try {
    await api(`/api/v1/scans/${encodeURIComponent(target.scan_id)}/annul`, {
      method: "POST", body: JSON.stringify({ reason: "undone at the coordinator desk" }),
    });
    showAnswer("annulled", `${VERDICTS.annulled} · ${target.name}`, false);
    await search();
  } catch (err) {
    showAnswer("rejected", `${VERDICTS.rejected} · ${err.message}`, false);
  }
}

function row(person) {
  const li = document.createElement("li");
  li.dataset.volunteer = person.volunteer_id;
  li.dataset.onSite = String(person.on_site);
  const who = document.createElement("span");
  who.className = "who";
  const extra = [person.team, person.record_book_no, person.phone_tail && `…${person.phone_tail}`].filter(Boolean);
  who.textContent = `${person.name} (${extra.join(" · ")}) ${person.on_site ? "在場 on site" : ""}`;
  li.append(who);
  for (const [action, label] of [["in", "簽到 In"], ["out", "簽退 Out"]]) {
    const button = document.createElement("button");
    button.type = "button";
    button.dataset.action = action;
    button.textContent = label;
    button.disabled = !person.has_card;
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
    if (!found.results.length) $("search-error").textContent = "查無此人 Nobody found";
  } catch (err) {
    $("search-error").textContent = err.message;
  }
}

function showLogin(message = "") {
  $("desk").hidden = true;
  $("logout").hidden = true;
  $("login").hidden = false;
  $("login-event").value = auth.event || "";
  $("login-error").textContent = message;
}

async function start() {
  try {
    const { gates } = await api(eventPath("gates"));
    $("gate").replaceChildren(...gates.map((g) => Object.assign(document.createElement("option"),
      { value: g.gate_id, textContent: `${g.name} (${g.mode})` })));
    const auto = gates.find((g) => g.mode === "auto");
    if (auto) $("gate").value = auto.gate_id;
  } catch (err) {
    showLogin(err.message);
    return;
  }
  localStorage.setItem("coordinator.token", auth.token);
  localStorage.setItem("coordinator.event", auth.event);
  $("event-id").textContent = auth.event;
  $("login").hidden = true;
  $("desk").hidden = false;
  $("logout").hidden = false;
  document.body.dataset.ready = "true";
}

const hash = new URLSearchParams(location.hash.slice(1));
if (hash.get("token")) {
  auth = { token: hash.get("token"), event: hash.get("event") || auth.event };
  history.replaceState(null, "", location.pathname); // keep the token out of the address bar and history
}
$("login").onsubmit = (e) => {
  e.preventDefault();
  auth = { token: $("login-token").value.trim(), event: $("login-event").value.trim() };
  start();
};
$("logout").onclick = () => { localStorage.removeItem("coordinator.token"); auth.token = null; showLogin(); };
$("search-form").onsubmit = search;
$("undo").onclick = undo;
if (auth.token && auth.event) start(); else showLogin();
