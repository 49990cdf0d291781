// Card texts from the two kinds of reader: the camera (QR decoded in the page with the vendored
// zxing-wasm) and a USB keyboard-wedge scanner (types the text, then Enter). Both may be used at once.
const FRAME_INTERVAL_MS = 120;
const SAME_CARD_GAP_MS = 2000; // a card held in view is one scan; it counts again after this long away
const WEDGE_GAP_MS = 500; // a scanner types fast; a longer pause starts a new text
const MAX_WIDTH = 960; // the whole frame is decoded at most this wide (a 1080p frame takes too long)
// The centre crop, decoded at the camera's full resolution on every other frame: a card held at arm's length
// has too few pixels a module once the whole frame is scaled down. Its size is the aiming frame's on screen
// (gate.css .aim: 50% × 66% of the picture).
export const CROP_W = 0.5;
export const CROP_H = 0.66;
// "Hold it closer": a symbol zxing locates but cannot decode (returnErrors gives it back with isValid false)
// for this long with no read between. Cheap, since the decoder finds the finder patterns anyway; a blank
// scene or a printed page of text has none, so it says nothing.
const CLOSER_AFTER_MS = 2000;
const CLOSER_FORGET_MS = 1000; // no located symbol for this long: the hint's clock starts again

let zxingReady = null;

function prepareDecoder() {
  if (!zxingReady) {
    const wasm = new URL("../vendor/zxing-wasm/zxing_reader.wasm", import.meta.url).href;
    zxingReady = window.ZXingWASM.prepareZXingModule({
      overrides: { locateFile: (path, prefix) => (path.endsWith(".wasm") ? wasm : prefix + path) },
      fireImmediately: true,
    });
  }
  return zxingReady;
}

// The best the camera offers up to 1920×1080 (at least 1280×720 asked), and continuous focus where the track
// supports it: a card at arm's length needs the pixels and a sharp picture.
async function tuneTrack(track) {
  const caps = track.getCapabilities ? track.getCapabilities() : {};
  const wanted = {};
  if (caps.width && caps.width.max) wanted.width = { ideal: Math.min(caps.width.max, 1920) };
  if (caps.height && caps.height.max) wanted.height = { ideal: Math.min(caps.height.max, 1080) };
  if (Array.isArray(caps.focusMode) && caps.focusMode.includes("continuous")) {
    wanted.advanced = [{ focusMode: "continuous" }];
  }
  if (Object.keys(wanted).length) await track.applyConstraints(wanted).catch((err) => console.warn(err));
}

// When a located but unread symbol has been in view long enough to say "hold it closer".
export class CloserHint {
  constructor() {
    this.since = null;
    this.lastSeen = 0;
  }

  // located: this frame shows a symbol zxing found but could not read; read: it read a card.
  update(now, located, read) {
    if (read) this.since = null;
    else if (located) {
      if (this.since === null || now - this.lastSeen > CLOSER_FORGET_MS) this.since = now;
      this.lastSeen = now;
    } else if (this.since !== null && now - this.lastSeen > CLOSER_FORGET_MS) this.since = null;
    return this.since !== null && now - this.since >= CLOSER_AFTER_MS;
  }
}

export class CameraReader {
  // onCloser(bool): show or hide the "hold it closer" hint.
  constructor(video, onText, onState, onCloser = () => {}) {
    this.video = video;
    this.onText = onText;
    this.onState = onState;
    this.onCloser = onCloser;
    this.canvas = document.createElement("canvas");
    this.last = { text: null, at: 0 };
    this.stream = null;
    this.frame = 0;
    this.closer = new CloserHint();
    this.closerShown = false;
  }

  async start() {
    try {
      const decoder = prepareDecoder(); // the WebAssembly loads while the camera starts
      this.stream = await navigator.mediaDevices.getUserMedia({
        audio: false,
        video: { facingMode: { ideal: "environment" }, width: { min: 640, ideal: 1920 },
          height: { min: 480, ideal: 1080 } },
      }).catch(() => navigator.mediaDevices.getUserMedia({ audio: false, video: { facingMode: { ideal: "environment" } } }));
      await tuneTrack(this.stream.getVideoTracks()[0]);
      await decoder;
    } catch (err) {
      console.warn("camera unavailable", err);
      this.onState(false, String(err && err.name || err));
      return;
    }
    this.video.srcObject = this.stream;
    await this.video.play().catch(() => {});
    this.onState(true, "");
    this.loop();
  }

