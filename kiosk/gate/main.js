// The gate kiosk: wires readers, journal, sync and screen together.
import { loadClock, now, stamp } from "./clock.js";
import { annul, checkPin } from "./api.js";
import { codeFromText, enrollWith } from "./enroll.js";
import { $ } from "../shared/dom.js";
import { keepOfflineCopy } from "../shared/offline.js";
import { applyStatic, getLang, label, otherLang, setLang, t, useText } from "../shared/i18n.js";
import { copy, provisional, remember, rememberJournal } from "./local.js";
import { CameraReader, listenWedge } from "./scanner.js";
import { renderDifferences, renderStatus, setAnswerMinMs, setCameraState, setCloser, setSound, showAnswer,
  showView } from "./screen.js";
import { play, unlock, watchSound } from "./sound.js";
import { allDifferences, allEntries, clearDevice, clearDifferences, getKv, journalScan, loadDevice, setKv }
  from "./store.js";
import { Sync } from "./sync.js";
import { TEXT } from "./text.js";

const TICK_MS = 3000;
const MAX_CARD = 512; // the gateway refuses longer texts; a refused entry would stall the durable watermark
let device = null;
let lastAccepted = null; // the last answer this kiosk may undo (a check-in or check-out the server gave)
// The strip's last sync and headcount outlive a reload (an offline one too), so it never says "never" by mistake.
let kept = "";
const sync = new Sync((state) => {
  renderStatus(state, device);
  const now = JSON.stringify({ lastSync: state.lastSync, onSite: state.onSite });
  if (now !== kept) {
    kept = now;
    setKv("strip", { lastSync: state.lastSync, onSite: state.onSite });
  }
});
sync.copy = copy;

const backToIdle = () => showView(device ? "ready" : "enroll");

// The event's UTC offset in minutes (from the gate copy), so times on screen are the event's wall clock.
const eventOffset = () => (copy.meta && copy.meta.policy && Number.isFinite(copy.meta.policy.day_offset_min)
  ? copy.meta.policy.day_offset_min : null);

function answer(shown) {
  shown = { ...shown, offset_min: eventOffset() };
  // The event's minimum answer time, as the latest gate copy carries it.
  setAnswerMinMs(copy.meta && copy.meta.policy ? copy.meta.policy.answer_min_ms : undefined);
  showAnswer(shown, backToIdle, () => play(shown.verdict));
  const undoable = !shown.provisional && shown.scan_id && ["checked_in", "checked_out"].includes(shown.verdict);
  lastAccepted = undoable ? shown : null;
  $("undo").hidden = !lastAccepted;
}

async function undoLast() {
  const last = lastAccepted;
  if (!last || !device) return;
  const who = last.volunteer ? last.volunteer.display_name : last.scan_id;
  if (!window.confirm(t("undoConfirm", { name: who }))) return;
  lastAccepted = null;
  $("undo").hidden = true;
  try {
    const done = await annul(device.device_token, last.scan_id, t("undoReason"));
    showAnswer({ verdict: "annulled", volunteer: last.volunteer, annulled: true, on_site: done.on_site }, backToIdle,
      () => play("annulled"));
    await sync.refreshCounts();
  } catch (err) {
    showAnswer({ verdict: "rejected", reason: err.code || "undo_failed", volunteer: last.volunteer }, backToIdle,
      () => play("rejected"));
  }
}

