// The console's attention notes (提醒事項) of one event: list them, set one on a volunteer, a shift or a team,
// remove one. The gateway checks every note (length, nothing personal) and says why it refuses one.
import { ApiError } from "../shared/api.js";
import { $, el } from "../shared/dom.js";
import { getLang, label, t, useText } from "../shared/i18n.js";
import { call, startConsole, withCommon } from "./console.js";

const MAX_CHARS = 80;
const TEXT = {
  "zh-TW": {
    title: "提醒事項", token: "管理員或協調員權杖", editTitle: "新增或修改提醒",
    rules: "每則最多 80 字，會顯示在閘口的簽到畫面上：不可寫身分證字號、電話號碼或電子郵件。同一位志工以個人提醒優先，其次是當下班別的提醒，再其次是志工隊的提醒。",
    scope: "對象", scopeVolunteer: "志工個人", scopeShift: "班別", scopeTeam: "志工隊", volunteerId: "志工編號",
    target: "班別或志工隊", noteText: "提醒內容", save: "儲存", listTitle: "目前的提醒", targetCol: "名稱",
    updated: "最後修改", action: "動作", none: "尚無提醒", remove: "刪除", removeConfirm: "刪除這則提醒？",
    count: "{n} / {max} 字", saved: "已儲存，閘口下一次簽到即顯示", savedLater: "已儲存，活動開放後顯示於閘口",
    removed: "已刪除", denied: "權杖無效或無權限（只有管理員或本活動協調員可以編輯提醒）", badEvent: "找不到此活動",
    unreachable: "無法連到伺服器", by: "{who}，{when}",
    scopes: { volunteer: "志工個人", shift: "班別", team: "志工隊" },
    errors: { personal_data: "提醒不可包含身分證字號、電話號碼或電子郵件（閘口畫面任何人都看得到）",
      note_too_long: "提醒最多 80 字", invalid_field: "請填寫一行提醒內容", not_found: "本活動沒有這個對象" },
  },
  en: {
    title: "Attention notes", token: "Admin or coordinator token", editTitle: "Add or change a note",
    rules: "At most 80 characters, shown on the gate's check-in screen: no ID numbers, phone numbers or e-mail addresses. A volunteer gets their own note first, then the note of the shift they check in for, then their team's.",
    scope: "For", scopeVolunteer: "One volunteer", scopeShift: "A shift", scopeTeam: "A team", volunteerId: "Volunteer id",
    target: "Shift or team", noteText: "Note", save: "Save", listTitle: "Notes now", targetCol: "Name",
    updated: "Last change", action: "Action", none: "No notes yet", remove: "Delete", removeConfirm: "Delete this note?",
    count: "{n} / {max} characters", saved: "Saved: the gates show it from the next check-in",
    savedLater: "Saved: the gates show it once the event opens", removed: "Deleted",
    denied: "Token refused (only an admin or this event's coordinator edits notes)", badEvent: "No such event",
    unreachable: "Cannot reach the server", by: "{who}, {when}",
    scopes: { volunteer: "One volunteer", shift: "A shift", team: "A team" },
    errors: { personal_data: "A note may not hold an ID number, a phone number or an e-mail address (anyone at the gate sees it)",
      note_too_long: "A note has at most 80 characters", invalid_field: "Write the note on one line", not_found: "This event has no such volunteer, shift or team" },
  },
};

let session = null;
let targets = { shifts: [], teams: [] };

const api = (path, options = {}) => call(session, session.eventPath(path), options);

function notice(text) { $("notice").textContent = text; }

function refusal(err) {
  if (!(err instanceof ApiError)) return String(err);
  if (err.offline) return t("unreachable");
  const words = label("errors", err.code);
  return words === err.code ? err.shown : words;
}

function fillTargets() {
  const scope = $("note-scope").value;
  $("pick-volunteer").hidden = scope !== "volunteer";
  $("pick-target").hidden = scope === "volunteer";
  $("note-volunteer").required = scope === "volunteer";
  const list = scope === "shift" ? targets.shifts : scope === "team" ? targets.teams : [];
  const chosen = $("note-target").value;
  $("note-target").replaceChildren(...list.map((x) => el("option", { value: x.id }, `${x.name} (${x.id})`)));
  if (list.some((x) => x.id === chosen)) $("note-target").value = chosen;
}

function countChars() {
  $("note-count").textContent = t("count", { n: [...$("note-text").value].length, max: MAX_CHARS });
}

function render(notes) {
  const when = (iso) => new Date(iso).toLocaleString(getLang(), { hour12: false });
  $("notes-table").tBodies[0].replaceChildren(...notes.map((n) => el("tr", { dataset: { scope: n.scope, target: n.target_id } },
    el("td", {}, label("scopes", n.scope)),
    el("td", {}, `${n.target_name} (${n.target_id})`),
    el("td", { class: "note" }, n.note),
    el("td", {}, t("by", { who: n.updated_by, when: when(n.updated_at) })),
    el("td", {}, el("button", { type: "button", dataset: { remove: `${n.scope}/${n.target_id}` },
      "aria-label": `${t("remove")} ${n.target_name}` }, t("remove"))))));
  $("notes-empty").hidden = notes.length > 0;
}

async function load() {
  const data = await api("notes");
  targets = { shifts: data.shifts, teams: data.teams };
  fillTargets();
  render(data.notes);
  $("event-name").textContent = session.event;
}

const reload = () => load().catch((err) => notice(refusal(err)));

async function save(e) {
  e.preventDefault();
  $("note-error").textContent = "";
  const scope = $("note-scope").value;
  const target = scope === "volunteer" ? $("note-volunteer").value.trim() : $("note-target").value;
  try {
    const done = await api(`notes/${scope}/${encodeURIComponent(target)}`,
      { method: "PUT", body: { note: $("note-text").value } });
    notice(t(done.live ? "saved" : "savedLater"));
    $("note-text").value = "";
    countChars();
    await reload();
  } catch (err) {
    $("note-error").textContent = refusal(err);
    (err.field === "note" ? $("note-text") : scope === "volunteer" ? $("note-volunteer") : $("note-target")).focus();
  }
}

async function remove(button) {
  if (!window.confirm(t("removeConfirm"))) return;
  const [scope, ...rest] = button.dataset.remove.split("/");
  try {
    await api(`notes/${scope}/${encodeURIComponent(rest.join("/"))}`, { method: "DELETE" });
    notice(t("removed"));
    await reload();
  } catch (err) {
    notice(refusal(err));
  }
}

useText(withCommon(TEXT));
$("note-scope").onchange = fillTargets;
$("note-text").oninput = countChars;
$("note-form").onsubmit = save;
$("notes-table").onclick = (e) => { const b = e.target.closest("button[data-remove]"); if (b) remove(b); };
countChars();
fillTargets();
session = startConsole({
  file: "notes.html", main: "notes", needsEvent: true,
  open: async (s) => { session = s; await load(); },
  relabel: () => { countChars(); reload(); },
});
