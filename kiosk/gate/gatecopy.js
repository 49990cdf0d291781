// The gate copy of the event (cards, presence, gate policy) kept in IndexedDB and fresh while online, so an
// offline scan is decided by the same rules the server applies (./rules.js). Presence is the server's copy
// overlaid by this kiosk's own scans since ("local"); an overlay entry goes once a copy taken after its scan
// was answered holds it.
import { gateCopy } from "./api.js";
import { deleteLocal, loadCopy, putLocal, saveCopy } from "./store.js";
import { noteAt } from "./notes.js";
import { afterScan, decide, gateMode, serviceDay, timeRefusal } from "./rules.js";

// The gateway sends roster records and revocations apart; the kiosk keeps one record per card:
// {st: "revoked"}, the roster record with st "active", or none (null: delete it).
function cardsOf(copy) {
  const cards = {};
  for (const [id, record] of Object.entries(copy.cards)) cards[id] = record ? { ...record, st: "active" } : null;
  for (const [id, revoked] of Object.entries(copy.revoked)) {
    if (revoked) cards[id] = { st: "revoked" };
    else if (!(id in cards)) cards[id] = null;
  }
  return cards;
}

export class GateCopy {
  constructor() {
    this.meta = null; // {event_id, cursor, policy, gates, synced_at}
    this.cards = new Map(); // card id -> {st: "revoked"} | roster record
    this.presence = new Map(); // volunteer id -> presence record
    this.local = new Map(); // volunteer id -> {p: presence after this kiosk's scan, t: when it was made}
  }

  async load() {
    const held = await loadCopy();
    this.meta = held.meta;
    this.cards = new Map(held.cards);
    this.presence = new Map(held.presence);
    this.local = new Map(held.local);
  }

  ready(eventId) {
    return this.meta !== null && this.meta.event_id === eventId;
  }

  // settled: no scan of this kiosk is waiting for an answer, so the server's presence includes them all.
  async refresh(token, eventId, settled) {
    const started = Date.now();
    const since = this.ready(eventId) ? this.meta.cursor : null;
    const copy = await gateCopy(token, since);
    const meta = { event_id: copy.event_id, cursor: copy.cursor, policy: copy.policy, gates: copy.gates,
      event_name: copy.event_name, synced_at: Date.now() };
    const cards = cardsOf(copy);
    await saveCopy(meta, { whole: copy.whole, cards, presence: copy.presence });
    for (const [target, part, whole] of [[this.cards, cards, copy.whole.cards],
      [this.presence, copy.presence, copy.whole.presence]]) {
      if (whole) target.clear();
      for (const [key, value] of Object.entries(part)) {
        if (value === null) target.delete(key);
        else target.set(key, value);
      }
    }
    this.meta = meta;
    if (settled) {
      const stale = [...this.local].filter(([, l]) => l.t < started).map(([vid]) => vid);
      for (const vid of stale) this.local.delete(vid);
      if (stale.length) await deleteLocal(stale);
    }
    return copy;
  }

  presenceOf(vid) {
    const mine = this.local.get(vid);
    return mine ? mine.p : this.presence.get(vid);
  }

  // The provisional answer for a card whose signature was checked (check: {ok, cardId, reason}).
  answer(check, atMs, device) {
    const policy = this.meta.policy;
    const gate = this.meta.gates[device.gate_id];
    const card = check.cardId ? this.cards.get(check.cardId) : undefined;
    const entry = card && card.st === "active" ? card : null;
    const facts = {
      at: atMs, warnings: [], eventOpen: policy.status === "open", gateMode: gateMode(gate ? gate.m : null, ""),
      cardReason: check.ok === false ? check.reason : null, revoked: Boolean(card && card.st === "revoked"),
      entry, day: serviceDay(atMs, policy.day_offset_min || 0),
    };
    // Outside the event's days (with its margin) the server stores nothing: say so rather than a verdict.
    const refused = timeRefusal(atMs, atMs, policy);
    const presence = entry ? this.presenceOf(entry.v) : null;
    const v = refused ? { verdict: "rejected", reason: refused, warnings: [], minutes: null }
      : decide(facts, presence, policy);
    // As the server's answer does: a duplicate names the accepted scan it repeats.
    const last = v.verdict === "duplicate" && presence && Number.isFinite(presence.last)
      ? { verdict: presence.on === 1 || presence.on === true ? "checked_in" : "checked_out",
        at: new Date(presence.last).toISOString() } : null;
    // The server names the volunteer once the card is found on the roster, refused or not.
    const named = entry && !facts.cardReason && !facts.revoked && facts.eventOpen && facts.gateMode;
    // As the server's answer does: a check-in carries the volunteer's attention note.
    const note = v.verdict === "checked_in" && entry
      ? noteAt(entry, atMs, policy.shift_early_min ?? 60, policy.shift_late_min ?? 60) : null;
    return {
      verdict: v.verdict, reason: v.reason, warnings: v.warnings, session_minutes: v.minutes, provisional: true, note,
      card_id: check.cardId, volunteer: named ? { display_name: entry.n, team: entry.t } : null,
      volunteer_id: entry ? entry.v : null, zone: gate ? gate.z : null, at: atMs, last_scan: last,
    };
  }

  // Any answer (provisional or the server's) moves presence as the scan script would.
  async remember(vid, verdict, atMs, scanId, minutes, zone, reason = null) {
    const asked = verdict === "duplicate" && reason === "confirm_checkout"; // the next scan may check out
    if (!vid || (verdict !== "checked_in" && verdict !== "checked_out" && !asked)) return;
    const day = serviceDay(atMs, (this.meta && this.meta.policy.day_offset_min) || 0);
    const p = afterScan(this.presenceOf(vid), verdict, atMs, scanId, day, minutes, zone, reason);
    const mine = { p, t: Date.now() };
    this.local.set(vid, mine);
    await putLocal(vid, mine);
  }
}
