// One event's setup page (event.html?event=ID): its name, dates and time zone; every policy setting with what it
// does and its default; opening and closing it after a confirmation that says what will happen; its zones, gates
// and shifts as tables edited in place; its plan file downloaded and uploaded. Every value is checked by the
// gateway as `checkin plan import` checks it, and its problems are shown beside the fields they are about.
import { $, el } from "../shared/dom.js";
import { label, problemText, t, useText } from "../shared/i18n.js";
import { call, clearProblems, field, showProblems, startConsole, withCommon } from "./console.js";

const TEXT = {
  "zh-TW": {
    title: "活動設定", statusTitle: "開放與關閉", statusNow: "目前狀態：", openEvent: "開放活動", closeEvent: "關閉活動",
    cancel: "取消", eventTitle: "活動資料與規則", name: "名稱", startsOn: "第一天", endsOn: "最後一天", tz: "時區",
    gateRules: "閘口與服務台的規則", hoursRules: "服務時數的算法", setting: "設定", value: "值", default: "預設",
    saveEvent: "儲存活動資料與規則", zonesTitle: "區域", gatesTitle: "閘口", shiftsTitle: "班別", code: "代碼", zone: "區域",
    mode: "模式", startsAt: "開始", endsAt: "結束", required: "需要人數", action: "動作", addZone: "新增區域",
    addGate: "新增閘口", addShift: "新增班別", save: "儲存", planTitle: "活動計畫檔（JSON）",
    planHelp: "下載整個活動（資料、規則、區域、閘口、班別、排班）成一個檔案；上傳的檔案與指令 checkin plan import 做相同的檢查，有任何問題就全部不寫入。",
    planDownload: "下載計畫檔", planFile: "選擇要上傳的計畫檔", planUpload: "上傳並套用", planNoFile: "請先選擇檔案",
    planApplied: "已套用計畫檔：{n} 項變更", planSame: "已套用計畫檔：與目前設定相同，沒有變更", savedRow: "{id} 已儲存",
    savedEvent: "已儲存：{n} 項變更", idRequired: "請填代碼", none: "（無）", yes: "是", no: "否",
    openConfirmTitle: "開放活動「{name}」？",
    openConfirmText: "開放後，名冊會載入各閘口：閘口裝置開始接受刷卡，志工刷卡即簽到或簽退，協調員可看到即時人數。已排班且有服務證的志工才能刷卡成功。",
    closeConfirmTitle: "關閉活動「{name}」？",
    closeConfirmText: "關閉後，閘口裝置不再接受刷卡：每次刷卡都顯示「活動未開放」。已記錄的刷卡與服務時數都保留，辦公室仍可核對與匯出時數；之後可以再開放。",
    openYes: "確定開放", closeYes: "確定關閉", opened: "活動已開放：{n} 張服務證在閘口名冊上", closed: "活動已關閉",
    statuses: { draft: "籌備中（不收刷卡）", open: "進行中（接受刷卡）", closed: "已關閉（不收刷卡）" },
    meanings: { draft: "閘口裝置不接受刷卡。設定好區域、閘口與班別後再開放。",
      open: "閘口裝置接受刷卡；這裡的變更會立刻送到各閘口。", closed: "閘口裝置不接受刷卡；紀錄與時數都保留。" },
    modes: { entry: "入口：只簽到", exit: "出口：只簽退", auto: "單一閘口：刷一次簽到，再刷簽退" },
    choices: { block: "擋下（不准簽到）", warn: "放行並提醒", off: "不檢查", enforce: "只計入受訓且有保險的日子",
      down: "無條件捨去", nearest: "四捨五入", day: "每個服務日", session: "每個時段", ignore: "不計", from_shift_start: "從班別開始起算",
      close_at_shift_end: "以班別結束時間結算", leave_open: "不結算（不計時數）", true: "是", false: "否" },
    settings: {
      debounce_s: "重複刷卡間隔（秒）：同一張卡在這段時間內再刷，算重複刷卡，任何閘口皆同。",
      insurance: "當天沒有意外險：擋下、放行並提醒，或不檢查。",
      shift_early_min: "班別開始前幾分鐘簽到，仍算在班內。",
      shift_late_min: "班別結束後幾分鐘內，仍算在班內。",
      clock_skew_s: "裝置時鐘誤差上限（秒）：超過就改用伺服器時間；離線補傳的刷卡若比伺服器時間晚超過此數，拒收。",
      scan_margin_min: "活動第一天前、最後一天後各幾分鐘內的刷卡才算；之外拒收。",
      max_continuous_min: "連續服務上限（分鐘），超過時閘口提醒；0 為不限。",
      max_daily_min: "每日服務上限（分鐘），超過時閘口提醒；0 為不限。",
      senior_max_continuous_min: "65 歲以上志工的連續服務上限（分鐘），較嚴時適用；0 為不限。",
      senior_max_daily_min: "65 歲以上志工的每日服務上限（分鐘），較嚴時適用；0 為不限。",
      undo_window_min: "閘口裝置可撤銷自己上一筆刷卡的分鐘數；之後只有協調員能撤銷。",
      min_session_min: "自動閘口：簽到後這麼多分鐘內再刷，要再刷一次確認才簽退，以免誤簽退；0 為不需確認。",
      confirm_s: "要求確認後，幾秒內再刷同一張卡算確認簽退。",
      answer_min_ms: "閘口結果畫面至少顯示多久（毫秒），下一張卡排在後面。",
      record_rules: "志願服務紀錄冊只計入受訓且有保險的日子（管理員可個別認可），或每天都匯出。",
      day_starts_hour: "服務日從幾點開始（當地時間），到隔天同一時間，讓夜班不被切開。",
      rounding_step_minutes: "計入時間以幾分鐘為單位進位或捨去。",
      rounding_mode: "進位方式：無條件捨去或四捨五入。",
      rounding_scope: "每個服務日的總數一起進位，或每個時段各自進位。",
      min_session_minutes: "短於此分鐘數的時段不計時數。",
      daily_cap_minutes: "每個服務日最多計入幾分鐘；空白為不限。",
      double_scan_seconds: "相隔幾秒內的兩次刷卡算同一次（重複刷卡）。",
      unpaired_checkout: "只有簽退、沒有簽到時：不計，或從班別開始起算。",
      missing_checkout: "簽到後沒有簽退：以班別結束時間結算，或不結算。",
      break_minutes: "每個超過下面時數的時段扣除的休息分鐘數。",
      break_after_hours: "時段超過幾小時才扣休息；空白為不扣。",
      overlong_hours: "時段超過幾小時，標記給辦公室核對。",
      shift_tolerance_minutes: "刷卡在班別外幾分鐘以上，標記為班外。",
      many_duplicates: "同一位志工一天重複刷卡達此次數，標記給辦公室。",
      count_revoked: "用已停用的卡刷的紀錄是否計入時數。",
    },
  },
  en: {
    title: "Event setup", statusTitle: "Open and close", statusNow: "Now:", openEvent: "Open the event",
    closeEvent: "Close the event", cancel: "Cancel", eventTitle: "Event and rules", name: "Name", startsOn: "First day",
    endsOn: "Last day", tz: "Time zone", gateRules: "Rules at the gates and the desk", hoursRules: "How hours are counted",
    setting: "Setting", value: "Value", default: "Default", saveEvent: "Save the event and its rules",
    zonesTitle: "Zones", gatesTitle: "Gates", shiftsTitle: "Shifts", code: "Id", zone: "Zone", mode: "Mode",
    startsAt: "Starts", endsAt: "Ends", required: "Volunteers needed", action: "Action", addZone: "Add a zone",
    addGate: "Add a gate", addShift: "Add a shift", save: "Save", planTitle: "Event plan file (JSON)",
    planHelp: "Download the whole event (details, rules, zones, gates, shifts, assignments) as one file; an uploaded file gets the same checks as checkin plan import, and nothing is written if there is any problem.",
    planDownload: "Download the plan", planFile: "Plan file to upload", planUpload: "Upload and apply",
    planNoFile: "Choose a file first", planApplied: "Plan applied: {n} change(s)",
    planSame: "Plan applied: the same as now, nothing changed", savedRow: "{id} saved", savedEvent: "Saved: {n} change(s)",
    idRequired: "An id is required", none: "(none)", yes: "yes", no: "no",
    openConfirmTitle: "Open the event “{name}”?",
    openConfirmText: "Once open, the roster is loaded onto the gates: the gate devices take scans, a volunteer's scan checks them in or out, and coordinators see live headcounts. Only volunteers with a shift and a card can check in.",
    closeConfirmTitle: "Close the event “{name}”?",
    closeConfirmText: "Once closed, the gate devices take no scans: every scan shows “event not open”. Scans and hours already recorded are kept, and the office can still review and export hours; the event can be opened again.",
    openYes: "Open it", closeYes: "Close it", opened: "The event is open: {n} cards on the gate roster",
    closed: "The event is closed",
    statuses: { draft: "Draft (no scans)", open: "Open (taking scans)", closed: "Closed (no scans)" },
    meanings: { draft: "The gate devices take no scans. Set up zones, gates and shifts, then open it.",
      open: "The gate devices take scans; changes made here reach the gates at once.",
      closed: "The gate devices take no scans; records and hours are kept." },
    modes: { entry: "Entry: check-in only", exit: "Exit: check-out only", auto: "One gate: a scan checks in, the next checks out" },
    choices: { block: "Block (no check-in)", warn: "Let in with a warning", off: "Do not check",
      enforce: "Only trained, insured days", down: "Round down", nearest: "Round to nearest", day: "Each service day",
      session: "Each session", ignore: "Ignore", from_shift_start: "Count from the shift's start",
      close_at_shift_end: "Close at the shift's end", leave_open: "Leave open (no hours)", true: "yes", false: "no" },
    settings: {
      debounce_s: "Repeat interval (s): the same card scanned again within this is a duplicate, at any gate.",
      insurance: "No accident insurance on the day: block, let in with a warning, or do not check.",
      shift_early_min: "A check-in this many minutes before a shift starts is still inside it.",
      shift_late_min: "This many minutes after a shift ends is still inside it.",
      clock_skew_s: "Device clock error limit (s): beyond it the server's time is used; an offline scan stamped this far past the server clock is refused.",
      scan_margin_min: "Scans count from this many minutes before the first day to this many after the last; others are refused.",
      max_continuous_min: "Longest continuous service (min) before the gate warns; 0 for none.",
      max_daily_min: "Most service a day (min) before the gate warns; 0 for none.",
      senior_max_continuous_min: "Longest continuous service for volunteers aged 65+ (min), when stricter; 0 for none.",
      senior_max_daily_min: "Most service a day for volunteers aged 65+ (min), when stricter; 0 for none.",
      undo_window_min: "Minutes a gate device may undo its own last scan; after that only a coordinator may.",
      min_session_min: "Auto gates: a scan this many minutes or less after the check-in asks for a second scan before checking out; 0 never asks.",
      confirm_s: "Seconds after that question in which the same card scanned again checks out.",
      answer_min_ms: "Least time (ms) a gate shows each answer; the next card waits behind it.",
      record_rules: "The record book counts only trained, insured days (an admin may accept a day), or every day.",
      day_starts_hour: "Hour a service day starts (local), running to the same hour next day, so night shifts stay whole.",
      rounding_step_minutes: "Credited time is rounded to this many minutes.",
      rounding_mode: "Rounding: down, or to the nearest step.",
      rounding_scope: "Round each service day's total, or each session.",
      min_session_minutes: "Sessions shorter than this credit nothing.",
      daily_cap_minutes: "At most this many minutes a service day; empty for no cap.",
      double_scan_seconds: "Two scans this many seconds apart are one (a double scan).",
      unpaired_checkout: "A check-out with no check-in: ignore it, or count from the shift's start.",
      missing_checkout: "A check-in never checked out: close it at the shift's end, or leave it open.",
      break_minutes: "Break minutes deducted from each session longer than the hours below.",
      break_after_hours: "Hours a session must pass before a break is deducted; empty for none.",
      overlong_hours: "Sessions longer than this many hours are flagged for the office.",
      shift_tolerance_minutes: "A scan this many minutes outside a shift is flagged as outside it.",
      many_duplicates: "This many duplicate scans of one volunteer in a day are flagged.",
      count_revoked: "Whether scans made with a revoked card credit hours.",
    },
  },
};
useText(withCommon(TEXT));

