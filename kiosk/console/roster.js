// The console's roster page: a roster CSV checked (every problem by line and column, nothing written), then
// imported; teams and CSV pairs put onto the event's shifts; the event's roster searched.
import { $, el } from "../shared/dom.js";
import { getLang, t } from "../shared/i18n.js";
import { api, fileBase64, notice, openPage, problemRows, showError } from "./setup.js";

const TEXT = {
  "zh-TW": {
    title: "志工名冊", logout: "登出", loginTitle: "管理員登入", eventId: "活動代碼", token: "管理員權杖", loginGo: "開始",
    denied: "權杖無效，或此帳號不是管理員", badEvent: "找不到此活動", unreachable: "無法連到伺服器",
    uploadTitle: "上傳名冊（CSV）",
    uploadHint: "UTF-8、含 BOM 的 UTF-8 或 Big5 皆可。先檢查：每個問題依行、欄列出，檢查不寫入任何資料。",
    rosterFile: "名冊檔案", check: "檢查", import: "匯入", problemsCaption: "問題（未寫入任何資料）",
    previewCaption: "預覽（前 20 筆）", line: "行", column: "欄", problem: "問題", volunteerId: "志工編號", name: "姓名",
    team: "志工隊", unit: "運用單位", shift: "班別", zone: "據點", starts: "開始", ends: "結束", required: "需求人數",
    assigned: "已排", assignTitle: "整隊排班", assignGo: "排入班別", pairsTitle: "以 CSV 排班",
    pairsHint: "兩欄：志工編號、班別編號。", pairsFile: "排班檔案", shiftsTitle: "班別與人數",
    searchTitle: "查詢本活動名冊", searchLabel: "姓名、電話末碼或紀錄冊編號", searchGo: "搜尋", recordBook: "紀錄冊編號",
    card: "服務證", hasCard: "有", noCard: "無", nobody: "查無此人（只列出已排班的志工）", chooseFile: "請先選擇檔案",
    sending: "上傳檔案中：{sent} / {total} MB", reading: "系統正在讀取檔案…",
    refused: "檔案有 {n} 個問題，未寫入任何資料", checked: "{n} 人可匯入（{enc}）：新增 {ins}、更新 {upd}、不變 {same}",
    imported: "已匯入 {n} 人：新增 {ins}、更新 {upd}、不變 {same}", teamOption: "{name}（{n} 人）",
    assignedMsg: "{team}：{n} 人排入「{shift}」，新增 {added} 筆", pairsChecked: "{n} 行可匯入",
    pairsImported: "已排入 {n} 行，新增 {added} 筆",
    err_unknown_shift: "本活動沒有這個班別", err_unknown_team: "這個志工隊沒有志工",
    err_roster_refused: "檔案有問題，未寫入任何資料", err_assignments_refused: "檔案有問題，未寫入任何資料",
    err_invalid_field: "欄位不正確",
    needsShifts: "本活動還沒有班別：請先在「活動設定」新增班別。", needsTeams: "名冊裡還沒有志工隊：請先上傳名冊。",
  },
  en: {
    title: "Roster", logout: "Log out", loginTitle: "Admin sign-in", eventId: "Event id", token: "Admin token", loginGo: "Open",
    denied: "Token refused, or this account is not an admin", badEvent: "No such event", unreachable: "Cannot reach the server",
    uploadTitle: "Upload a roster (CSV)",
    uploadHint: "UTF-8, UTF-8 with BOM or Big5. Check first: every problem is listed by line and column; a check writes nothing.",
    rosterFile: "Roster file", check: "Check", import: "Import", problemsCaption: "Problems (nothing was written)",
    previewCaption: "Preview (first 20 rows)", line: "Line", column: "Column", problem: "Problem", volunteerId: "Volunteer id",
    name: "Name", team: "Team", unit: "Unit", shift: "Shift", zone: "Zone", starts: "Starts", ends: "Ends",
    required: "Needed", assigned: "Assigned", assignTitle: "Put a team on a shift", assignGo: "Assign",
    pairsTitle: "Assign by CSV", pairsHint: "Two columns: volunteer id (志工編號), shift id (班別編號).",
    pairsFile: "Assignment file", shiftsTitle: "Shifts and people", searchTitle: "Search this event's roster",
    searchLabel: "Name, phone digits or record book no.", searchGo: "Search", recordBook: "Record book no.",
    card: "Card", hasCard: "yes", noCard: "no", nobody: "Nobody found (only volunteers on a shift are listed)",
    sending: "Sending the file: {sent} of {total} MB", reading: "The gateway is reading the file…",
    chooseFile: "Choose a file first", refused: "The file has {n} problem(s); nothing was written",
    checked: "{n} volunteers ready to import ({enc}): {ins} new, {upd} changed, {same} unchanged",
    imported: "Imported {n} volunteers: {ins} new, {upd} changed, {same} unchanged", teamOption: "{name} ({n})",
    assignedMsg: "{team}: {n} put on “{shift}”, {added} new", pairsChecked: "{n} lines ready to import",
    pairsImported: "{n} lines assigned, {added} new",
    err_unknown_shift: "The event has no such shift", err_unknown_team: "This team has no volunteers",
    err_roster_refused: "The file has problems; nothing was written",
    err_assignments_refused: "The file has problems; nothing was written",
    err_invalid_field: "A field is wrong",
    needsShifts: "This event has no shifts yet: add them on the event's page first.",
    needsTeams: "The roster has no teams yet: upload a roster first.",
  },
};
const PREVIEW_COLUMNS = ["line", "volunteer_id", "name", "team", "unit"];
let choices = { shifts: [], teams: [] };
let refusal = null; // the body of the last refused upload: its problems