  async loop() {
    while (this.stream) {
      await new Promise((r) => setTimeout(r, FRAME_INTERVAL_MS));
      const found = await this.readFrame().catch((err) => { console.warn(err); return null; });
      if (!found) continue;
      if (found.text) this.seen(found.text);
      const closer = this.closer.update(performance.now(), found.located, Boolean(found.text));
      if (closer !== this.closerShown) {
        this.closerShown = closer;
        this.onCloser(closer);
      }
    }
  }

  seen(text) {
    const now = performance.now();
    const same = text === this.last.text && now - this.last.at < SAME_CARD_GAP_MS;
    this.last = { text, at: now };
    this.reads = (this.reads || 0) + 1;
    document.body.dataset.cameraReads = String(this.reads); // frames with a code in them, for tests
    if (!same) this.onText(text, "camera");
  }

  // Alternately the whole frame (scaled to MAX_WIDTH) and the centre crop at full resolution.
  // Returns {text, located} or null when there is no picture yet.
  async readFrame() {
    const { videoWidth: w, videoHeight: h } = this.video;
    if (!w || !h || document.hidden) return null;
    this.frame += 1;
    const crop = this.frame % 2 === 0;
    const sw = crop ? Math.round(w * CROP_W) : w;
    const sh = crop ? Math.round(h * CROP_H) : h;
    const scale = crop ? 1 : Math.min(1, MAX_WIDTH / w);
    this.canvas.width = Math.round(sw * scale);
    this.canvas.height = Math.round(sh * scale);
    const g = this.canvas.getContext("2d", { willReadFrequently: true });
    // Whole pixels: a crop starting half a pixel down (720 × 0.66 = 475, so 122.5) is drawn blended row into
    // row, a blur that left some small cards unread for good (1 in 20 random cards at 17% of the width).
    const sx = Math.floor((w - sw) / 2);
    const sy = Math.floor((h - sh) / 2);
    g.drawImage(this.video, sx, sy, sw, sh, 0, 0, this.canvas.width, this.canvas.height);
    const found = await decodeImage(g.getImageData(0, 0, this.canvas.width, this.canvas.height));
    document.body.dataset.cameraFrames = String(this.frame); // for tests: the reader is running
    if (found.located) {
      this.locatedFrames = (this.locatedFrames || 0) + 1;
      document.body.dataset.cameraLocated = String(this.locatedFrames); // for tests: frames with an unread code
    }
    return found;
  }
}

// No maxNumberOfSymbols: with returnErrors, a limit of 1 is used up by the first candidate that fails its
// checksum, and the pass that would have read the card never runs (seen on a small card in the centre crop:
// unread for a minute, while the same pixels read at once without the limit). One decode of either view
// takes about 10 ms in headless Chromium on a two-core machine (python -m tests.browser.reader_probe).
const READ_OPTIONS = { formats: ["QRCode"], returnErrors: true };

// One picture's card text, or null, and whether zxing located a symbol it could not read.
export async function decodeImage(image) {
  await prepareDecoder();
  const results = await window.ZXingWASM.readBarcodes(image, READ_OPTIONS);
  const hit = results.find((r) => r.isValid && r.text);
  return { text: hit ? hit.text : null, located: !hit && results.length > 0 };
}

// Keystrokes outside form fields, collected until Enter.
export function listenWedge(onText) {
  let buffer = "";
  let lastKey = 0;
  document.addEventListener("keydown", (ev) => {
    const target = ev.target;
    if (target && (target.tagName === "INPUT" || target.tagName === "TEXTAREA" || target.isContentEditable)) return;
    const now = performance.now();
    if (now - lastKey > WEDGE_GAP_MS) buffer = "";
    lastKey = now;
    if (ev.key === "Enter") {
      const text = buffer.trim();
      buffer = "";
      if (text) onText(text, "wedge");
      ev.preventDefault();
    } else if (ev.key.length === 1 && !ev.ctrlKey && !ev.metaKey && !ev.altKey) {
      buffer += ev.key;
      ev.preventDefault();
    }
  });
}
