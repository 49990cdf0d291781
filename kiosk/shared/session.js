// Who a staff page acts for: an event, and a person signed in with a name and password (a session cookie the
// page never reads, and a CSRF token it does), or a token from a link (#token=...&event=..., or ?event=...)
// or this browser's storage, as kiosks, scripts and older links do. The form is the page's #login (#login-event
// unless the form carries data-no-event, #login-name, #login-password, #login-error, built here into an empty
// <form id="login">; its words from the page's text table, else LOGIN_TEXT) with a #logout button (shared/bar.js).
import { ApiError, csrfToken, request } from "./api.js";
import { $, el } from "./dom.js";
import { sharedWords, t } from "./i18n.js";
import "./bar.js"; // the bar's buttons (#lang, #logout) are there before a page wires them

export const LOGIN_TEXT = {
  "zh-TW": {
    loginTitle: "工作人員登入", eventId: "活動代碼", loginName: "帳號", loginPassword: "密碼", loginGo: "登入",
    signinBad: "帳號或密碼不正確", signinLocked: "密碼錯誤太多次，此帳號已鎖定；請管理員重設",
    signinWait: "嘗試太多次，請 {s} 秒後再試", signinFailed: "目前無法登入，請稍後再試",
  },
  en: {
    loginTitle: "Staff sign-in", eventId: "Event id", loginName: "Sign-in name", loginPassword: "Password",
    loginGo: "Sign in", signinBad: "That name and password do not match",
    signinLocked: "Too many wrong passwords: this account is locked until an admin resets it",
    signinWait: "Too many attempts: try again in {s} s", signinFailed: "Cannot sign in now; try again shortly",
  },
};
sharedWords(LOGIN_TEXT);

// The same form on every staff page: made once here rather than copied into each page's HTML.
function buildLoginForm() {
  const form = document.getElementById("login");
  if (!form || form.querySelector("#login-name")) return;
  const input = (id, name, type, extra) => el("input", { id, name, type, required: "", ...extra });
  const event = form.hasAttribute("data-no-event") ? [] : [el("label", {}, el("span", { "data-i18n": "eventId" }), " ",
    input("login-event", "event", "text", { autocomplete: "off", pattern: "[A-Za-z0-9_\\-]{1,64}" }))];
  form.prepend(
    el("h2", { "data-i18n": "loginTitle" }),
    ...event,
    el("label", {}, el("span", { "data-i18n": "loginName" }), " ",
      input("login-name", "username", "text", { autocomplete: "username" })),
    el("label", {}, el("span", { "data-i18n": "loginPassword" }), " ",
      input("login-password", "password", "password", { autocomplete: "current-password" })),
    el("p", { id: "login-error", class: "error", role: "alert" }),
    el("button", { type: "submit", "data-i18n": "loginGo" }),
  );
}
buildLoginForm();

export class StaffSession {
  constructor(page) {
    this.keys = { event: `${page}.event`, token: `${page}.token` };
    this.event = localStorage.getItem(this.keys.event);
    this.token = localStorage.getItem(this.keys.token);
  }

  // A link wins over storage; its token then leaves the address bar and the history.
  readLink() {
    const hash = new URLSearchParams(location.hash.slice(1));
    const query = new URLSearchParams(location.search);
    if (hash.get("token")) {
      this.token = hash.get("token");
      history.replaceState(null, "", location.pathname + location.search);
    }
    this.event = query.get("event") || hash.get("event") || this.event;
  }

  // Signed in with a password in this browser (the session itself may have ended: the first call says so).
  get signedIn() { return Boolean(csrfToken()); }

  get complete() { return Boolean(this.event && (this.token || this.signedIn)); }

  // Kept once the page has used it, so a reload opens the same event.
  save() {
    localStorage.setItem(this.keys.event, this.event);
    if (this.token) localStorage.setItem(this.keys.token, this.token);
    else localStorage.removeItem(this.keys.token);
  }

  // Forgets the token and ends the session (its cookie too).
  forget() {
    localStorage.removeItem(this.keys.token);
    this.token = null;
    if (this.signedIn) request("/api/v1/signout", { method: "POST" }).catch(() => {});
  }

  eventPath(rest) { return `/api/v1/events/${encodeURIComponent(this.event)}/${rest}`; }
}

function signinProblem(err) {
  if (!(err instanceof ApiError)) return t("signinFailed");
  if (err.code === "bad_credentials") return t("signinBad");
  if (err.code === "account_locked") return t("signinLocked");
  if (err.code === "signin_wait" || err.code === "rate_limited") return t("signinWait", { s: err.retryAfter || 5 });
  return err.status === 400 ? err.message : t("signinFailed");
}

// The login form signs in (name and password) and calls onOpen(); the logout button signs out.
export function wireLogin(session, { onOpen, onLogout }) {
  $("login").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const eventInput = document.getElementById("login-event");
    if (eventInput) session.event = eventInput.value.trim();
    const body = { login: $("login-name").value.trim(), password: $("login-password").value };
    $("login-password").value = "";
    $("login-error").textContent = "";
    try {
      session.person = await request("/api/v1/signin", { method: "POST", body });
    } catch (err) {
      $("login-error").textContent = signinProblem(err);
      $("login-password").focus();
      return;
    }
    session.token = null; // the session from now on, not an older token
    localStorage.removeItem(session.keys.token);
    onOpen();
  });
  $("logout").addEventListener("click", () => {
    session.forget();
    onLogout();
  });
}

// The bar's buttons for a signed-in page: sign-out, and refresh where the page has one.
function showSignedIn(shown) {
  for (const id of ["logout", "refresh"]) {
    const button = document.getElementById(id);
    if (button) button.hidden = !shown;
  }
}

// main: the id of the page's own content, hidden while the form shows.
export function showLogin(session, main, message = "") {
  $(main).hidden = true;
  showSignedIn(false);
  $("login").hidden = false;
  const eventInput = document.getElementById("login-event");
  if (eventInput) eventInput.value = session.event || "";
  $("login-error").textContent = message;
}

export function hideLogin(main) {
  $("login").hidden = true;
  $(main).hidden = false;
  showSignedIn(true);
}