const NULLABLE = new Set(["hours.daily_cap_minutes", "hours.break_after_hours"]);
const FRACTIONAL = new Set(["hours.overlong_hours", "hours.break_after_hours"]);
const MODES = ["entry", "exit", "auto"];
let session;
let setup = null; // GET /api/v1/events/{id}: fields, policy in force, defaults, choices
let plan = null; // GET /api/v1/events/{id}/plan
const eventInputs = {};
const settingInputs = {}; // "debounce_s" or "hours.day_starts_hour" -> control

const eventPath = (rest = "") => `/api/v1/events/${encodeURIComponent(session.event)}${rest}`;

function shown(key, value) {
  if (value === null || value === undefined) return t("none");
  const choices = setup.choices[key];
  if (choices || typeof value === "boolean") return label("choices", String(value));
  return String(value);
}

function settingControl(key, current, fallback) {
  const choices = setup.choices[key] || (typeof fallback === "boolean" ? ["true", "false"] : null);
  let control;
  if (choices) {
    control = el("select", {}, ...choices.map((c) => el("option", { value: c }, label("choices", c))));
    control.value = String(current);
  } else {
    control = el("input", { type: "number", step: FRACTIONAL.has(key) ? "any" : "1", inputmode: "decimal" });
    control.value = current === null || current === undefined ? "" : String(current);
  }
  settingInputs[key] = control;
  return control;
}

