// A distinct short sound per verdict (Web Audio, no files): rising for in, falling for out,
// two flat beeps for a duplicate, a low buzz for a refusal, a soft falling pair for an undo.
const TUNES = {
  checked_in: [[660, 0, 0.12], [880, 0.13, 0.18]],
  checked_out: [[880, 0, 0.12], [587, 0.13, 0.18]],
  duplicate: [[520, 0, 0.1], [520, 0.16, 0.1]],
  annulled: [[440, 0, 0.1], [330, 0.12, 0.2]],
  rejected: [[180, 0, 0.45]],
};
let ctx = null;
let listener = () => {};

// True only while the browser actually lets the gate make a sound.
export const soundOn = () => Boolean(ctx && ctx.state === "running");

// onChange(on): told whenever sound turns on or off, so the screen never hides a silent gate.
export function watchSound(onChange) {
  listener = onChange;
  if (!ctx && window.AudioContext) {
    // Made at once: a browser that allows sound without a gesture runs it now, any other keeps it suspended.
    ctx = new AudioContext();
    ctx.addEventListener("statechange", () => listener(soundOn()));
  }
  listener(soundOn());
}

export function unlock() {
  // Browsers start audio only after a user gesture; the first tap or key press opens it.
  if (ctx && ctx.state === "suspended") ctx.resume().then(() => listener(soundOn()), () => {});
}

export function play(verdict) {
  if (!soundOn()) return;
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
