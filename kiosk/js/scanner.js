// Card texts from the two kinds of reader: the camera (QR decoded in the page with the vendored
// zxing-wasm) and a USB keyboard-wedge scanner (types the text, then Enter). Both may be used at once.
const FRAME_INTERVAL_MS = 120;
const SAME_CARD_GAP_MS = 2000; // a card held in view is one scan; it counts again after this long away
const WEDGE_GAP_MS = 500; // a scanner types fast; a longer pause starts a new text
const MAX_WIDTH = 960;

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

export class CameraReader {
  constructor(video, onText, onState) {
    this.video = video;
    this.onText = onText;
    this.onState = onState;
    this.canvas = document.createElement("canvas");
    this.last = { text: null, at: 0 };
    this.stream = null;
  }

  async start() {
    try {
      await prepareDecoder();
      this.stream = await navigator.mediaDevices.getUserMedia({
        audio: false,
        video: { facingMode: { ideal: "environment" }, width: { ideal: 1280 }, height: { ideal: 720 } },
      });
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
      const text = await this.readFrame().catch((err) => { console.warn(err); return null; });
      if (text) this.seen(text);
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

  async readFrame() {
    const { videoWidth: w, videoHeight: h } = this.video;
    if (!w || !h || document.hidden) return null;
    const scale = Math.min(1, MAX_WIDTH / w);
    this.canvas.width = Math.round(w * scale);
    this.canvas.height = Math.round(h * scale);
    const g = this.canvas.getContext("2d", { willReadFrequently: true });
    g.drawImage(this.video, 0, 0, this.canvas.width, this.canvas.height);
    const image = g.getImageData(0, 0, this.canvas.width, this.canvas.height);
    const results = await window.ZXingWASM.readBarcodes(image, { formats: ["QRCode"], maxNumberOfSymbols: 1 });
    const hit = results.find((r) => r.isValid && r.text);
    return hit ? hit.text : null;
  }
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
