// The digital card page's offline copy (kiosk/card/). It stays at /kiosk/card-sw.js with the scope
// /kiosk/card, which holds both the links already sent (/kiosk/card.html#t=...) and /kiosk/card/.
// The card itself is in the page's localStorage.
importScripts("shared/sw-cache.js");

cachePage({
  prefix: "checkin-card-",
  version: "v5", // v5: shared/api.js can report an upload's progress; v4: shared/api.js words refusals in the page's language; v3: shared/offline.js
  assets: ["card/", "card/card.js", "card/card.css", "shared/api.js", "shared/dom.js", "shared/i18n.js",
    "shared/offline.js"],
  moved: { "card.html": "card/" },
});
