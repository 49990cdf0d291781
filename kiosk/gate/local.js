// What the gate can say on its own when the gateway is out of reach: a provisional verdict from the card's
// signature and the gate copy of the event (./gatecopy.js), by the server's own rules. Before a first copy
// arrives, only the signature, this device's own recent scans (debounce) and the gate's mode are known.
import { checkCard } from "./cards.js";
import { GateCopy } from "./gatecopy.js";

const DEFAULT_DEBOUNCE_S = 60;
export const copy = new GateCopy();
const lastSeen = new Map(); // card_id -> device-clock ms of the last accepted scan here (no copy yet)
const presence = new Map(); // card_id -> true (on site) / false, as far as this device knows (no copy yet)

// answer: a provisional one, or the server's with the copy's volunteer_id and zone added.
export async function remember(cardId, answer, atMs, scanId, device) {
  const verdict = answer.verdict;
  if (device && copy.ready(device.event_id)) {
    await copy.remember(answer.volunteer_id, verdict, atMs, scanId, answer.session_minutes, answer.zone,
      answer.reason || null);
  }
  if (!cardId) return;
  if (verdict === "checked_in" || verdict === "checked_out") lastSeen.set(cardId, atMs);
  if (verdict === "checked_in") presence.set(cardId, true);
  if (verdict === "checked_out") presence.set(cardId, false);
}

// Rebuild what this device knows from its journal after a reload (for a kiosk without a copy yet).
export function rememberJournal(entries) {
  for (const e of entries) {
    const verdict = e.answered || e.provisional;
    const atMs = Date.parse(e.scanned_at);
    if (!e.card_id) continue;
    if (verdict === "checked_in" || verdict === "checked_out") lastSeen.set(e.card_id, atMs);
    if (verdict === "checked_in") presence.set(e.card_id, true);
    if (verdict === "checked_out") presence.set(e.card_id, false);
  }
}

export async function provisional(card, atMs, device) {
  const check = await checkCard(card, device.public_keys);
  if (copy.ready(device.event_id)) return copy.answer(check, atMs, device);
  const answer = { verdict: "rejected", reason: null, provisional: true, card_id: check.cardId, volunteer: null };
  if (check.ok === false) {
    answer.reason = check.reason;
    return answer;
  }
  const debounce = (device.info && device.info.debounce_s) ?? DEFAULT_DEBOUNCE_S;
  const last = lastSeen.get(check.cardId);
  if (last !== undefined && Math.abs(atMs - last) < debounce * 1000) {
    return { ...answer, verdict: "duplicate", reason: "debounce" };
  }
  const mode = device.gate_mode || (device.info && device.info.gate_mode) || "auto";
  const onSite = presence.get(check.cardId) === true;
  if (mode === "entry" && onSite) return { ...answer, verdict: "duplicate", reason: "already_on_site" };
  if (mode === "exit" && !onSite) return { ...answer, verdict: "duplicate", reason: "not_on_site" };
  const verdict = mode === "exit" || (mode === "auto" && onSite) ? "checked_out" : "checked_in";
  return { ...answer, verdict };
}
