// A one-time link's page (#code=... from `checkin user add`, `checkin user reset` or the People page): the person
// chooses a password, which also signs them in, and is then pointed at the pages their role opens. The form is
// novalidate: its own checks say what is wrong in the page, in its words, rather than in a browser bubble.
import { ApiError, request } from "../shared/api.js";
import { $, el } from "../shared/dom.js";
import { labelPage, wireLang } from "../shared/bar.js";
import { label, t, useText } from "../shared/i18n.js";

const MIN_LENGTH = 10; // checkin/access/signin_rules.py MIN_PASSWORD; the gateway checks again

const TEXT = {
  "zh-TW": {
    title: "設定密碼", intro: "請為您的工作人員帳號設定密碼。此連結只能使用一次。", password: "新密碼（至少 10 個字元）",
    rules: "請勿使用常見密碼（如 1234567890）或您的帳號名稱。", again: "再輸入一次", go: "設定密碼並登入",
    done: "密碼已設定，您已登入。", who: "{name}（{role}）", mismatch: "兩次輸入的密碼不同",
    noCode: "這個網址缺少連結代碼，請使用管理員給您的完整連結", failed: "目前無法設定，請稍後再試",
    dashboard: "即時人數", coordinator: "人工簽到", office: "服務時數核對", people: "工作人員帳號",
    roles: { admin: "管理員", coordinator: "協調員", team_lead: "隊長" },
    errors: {
      password_too_short: "密碼太短：至少需要 10 個字元", password_too_common: "這個密碼太常見或與帳號相同，請換一個",
      link_used: "此連結已使用過，請向管理員索取新連結", link_expired: "此連結已過期，請向管理員索取新連結",
      link_unknown: "此連結無效，請確認網址完整或向管理員索取新連結", rate_limited: "嘗試太多次，請稍後再試",
    },
  },
  en: {
    title: "Choose a password", intro: "Choose the password for your staff account. This link works once.",
    password: "New password (at least 10 characters)",
    rules: "Not a common password (such as 1234567890) nor your sign-in name.", again: "Once more",
    go: "Set the password and sign in", done: "Your password is set and you are signed in.", who: "{name} ({role})",
    mismatch: "The two passwords differ", noCode: "This address has no link code: use the whole link you were sent",
    failed: "Cannot set it now; try again shortly", dashboard: "Live headcount", coordinator: "Manual check-in",
    office: "Service hours", people: "Staff accounts",
    roles: { admin: "Admin", coordinator: "Coordinator", team_lead: "Team lead" },
    errors: {
      password_too_short: "Too short: a password needs at least 10 characters",
      password_too_common: "This password is too common or matches your name; choose another",
      link_used: "This link was used already; ask an admin for a new one",
      link_expired: "This link has expired; ask an admin for a new one",
      link_unknown: "This link is not valid; check it is whole or ask an admin for a new one",
      rate_limited: "Too many attempts; try again shortly",
    },
  },
};
useText(TEXT);
wireLang("console.lang", applyLanguage);

// The code leaves the address bar and the history at once, like a token link's.
const code = new URLSearchParams(location.hash.slice(1)).get("code");
if (code) history.replaceState(null, "", location.pathname);

function problem(err) {
  if (!(err instanceof ApiError)) return t("failed");
  const word = label("errors", err.code);
  return word === err.code ? err.shown : word;
}

function pagesFor(person) {
  const ev = person.event_id ? `?event=${encodeURIComponent(person.event_id)}` : "";
  if (person.role === "admin") return [["people", "./people.html"]];
  if (person.role === "coordinator") {
    return [["dashboard", `/kiosk/dashboard/${ev}`], ["coordinator", `/kiosk/coordinator/${ev}`], ["office", `/kiosk/office/${ev}`]];
  }
  return [["coordinator", `/kiosk/coordinator/${ev}`]];
}

async function choose(ev) {
  ev.preventDefault();
  const password = $("password").value;
  $("error").textContent = "";
  if (!code) { $("error").textContent = t("noCode"); return; }
  if (password.length < MIN_LENGTH) { $("error").textContent = label("errors", "password_too_short"); return; }
  if (password !== $("again").value) { $("error").textContent = t("mismatch"); return; }
  try {
    const person = await request("/api/v1/password", { method: "POST", body: { code, password } });
    $("choose").hidden = true;
    $("done").hidden = false;
    $("who").textContent = t("who", { name: person.name || person.login, role: label("roles", person.role) });
    $("next").replaceChildren(...pagesFor(person).map(([key, href]) => el("li", {}, el("a", { href }, t(key)))));
    $("next").querySelector("a")?.focus();
  } catch (err) {
    $("error").textContent = problem(err);
    $("password").focus();
  }
}

function applyLanguage() {
  labelPage();
}

$("choose").addEventListener("submit", choose);
applyLanguage();
if (!code) $("error").textContent = t("noCode");
