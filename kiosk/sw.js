// The gate kiosk's offline copy (kiosk/gate/ and what it loads). It stays at /kiosk/sw.js with the
// scope /kiosk/ because gates enrolled before the page moved hold this registration and open /kiosk/.
importScripts("shared/sw-cache.js");

cachePage({
  prefix: "checkin-kiosk-",
  version: "v8", // v8: the gate copy brings the signing keys (gate/sync.js takeKeys), gate/cards.js asks for the key on every check, shared/api.js can report an upload's progress; v7: gate/scanner.js crops on whole pixels, shared/api.js words refusals in the page's language; v6: shared/offline.js; v5: gate/scanner.js reads a card whose first candidate fails; v4: the poll reports the page version and journal (gate/api.js APP_VERSION); v3: gate/notes.js
  assets: [
    "gate/", "gate/gate.css",
    "gate/main.js", "gate/api.js", "gate/cards.js", "gate/clock.js", "gate/enroll.js", "gate/local.js",
    "gate/scanner.js", "gate/screen.js", "gate/sound.js", "gate/store.js", "gate/sync.js", "gate/text.js",
    "gate/rules.js", "gate/gatecopy.js", "gate/notes.js",
    "shared/api.js", "shared/dom.js", "shared/i18n.js", "shared/offline.js",
    "vendor/zxing-wasm/zxing-reader.iife.js", "vendor/zxing-wasm/zxing_reader.wasm",
  ],
  moved: { "": "gate/", "index.html": "gate/" },
});