// A control's value as the plan wants it: a number, true/false, null for an empty optional one; anything else
// is sent as typed, for the gateway to name.
function settingValue(key, control, fallback) {
  const raw = control.value.trim();
  if (typeof fallback === "boolean") return raw === "true" ? true : raw === "false" ? false : raw;
  if (setup.choices[key]) return raw;
  if (raw === "") return NULLABLE.has(key) ? null : raw;
  return Number.isFinite(Number(raw)) ? Number(raw) : raw;
}

function settingRow(key, name, current, fallback) {
  const control = settingControl(key, current, fallback);
  const id = `set-${key.replace(".", "-")}`;
  control.id = id;
  const [input, note] = field(control, `policy.${key}`);
  return el("tr", {},
    el("td", {}, el("label", { for: id }, el("code", {}, name)), el("br"), el("small", {}, label("settings", name))),
    el("td", {}, input, note),
    el("td", {}, shown(key, fallback)));
}

function renderEvent() {
  $("event-name").textContent = `${setup.name} · ${setup.id}`;
  document.title = `${setup.name} · ${t("title")}`;
  for (const name of ["name", "starts_on", "ends_on", "tz"]) eventInputs[name].value = setup[name];
  const gate = [];
  for (const [name, fallback] of Object.entries(setup.defaults)) {
    if (name !== "hours") gate.push(settingRow(name, name, setup.policy[name], fallback));
  }
  $("settings").querySelector("tbody").replaceChildren(...gate);
  $("hours-settings").querySelector("tbody").replaceChildren(...Object.entries(setup.defaults.hours).map(
    ([name, fallback]) => settingRow(`hours.${name}`, name, setup.policy.hours[name], fallback)));
  $("status").textContent = label("statuses", setup.status);
  $("status").dataset.status = setup.status;
  $("status-meaning").textContent = label("meanings", setup.status);
  $("open-event").disabled = setup.status === "open";
  $("close-event").disabled = setup.status !== "open";
}

