// Offline from cold: the kiosk page and its assets come from this cache; the API never does.
// Served from the cache first and refreshed behind it, so a gate keeps working with no network.
const CACHE = "checkin-kiosk-v1";
const ASSETS = [
  "./", "index.html", "kiosk.css",
  "js/main.js", "js/api.js", "js/cards.js", "js/clock.js", "js/enroll.js", "js/i18n.js", "js/local.js",
  "js/scanner.js", "js/screen.js", "js/sound.js", "js/store.js", "js/sync.js",
  "vendor/zxing-wasm/zxing-reader.iife.js", "vendor/zxing-wasm/zxing_reader.wasm",
];

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(ASSETS)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil((async () => {
    // Only our own older versions: the digital card page keeps its offline copy in a cache of its own.
    for (const name of await caches.keys()) if (name.startsWith("checkin-kiosk-") && name !== CACHE) await caches.delete(name);
    await self.clients.claim();
  })());
});

self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  const scope = new URL(self.registration.scope);
  if (event.request.method !== "GET" || url.origin !== scope.origin || !url.pathname.startsWith(scope.pathname)) return;
  event.respondWith((async () => {
    const cache = await caches.open(CACHE);
    const key = url.pathname === scope.pathname ? "./" : event.request;
    const cached = await cache.match(key, { ignoreSearch: true });
    const fresh = fetch(event.request).then((resp) => {
      if (resp.ok) cache.put(key, resp.clone());
      return resp;
    });
    if (cached) {
      event.waitUntil(fresh.catch(() => {}));
      return cached;
    }
    return fresh;
  })());
});
