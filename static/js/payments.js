// Payment result pages: while the provider has not confirmed yet, look again every few seconds
// (at most 12 times), so the page shows the true state without the client reloading by hand.
(function () {
  "use strict";
  var marker = document.querySelector("[data-auto-refresh]");
  if (!marker) return;
  var key = "payments-refresh:" + window.location.pathname + window.location.search;
  var tries = parseInt(window.sessionStorage.getItem(key) || "0", 10);
  if (tries >= 12) return;
  window.setTimeout(function () {
    window.sessionStorage.setItem(key, String(tries + 1));
    window.location.reload();
  }, 5000);
})();