function buildEventForm() {
  const kinds = { name: "text", starts_on: "date", ends_on: "date", tz: "text" };
  for (const [name, type] of Object.entries(kinds)) {
    eventInputs[name] = el("input", { name, type, required: "" });
    $(`f-${name}`).replaceWith(...field(eventInputs[name], name));
  }
  $("event-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    // Only the settings changed here are sent: the rest stay as they are, and the notice counts what the person
    // changed (sending every control made a new event's first save report 16 changes for one).
    const policy = { hours: {} };
    for (const [name, fallback] of Object.entries(setup.defaults)) {
      if (name === "hours") continue;
      const value = settingValue(name, settingInputs[name], fallback);
      if (value !== setup.policy[name]) policy[name] = value;
    }
    for (const [name, fallback] of Object.entries(setup.defaults.hours)) {
      const value = settingValue(`hours.${name}`, settingInputs[`hours.${name}`], fallback);
      if (value !== setup.policy.hours[name]) policy.hours[name] = value;
    }
    const body = { policy };
    for (const name of Object.keys(eventInputs)) body[name] = eventInputs[name].value.trim();
    $("event-notice").textContent = "";
    try {
      const saved = await call(session, eventPath(), { method: "PUT", body });
      setup = saved;
      renderEvent();
      clearProblems($("event-form"));
      $("event-error").replaceChildren();
      $("event-notice").textContent = t("savedEvent", { n: saved.changes.length });
    } catch (err) {
      showProblems($("event-form"), err.problems || [{ message: err.message }], $("event-error"));
    }
  });
}

