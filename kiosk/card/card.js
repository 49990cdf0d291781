// A volunteer's digital card: the QR from the personal link (card.html#t=TOKEN), full screen on white.
// The last good answer is kept in localStorage, so the card shows offline once it has been opened;
// every online load checks again, and a revoked card is deleted from the phone at once.
import { ApiError, request } from "../shared/api.js";
import { $, plain } from "../shared/dom.js";
import { getLang, rememberLang, t, useText } from "../shared/i18n.js";
import { keepOfflineCopy } from "../shared/offline.js";

const STORE = "checkin.card.v1.";

const TEXT = {
  "zh-TW": {
    title: "志工服務證", other: "English", qr: "服務證 QR code",
    revoked: "此服務證已停用（已掛失或換發）。請洽志工隊。",
    unknown: "這個連結無效。請洽志工隊取得新的連結。",
    nolink: "連結不完整。請從志工隊傳來的訊息重新開啟。",
    first: "第一次開啟需要網路連線。請連上網路後重新整理。",
    offline: "目前離線：顯示上次儲存的服務證。",
    unchecked: "暫時無法確認服務證狀態：顯示上次儲存的服務證。",
    busy: "伺服器暫時無法回應，請稍後再試。",
    tip: "掃描時請將螢幕亮度調到最亮，並讓螢幕正對掃描器。",
    awake: "此頁開啟時螢幕不會自動關閉。",
  },
  en: {
    title: "Volunteer card", other: "中文", qr: "Volunteer card QR code",
    revoked: "This card was revoked (lost or replaced). Please contact your team.",
    unknown: "This link is not valid. Please ask your team for a new one.",
    nolink: "The link is incomplete. Open it again from your team's message.",
    first: "The first time needs a connection. Go online and reload.",
    offline: "Offline: showing the card saved on this phone.",
    unchecked: "Could not check the card just now: showing the card saved on this phone.",
    busy: "The server is not answering; try again shortly.",
    tip: "Turn the screen brightness all the way up and hold the screen flat to the scanner.",
    awake: "The screen stays on while this page is open.",
  },
};

useText(TEXT);
const switchLang = rememberLang("checkin.card.lang");
let shown = null; // what the page shows: {kind: "card", card, note} or {kind: "message", key}
let awake = false;

function linkToken() {
  const match = /(?:^#|&)t=([^&]+)/.exec(location.hash);
  return match ? decodeURIComponent(match[1]) : null;
}

function load(key) {
  try {
    return JSON.parse(localStorage.getItem(key) || "null");
  } catch {
    return null;
  }
}

function qrNode(svgText) {
  const doc = new DOMParser().parseFromString(svgText, "image/svg+xml");
  const root = doc.documentElement;
  if (root.nodeName !== "svg" || doc.querySelector("script, foreignObject")) return null;
  return document.importNode(root, true);
}

function render() {
  document.documentElement.lang = getLang() === "en" ? "en" : "zh-Hant-TW";
  document.title = t("title");
  $("lang").textContent = t("other");
  $("qr").setAttribute("aria-label", t("qr"));
  document.body.classList.toggle("revoked", shown?.kind === "message" && shown.key === "revoked");
  document.body.classList.toggle("failed", shown?.kind === "message" && shown.key !== "revoked");
  if (shown?.kind === "card") {
    const { card } = shown;
    const node = qrNode(card.svg);
    $("qr").replaceChildren(...(node ? [node] : []));
    $("name").textContent = plain(card.display_name);
    $("team").textContent = plain(card.team);
    $("number").textContent = card.card_id.replace(/^(.{4})(.+)$/, "$1 $2");
    $("who").hidden = false;
    $("message").textContent = "";
    $("note").textContent = shown.note ? t(shown.note) : "";
    $("tip").textContent = awake ? `${t("tip")} ${t("awake")}` : t("tip");
  } else {
    $("qr").replaceChildren();
    $("who").hidden = true;
    $("message").textContent = shown ? t(shown.key) : "";
    $("note").textContent = "";
    $("tip").textContent = "";
  }
}

function show(next) {
  shown = next;
  render();
}

// Keep the screen on while the card is shown; the browser drops the lock when the page is hidden.
async function keepAwake() {
  if (!("wakeLock" in navigator) || document.visibilityState !== "visible") return;
  try {
    const lock = await navigator.wakeLock.request("screen");
    awake = true;
    lock.addEventListener("release", () => { awake = false; });
  } catch {
    awake = false; // refused (battery saver, no permission): the tip still asks for brightness
  }
  render();
}

async function check(token, key) {
  const saved = load(key);
  let card;
  try {
    card = await request("/api/v1/card", { token });
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
    if (err.status === 0) {
      show(saved ? { kind: "card", card: saved, note: "offline" } : { kind: "message", key: "first" });
    } else if (err.status === 410 || err.status === 404 || err.status === 400) {
      localStorage.removeItem(key); // a revoked card must not keep working from this phone
      show({ kind: "message", key: err.status === 410 ? "revoked" : "unknown" });
    } else {
      show(saved ? { kind: "card", card: saved, note: "unchecked" } : { kind: "message", key: "busy" });
    }
    return;
  }
  localStorage.setItem(key, JSON.stringify(card));
  show({ kind: "card", card, note: null });
}

function main() {
  $("lang").addEventListener("click", () => {
    switchLang();
    render();
  });
  const token = linkToken();
  if (!token) {
    show({ kind: "message", key: "nolink" });
    return;
  }
  const key = STORE + token;
  const saved = load(key);
  if (saved) show({ kind: "card", card: saved, note: navigator.onLine ? null : "offline" });
  keepOfflineCopy("../card-sw.js", { scope: "../card" });
  keepAwake();
  check(token, key);
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState !== "visible") return;
    keepAwake();
    check(token, key);
  });
  window.addEventListener("online", () => check(token, key));
  window.addEventListener("hashchange", () => location.reload());
}

main();
