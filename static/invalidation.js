// Invalidation lab: while a "TTL only" run is still stale, read the views
// again every second by fetching the page and swapping in its fresh
// sections, so the learner watches the staleness end without reloading.
"use strict";
(function () {
  var every = 1000;
  // The longest TTL the lab allows is 120 s: after it every entry has
  // expired, so the watch always ends; this bound only guards a page left
  // open while the server is away.
  var tries = 150;

  function swap(doc, id) {
    var fresh = doc.getElementById(id);
    var cur = document.getElementById(id);
    if (fresh && cur) cur.replaceWith(fresh);
    return fresh;
  }

  function tick() {
    if (--tries < 0) return;
    fetch(location.pathname, { credentials: "same-origin", cache: "no-store" })
      .then(function (res) {
        if (!res.ok) throw new Error("status " + res.status);
        return res.text();
      })
      .then(function (html) {
        var doc = new DOMParser().parseFromString(html, "text/html");
        swap(doc, "lab-run");
        swap(doc, "side-by-side");
        var now = swap(doc, "lab-now");
        if (now && now.hasAttribute("data-watch")) setTimeout(tick, every);
      })
      .catch(function () { setTimeout(tick, every * 3); });
  }

  var now = document.getElementById("lab-now");
  if (now && now.hasAttribute("data-watch")) setTimeout(tick, every);
})();