// --- zones, gates, shifts: a table each, one row per item, saved row by row -----------------------------------

const SECTIONS = {
  zones: { columns: ["name"], add: "add-zone", word: "addZone" },
  gates: { columns: ["zone_id", "name", "mode"], add: "add-gate", word: "addGate" },
  shifts: { columns: ["zone_id", "name", "starts_at", "ends_at", "required"], add: "add-shift", word: "addShift" },
};
const HEADINGS = { name: "name", zone_id: "zone", mode: "mode", starts_at: "startsAt", ends_at: "endsAt", required: "required" };

function control(section, column, value, rowName) {
  let node;
  if (column === "zone_id") {
    node = el("select", {}, ...plan.zones.map((z) => el("option", { value: z.id }, `${z.name} (${z.id})`)));
  } else if (column === "mode") {
    node = el("select", {}, ...MODES.map((m) => el("option", { value: m }, label("modes", m))));
  } else if (column === "starts_at" || column === "ends_at") {
    node = el("input", { type: "datetime-local" });
    value = value ? String(value).slice(0, 16) : ""; // the plan's times are in the event's own zone
  } else if (column === "required") {
    node = el("input", { type: "number", step: "1", inputmode: "numeric" });
  } else {
    node = el("input", { type: "text" });
  }
  if (value !== undefined && value !== null) node.value = String(value);
  return field(node, column, `${t(HEADINGS[column])} · ${rowName}`);
}

function row(section, item) {
  const isNew = !item;
  const tr = el("tr", { dataset: { row: isNew ? "" : item.id } });
  const rowName = isNew ? t(SECTIONS[section].word) : item.id;
  const idCell = isNew ? el("td", {}, ...field(el("input", { type: "text", autocomplete: "off" }), "id", `${t("code")} · ${rowName}`))
    : el("td", {}, el("code", {}, item.id));
  tr.append(idCell);
  for (const column of SECTIONS[section].columns) tr.append(el("td", {}, ...control(section, column, item?.[column], rowName)));
  tr.append(el("td", {}, el("button", { type: "button", class: "save", onclick: () => saveRow(section, tr, item?.id) },
    t("save"), el("span", { class: "sr" }, ` ${rowName}`))));
  if (section === "gates" && isNew) tr.querySelector("[data-field=mode]").value = "auto";
  return tr;
}

async function saveRow(section, tr, knownId) {
  const id = knownId || tr.querySelector("[data-field=id]").value.trim();
  const body = {};
  for (const column of SECTIONS[section].columns) {
    const value = tr.querySelector(`[data-field=${column}]`).value.trim();
    body[column] = column === "required" ? (value === "" ? value : Number(value)) : value;
  }
  const error = $(`${section}-error`);
  if (!id) {
    showProblems(tr, [{ field: "id", message: t("idRequired") }], error);
    return;
  }
  try {
    await call(session, eventPath(`/${section}/${encodeURIComponent(id)}`), { method: "PUT", body });
    await loadPlan();
    $("plan-notice").textContent = "";
    error.replaceChildren(el("span", { class: "ok" }, t("savedRow", { id })));
    document.querySelector(`#${section} tr[data-row="${CSS.escape(id)}"] button.save`)?.focus();
  } catch (err) {
    const problems = (err.problems || [{ message: err.message }]).map((p) => (p.field === "row_id" ? { ...p, field: "id" } : p));
    showProblems(tr, problems, error);
  }
}