// Settings (re-enrollment) open only with the PIN set at enrollment; the server checks it.
async function pinAllows() {
  if (!device) return true;
  const pin = window.prompt(t("pinPrompt"));
  if (pin === null) return false;
  if (!pin.trim()) {
    window.alert(t("pinWrong")); // an empty answer never opens the settings
    return false;
  }
  try {
    await checkPin(device.device_token, pin);
    return true;
  } catch (err) {
    // the token is no longer ours (unknown or revoked): nothing left to protect but re-enrolling
    if (err.status === 401 || err.code === "device_revoked") return true;
    window.alert(err.offline ? t("pinOffline") : err.status === 429 ? t("pinLocked") : t("pinWrong"));
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
  const offline = sync.state.online === false;
  // Journaled (with its seq) before anything is sent: from here on the scan cannot be lost. The provisional
  // answer goes with it, to be held against the server's when the journal is replayed.
  const entry = await journalScan(device, {
    scan_id: crypto.randomUUID(), card: text, gate_id: device.gate_id, scanned_at: stamp(at),
    card_id: local.card_id, provisional: local.verdict, provisional_reason: local.reason || null,
    provisional_shown: offline, name: local.volunteer ? local.volunteer.display_name : null,
  });
  await sync.refreshCounts();
  if (offline) {
    await remember(entry.card_id, local, at, entry.scan_id, device);
    answer(local);
    sync.tick();
    return;
  }
  const server = await sync.submit(entry);
  const shown = server || local;
  const counted = server && server.scanned_at ? Date.parse(server.scanned_at) : at;
  await remember(entry.card_id, { ...shown, volunteer_id: local.volunteer_id, zone: local.zone }, counted,
    entry.scan_id, device);
  answer({ ...shown, card_id: entry.card_id });
}

async function onText(text, source) {
  const code = codeFromText(text);
  if (code) return enrollFrom(code);
  if (!device) return;
  await onCard(text);
  document.body.dataset.lastSource = source;
}

// A link, a QR or the form: the code waits in the form until a PIN is set with it (the settings' lock).
async function enrollFrom(code) {
  if (device && !(await confirmReset())) return;
  const pin = $("enroll-pin").value.trim();
  $("enroll-code").value = code;
  showView("enroll");
  if (!/^[0-9]{4,8}$/.test(pin)) {
    $("enroll-error").textContent = t(pin ? "pinFormat" : "pinNeeded");
    $("enroll-pin").focus();
    return;
  }
  $("enroll-error").textContent = t("enrolling");
  try {
    device = await enrollWith(code, pin);
    $("enroll-pin").value = "";
    $("enroll-code").value = "";
    sync.device = device;
    sync.copyDue = true;
    $("enroll-error").textContent = "";
    backToIdle();
    renderStatus(sync.state, device);
    sync.tick();
  } catch (err) {
    // In the page's words only; the request id (to find the request in the gateway's log) rides along as a
    // tooltip and attribute rather than mixing letters into the sentence.
    const box = $("enroll-error");
    box.textContent = `${t("enrollFailed")}: ${enrollError(err)}`;
    box.title = err && err.requestId ? err.requestId : "";
    box.dataset.requestId = box.title;
  }
}

// In the page's words only: the gateway's message is English whatever the page shows.
function enrollError(err) {
  if (err && err.offline) return t("enrollOffline");
  const words = err && err.code ? label("enrollErrors", err.code) : null;
  return words && words !== err.code ? words : t("enrollOther");
}

// An enrollment link opened in a tab already on the kiosk changes only the #fragment: no reload, no boot.
function enrollFromHash() {
  const code = codeFromText(location.hash);
  if (code) history.replaceState(null, "", location.pathname + location.search);
  return code;
}

async function confirmReset() {
  if (!(await pinAllows())) return false;
  if (!window.confirm(t("resetConfirm"))) return false;
  const waiting = (await allEntries()).length;
  if (waiting && !window.confirm(t("resetBlocked", { n: waiting }))) return false;
  await clearDevice();
  device = null;
  sync.device = null;
  // Nothing of the old enrollment stays on the strip: the next figures are the new event's.
  Object.assign(sync.state, { lastSync: null, onSite: null, copySynced: null, unauthorized: false });
  await sync.refreshCounts();
  return true;
}

async function showDifferences(open) {
  const list = await allDifferences();
  sync.state.differences = list.length;
  renderStatus(sync.state, device);
  if (open !== undefined) $("differences").hidden = !open;
  renderDifferences(list);
}

async function switchLang() {
  setLang(otherLang());
  await setKv("lang", getLang());
  applyStatic();
  $("lang").textContent = t("lang");
  renderStatus(sync.state, device);
}

async function boot() {
  useText(TEXT);
  watchSound(setSound); // before any await: audio is asked for while the page is as fresh as after a power cycle
  setLang((await getKv("lang")) || "zh-TW");
  applyStatic();
  $("lang").textContent = t("lang");
  await loadClock();
  device = (await loadDevice()) || null;
  sync.device = device;
  const strip = device && (await getKv("strip"));
  if (strip) Object.assign(sync.state, { lastSync: strip.lastSync ?? null, onSite: strip.onSite ?? null });
  keepOfflineCopy("../sw.js");
  for (const kind of ["pointerdown", "keydown"]) document.addEventListener(kind, unlock, { capture: true });
  $("lang").addEventListener("click", switchLang);
  $("reset").addEventListener("click", async () => { if (await confirmReset()) backToIdle(); });
  $("undo").addEventListener("click", undoLast);
  $("diffs").addEventListener("click", () => showDifferences($("differences").hidden));
  $("diffs-close").addEventListener("click", () => showDifferences(false));
  $("diffs-clear").addEventListener("click", async () => {
    if (!window.confirm(t("differencesClearConfirm"))) return;
    await clearDifferences();
    await showDifferences(false);
  });
  $("enroll-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const raw = $("enroll-code").value;
    enrollFrom(codeFromText(raw) || raw);
  });
  window.addEventListener("online", () => sync.tick());
  window.addEventListener("offline", () => sync.setOnline(false));

  rememberJournal(await allEntries());
  await copy.load();
  sync.state.copySynced = copy.ready(device && device.event_id) ? copy.meta.synced_at : null;
  await showDifferences();
  const code = enrollFromHash();
  window.addEventListener("hashchange", () => {
    const linked = enrollFromHash();
    if (linked) enrollFrom(linked);
  });
  backToIdle();
  await sync.refreshCounts();
  if (code) await enrollFrom(code);

  listenWedge(onText);
  new CameraReader($("camera"), onText, setCameraState, setCloser).start();
  setInterval(async () => {
    await sync.tick();
    if (sync.state.differences !== Number($("diffs").dataset.count)) await showDifferences();
  }, TICK_MS);
  await sync.tick();
  document.body.dataset.booted = "true";
}

boot();
