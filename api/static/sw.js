/* Sipantau monitor page, service worker (scope /m/): keeps the page and its assets so that it
   opens with no signal after a first visit. Network first (fresh when there is signal), the
   cached copy when the network fails or is too slow. The API is never cached here: photos and
   reports wait in the page's own queue (IndexedDB) until they are acknowledged. */
"use strict";

var VERSION = "sipantau-m-1";
var SHELL = [
  "/m/",
  "/m/manifest.webmanifest",
  "/static/monitor.css",
  "/static/monitor.js",
  "/static/icon-192.png",
  "/static/icon-512.png"
];
var SLOW_MS = 4000;  // weak signal: fall back to the cached copy after this long

self.addEventListener("install", function (event) {
  event.waitUntil(
    caches.open(VERSION)
      .then(function (cache) { return cache.addAll(SHELL.map(function (u) { return new Request(u, { cache: "reload" }); })); })
      .then(function () { return self.skipWaiting(); })
  );
});

self.addEventListener("activate", function (event) {
  event.waitUntil(
    caches.keys()
      .then(function (keys) {
        return Promise.all(keys.filter(function (k) { return k !== VERSION; })
          .map(function (k) { return caches.delete(k); }));
      })
      .then(function () { return self.clients.claim(); })
  );
});

function shellKey(request) {
  var url = new URL(request.url);
  if (url.origin !== self.location.origin || request.method !== "GET") return null;
  if (request.mode === "navigate" && (url.pathname === "/m/" || url.pathname === "/m")) return "/m/";
  return SHELL.indexOf(url.pathname) >= 0 ? url.pathname : null;
}

function fromNetwork(request, key) {
  return fetch(request).then(function (response) {
    if (response.ok) {
      var copy = response.clone();
      caches.open(VERSION).then(function (cache) { return cache.put(key, copy); });
    }
    return response;
  });
}

self.addEventListener("fetch", function (event) {
  var key = shellKey(event.request);
  if (!key) return;  // the API and anything else: straight to the network
  event.respondWith(new Promise(function (resolve) {
    var done = false;
    function cached() {
      return caches.match(key).then(function (hit) { return hit || null; });
    }
    var timer = setTimeout(function () {
      cached().then(function (hit) { if (hit && !done) { done = true; resolve(hit); } });
    }, SLOW_MS);
    fromNetwork(event.request, key).then(function (response) {
      clearTimeout(timer);
      if (!done) { done = true; resolve(response); }
    }, function () {
      clearTimeout(timer);
      cached().then(function (hit) {
        if (done) return;
        done = true;
        resolve(hit || new Response("Tidak ada sinyal dan halaman belum tersimpan di HP.",
          { status: 503, headers: { "Content-Type": "text/plain; charset=utf-8" } }));
      });
    });
  }));
});
