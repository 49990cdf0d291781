// The attention note a check-in gets offline, from the roster record the gate copy holds: the JavaScript twin of
// checkin/events/notes.py note_at (a: the volunteer's or else the team's note; as: shift id -> note, used when
// the check-in falls in that shift's window, the first such shift in start order).
export function noteAt(record, atMs, earlyMin, lateMin) {
  const byShift = record && record.as;
  if (byShift) {
    const early = (earlyMin || 0) * 60000;
    const late = (lateMin || 0) * 60000;
    for (const [start, end, sid] of record.s || []) {
      if (sid in byShift && start - early <= atMs && atMs <= end + late) return String(byShift[sid]);
    }
  }
  return record && record.a ? String(record.a) : null;
}