const remember = (data) => { refusal = data; };
const when = (iso) => new Date(iso).toLocaleString(getLang(), { hour12: false, month: "2-digit", day: "2-digit",
  hour: "2-digit", minute: "2-digit" });

// ---- the roster file -----------------------------------------------------------------------------

function showProblems(prefix, problems) {
  $(`${prefix}-problems-box`).hidden = !problems.length;
  $(`${prefix}-problems`).tBodies[0].replaceChildren(...problemRows(problems));
}

// A file may take minutes on an office's uplink: the page waits as long as the gateway's CHECKIN_UPLOAD_TIMEOUT_S.
const UPLOAD_TIMEOUT_MS = 600000;

// Sends the file chosen in <prefix>-file to route, with more of the body. A refusal's problems are listed in
// <prefix>-problems and counted in <prefix>-error, and the import waits for a new check. The answer, or null.
async function sendFile(prefix, route, { more = {}, timeoutMs = UPLOAD_TIMEOUT_MS, onRefused = () => {} } = {}) {
  const input = $(`${prefix}-file`);
  const file = await fileBase64(input);
  if (!file) { $(`${prefix}-error`).textContent = t("chooseFile"); return null; }
  refusal = null;
  const form = input.form;
  const buttons = [...form.querySelectorAll("button")];
  const wasDisabled = buttons.map((b) => b.disabled);
  buttons.forEach((b) => { b.disabled = true; });
  form.setAttribute("aria-busy", "true");
  showProgress(prefix, 0, file.length); // about the body's size until the browser says
  let failed = false;
  try {
    const answer = await api(route, { method: "POST", body: { file, ...more }, onAnswer: remember, timeoutMs,
      onProgress: (sent, total) => showProgress(prefix, sent, total) });
    showError(`${prefix}-error`, null, { file: input });
    showProblems(prefix, []);
    return answer;
  } catch (err) {
    failed = true;
    const problems = refusal?.problems || [];
    showProblems(prefix, problems);
    onRefused();
    showError(`${prefix}-error`, err, { file: input });
    if (problems.length) $(`${prefix}-error`).textContent = t("refused", { n: problems.length });
    return null;
  } finally {
    $(`${prefix}-progress-box`).hidden = true;
    form.removeAttribute("aria-busy");
    buttons.forEach((b, i) => { b.disabled = wasDisabled[i]; });
    if (failed) $(`${prefix}-import`).disabled = true; // a refused file is checked again before an import
  }
}

// The upload's progress in megabytes, then, once the whole file is sent, a bar without a value (the gateway
// reads the file: seconds for a city's roster) and the words for that.
function showProgress(prefix, sent, total) {
  const bar = $(`${prefix}-progress`);
  $(`${prefix}-progress-box`).hidden = false;
  if (total > 0 && sent >= total) {
    bar.removeAttribute("value");
    $(`${prefix}-progress-label`).textContent = t("reading");
    return;
  }
  bar.max = total || 1;
  bar.value = sent;
  $(`${prefix}-progress-label`).textContent = t("sending", { sent: (sent / 1e6).toFixed(1), total: (total / 1e6).toFixed(1) });
}

const sendRoster = (route) => sendFile("roster", `roster/${route}`,
  { onRefused: () => { $("roster-preview-box").hidden = true; } });

function counted(key, answer) {
  const v = answer.counts.volunteers;
  return t(key, { n: answer.rows, enc: answer.encoding, ins: v.inserted, upd: v.updated, same: v.unchanged });
}

