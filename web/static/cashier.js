// The customer cashier behind a sticker: takes the amount, asks the gateway for a payment through
// the wallet's provider, and opens the provider's cashier. Without JavaScript the form posts and
// the page shows a link instead.
"use strict";
(function () {
  var form = document.getElementById("cashier-form");
  if (!form) { return; }
  form.addEventListener("submit", function (e) {
    var input = document.getElementById("cashier-amount");
    var m = /^\s*(\d+)(?:\.(\d{1,2}))?\s*$/.exec(input.value);
    if (!m) { return; } // let the server say what is wrong
    e.preventDefault();
    var fen = parseInt(m[1], 10) * 100 + parseInt(((m[2] || "") + "00").slice(0, 2), 10);
    var button = document.getElementById("cashier-pay");
    button.disabled = true;
    fetch(form.getAttribute("data-pay"), {
      method: "POST", headers: {"Content-Type": "application/json"}, credentials: "same-origin",
      body: JSON.stringify({amount: fen})
    }).then(function (r) { return r.json().then(function (b) { return {ok: r.ok, body: b}; }); })
      .then(function (res) {
        if (res.ok && res.body.pay_url) { window.location.href = res.body.pay_url; return; }
        button.disabled = false;
        showError(res.body && res.body.error ? res.body.error.message : "Error");
      }).catch(function () { button.disabled = false; form.submit(); });
  });
  function showError(msg) {
    var p = document.getElementById("cashier-error");
    if (!p) {
      p = document.createElement("p");
      p.id = "cashier-error"; p.className = "error"; p.setAttribute("role", "alert");
      form.parentNode.insertBefore(p, form);
    }
    p.textContent = msg;
  }
})();
