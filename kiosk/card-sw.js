// Offline from cold for the digital card page only (scope ./card): the page, its script and style.
// The card itself is in the page's localStorage; the API is never cached here.
const PREFIX = "checkin-card-";
const CACHE = `${PREFIX}v1`;
const ASSETS = ["card.html", "card.js", "card.css"];

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(ASSETS)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil((async () => {
    // Only this page's older caches: the kiosk's own worker keeps its caches on the same origin.
    for (const name of await caches.keys()) if (name.startsWith(PREFIX) && name !== CACHE) await caches.delete(name);
    await self.clients.claim();
  })());
});

self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  const scope = new URL(self.registration.scope);
  if (event.request.method !== "GET" || url.origin !== scope.origin || !url.pathname.startsWith(scope.pathname)) return;
  event.respondWith((async () => {
    const cache = await caches.open(CACHE);
    const cached = await cache.match(event.request, { ignoreSearch: true });
    // Served from the cache at once and refreshed behind it, so the card opens with no network.
    const fresh = fetch(event.request).then((resp) => {
      if (resp.ok) cache.put(url.pathname, resp.clone());
      return resp;
    });
    if (cached) {
      event.waitUntil(fresh.catch(() => {}));
      return cached;
    }
    return fresh;
  })());
});
