// The console's People page (issue 18 item 7): an admin lists staff accounts per event and role, adds one (and
// gets its one-time set-password link), resets one (a new link, the sign-in unlocked) or revokes one.
// Signed in with a name and password through the shared form; every change goes out with the CSRF header.
import { ApiError, request } from "../shared/api.js";
import { $, el } from "../shared/dom.js";
import { labelPage, wireLang } from "../shared/bar.js";
import { label, t, useText } from "../shared/i18n.js";
import { LOGIN_TEXT, StaffSession, hideLogin, showLogin as showLoginForm, wireLogin } from "../shared/session.js";
import { NAV_TEXT, mountNav } from "./nav.js";

const TEXT = {
  "zh-TW": {
    title: "工作人員帳號", logout: "登出", loginTitle: "管理員登入", addTitle: "新增工作人員", name: "姓名",
    login: "登入帳號", role: "角色", eventId: "活動代碼", teamId: "志工隊代碼（隊長）", addGo: "新增並產生連結",
    linkHint: "請將此連結交給本人；只能使用一次，逾期失效。", linkFor: "{name} 的設定密碼連結（{h} 小時內有效）：",
    listTitle: "帳號列表", allRoles: "全部", show: "顯示", state: "狀態", actions: "操作", reset: "重設密碼",
    revoke: "停用", confirmRevoke: "停用 {name} 的帳號？其登入與權杖立即失效，無法復原。", none: "沒有符合的帳號",
    role_admin: "管理員", role_coordinator: "協調員", role_team_lead: "隊長", denied: "此帳號不是管理員，或已登出",
    states: { active: "可登入", revoked: "已停用", locked: "已鎖定", no_password: "尚未設定密碼" },
    errors: { login_taken: "此登入帳號已有人使用", not_found: "找不到：請檢查活動或志工隊代碼", invalid_field: "欄位有誤" },
  },
  en: {
    title: "Staff accounts", logout: "Sign out", loginTitle: "Admin sign-in", addTitle: "Add a staff member", name: "Name",
    login: "Sign-in name", role: "Role", eventId: "Event id", teamId: "Team id (team leads)", addGo: "Add and make a link",
    linkHint: "Give this link to the person only; it works once and expires.", linkFor: "Set-password link for {name} (valid {h} h):",
    listTitle: "Accounts", allRoles: "All", show: "Show", state: "State", actions: "Actions", reset: "Reset password",
    revoke: "Revoke", confirmRevoke: "Revoke {name}'s account? Their sign-in and token stop at once; this cannot be undone.",
    none: "No matching accounts", role_admin: "Admin", role_coordinator: "Coordinator", role_team_lead: "Team lead",
    denied: "This account is not an admin, or has signed out",
    states: { active: "Can sign in", revoked: "Revoked", locked: "Locked", no_password: "No password yet" },
    errors: { login_taken: "That sign-in name is taken", not_found: "Not found: check the event or team id",
      invalid_field: "A field is wrong" },
  },
};
useText({ "zh-TW": { ...LOGIN_TEXT["zh-TW"], ...NAV_TEXT["zh-TW"], ...TEXT["zh-TW"] },
  en: { ...LOGIN_TEXT.en, ...NAV_TEXT.en, ...TEXT.en } });

const session = new StaffSession("console");
wireLang("console.lang", applyLanguage);
let me = null; // the signed-in admin's user id
const eventFilter = new URLSearchParams(location.search).get("event") || "";

function problem(err) {
  if (!(err instanceof ApiError)) return String(err);
  const word = label("errors", err.code);
  return word === err.code ? err.shown : `${word}${err.field ? ` (${err.field})` : ""}: ${err.shown}`;
}

const api = (path, options = {}) => request(path, { token: session.token, ...options });

function stateOf(p) {
  if (p.revoked_at) return "revoked";
  if (p.locked) return "locked";
  return p.has_password ? "active" : "no_password";
}

function showLink(person, answer) {
  $("link").hidden = false;
  $("link-for").textContent = t("linkFor", { name: person.name || person.login || person.user_id, h: answer.link_hours });
  $("link-url").textContent = answer.link;
}

function row(p) {
  const state = stateOf(p);
  const actions = el("div", { class: "actions" });
  if (state !== "revoked") {
    actions.append(el("button", { type: "button", "data-action": "reset", onclick: () => reset(p) }, t("reset")));
    // Not on the signed-in admin's own row: the gateway refuses it (own_account); another admin can.
    if (p.user_id !== me) {
      actions.append(el("button", { type: "button", "data-action": "revoke", onclick: () => revoke(p) }, t("revoke")));
    }
  }
  return el("tr", { "data-user": p.user_id, "data-state": state },
    el("td", {}, p.name), el("td", {}, p.login || p.user_id), el("td", {}, t(`role_${p.role}`)),
    el("td", {}, p.event_id || ""), el("td", {}, p.team_id || ""), el("td", {}, label("states", state)),
    el("td", {}, actions));
}

async function load() {
  const query = new URLSearchParams();
  if ($("f-event").value.trim()) query.set("event", $("f-event").value.trim());
  if ($("f-role").value) query.set("role", $("f-role").value);
  $("list-error").textContent = "";
  try {
    const { people } = await api(`/api/v1/people?${query}`);
    const body = $("people").tBodies[0];
    body.replaceChildren(...(people.length ? people.map(row)
      : [el("tr", {}, el("td", { colspan: "7" }, t("none")))]));
    return true;
  } catch (err) {
    if (err instanceof ApiError && (err.status === 401 || err.status === 403)) showLogin(t("denied"));
    else $("list-error").textContent = problem(err);
    return false;
  }
}

async function add(ev) {
  ev.preventDefault();
  const body = { name: $("add-name").value.trim(), login: $("add-login").value.trim(), role: $("add-role").value };
  if ($("add-event").value.trim()) body.event_id = $("add-event").value.trim();
  if ($("add-team").value.trim()) body.team_id = $("add-team").value.trim();
  $("add-error").textContent = "";
  try {
    const answer = await api("/api/v1/people", { method: "POST", body });
    showLink(answer, answer);
    $("add").reset();
    $("add-event").value = eventFilter;
    await load();
    $("link-url").focus();
  } catch (err) {
    $("add-error").textContent = problem(err);
  }
}

async function reset(p) {
  try {
    showLink(p, await api(`/api/v1/people/${encodeURIComponent(p.user_id)}/reset`, { method: "POST" }));
    await load();
  } catch (err) {
    $("list-error").textContent = problem(err);
  }
}

async function revoke(p) {
  if (!window.confirm(t("confirmRevoke", { name: p.name || p.login || p.user_id }))) return;
  try {
    await api(`/api/v1/people/${encodeURIComponent(p.user_id)}/revoke`, { method: "POST" });
    await load();
  } catch (err) {
    $("list-error").textContent = problem(err);
  }
}

function showLogin(message = "") {
  showLoginForm(session, "people-page", message);
  $("login-name").focus();
}

async function start() {
  me = (await api("/api/v1/session").catch(() => ({}))).user_id || null;
  if (await load()) {
    hideLogin("people-page");
  }
}

function applyLanguage() {
  labelPage();
  mountNav("people.html", eventFilter || null);
}

$("add").addEventListener("submit", add);
$("filter").addEventListener("submit", (ev) => { ev.preventDefault(); load(); });
$("link-url").setAttribute("tabindex", "-1");
wireLogin(session, { onOpen: start, onLogout: () => showLogin() });
$("f-event").value = eventFilter;
$("add-event").value = eventFilter;
session.readLink();
applyLanguage();
if (session.token || session.signedIn) start(); else showLogin();
