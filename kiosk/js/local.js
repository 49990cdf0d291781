// What the gate can say on its own when the gateway is out of reach: a provisional verdict from the
// card's signature, this device's own recent scans (debounce) and the gate's mode.
import { checkCard } from "./cards.js";

const DEFAULT_DEBOUNCE_S = 60;
const lastSeen = new Map(); // card_id -> device-clock ms of the last accepted scan here
const presence = new Map(); // card_id -> true (on site) / false, as far as this device knows

export function remember(cardId, verdict, atMs) {
  if (!cardId) return;
  if (verdict === "checked_in" || verdict === "checked_out") lastSeen.set(cardId, atMs);
  if (verdict === "checked_in") presence.set(cardId, true);
  if (verdict === "checked_out") presence.set(cardId, false);
}

// Rebuild what this device knows from its journal after a reload.
export function rememberJournal(entries) {
  for (const e of entries) remember(e.card_id, e.answered || e.provisional, Date.parse(e.scanned_at));
}

export async function provisional(card, atMs, device) {
  const check = await checkCard(card, device.public_keys);
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
