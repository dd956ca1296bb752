// Service worker of the Baton driver app, served as /driver/sw.js (scope /driver/) by
// baton.entrypoints.web.driver, which fills in the asset version and the pre-cache list.
//
// * shell + assets: pre-cached at install, served cache-first (a new release = a new cache name);
// * navigations under /driver/: network first, the cached shell when offline;
// * GET /api/v1/driver/route: network first, the last good answer when offline;
// * /static/zxing-wasm/ (barcode reader, ~1 MB): cached on first use;
// * everything else (POSTs, the event stream, other API calls) goes to the network untouched: the
//   app's outbox (IndexedDB) is what makes actions survive being offline.
const VERSION = "__ASSET_VERSION__";
const SHELL = `baton-driver-shell-${VERSION}`;
const DATA = "baton-driver-data";
const LAZY = "baton-driver-lazy";
const PRECACHE = __PRECACHE__;
const ROUTE_URL = "/api/v1/driver/route";

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(SHELL).then((cache) => cache.addAll(PRECACHE)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil((async () => {
    for (const name of await caches.keys()) {
      if (name.startsWith("baton-driver-shell-") && name !== SHELL) await caches.delete(name);
    }
    await self.clients.claim();
  })());
});

async function networkFirst(request, cacheName, key) {
  try {
    const response = await fetch(request);
    if (response.ok) {
      const cache = await caches.open(cacheName);
      await cache.put(key || request, response.clone());
    }
    return response;
  } catch (err) {
    const cached = await caches.match(key || request);
    if (cached) return cached;
    throw err;
  }
}

async function cacheFirst(request, cacheName) {
  const cached = await caches.match(request, {ignoreSearch: true});
  if (cached) return cached;
  const response = await fetch(request);
  if (response.ok && cacheName) (await caches.open(cacheName)).put(request, response.clone());
  return response;
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (url.pathname === ROUTE_URL) {
    event.respondWith(networkFirst(request, DATA, ROUTE_URL));
  } else if (request.mode === "navigate" && url.pathname.startsWith("/driver/")) {
    event.respondWith(networkFirst(request, SHELL, "/driver/"));
  } else if (url.pathname.startsWith("/static/zxing-wasm/")) {
    event.respondWith(cacheFirst(request, LAZY));
  } else if (PRECACHE.includes(url.pathname)) {
    event.respondWith(cacheFirst(request, null));
  }
});

self.addEventListener("message", (event) => {
  if (event.data === "sign-out") event.waitUntil(caches.delete(DATA));
});
