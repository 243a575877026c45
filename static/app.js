// Cache Workshop: small progressive enhancements. Pages work without it.
"use strict";
(function () {
  // Keyboard: Alt+1/2/3 switch the cache mode.
  document.addEventListener("keydown", function (ev) {
    if (!ev.altKey || ev.ctrlKey || ev.metaKey) return;
    var modes = { "1": "none", "2": "memory", "3": "redis" };
    var m = modes[ev.key];
    if (!m) return;
    var link = document.querySelector('.mode-link[data-mode="' + m + '"]');
    if (link) { ev.preventDefault(); link.click(); }
  });
})();