function renderTables() {
  for (const section of Object.keys(SECTIONS)) {
    $(section).querySelector("tbody").replaceChildren(...plan[section].map((item) => row(section, item)));
  }
  $("add-gate").disabled = $("add-shift").disabled = plan.zones.length === 0;
}

async function loadPlan() {
  plan = await call(session, eventPath("/plan"));
  renderTables();
}

// --- open and close, with a confirmation that says what happens ----------------------------------------------

function confirmStatus(target) {
  const opening = target === "open";
  $("confirm-title").textContent = t(opening ? "openConfirmTitle" : "closeConfirmTitle", { name: setup.name });
  $("confirm-text").textContent = t(opening ? "openConfirmText" : "closeConfirmText");
  $("confirm-yes").textContent = t(opening ? "openYes" : "closeYes");
  $("confirm-yes").onclick = async () => {
    $("confirm").close();
    try {
      const done = await call(session, eventPath(opening ? "/open" : "/close"), { method: "POST" });
      setup = await call(session, eventPath());
      renderEvent();
      $("status-notice").textContent = opening ? t("opened", { n: done.roster_size }) : t("closed");
      // The button pressed is disabled now, which would drop the keyboard's focus to the top of the page.
      $(opening ? "close-event" : "open-event").focus();
    } catch (err) {
      $("status-notice").textContent = err.message;
    }
  };
  $("confirm").showModal();
  $("confirm-no").focus();
}

// --- the plan file --------------------------------------------------------------------------------------------

async function download() {
  const data = await call(session, eventPath("/plan"));
  const blob = new Blob([`${JSON.stringify(data, null, 2)}\n`], { type: "application/json" });
  const link = el("a", { href: URL.createObjectURL(blob), download: `plan-${session.event}.json` });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 10000);
}

async function upload() {
  const file = $("plan-file").files[0];
  $("plan-notice").textContent = "";
  if (!file) {
    $("plan-error").textContent = t("planNoFile");
    return;
  }
  try {
    const report = await call(session, eventPath("/plan"), { method: "PUT", body: { text: await file.text() } });
    $("plan-error").replaceChildren();
    $("plan-notice").textContent = report.changes.length || report.assigned || report.unassigned
      ? t("planApplied", { n: report.changes.length + report.assigned + report.unassigned }) : t("planSame");
    setup = await call(session, eventPath());
    renderEvent();
    await loadPlan();
  } catch (err) {
    const problems = err.problems || [{ message: err.message }];
    $("plan-error").replaceChildren(el("p", {}, t("problems", { n: problems.length })),
      el("ul", {}, ...problems.map((p) => el("li", {}, p.path ? `${p.path}: ${problemText(p)}` : problemText(p)))));
  }
}

buildEventForm();
$("open-event").onclick = () => confirmStatus("open");
$("close-event").onclick = () => confirmStatus("closed");
$("confirm-no").onclick = () => $("confirm").close();
$("plan-download").onclick = () => download().catch((err) => { $("plan-error").textContent = err.message; });
$("plan-upload").onclick = upload;
for (const [section, { add }] of Object.entries(SECTIONS)) {
  $(add).onclick = () => {
    const tr = row(section, null);
    $(section).querySelector("tbody").append(tr);
    tr.querySelector("input, select").focus();
  };
}

session = startConsole({
  file: "event.html", main: "event", needsEvent: true,
  open: async (s) => {
    session = s;
    setup = await call(session, eventPath());
    renderEvent();
    await loadPlan();
  },
  relabel: () => { if (setup) { renderEvent(); renderTables(); } },
});