async function checkRoster(ev) {
  ev.preventDefault();
  const answer = await sendRoster("check");
  if (!answer) return;
  $("roster-summary").textContent = counted("checked", answer);
  $("roster-preview").tBodies[0].replaceChildren(...answer.preview.map((r) =>
    el("tr", {}, ...PREVIEW_COLUMNS.map((c) => el("td", {}, r[c] ?? "")))));
  $("roster-preview-box").hidden = false;
  $("roster-import").disabled = false;
  $("roster-import").focus();
}

async function importRoster() {
  $("roster-import").disabled = true;
  const answer = await sendRoster("import");
  if (!answer) return;
  $("roster-summary").textContent = counted("imported", answer);
  notice(counted("imported", answer));
  await loadChoices();
}

// ---- shifts and assignments ------------------------------------------------------------------------

function fillChoices() {
  const team = $("assign-team").value;
  const shift = $("assign-shift").value;
  $("assign-team").replaceChildren(...choices.teams.map((x) =>
    el("option", { value: x.team_id }, t("teamOption", { name: x.name, n: x.volunteers }))));
  $("assign-shift").replaceChildren(...choices.shifts.map((s) =>
    el("option", { value: s.shift_id }, `${s.name} · ${when(s.starts_at)}`)));
  if (team) $("assign-team").value = team;
  if (shift) $("assign-shift").value = shift;
  // Nothing to choose from: say what is missing instead of leaving the browser's "select an item" prompt.
  const missing = choices.shifts.length === 0 ? "needsShifts" : choices.teams.length === 0 ? "needsTeams" : "";
  $("assign-needs").textContent = missing ? t(missing) : "";
  $("assign-needs").hidden = !missing;
  $("assign").querySelector("button[type=submit]").disabled = Boolean(missing);
  $("shifts").tBodies[0].replaceChildren(...choices.shifts.map((s) => el("tr", { dataset: { shift: s.shift_id } },
    el("td", {}, `${s.name} (${s.shift_id})`), el("td", {}, s.zone_id), el("td", {}, when(s.starts_at)),
    el("td", {}, when(s.ends_at)), el("td", {}, String(s.required)), el("td", { class: "num" }, String(s.assigned)))));
}

async function loadChoices() {
  choices = await api("shifts");
  fillChoices();
}

async function assignTeam(ev) {
  ev.preventDefault();
  const body = { team_id: $("assign-team").value, shift_id: $("assign-shift").value };
  try {
    const done = await api("assignments/team", { method: "POST", body });
    showError("assign-error", null, { team_id: $("assign-team"), shift_id: $("assign-shift") });
    const team = choices.teams.find((x) => x.team_id === done.team_id)?.name || done.team_id;
    const shift = choices.shifts.find((s) => s.shift_id === done.shift_id)?.name || done.shift_id;
    notice(t("assignedMsg", { team, n: done.members, shift, added: done.added }));
    await loadChoices();
  } catch (err) {
    showError("assign-error", err, { team_id: $("assign-team"), shift_id: $("assign-shift") });
  }
}

const sendPairs = (dryRun) => sendFile("pairs", "assignments/csv", { more: { dry_run: dryRun } });

async function checkPairs(ev) {
  ev.preventDefault();
  const answer = await sendPairs(true);
  if (!answer) return;
  notice(t("pairsChecked", { n: answer.lines }));
  $("pairs-import").disabled = false;
}

async function importPairs() {
  $("pairs-import").disabled = true;
  const answer = await sendPairs(false);
  if (!answer) return;
  notice(t("pairsImported", { n: answer.lines, added: answer.added }));
  await loadChoices();
}

// ---- search -----------------------------------------------------------------------------------------

async function search(ev) {
  ev.preventDefault();
  try {
    const found = await api(`roster/search?q=${encodeURIComponent($("q").value.trim())}`);
    showError("search-error", null, { q: $("q") });
    const rows = found.results.map((r) => el("tr", {}, el("td", {}, r.volunteer_id), el("td", {}, r.name),
      el("td", {}, r.team || ""), el("td", {}, r.record_book_no || ""), el("td", {}, r.has_card ? t("hasCard") : t("noCard"))));
    $("results").tBodies[0].replaceChildren(...(rows.length ? rows : [el("tr", {}, el("td", { colspan: 5 }, t("nobody")))]));
  } catch (err) {
    showError("search-error", err, { q: $("q") });
  }
}

$("upload").onsubmit = checkRoster;
$("roster-file").onchange = () => { $("roster-import").disabled = true; };
$("roster-import").onclick = importRoster;
$("assign").onsubmit = assignTeam;
$("pairs").onsubmit = checkPairs;
$("pairs-file").onchange = () => { $("pairs-import").disabled = true; };
$("pairs-import").onclick = importPairs;
$("search").onsubmit = search;
openPage({ page: "roster.html", main: "roster", text: TEXT, load: loadChoices, relabel: fillChoices });
