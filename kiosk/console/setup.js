// What the console's setup pages (roster, cards, devices) share: sign-in through shared/session.js, the
// console bar, the language switch, calls to the event's API, files sent as base64, and errors shown
// beside the field the gateway names.
import { ApiError, request } from "../shared/api.js";
import { $, el } from "../shared/dom.js";
import { labelPage, wireLang } from "../shared/bar.js";
import { problemText, t, useText } from "../shared/i18n.js";
import { StaffSession, hideLogin, showLogin, wireLogin } from "../shared/session.js";
import { NAV_TEXT, mountNav } from "./nav.js";

export const session = new StaffSession("console");

// The page's own words with the console bar's.
export function withNav(text) {
  return { "zh-TW": { ...NAV_TEXT["zh-TW"], ...text["zh-TW"] }, en: { ...NAV_TEXT.en, ...text.en } };
}

// Calls below /api/v1/events/{event}/; a refused token sends the page back to its sign-in form.
// onAnswer sees refusals' bodies too (a CSV's problems come in one).
export async function api(rest, options = {}) {
  try {
    return await request(session.eventPath(rest), { token: session.token, ...options });
  } catch (err) {
    if (err instanceof ApiError && (err.status === 401 || err.status === 403)) showLogin(session, mainId, t("denied"));
    throw err;
  }
}

// The refusal's words: the page's own for a code it knows, else the gateway's message (one language).
export function errorText(err) {
  if (!(err instanceof ApiError)) return String(err);
  if (err.status === 0) return t("unreachable");
  const known = t(`err_${err.code}`);
  return known === `err_${err.code}` ? err.shown : known;
}

// Shows an error in the section's alert line and marks the input named by the refusal's field.
export function showError(box, err, inputs = {}) {
  for (const input of Object.values(inputs)) { input.classList.remove("bad"); input.removeAttribute("aria-invalid"); }
  $(box).textContent = err ? errorText(err) : "";
  const input = err && err.field ? inputs[err.field] : null;
  if (input) { input.classList.add("bad"); input.setAttribute("aria-invalid", "true"); input.focus(); }
}

export function notice(text) { $("notice").textContent = text; }

export async function fileBase64(input) {
  const file = input.files[0];
  if (!file) return null;
  const bytes = new Uint8Array(await file.arrayBuffer());
  let text = "";
  for (let i = 0; i < bytes.length; i += 0x8000) text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(text);
}

// A CSV's problems as a table: line, column, message.
export function problemRows(problems) {
  return problems.map((p) => el("tr", {}, el("td", {}, String(p.line)), el("td", {}, p.column || "—"), el("td", {}, problemText(p))));
}

// An SVG the gateway made (a QR code) as an image: no markup of it enters the page.
export function qrImage(svgText, alt) {
  const utf8 = new TextEncoder().encode(svgText);
  let text = "";
  for (let i = 0; i < utf8.length; i += 0x8000) text += String.fromCharCode(...utf8.subarray(i, i + 0x8000));
  return el("img", { src: `data:image/svg+xml;base64,${btoa(text)}`, alt, class: "qr" });
}

export function save(blob, name) {
  const link = el("a", { href: URL.createObjectURL(blob), download: name });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 60000);
}

let mainId = "main";

// Wires the page: words, language switch, sign-in, the bar; load() runs once the page may call the API.
export function openPage({ page, main, text, load, relabel = () => {} }) {
  mainId = main;
  useText(withNav(text));
  wireLang("console.lang", () => paint());
  session.readLink();
  const paint = () => {
    labelPage();
    mountNav(page, session.event);
    relabel();
  };
  const start = async () => {
    session.save();
    hideLogin(main);
    paint();
    try {
      await load();
      notice("");
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) showLogin(session, main, t("badEvent"));
      else notice(errorText(err));
    }
    document.body.dataset.ready = "true";
  };
  wireLogin(session, { onOpen: start, onLogout: () => showLogin(session, main) });
  paint();
  if (session.complete) start(); else showLogin(session, main);
}
