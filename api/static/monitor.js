/* Sipantau monitor page: log in, photograph the form, shrink it, queue it, send it, show
   the verdict. Every photo and every incident report goes to IndexedDB first and leaves it
   only after a 200/201; the service worker (/m/sw.js) keeps the page itself for no signal. */
(function () {
  "use strict";

  var API = "/api/v1";
  var KEY = { token: "sipantau.token", user: "sipantau.user", election: "sipantau.election",
              tps: "sipantau.tps", race: "sipantau.race", mine: "sipantau.mine" };
  var MAX_SIDE = 2000;          // px, long side after shrinking (never upscaled)
  var QUALITY = 0.85;           // JPEG quality of the shrunk photo
  var UPLOAD_WAIT = 15;         // s the server may hold the upload answer while reading
  var POLL_WAIT = 10;           // s per status poll
  var PERIOD_MS = 20000;        // the queue is retried at least this often
  var PENDING = { queued: 1, reading: 1 };
  var LABEL = {
    queued: "Menunggu dibaca", reading: "Sedang dibaca", rejected: "Ditolak",
    review: "Diperiksa posko", verified: "Terverifikasi", sent_back: "Dikembalikan",
    superseded: "Diganti", unsent: "Belum terkirim", withdrawn: "Ditarik"
  };
  var WITHDRAWABLE = { queued: 1, reading: 1, review: 1, verified: 1, sent_back: 1, rejected: 1 };
  // what the page says itself, by the server's stable codes (never by its wording)
  var LOCAL = {
    not_an_image: "Berkas ini bukan foto. Ambil foto formulir dengan kamera lalu kirim lagi.",
    truncated: "Foto tidak utuh (berkas terpotong). Ambil foto ulang lalu kirim lagi."
  };
  var REVIEW_TEXT = "Foto diterima; angka akan diperiksa petugas posko";
  var OFFLINE_TEXT = "Tidak ada sinyal — foto disimpan dan akan dikirim otomatis";

  var $ = function (id) { return document.getElementById(id); };
  var KIND_LABEL = {};
  var state = {
    token: localStorage.getItem(KEY.token),
    user: readJson(KEY.user),
    election: readJson(KEY.election),
    sending: false, again: false, netDown: false, timer: null,
    current: null,    // client_id of the photo taken last (its progress is shown)
    retry: {},        // client_id -> {n: attempts, at: ms epoch of the next try}
    pollGen: 0
  };

  // ---------- small helpers ----------
  function readJson(key) {
    try { return JSON.parse(localStorage.getItem(key) || "null"); } catch (e) { return null; }
  }
  function sleep(ms) { return new Promise(function (r) { setTimeout(r, ms); }); }
  function show(el, on) { el.hidden = !on; }
  function sentence(s) { s = String(s || ""); return s.charAt(0).toUpperCase() + s.slice(1); }
  function fmtBytes(n) {
    if (n >= 1e6) return (n / 1e6).toFixed(1).replace(".", ",") + " MB";
    if (n >= 1e3) return Math.round(n / 1e3) + " KB";
    return n + " B";
  }
  function uuid() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    var b = crypto.getRandomValues(new Uint8Array(16)), h = [];  // plain http: no randomUUID
    b[6] = (b[6] & 0x0f) | 0x40; b[8] = (b[8] & 0x3f) | 0x80;
    for (var i = 0; i < 16; i++) h.push((b[i] + 0x100).toString(16).slice(1));
    return h.slice(0, 4).join("") + "-" + h.slice(4, 6).join("") + "-" + h.slice(6, 8).join("") +
      "-" + h.slice(8, 10).join("") + "-" + h.slice(10).join("");
  }
  function backoffMs(n, retryAfterS) {
    var base = Math.min(60000, 1000 * Math.pow(2, Math.max(0, n - 1)));
    var ms = Math.min(60000, base * (0.75 + Math.random() * 0.5));
    var ra = parseInt(retryAfterS, 10);
    return isNaN(ra) ? ms : Math.max(ms, ra * 1000);
  }
  function setStatus(text) { $("status").textContent = text || ""; }
  function tpsOf(code) {
    var list = (state.user && state.user.tps) || [];
    for (var i = 0; i < list.length; i++) if (list[i].code === code) return list[i];
    return null;
  }
  function tpsLabel(code) {
    var t = tpsOf(code);
    return t ? "TPS " + String(t.number).padStart(3, "0") + " " + t.kelurahan : "TPS " + code;
  }
  function formLabel(id) {
    var forms = (state.election && state.election.forms) || [];
    for (var i = 0; i < forms.length; i++) if (forms[i].id === id) return forms[i].label;
    return id;
  }
  function fieldLabel(name) {
    var s = String(name).replace(/^gub_/, "Gubernur: ").replace(/^wako_/, "Wali kota: ")
      .replace(/_/g, " ");
    return sentence(s);
  }

  // ---------- HTTP ----------
  function HttpError(status, code, message, retryAfter) {
    this.status = status; this.code = code; this.message = message; this.retryAfter = retryAfter;
  }
  function netError() { return new HttpError(0, "network", "Tidak dapat terhubung ke server"); }
  function errorOf(status, body, retryAfter) {
    var e = (body && body.error) || {};
    return new HttpError(status, e.code || "http_" + status,
      sentence(e.message || "Server menjawab " + status), retryAfter);
  }
  function retryable(status) { return status === 0 || status === 408 || status === 429 || status >= 500; }

  async function request(method, path, body, timeoutMs) {
    var ctl = window.AbortController ? new AbortController() : null;
    var t = ctl ? setTimeout(function () { ctl.abort(); }, timeoutMs || 30000) : null;
    var headers = { "Accept": "application/json" };
    if (state.token) headers.Authorization = "Bearer " + state.token;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    var res;
    try {
      res = await fetch(API + path, { method: method, headers: headers, cache: "no-store",
        body: body === undefined ? undefined : JSON.stringify(body), signal: ctl && ctl.signal });
    } catch (e) {
      throw netError();
    } finally { if (t) clearTimeout(t); }
    var data = null;
    try { data = res.status === 204 ? null : await res.json(); } catch (e) { data = null; }
    if (res.ok) return data;
    var err = errorOf(res.status, data, res.headers.get("Retry-After"));
    if (res.status === 401 && path !== "/auth/login") sessionEnded();
    throw err;
  }

  function uploadXhr(item, onProgress) {
    return new Promise(function (resolve, reject) {
      var fd = new FormData();
      fd.append("tps", item.tps);
      fd.append("race", item.race);
      fd.append("client_id", item.client_id);
      fd.append("photo", item.blob, item.filename || "foto.jpg");
      var xhr = new XMLHttpRequest();
      xhr.open("POST", API + "/submissions?wait=" + UPLOAD_WAIT);
      xhr.setRequestHeader("Authorization", "Bearer " + state.token);
      xhr.setRequestHeader("Accept", "application/json");
      xhr.timeout = 180000;
      xhr.upload.onprogress = function (e) { if (e.lengthComputable) onProgress(e.loaded / e.total); };
      xhr.onload = function () {
        if (!xhr.status) { reject(netError()); return; }
        var body = null;
        try { body = JSON.parse(xhr.responseText); } catch (e) { body = null; }
        resolve({ status: xhr.status, body: body, retryAfter: xhr.getResponseHeader("Retry-After") });
      };
      xhr.onerror = xhr.ontimeout = xhr.onabort = function () { reject(netError()); };
      xhr.send(fd);
    });
  }

  // ---------- the outbox (IndexedDB, or memory where IndexedDB is unavailable) ----------
  var outbox = (function () {
    var memory = {}, dbp = null;
    function open() {
      if (dbp) return dbp;
      dbp = new Promise(function (resolve) {
        if (!window.indexedDB) { resolve(null); return; }
        var req;
        try { req = indexedDB.open("sipantau-pemantau", 1); } catch (e) { resolve(null); return; }
        req.onupgradeneeded = function () { req.result.createObjectStore("antrian", { keyPath: "client_id" }); };
        req.onsuccess = function () { resolve(req.result); };
        req.onerror = req.onblocked = function () { resolve(null); };
      });
      return dbp;
    }
    function tx(mode, fn) {
      return open().then(function (db) {
        if (!db) return fn(null);
        return new Promise(function (resolve, reject) {
          var t = db.transaction("antrian", mode), store = t.objectStore("antrian"), out;
          var req = fn(store);
          if (req) req.onsuccess = function () { out = req.result; };
          t.oncomplete = function () { resolve(out); };
          t.onerror = t.onabort = function () { reject(t.error || new Error("IndexedDB")); };
        });
      });
    }
    return {
      put: function (item) {
        return tx("readwrite", function (s) { if (!s) { memory[item.client_id] = item; return null; } return s.put(item); });
      },
      del: function (id) {
        return tx("readwrite", function (s) { if (!s) { delete memory[id]; return null; } return s.delete(id); });
      },
      all: function () {
        return tx("readonly", function (s) { return s ? s.getAll() : null; }).then(function (items) {
          items = items || Object.keys(memory).map(function (k) { return memory[k]; });
          return items.sort(function (a, b) { return a.created - b.created; });
        });
      },
      persistent: function () { return open().then(function (db) { return !!db; }); }
    };
  })();

  async function mine() {
    var items = await outbox.all();
    var me = state.user && state.user.username;
    return items.filter(function (i) { return i.user === me; });
  }

  async function refreshPending() {
    var items = await mine();
    var reports = items.filter(function (i) { return i.kind === "incident"; }).length;
    var photos = items.length - reports, what = [];
    if (photos) what.push(items.length === photos ? "foto" : photos + " foto");
    if (reports) what.push(items.length === reports ? "laporan" : reports + " laporan");
    $("pending-what").textContent = what.length > 1 ? "(" + what.join(", ") + ")" : what.join("");
    $("pending-count").textContent = String(items.length);
    show($("pending"), items.length > 0);
    show($("offline"), items.length > 0 && (state.netDown || !navigator.onLine));
    return items;
  }

  // ---------- sending the queue ----------
  async function pump() {
    if (!state.token || !state.user) return;
    if (state.sending) { state.again = true; return; }
    state.sending = true;
    try {
      do {
        state.again = false;
        var items = await refreshPending();
        if (!items.length) { state.netDown = false; break; }
        if (!navigator.onLine) { state.netDown = true; setStatus(OFFLINE_TEXT); break; }
        for (var i = 0; i < items.length; i++) {
          var r = state.retry[items[i].client_id];
          if (r && r.at > Date.now()) continue;
          var how = await sendOne(items[i]);
          if (how === "offline" || how === "auth") { state.again = false; break; }
        }
      } while (state.again);
    } finally {
      state.sending = false;
      await refreshPending();
      schedule();
    }
  }

  function schedule() {
    if (state.timer) clearTimeout(state.timer);
    state.timer = null;
    var next = Infinity;
    Object.keys(state.retry).forEach(function (k) { next = Math.min(next, state.retry[k].at); });
    if (next < Infinity) state.timer = setTimeout(pump, Math.max(0, next - Date.now()) + 50);
  }

  function later(item, retryAfter) {
    var r = state.retry[item.client_id] || { n: 0, at: 0 };
    r.n += 1;
    r.at = Date.now() + backoffMs(r.n, retryAfter);
    state.retry[item.client_id] = r;
    return Math.round((r.at - Date.now()) / 1000);
  }

  function progress(f) {
    var bar = $("upload-progress");
    if (f === null) { show(bar, false); return; }
    bar.value = Math.round(f * 100);
    show(bar, true);
  }

  async function sendOne(item) {
    if (item.kind === "incident") return sendIncident(item);
    var here = item.client_id === state.current;
    if (here) { setStatus("Mengirim foto… 0 %"); progress(0); }
    var res;
    try {
      res = await uploadXhr(item, function (f) {
        if (!here) return;
        progress(f);
        setStatus(f < 1 ? "Mengirim foto… " + Math.round(f * 100) + " %" : "Foto terkirim; sedang dibaca…");
      });
    } catch (e) {
      if (here) progress(null);
      var s = later(item);
      state.netDown = true;
      setStatus(OFFLINE_TEXT + " (dicoba lagi dalam " + s + " detik)");
      return "offline";
    }
    if (here) progress(null);
    if (res.status === 200 || res.status === 201) {
      await outbox.del(item.client_id);
      delete state.retry[item.client_id];
      state.netDown = false;
      if (res.body && res.body.id !== undefined) {
        state.already = res.status === 200 ? res.body.id : null;  // the same photo, sent before
        showSubmission(res.body);
      }
      refreshMine();
      return "sent";
    }
    var err = errorOf(res.status, res.body, res.retryAfter);
    if (res.status === 401) { sessionEnded(); return "auth"; }
    if (retryable(res.status)) {
      var wait = later(item, res.retryAfter);
      setStatus(err.message + " — dicoba lagi dalam " + wait + " detik");
      return "later";
    }
    await outbox.del(item.client_id);           // refused for good: tell the monitor why
    delete state.retry[item.client_id];
    showRefused(err, item);
    refreshMine();
    return "refused";
  }

  async function sendIncident(item) {
    var status = $("incident-status");
    try {
      await request("POST", "/incidents", { tps: item.tps, kind: item.incident, note: item.note,
        client_id: item.client_id });
    } catch (e) {
      if (e.status === 401) return "auth";
      if (retryable(e.status)) {
        var wait = later(item, e.retryAfter);
        if (e.status === 0) state.netDown = true;
        status.textContent = "Tidak ada sinyal: laporan disimpan di HP dan dikirim otomatis" +
          " (dicoba lagi dalam " + wait + " detik).";
        return e.status === 0 ? "offline" : "later";
      }
      await outbox.del(item.client_id);         // refused for good: say why
      delete state.retry[item.client_id];
      status.textContent = "Laporan tidak diterima: " + e.message;
      return "refused";
    }
    await outbox.del(item.client_id);
    delete state.retry[item.client_id];
    state.netDown = false;
    status.textContent = "Laporan terkirim untuk " + tpsLabel(item.tps) + ".";
    return "sent";
  }

  // ---------- showing a result ----------
  function clearResult() {
    state.pollGen++;
    show($("result"), false);
  }

  function resultBase(title, status, label) {
    var box = $("result");
    show(box, true);
    box.dataset.status = status;
    delete box.dataset.id;
    delete box.dataset.code;
    show($("already"), false);
    $("result-title").textContent = title;
    var badge = $("result-status");
    badge.textContent = label;
    badge.className = "badge s-" + status;
    show($("rejected-box"), false);
    show($("retake"), false);
    show($("reasons"), false);
    show($("values-table"), false);
    show($("result-message"), true);
  }

  function retakeBox(text) {
    $("rejected-box").textContent = text;
    show($("rejected-box"), true);
    show($("retake"), true);
    show($("result-message"), false);
    if ($("result").scrollIntoView) $("result").scrollIntoView({ block: "start" });
  }

  function renderSubmission(sub) {
    var title = "Kiriman #" + sub.id + " · " + tpsLabel(sub.tps) + " · " + formLabel(sub.race);
    resultBase(title, sub.status, LABEL[sub.status] || sub.status);
    var msg = sub.message || "";
    $("result").dataset.id = sub.id;
    $("result").dataset.codes = (sub.reason_codes || []).join(" ");
    state.retakeFor = { tps: sub.tps, race: sub.retake_race || sub.race };
    $("result-message").textContent = msg;
    if (state.already === sub.id) {
      $("already").textContent = "Foto ini sudah diterima sebelumnya (kiriman #" + sub.id +
        "); tidak perlu dikirim lagi.";
      show($("already"), true);
    }
    if (sub.status === "rejected") {
      retakeBox("Foto ditolak: " + msg.replace(/^foto ditolak:\s*/i, "") + " — silakan foto ulang");
    } else if (sub.status === "sent_back") {
      retakeBox((msg || "Dikembalikan oleh petugas posko") + " — silakan foto ulang");
    } else if (sub.status === "review") {
      $("result-message").textContent = REVIEW_TEXT;
      listReasons(sub.reasons);
    } else if (sub.status === "verified") {
      fillValues(sub.values || {}, sub.fields || {});
    } else if (PENDING[sub.status]) {
      $("result-message").textContent = (msg || LABEL[sub.status]) + "…";
    }
    setStatus(PENDING[sub.status] ? "Menunggu hasil pembacaan…" : "");
  }

  function listReasons(reasons) {
    var ul = $("reasons");
    ul.textContent = "";
    (reasons || []).forEach(function (r) {
      var li = document.createElement("li");
      li.textContent = sentence(r);
      ul.appendChild(li);
    });
    show(ul, ul.children.length > 0);
  }

  function shownValue(value, field) {
    if (value === null || value === undefined) return "—";
    if (field && field.kind === "tick") return value ? "Ya" : "Tidak";
    return String(value);
  }

  function fillValues(values, fields) {
    var body = $("values-table").tBodies[0];
    body.textContent = "";
    Object.keys(values).forEach(function (name) {
      var tr = document.createElement("tr"), th = document.createElement("th"),
        td = document.createElement("td");
      th.scope = "row";
      th.textContent = fieldLabel(name);
      td.textContent = shownValue(values[name], fields[name]);
      tr.appendChild(th); tr.appendChild(td); body.appendChild(tr);
    });
    show($("values-table"), body.children.length > 0);
  }

  function showSubmission(sub) {
    renderSubmission(sub);
    if (PENDING[sub.status]) poll(sub.id);
  }

  function showRefused(err, item) {
    state.pollGen++;
    resultBase(tpsLabel(item.tps) + " · " + formLabel(item.race), "rejected", LABEL.rejected);
    $("result").dataset.code = err.code;
    state.retakeFor = { tps: item.tps, race: item.race };
    retakeBox(LOCAL[err.code] ||
      "Foto ditolak: " + err.message.replace(/^foto ditolak:\s*/i, "") + " — silakan foto ulang");
    setStatus("");
  }

  async function poll(id) {
    var gen = ++state.pollGen, fails = 0;
    while (gen === state.pollGen && state.token) {
      var began = Date.now();
      try {
        var sub = await request("GET", "/submissions/" + id + "?wait=" + POLL_WAIT, undefined,
          (POLL_WAIT + 30) * 1000);
        if (gen !== state.pollGen) return;
        fails = 0;
        renderSubmission(sub);
        if (!PENDING[sub.status]) { refreshMine(); return; }
        if (Date.now() - began < 1000) await sleep(1000);
      } catch (e) {
        if (!retryable(e.status)) return;
        fails += 1;
        await sleep(backoffMs(fails, e.retryAfter));
      }
    }
  }

  // ---------- "Kiriman saya" ----------
  function time(iso) {
    var d = new Date(iso);
    if (isNaN(d)) return "";
    return d.toLocaleString("id-ID", { day: "numeric", month: "short", hour: "2-digit", minute: "2-digit" });
  }

  function entry(title, status, when) {
    var li = document.createElement("li"), badge = document.createElement("span"),
      small = document.createElement("small");
    li.setAttribute("data-testid", "submission-item");
    li.dataset.status = status;
    badge.className = "badge s-" + status;
    badge.textContent = LABEL[status] || status;
    li.appendChild(badge);
    li.appendChild(document.createTextNode(" " + title));
    small.textContent = when;
    li.appendChild(small);
    return li;
  }

  function withdrawButton(sub) {
    var b = document.createElement("button");
    b.type = "button";
    b.className = "btn small";
    b.textContent = "Tarik kiriman";
    b.setAttribute("data-testid", "withdraw");
    var armed = null;
    b.addEventListener("click", async function () {
      if (!armed) {              // two taps: a slip of the thumb withdraws nothing
        b.textContent = "Ya, tarik #" + sub.id;
        b.classList.add("danger-outline");
        armed = setTimeout(function () {
          armed = null; b.textContent = "Tarik kiriman"; b.classList.remove("danger-outline");
        }, 6000);
        return;
      }
      clearTimeout(armed);
      b.disabled = true;
      try {
        await request("POST", "/submissions/" + sub.id + "/withdraw", { reason: "ditarik pemantau" });
        setStatus("Kiriman #" + sub.id + " ditarik; tidak dihitung lagi.");
      } catch (e) {
        setStatus(e.status === 0 ? "Tidak ada sinyal: kiriman belum dapat ditarik." : e.message);
      }
      refreshMine();
    });
    return b;
  }

  function newestPerForm(list) {
    var seen = {}, out = [];
    list.slice().sort(function (a, b) { return b.id - a.id; }).forEach(function (s) {
      var k = s.tps + "|" + s.race;
      if (seen[k] || s.status === "withdrawn") return;
      seen[k] = true;
      out.push(s);
    });
    return out;
  }

  function retakeFor(tps, race) {
    clearResult();
    setStatus("");
    var sel = $("tps-select");
    if (tpsOf(tps)) sel.value = tps;
    $("race-select").value = race;
    onChoice();
    $("photo-input").click();
  }

  function renderSentBack(list) {
    var box = $("sent-back");
    box.textContent = "";
    newestPerForm(list).filter(function (s) { return s.status === "sent_back"; }).forEach(function (s) {
      var p = document.createElement("p"), b = document.createElement("button");
      p.setAttribute("data-testid", "sentback-item");
      p.textContent = "Dikembalikan posko: " + tpsLabel(s.tps) + " · " + formLabel(s.race) + ". " +
        (s.message || "").replace(/^Dikembalikan oleh petugas posko:\s*/, "Alasan: ");
      b.type = "button";
      b.className = "btn danger";
      b.textContent = "Foto ulang " + formLabel(s.race);
      b.setAttribute("data-testid", "sentback-retake");
      b.addEventListener("click", function () { retakeFor(s.tps, s.race); });
      box.appendChild(p);
      box.appendChild(b);
    });
    show(box, box.children.length > 0);
  }

  var lastList = readJson(KEY.mine) || [];
  async function refreshMine() {
    if (!state.token) return;
    try {
      var data = await request("GET", "/submissions?limit=50");
      lastList = Array.isArray(data) ? data : (data && data.items) || [];
      localStorage.setItem(KEY.mine, JSON.stringify(lastList));   // shown again with no signal
    } catch (e) { /* keep the last list; the queue below is local */ }
    var ul = $("my-submissions"), me = state.user && state.user.username;
    ul.textContent = "";
    (await mine()).reverse().forEach(function (i) {
      var what = i.kind === "incident" ? "Laporan: " + (KIND_LABEL[i.incident] || i.incident)
        : formLabel(i.race);
      ul.appendChild(entry(tpsLabel(i.tps) + " · " + what, "unsent",
        time(new Date(i.created).toISOString()) + (i.blob ? " · " + fmtBytes(i.blob.size) : "")));
    });
    lastList.forEach(function (s) {
      var li = entry("#" + s.id + " · " + tpsLabel(s.tps) + " · " + formLabel(s.race), s.status,
        time(s.created_at) + (s.message ? " · " + s.message : ""));
      li.dataset.id = s.id;
      if (s.submitted_by === me && WITHDRAWABLE[s.status]) li.appendChild(withdrawButton(s));
      ul.appendChild(li);
    });
    renderSentBack(lastList);
    show($("mine-empty"), ul.children.length === 0);
  }

  // ---------- the photo ----------
  function decodeImage(file) {
    var viaImg = function () {
      return new Promise(function (resolve, reject) {
        var url = URL.createObjectURL(file), img = new Image();
        img.onload = function () { URL.revokeObjectURL(url); resolve(img); };
        img.onerror = function () { URL.revokeObjectURL(url); reject(new Error("decode")); };
        img.src = url;
      });
    };
    if (!window.createImageBitmap) return viaImg();
    return createImageBitmap(file, { imageOrientation: "from-image" })
      .catch(function () { return createImageBitmap(file); })
      .catch(viaImg);
  }

  async function shrink(file) {
    var src = await decodeImage(file);
    var w = src.naturalWidth || src.width, h = src.naturalHeight || src.height;
    if (!w || !h) throw new Error("empty image");
    var scale = Math.min(1, MAX_SIDE / Math.max(w, h));
    var cw = Math.max(1, Math.round(w * scale)), ch = Math.max(1, Math.round(h * scale));
    var canvas = document.createElement("canvas");
    canvas.width = cw; canvas.height = ch;
    var ctx = canvas.getContext("2d");
    ctx.fillStyle = "#fff";
    ctx.fillRect(0, 0, cw, ch);
    ctx.imageSmoothingEnabled = true;
    ctx.imageSmoothingQuality = "high";
    ctx.drawImage(src, 0, 0, cw, ch);
    if (src.close) src.close();
    var blob = await new Promise(function (r) { canvas.toBlob(r, "image/jpeg", QUALITY); });
    canvas.width = canvas.height = 0;                  // free the pixels at once (phones)
    if (!blob) throw new Error("toBlob");
    if (scale === 1 && /^image\/(jpeg|png|webp)$/.test(file.type) && file.size <= blob.size) {
      blob = file;                                     // already small: keep the original bytes
    }
    return { blob: blob, width: cw, height: ch };
  }

  // The first bytes say what a file is; a phone's "photo" can be a document or cut short.
  async function headOf(file) {
    var n = Math.min(file.size, 16);
    return new Uint8Array(await file.slice(0, n).arrayBuffer());
  }

  function kindOf(b) {
    var ascii = String.fromCharCode.apply(null, Array.prototype.slice.call(b, 0, 12));
    if (b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return "jpeg";
    if (ascii.slice(1, 4) === "PNG") return "png";
    if (ascii.slice(0, 4) === "RIFF" && ascii.slice(8, 12) === "WEBP") return "webp";
    if (ascii.slice(0, 2) === "BM" || ascii.slice(0, 4) === "II*\0" || ascii.slice(0, 4) === "MM\0*") return "other";
    if (ascii.slice(4, 8) === "ftyp") return "other";            // HEIC/HEIF: the server decides
    return null;
  }

  // A JPEG whose last scan never reaches its end marker was cut off (as the server checks).
  async function jpegComplete(file) {
    var d = new Uint8Array(await file.arrayBuffer()), pos = 2, n = d.length;
    while (pos + 4 <= n) {
      if (d[pos] !== 0xff) return false;
      var m = d[pos + 1];
      if (m === 0xff) { pos += 1; continue; }
      if (m === 0xd8 || m === 0x01 || (m >= 0xd0 && m <= 0xd7)) { pos += 2; continue; }
      var len = (d[pos + 2] << 8) | d[pos + 3];
      if (m === 0xda) {
        for (var i = pos + 2 + len; i + 1 < n; i++) if (d[i] === 0xff && d[i + 1] === 0xd9) return true;
        return false;
      }
      pos += 2 + len;
    }
    return false;
  }

  function refuseHere(code, tps, race) {
    show($("size-info"), false);
    showRefused(new HttpError(0, code, LOCAL[code]), { tps: tps, race: race });
  }

  function extOf(type) {
    return { "image/png": "png", "image/webp": "webp" }[type] || "jpg";
  }

  async function onPhoto() {
    var input = $("photo-input"), file = input.files && input.files[0];
    if (!file) return;
    input.value = "";
    var tps = $("tps-select").value, race = $("race-select").value;
    if (!tps || !race) { setStatus("Pilih TPS dan formulir dulu"); return; }
    clearResult();
    var kind = kindOf(await headOf(file));
    if (!kind) { refuseHere("not_an_image", tps, race); return; }
    if (kind === "jpeg" && !(await jpegComplete(file))) { refuseHere("truncated", tps, race); return; }
    setStatus("Memperkecil foto…");
    var out = null;
    try { out = await shrink(file); } catch (e) { out = null; }   // not decodable here: let the server say why
    var blob = out ? out.blob : file, info = $("size-info");
    info.dataset.before = String(file.size);
    info.dataset.after = String(blob.size);
    info.textContent = out
      ? "Ukuran foto: " + fmtBytes(file.size) + " → " + fmtBytes(blob.size) + " (" + out.width + "×" + out.height + ")"
      : "Ukuran foto: " + fmtBytes(file.size) + " (tidak dapat diperkecil di HP)";
    show(info, true);
    var item = {
      client_id: uuid(), kind: "photo", user: state.user.username, tps: tps, race: race, blob: blob,
      filename: "foto." + extOf(blob.type), created: Date.now(),
      size_before: file.size, size_after: blob.size
    };
    state.current = item.client_id;
    state.already = null;
    try { await outbox.put(item); } catch (e) {
      setStatus("Foto tidak dapat disimpan di HP (" + e.message + "); tetap dicoba kirim");
      await outbox.del(item.client_id).catch(function () {});
    }
    setStatus(navigator.onLine ? "Foto disimpan di HP; mengirim…" : OFFLINE_TEXT);
    pump();
  }

  // ---------- screens ----------
  function fillSelect(sel, options, chosen, placeholder) {
    sel.textContent = "";
    if (options.length !== 1 && placeholder) options = [{ value: "", text: placeholder }].concat(options);
    options.forEach(function (o) {
      var opt = document.createElement("option");
      opt.value = o.value; opt.textContent = o.text;
      sel.appendChild(opt);
    });
    if (chosen && options.some(function (o) { return o.value === chosen; })) sel.value = chosen;
  }

  function renderChoices() {
    var list = (state.user && state.user.tps) || [];
    fillSelect($("tps-select"), list.map(function (t) {
      return { value: t.code, text: "TPS " + String(t.number).padStart(3, "0") + " — " + t.kelurahan };
    }), localStorage.getItem(KEY.tps), "— pilih TPS —");
    var forms = (state.election && state.election.forms) || [];
    fillSelect($("race-select"), forms.map(function (f) { return { value: f.id, text: f.label }; }),
      localStorage.getItem(KEY.race), "— pilih formulir —");
    onChoice();
  }

  function onChoice() {
    var code = $("tps-select").value, t = tpsOf(code), race = $("race-select").value;
    if (code) localStorage.setItem(KEY.tps, code);
    if (race) localStorage.setItem(KEY.race, race);
    var info = "";
    if (t) {
      info = "Kelurahan " + t.kelurahan + ", Kecamatan " + t.kecamatan + " · kode " + t.code +
        (t.dpt ? " · DPT " + t.dpt : "") + (t.special ? " · TPS khusus" : "");
    } else if (!((state.user && state.user.tps) || []).length) {
      info = "Akun ini tidak terdaftar sebagai pemantau TPS mana pun.";
    }
    $("tps-info").textContent = info;
    var ready = !!(code && race);
    $("photo-input").disabled = !ready;
    $("photo-label").setAttribute("aria-disabled", String(!ready));
    $("photo-label").classList.toggle("off", !ready);
    show($("photo-hint"), !ready);
  }

  function showLogin(message) {
    show($("main-view"), false);
    show($("who"), false);
    show($("login-view"), true);
    var err = $("login-error");
    err.textContent = message || "";
    show(err, !!message);
    $("login-submit").disabled = false;
    $("login-username").focus();
  }

  function showMain() {
    show($("login-view"), false);
    show($("main-view"), true);
    show($("who"), true);
    $("user-name").textContent = state.user.name || state.user.username;
    renderChoices();
    refreshMine();
    pump();
  }

  function forget() {
    state.token = null;
    state.pollGen++;
    localStorage.removeItem(KEY.token);
  }

  function sessionEnded() {
    if (!state.token) return;
    forget();
    showLogin("Sesi berakhir, silakan masuk lagi");
  }

  async function loadElection() {
    try {
      state.election = await request("GET", "/election");
      localStorage.setItem(KEY.election, JSON.stringify(state.election));
    } catch (e) { /* the cached copy (if any) will do until the signal is back */ }
    if (state.token) renderChoices();
  }

  async function onLogin(ev) {
    ev.preventDefault();
    var username = $("login-username").value.trim(), password = $("login-password").value;
    if (!username || !password) { showLogin("Isi nama pengguna dan kata sandi"); return; }
    $("login-submit").disabled = true;
    show($("login-error"), false);
    try {
      var res = await request("POST", "/auth/login", { username: username, password: password });
      state.token = res.token;
      state.user = res.user;
      localStorage.setItem(KEY.token, res.token);
      localStorage.setItem(KEY.user, JSON.stringify(res.user));
      $("login-password").value = "";
      await loadElection();
      showMain();
    } catch (e) {
      showLogin(e.status === 0 ? "Tidak dapat terhubung ke server; periksa sinyal lalu coba lagi" : e.message);
    }
  }

  async function onLogout() {
    var token = state.token, left = (await mine()).length;
    forget();
    showLogin(left ? "Masih ada " + left + " foto belum terkirim; foto akan dikirim setelah Anda masuk lagi." : "");
    if (token) {
      fetch(API + "/auth/logout", { method: "POST", headers: { Authorization: "Bearer " + token } })
        .catch(function () {});
    }
  }

  async function onIncident(ev) {
    ev.preventDefault();
    var tps = $("tps-select").value, status = $("incident-status");
    if (!tps) { status.textContent = "Pilih TPS dulu."; return; }
    var item = { client_id: uuid(), kind: "incident", user: state.user.username, tps: tps,
      incident: $("incident-kind").value, note: $("incident-note").value, created: Date.now() };
    try { await outbox.put(item); } catch (e) { /* memory only: still sent below */ }
    $("incident-note").value = "";
    status.textContent = navigator.onLine ? "Mengirim laporan…"
      : "Tidak ada sinyal: laporan disimpan di HP dan dikirim otomatis.";
    pump();
  }

  async function start() {
    $("login-form").addEventListener("submit", onLogin);
    $("logout").addEventListener("click", onLogout);
    $("tps-select").addEventListener("change", onChoice);
    $("race-select").addEventListener("change", onChoice);
    $("photo-input").addEventListener("change", onPhoto);
    $("incident-form").addEventListener("submit", onIncident);
    Array.prototype.forEach.call($("incident-kind").options, function (o) { KIND_LABEL[o.value] = o.textContent; });
    $("refresh").addEventListener("click", function () { refreshMine(); pump(); });
    $("send-now").addEventListener("click", function () { state.retry = {}; pump(); });
    $("retake").addEventListener("click", function () {
      var f = state.retakeFor;
      if (f) { retakeFor(f.tps, f.race); return; }
      clearResult();
      setStatus("");
      $("photo-input").click();
    });
    if ("serviceWorker" in navigator) {
      navigator.serviceWorker.register("/m/sw.js", { scope: "/m/" }).catch(function () {});
    }
    window.addEventListener("online", function () { state.retry = {}; state.netDown = false; pump(); });
    window.addEventListener("offline", function () { refreshPending(); });
    document.addEventListener("visibilitychange", function () { if (!document.hidden) pump(); });
    setInterval(pump, PERIOD_MS);
    if (navigator.storage && navigator.storage.persist) navigator.storage.persist().catch(function () {});
    if (!state.token || !state.user) { showLogin(""); return; }
    showMain();                      // from the cached user and election: works without signal
    try {
      state.user = await request("GET", "/me");
      localStorage.setItem(KEY.user, JSON.stringify(state.user));
      $("user-name").textContent = state.user.name || state.user.username;
    } catch (e) { return; }          // 401 went to the login form; no signal keeps the cache
    loadElection();
  }

  start();
})();
