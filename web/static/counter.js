// The counter cashier: amount keypad, a dynamic code shown large with a countdown and live status
// (server-sent events), the receipt, a payment-code field for a scanner gun (it types the digits
// and Enter), and the terminal's takings today.
"use strict";
(function () {
  var root = document.getElementById("counter");
  if (!root) { return; }
  var csrf = root.getAttribute("data-csrf");
  var msg = function (k) { return root.getAttribute("data-msg-" + k) || k; };
  var $ = function (id) { return document.getElementById(id); };
  var amount = $("amount"), paycode = $("paycode");
  var current = null, source = null, timer = null;

  function fen(text) {
    var m = /^\s*(\d+)(?:\.(\d{0,2}))?\s*$/.exec(text);
    if (!m) { return 0; }
    return parseInt(m[1], 10) * 100 + parseInt(((m[2] || "") + "00").slice(0, 2), 10);
  }
  function yuan(n) { return "¥" + Math.floor(n / 100) + "." + ("0" + (n % 100)).slice(-2); }
  function show(id, on) { $(id).classList.toggle("hidden", !on); }
  function error(text) { $("counter-error").textContent = text || ""; show("counter-error", !!text); }
  function key() { return "c" + Date.now().toString(36) + Math.random().toString(36).slice(2, 10); }

  function api(method, path, body) {
    return fetch(path, {
      method: method, credentials: "same-origin",
      headers: {"Content-Type": "application/json", "X-CSRF-Token": csrf, "Accept": "application/json"},
      body: body ? JSON.stringify(body) : undefined
    }).then(function (r) {
      return r.json().then(function (b) {
        if (!r.ok) { throw new Error(b && b.error ? b.error.message : ("HTTP " + r.status)); }
        return b;
      });
    });
  }

  $("keypad").addEventListener("click", function (e) {
    var k = e.target.getAttribute("data-key");
    if (!k) { return; }
    if (k === "C") { amount.value = ""; } else { amount.value += k; }
    amount.focus();
  });

  function start(scene, authCode) {
    var n = fen(amount.value);
    if (n <= 0) { error("0.00"); amount.focus(); return; }
    error("");
    var body = {amount: n, scene: scene, key: key()};
    if (authCode) { body.auth_code = authCode; }
    if (scene === "code") { $("qr-status").textContent = msg("paying"); }
    api("POST", "/counter/api/payments", body).then(function (p) {
      current = p;
      if (scene === "qr") { showQR(p); }
      update(p);
    }).catch(function (e) { error(e.message); });
  }

  function showQR(p) {
    $("qr-img").src = p.qr.image_url.replace(/^https?:\/\/[^\/]+/, "") + "?size=480";
    $("qr-img").alt = p.qr.payload;
    $("qr-img").setAttribute("data-payload", p.qr.payload);
    $("qr-amount").textContent = yuan(p.amount);
    $("qr-status").textContent = msg("waiting");
    show("qr-box", true); show("result", false);
    clearInterval(timer);
    var until = new Date(p.qr.expires_at).getTime();
    var tick = function () {
      var left = Math.max(0, Math.round((until - Date.now()) / 1000));
      $("countdown").textContent = msg("expires").replace("%s", Math.floor(left / 60) + ":" + ("0" + (left % 60)).slice(-2));
      if (left === 0) { clearInterval(timer); }
    };
    tick();
    timer = setInterval(tick, 1000);
  }

  function watch(p) {
    if (source) { source.close(); }
    if (!window.EventSource) { poll(p); return; }
    source = new EventSource("/counter/api/payments/" + encodeURIComponent(p.id) + "/events");
    source.addEventListener("payment", function (e) { update(JSON.parse(e.data)); });
    source.onerror = function () { source.close(); source = null; poll(p); };
  }

  function poll(p) {
    setTimeout(function () {
      if (!current || current.id !== p.id) { return; }
      api("GET", "/counter/api/payments/" + encodeURIComponent(p.id)).then(update)
        .catch(function () { error(msg("offline")); poll(p); });
    }, 1000);
  }

  function update(p) {
    if (!current || current.id !== p.id) { return; }
    current = p;
    var done = {succeeded: "paid", failed: "failed", closed: "closed", expired: "expired"}[p.status];
    if (!done) {
      if (p.status === "pending") { $("qr-status").textContent = msg("paying"); }
      if (!source) { watch(p); }
      return;
    }
    if (source) { source.close(); source = null; }
    clearInterval(timer);
    show("qr-box", false); show("result", true);
    var r = $("result-text");
    r.textContent = msg(done) + (p.failure_reason ? " — " + p.failure_reason : "");
    r.className = "result " + (done === "paid" ? "result-paid" : "result-declined");
    r.setAttribute("data-status", p.status);
    $("receipt-amount").textContent = yuan(p.amount);
    $("receipt-id").textContent = p.id;
    $("receipt-at").textContent = new Date(p.paid_at || p.closed_at || p.created_at).toLocaleString();
    show("receipt", done === "paid");
    today();
  }

  $("show-qr").addEventListener("click", function () { start("qr"); });
  amount.addEventListener("keydown", function (e) {
    if (e.key === "Enter") { e.preventDefault(); paycode.focus(); }
  });
  paycode.addEventListener("keydown", function (e) {
    if (e.key !== "Enter") { return; }
    e.preventDefault();
    var code = paycode.value.replace(/\D/g, "");
    paycode.value = "";
    if (code) { show("qr-box", false); show("result", false); start("code", code); }
  });
  $("cancel").addEventListener("click", function () {
    if (!current) { return; }
    api("POST", "/counter/api/payments/" + encodeURIComponent(current.id) + "/close").then(update)
      .catch(function (e) { error(e.message); });
  });
  $("next").addEventListener("click", function () {
    current = null; amount.value = ""; show("result", false); show("qr-box", false); error("");
    $("result-text").removeAttribute("data-status");
    amount.focus();
  });

  function today() {
    api("GET", "/counter/api/today").then(function (t) { $("today").textContent = t.display + " (" + t.count + ")"; })
      .catch(function () {});
  }
  today();
})();
