/* Sipantau monitor page: change one's own password (POST /api/v1/auth/password). */
(function () {
  "use strict";

  var form = document.getElementById("password-form");
  if (!form) return;
  var status = document.getElementById("password-status");

  function say(text, bad) {
    status.textContent = text;
    status.className = bad ? "box bad" : "hint";
  }

  form.addEventListener("submit", async function (e) {
    e.preventDefault();
    var current = form.elements.current.value, next = form.elements.next.value;
    if (next.length < 8) return say("Kata sandi baru minimal 8 karakter.", true);
    if (next !== form.elements.again.value) {
      return say("Kata sandi baru dan ulangannya tidak sama.", true);
    }
    var res;
    try {
      res = await fetch("/api/v1/auth/password", {
        method: "POST", cache: "no-store",
        headers: { "Content-Type": "application/json",
                   Authorization: "Bearer " + localStorage.getItem("sipantau.token") },
        body: JSON.stringify({ current_password: current, new_password: next })
      });
    } catch (err) {
      return say("Tidak dapat terhubung ke server; coba lagi saat ada sinyal.", true);
    }
    if (res.status === 204) {
      form.reset();
      return say("Kata sandi sudah diganti. Sesi di perangkat lain berakhir.", false);
    }
    var message = "Kata sandi tidak dapat diganti (server menjawab " + res.status + ").";
    try { message = (await res.json()).error.message || message; } catch (err) { /* keep */ }
    say(message.charAt(0).toUpperCase() + message.slice(1), true);
  });
})();
