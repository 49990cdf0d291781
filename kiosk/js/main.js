// The gate kiosk: wires readers, journal, sync and screen together.
import { loadClock, now, stamp } from "./clock.js";
import { annul, checkPin } from "./api.js";
import { codeFromText, enrollWith } from "./enroll.js";
import { applyStatic, getLang, setLang, t } from "./i18n.js";
import { provisional, remember, rememberJournal } from "./local.js";
import { CameraReader, listenWedge } from "./scanner.js";
import { renderStatus, setCameraState, showAnswer, showView } from "./screen.js";
import { play, unlock } from "./sound.js";
import { allEntries, clearDevice, getKv, journalScan, loadDevice, setKv } from "./store.js";
import { Sync } from "./sync.js";

const TICK_MS = 3000;
const MAX_CARD = 512; // the gateway refuses longer texts; a refused entry would stall the durable watermark
let device = null;
let lastAccepted = null; // the last answer this kiosk may undo (a check-in or check-out the server gave)
const sync = new Sync((state) => renderStatus(state, device));
const $ = (id) => document.getElementById(id);

const backToIdle = () => showView(device ? "ready" : "enroll");

function answer(shown) {
  showAnswer(shown, backToIdle);
  play(shown.verdict);
  const undoable = !shown.provisional && shown.scan_id && ["checked_in", "checked_out"].includes(shown.verdict);
  lastAccepted = undoable ? shown : null;
  $("undo").hidden = !lastAccepted;
}

async function undoLast() {
  const last = lastAccepted;
  if (!last || !device) return;
  const who = last.volunteer ? last.volunteer.display_name : last.scan_id;
  if (!window.confirm(t("undoConfirm", who))) return;
  lastAccepted = null;
  $("undo").hidden = true;
  try {
    const done = await annul(device.device_token, last.scan_id);
    showAnswer({ verdict: "annulled", volunteer: last.volunteer, annulled: true, on_site: done.on_site }, backToIdle);
    await sync.refreshCounts();
  } catch (err) {
    showAnswer({ verdict: "rejected", reason: err.code || "undo_failed", volunteer: last.volunteer }, backToIdle);
  }
}

// Settings (re-enrollment) open only with the PIN set at enrollment; the server checks it.
async function pinAllows() {
  if (!device) return true;
  const pin = window.prompt(t("pinPrompt"));
  if (pin === null) return false;
  try {
    await checkPin(device.device_token, pin);
    return true;
  } catch (err) {
    if (err.status === 401) return true; // the token is no longer ours: nothing left to protect
    window.alert(err.offline ? t("pinOffline") : t("pinWrong"));
    return false;
  }
}

async function onCard(text) {
  text = text.trim();
  if (!text || text.length > MAX_CARD || /[\u0000-\u001f]/.test(text)) {
    answer({ verdict: "rejected", reason: "unreadable" });
    return;
  }
  const at = now();
  const local = await provisional(text, at, device);
  // Journaled (with its seq) before anything is sent: from here on the scan cannot be lost.
  const entry = await journalScan(device, {
    scan_id: crypto.randomUUID(), card: text, gate_id: device.gate_id, scanned_at: stamp(at),
    card_id: local.card_id, provisional: local.verdict,
  });
  await sync.refreshCounts();
  if (sync.state.online === false) {
    remember(entry.card_id, local.verdict, at);
    answer(local);
    sync.tick();
    return;
  }
  const server = await sync.submit(entry);
  const shown = server || local;
  remember(entry.card_id, shown.verdict, at);
  answer({ ...shown, card_id: entry.card_id });
}

async function onText(text, source) {
  const code = codeFromText(text);
  if (code) return enrollFrom(code);
  if (!device) return;
  await onCard(text);
  document.body.dataset.lastSource = source;
}

async function enrollFrom(code) {
  if (device && !(await confirmReset())) return;
  $("enroll-error").textContent = t("enrolling");
  showView("enroll");
  try {
    device = await enrollWith(code, $("enroll-pin").value.trim());
    $("enroll-pin").value = "";
    sync.device = device;
    $("enroll-error").textContent = "";
    backToIdle();
    renderStatus(sync.state, device);
    sync.tick();
  } catch (err) {
    $("enroll-error").textContent = `${t("enrollFailed")}: ${err.message || err}`;
  }
}

async function confirmReset() {
  if (!(await pinAllows())) return false;
  if (!window.confirm(t("resetConfirm"))) return false;
  const waiting = (await allEntries()).length;
  if (waiting && !window.confirm(t("resetBlocked", waiting))) return false;
  await clearDevice();
  device = null;
  sync.device = null;
  await sync.refreshCounts();
  return true;
}

async function switchLang() {
  setLang(getLang() === "zh-TW" ? "en" : "zh-TW");
  await setKv("lang", getLang());
  applyStatic();
  $("lang").textContent = t("lang");
  renderStatus(sync.state, device);
}

async function boot() {
  setLang((await getKv("lang")) || "zh-TW");
  applyStatic();
  $("lang").textContent = t("lang");
  await loadClock();
  device = (await loadDevice()) || null;
  sync.device = device;
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("sw.js").catch((err) => console.warn("no offline cache", err));
  }
  for (const kind of ["pointerdown", "keydown"]) document.addEventListener(kind, unlock, { capture: true });
  $("lang").addEventListener("click", switchLang);
  $("reset").addEventListener("click", async () => { if (await confirmReset()) backToIdle(); });
  $("undo").addEventListener("click", undoLast);
  $("enroll-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const raw = $("enroll-code").value;
    enrollFrom(codeFromText(raw) || raw);
  });
  window.addEventListener("online", () => sync.tick());
  window.addEventListener("offline", () => sync.setOnline(false));

  rememberJournal(await allEntries());
  const code = codeFromText(location.hash);
  if (code) history.replaceState(null, "", location.pathname + location.search);
  backToIdle();
  await sync.refreshCounts();
  if (code) await enrollFrom(code);

  listenWedge(onText);
  new CameraReader($("camera"), onText, setCameraState).start();
  setInterval(() => sync.tick(), TICK_MS);
  await sync.tick();
  document.body.dataset.booted = "true";
}

boot();
