// What every console page shares: signing in (shared/session.js, one session for all console pages), the
// language switch, the console bar, calls to the gateway that keep every problem of a refusal, and marking
// those problems beside the fields they are about.
import { ApiError, request } from "../shared/api.js";
import { $, el } from "../shared/dom.js";
import { labelPage, wireLang } from "../shared/bar.js";
import { problemText, t } from "../shared/i18n.js";
import { StaffSession, hideLogin, showLogin, wireLogin } from "../shared/session.js";
import { NAV_TEXT, mountNav } from "./nav.js";

// Words every console page uses, merged under the page's own table (the page's words win).
const COMMON = {
  "zh-TW": { logout: "登出", loginTitle: "主控台登入", eventId: "活動代碼", token: "管理員權杖", loginGo: "開始",
    denied: "登入已失效，或不是管理員", unreachable: "無法連到伺服器", badEvent: "找不到此活動", saved: "已儲存",
    problems: "有 {n} 個問題，沒有寫入任何資料：" },
  en: { logout: "Log out", loginTitle: "Console sign-in", eventId: "Event id", token: "Admin token", loginGo: "Open",
    denied: "Signed out, or not an admin", unreachable: "Cannot reach the server", badEvent: "No such event",
    saved: "Saved", problems: "{n} problem(s); nothing was written:" },
};

export function withCommon(table) {
  const out = {};
  for (const lang of Object.keys(table)) out[lang] = { ...COMMON[lang], ...NAV_TEXT[lang], ...table[lang] };
  return out;
}

// A call for the signed-in admin. A refusal's every problem ({field, message, path}) is kept on the error.
export async function call(session, path, options = {}) {
  let refusal = null;
  try {
    return await request(path, { ...options, token: session.token, onAnswer: (data) => { refusal = data; } });
  } catch (err) {
    if (err instanceof ApiError) {
      err.problems = refusal?.problems || [{ field: err.field, message: err.message, path: err.field }];
    }
    throw err;
  }
}

// Clears the marks a scope's fields carry from the last refusal.
export function clearProblems(scope) {
  for (const node of scope.querySelectorAll(".field-error")) node.textContent = "";
  for (const node of scope.querySelectorAll("[aria-invalid]")) node.removeAttribute("aria-invalid");
}

// Each problem beside its field (an input with data-field="<field>" in scope), the rest in `general`.
export function showProblems(scope, problems, general) {
  clearProblems(scope);
  const left = [];
  for (const p of problems) {
    const input = p.field ? scope.querySelector(`[data-field="${CSS.escape(p.field)}"]`) : null;
    const note = input ? $(input.getAttribute("aria-describedby") || "") : null;
    if (input && note) {
      input.setAttribute("aria-invalid", "true");
      note.textContent = note.textContent ? `${note.textContent} ${problemText(p)}` : problemText(p);
    } else {
      left.push(p.path ? `${p.path}: ${problemText(p)}` : problemText(p));
    }
  }
  general.replaceChildren();
  if (left.length) general.append(el("ul", {}, ...left.map((m) => el("li", {}, m))));
  const first = scope.querySelector("[aria-invalid=true]");
  if (first) first.focus();
}

let fieldCount = 0;

// An input (or select) for a field, with the note its problems are written in, named for screen readers.
export function field(control, name, labelText) {
  fieldCount += 1;
  const noteId = `note-${fieldCount}`;
  control.dataset.field = name;
  control.setAttribute("aria-describedby", noteId);
  if (labelText) control.setAttribute("aria-label", labelText);
  return [control, el("span", { id: noteId, class: "field-error", role: "alert" })];
}

// Starts a console page: language, sign-in (an event is needed only where the page works on one), the bar.
// open(session) loads the page; an admin token the gateway refuses brings the sign-in form back.
export function startConsole({ file, main, needsEvent, open, relabel }) {
  const session = new StaffSession("console");
  wireLang("console.lang", () => { label(); if (relabel) relabel(); });
  session.readLink();
  const eventField = $("login-event");
  if (!needsEvent && eventField) {
    // The front page works on no event: the sign-in form's event field (when it has one) is not asked for there.
    eventField.required = false;
    eventField.closest("label").hidden = true;
  }
  const label = () => {
    labelPage();
    mountNav(file, session.event || null);
  };
  const start = async () => {
    try {
      await open(session);
      session.event = session.event || "";
      session.save();
      hideLogin(main);
      label();
      document.body.dataset.ready = "true";
    } catch (err) {
      const denied = err instanceof ApiError && (err.status === 401 || err.status === 403);
      const missing = err instanceof ApiError && err.status === 404;
      showLogin(session, main, denied ? t("denied") : missing ? t("badEvent") : t("unreachable"));
    }
  };
  wireLogin(session, { onOpen: start, onLogout: () => showLogin(session, main) });
  label();
  // A token link, or a password session this browser still holds (the first call says whether it lasts).
  if ((session.token || session.signedIn) && (!needsEvent || session.event)) start(); else showLogin(session, main);
  return session;
}
