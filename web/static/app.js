// qrpay pages: a little plain JavaScript, no framework. Each page opts in with a data-*
// attribute so that nothing runs where it is not wanted.
"use strict";

// Forms with data-confirm ask before submitting (refunds, freezes).
document.addEventListener("submit", function (e) {
  var msg = e.target.getAttribute("data-confirm");
  if (msg && !window.confirm(msg)) { e.preventDefault(); }
});
