// HTTP caching pages: say when the page on screen is a copy the browser
// reused rather than one the server just sent, and put this browser's own
// address in the curl commands. Only the browser knows either: the server
// never sees a reuse from the cache, and a proxy in front may have changed
// the Host it saw.
"use strict";
(function () {
  function init() {
    document.querySelectorAll(".curl-origin").forEach(function (el) {
      el.textContent = location.origin;
    });

    var note = document.getElementById("reuse-note");
    var nav = performance.getEntriesByType && performance.getEntriesByType("navigation")[0];
    if (!note || !nav) return;
    // The navigation's Resource Timing: transferSize is what crossed the
    // network for this visit, headers included; encodedBodySize the body
    // the page was made from. Nothing transferred: the browser's cache
    // answered without asking. Less than the body: only headers came,
    // the 304 of a revalidation (responseStatus says so where the
    // browser reports it).
    var how = null;
    if (nav.transferSize === 0 && nav.decodedBodySize > 0) {
      how = "cache";
    } else if (nav.responseStatus === 304 ||
      (nav.transferSize > 0 && nav.encodedBodySize > 0 && nav.transferSize < nav.encodedBodySize)) {
      how = "revalidated";
    }
    if (!how) return;
    note.querySelectorAll("[data-reuse]").forEach(function (p) {
      p.hidden = p.getAttribute("data-reuse") !== how;
    });
    var bytes = note.querySelector("[data-reuse-bytes]");
    if (bytes) bytes.textContent = String(nav.transferSize);
    note.setAttribute("data-reused", how);
    note.hidden = false;
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
