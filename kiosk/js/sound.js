// A distinct short sound per verdict (Web Audio, no files): rising for in, falling for out,
// two flat beeps for a duplicate, a low buzz for a refusal.
const TUNES = {
  checked_in: [[660, 0, 0.12], [880, 0.13, 0.18]],
  checked_out: [[880, 0, 0.12], [587, 0.13, 0.18]],
  duplicate: [[520, 0, 0.1], [520, 0.16, 0.1]],
  rejected: [[180, 0, 0.45]],
};
let ctx = null;

export function unlock() {
  // Browsers start audio only after a user gesture; the first tap or key press opens it.
  if (!ctx && window.AudioContext) ctx = new AudioContext();
  if (ctx && ctx.state === "suspended") ctx.resume();
}

export function play(verdict) {
  if (!ctx) return;
  const tune = TUNES[verdict] || TUNES.rejected;
  const start = ctx.currentTime + 0.01;
  for (const [freq, at, length] of tune) {
    const osc = ctx.createOscillator();
    const gain = ctx.createGain();
    osc.type = verdict === "rejected" ? "square" : "sine";
    osc.frequency.value = freq;
    gain.gain.setValueAtTime(0.0001, start + at);
    gain.gain.exponentialRampToValueAtTime(0.4, start + at + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, start + at + length);
    osc.connect(gain).connect(ctx.destination);
    osc.start(start + at);
    osc.stop(start + at + length + 0.05);
  }
}
