// What both service workers do (loaded with importScripts by kiosk/sw.js and kiosk/card-sw.js):
// keep a page's files in a cache of their own, serve them from it first and refresh it behind,
// so a page once opened online opens with no network. The API is never cached.
// moved: old page paths (relative to the scope's folder) answered with a redirect to their new
// folder, offline too; the browser keeps the #fragment across it.
/* exported cachePage */
function cachePage({ prefix, version, assets, moved = {} }) {
  const cacheName = `${prefix}${version}`;
  const base = new URL("./", self.location.href); // the folder both workers sit in: /kiosk/
  const ours = new Set(assets.map((a) => new URL(a, base).pathname));

  self.addEventListener("install", (event) => {
    event.waitUntil(caches.open(cacheName).then((cache) => cache.addAll(assets)).then(() => self.skipWaiting()));
  });

  self.addEventListener("activate", (event) => {
    event.waitUntil((async () => {
      // Only this page's older caches: the other worker keeps its own on the same origin.
      for (const name of await caches.keys()) if (name.startsWith(prefix) && name !== cacheName) await caches.delete(name);
      await self.clients.claim();
    })());
  });

  self.addEventListener("fetch", (event) => {
    const url = new URL(event.request.url);
    const scope = new URL(self.registration.scope);
    if (event.request.method !== "GET" || url.origin !== scope.origin) return;
    const path = url.pathname.slice(base.pathname.length);
    if (url.pathname.startsWith(base.pathname) && path in moved) {
      event.respondWith(Response.redirect(new URL(moved[path], base).href + url.search, 302));
      return;
    }
    // Files of the page may sit outside the scope (the shared modules); they are served from here too.
    if (!url.pathname.startsWith(scope.pathname) && !ours.has(url.pathname)) return;
    event.respondWith((async () => {
      const cache = await caches.open(cacheName);
      const cached = await cache.match(url.pathname);
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
}
