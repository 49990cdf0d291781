// The gate rules in the browser, for an offline verdict: a port of checkin/scan/rules.py `decide` (the
// reference; the Lua twin is checkin/scan/lua/scan.lua). tests/unit/test_rules_js.py holds this file to the
// same table, tests/rules_table.py. Pure: no DOM, no storage, so node can run it too.
//
// Shapes are the ones Redis holds and the gate copy carries:
//   policy   {status, debounce_s, insurance, shift_early_min, shift_late_min, clock_skew_s, day_offset_min,
//             max_continuous_min, max_daily_min, senior_max_continuous_min, senior_max_daily_min,
//             min_session_min, confirm_s}
//   entry    a roster record {v, n, t, z, i0, i1, s: [[start_ms, end_ms, ...], ...], o}
//   presence {on, last, cid, cat, z, dd, dm, cf} (absent fields: never seen; cf: a check-out asked to be confirmed)

const num = (value, fallback) => (value === undefined || value === null ? fallback : Number(value));

export function restLimits(policy, senior) {
  const stricter = (general, older) => {
    if (!senior || older <= 0) return general;
    return general <= 0 ? older : Math.min(general, older);
  };
  return [
    stricter(num(policy.max_continuous_min, 0), num(policy.senior_max_continuous_min, 0)),
    stricter(num(policy.max_daily_min, 0), num(policy.senior_max_daily_min, 0)),
  ];
}

export function insured(entry, atMs) {
  if (entry.i0 === undefined || entry.i0 === null || entry.i1 === undefined || entry.i1 === null) return false;
  return entry.i0 <= atMs && atMs < entry.i1;
}

export function withinShift(entry, atMs, policy) {
  const early = num(policy.shift_early_min, 60) * 60000;
  const late = num(policy.shift_late_min, 60) * 60000;
  return (entry.s || []).some(([start, end]) => start - early <= atMs && atMs <= end + late);
}

// A live scan from a device whose clock is off counts at the server's time; a replayed one keeps its own.
export function effectiveTime(deviceMs, serverMs, online, policy) {
  if (online && Math.abs(deviceMs - serverMs) > num(policy.clock_skew_s, 120) * 1000) {
    return [serverMs, ["clock_skew"]];
  }
  return [deviceMs, []];
}

// configured: the gate's mode in this event, or null for a gate of no concern to it. A kiosk may narrow an
// auto gate to entry or exit; at an entry or exit gate its request is ignored.
export function gateMode(configured, requested) {
  if (configured === null || configured === undefined) return null;
  return requested && configured === "auto" ? requested : configured;
}

// Why a scan counting at atMs may not be stored at all (the server will refuse it), or null: a time past
// the server clock plus the skew allowance, or outside the event's days widened by its margin
// (policy.scan_from_ms .. scan_until_ms, as the event's meta hash holds them).
export function timeRefusal(atMs, serverMs, policy) {
  if (atMs > serverMs + num(policy.clock_skew_s, 120) * 1000) return "scan_in_future";
  const from = policy.scan_from_ms;
  const until = policy.scan_until_ms;
  if (from !== undefined && from !== null && until !== undefined && until !== null && (atMs < from || atMs >= until)) {
    return "outside_event_dates";
  }
  return null;
}

export function serviceDay(atMs, offsetMin) {
  return Math.floor((atMs + offsetMin * 60000) / 86400000);
}

// A check-out of someone on site, this soon after their check-in, that no recent scan has confirmed.
export function needsConfirming(at, p, policy) {
  const min = num(policy.min_session_min, 0);
  if (min <= 0 || p.cat === undefined || p.cat === null) return false;
  if (at - p.cat >= min * 60000) return false;
  const asked = p.cf === undefined || p.cf === null ? null : p.cf;
  return asked === null || at < asked || at - asked > num(policy.confirm_s, 30) * 1000;
}

// facts: {at, eventOpen, gateMode, cardReason, revoked, entry, warnings, day}
// Returns {verdict, reason, warnings, minutes} (minutes: a check-out's session, else null).
export function decide(facts, presence, policy) {
  const warnings = [...(facts.warnings || [])];
  const out = (verdict, reason = null, minutes = null) => ({ verdict, reason, warnings, minutes });
  if (!facts.eventOpen) return out("rejected", "event_closed");
  if (facts.gateMode === null || facts.gateMode === undefined) return out("rejected", "wrong_gate");
  if (facts.cardReason) return out("rejected", facts.cardReason);
  if (facts.revoked) return out("rejected", "revoked");
  const entry = facts.entry;
  if (!entry) return out("rejected", "not_on_roster");
  const insurance = policy.insurance || "warn";
  if (insurance !== "off" && !insured(entry, facts.at)) {
    if (insurance === "block") return out("rejected", "not_insured");
    warnings.push("not_insured");
  }
  const p = presence || {};
  const onSite = p.on === 1;
  const last = p.last === undefined ? null : p.last;
  if (last !== null && Math.abs(facts.at - last) < num(policy.debounce_s, 60) * 1000) {
    return out("duplicate", "debounce");
  }
  if (facts.gateMode === "entry" && onSite) return out("duplicate", "already_on_site");
  if (facts.gateMode === "exit" && !onSite) return out("duplicate", "not_on_site");
  const [continuous, daily] = restLimits(policy, entry.o === 1);
  const served = p.dd === facts.day ? num(p.dm, 0) : 0;
  if (!onSite) {
    if (!withinShift(entry, facts.at, policy)) warnings.push("outside_shift");
    if (daily && served >= daily) warnings.push("over_rest_limit");
    return out("checked_in");
  }
  if (facts.gateMode === "auto" && needsConfirming(facts.at, p, policy)) return out("duplicate", "confirm_checkout");
  const since = p.cat === undefined || p.cat === null ? facts.at : p.cat;
  const minutes = Math.max(0, Math.floor((facts.at - since) / 60000));
  if ((continuous && minutes > continuous) || (daily && served + minutes > daily)) warnings.push("over_rest_limit");
  return out("checked_out", null, minutes);
}

// The presence after a scan, as the scan script writes it (what the next scan is decided on).
export function afterScan(presence, verdict, at, scanId, day, minutes, zone, reason = null) {
  const p = presence || {};
  if (verdict === "duplicate" && reason === "confirm_checkout") return { ...p, cf: at };
  const served = p.dd === day ? num(p.dm, 0) : 0;
  if (verdict === "checked_in") return { on: 1, last: at, cid: scanId, cat: at, z: zone, dd: day, dm: served };
  if (verdict === "checked_out") return { on: 0, last: at, z: p.z || zone, dd: day, dm: served + (minutes || 0) };
  return presence;
}
