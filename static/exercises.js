// Cache Workshop: the exercises' browser side. It draws the progress line
// in the header from /api/exercises (so cached pages stay the same for
// everyone), and on /exercises keeps the learner's predictions and
// strategy in localStorage. Pages work without it.
"use strict";
(function () {
  var LEARNER = "cw:learner", PREDICT = "cw:predict:", DESIGN = "cw:design:";

  function storage() {
    try { return window.localStorage; } catch (e) { return null; }
  }
  var ls = storage();
  if (!ls) return;

  // The strategy exercise is done when its text is written and every
  // question of its checklist is ticked.
  function designDone() {
    var items = ls.getItem(DESIGN + "items");
    var text = ls.getItem(DESIGN + "text") || "";
    var ticked = items ? JSON.parse(items) : {};
    var all = ls.getItem(DESIGN + "count");
    var n = 0;
    Object.keys(ticked).forEach(function (k) { if (ticked[k]) n++; });
    return text.trim() !== "" && all !== null && n >= parseInt(all, 10);
  }

  function initPage(page) {
    // The cookie is HttpOnly, so the browser remembers here that it has one.
    ls.setItem(LEARNER, "1");
    Array.prototype.forEach.call(document.querySelectorAll("textarea[data-predict]"), function (ta) {
      var key = PREDICT + ta.getAttribute("data-predict");
      ta.value = ls.getItem(key) || "";
      ta.addEventListener("input", function () { ls.setItem(key, ta.value); });
    });
    var text = document.querySelector("textarea[data-design-text]");
    var boxes = document.querySelectorAll("input[data-design-item]");
    var ticked = JSON.parse(ls.getItem(DESIGN + "items") || "{}");
    ls.setItem(DESIGN + "count", String(boxes.length));
    function showDesign() {
      var done = designDone();
      var status = document.querySelector("[data-local-status]");
      if (status) {
        status.textContent = done ? "done" : "not yet";
        status.className = "badge ex-status " + (done ? "badge-hit" : "badge-miss");
      }
      var mark = document.querySelector('[data-mark="design"]');
      if (mark) mark.textContent = done ? "✓" : "";
      var count = document.getElementById("ex-done-count");
      if (count) {
        var n = parseInt(count.getAttribute("data-server-done"), 10) + (done ? 1 : 0);
        count.textContent = n + " of " + document.querySelectorAll("[data-exercise]").length + " done";
      }
    }
    if (text) {
      text.value = ls.getItem(DESIGN + "text") || "";
      text.addEventListener("input", function () { ls.setItem(DESIGN + "text", text.value); showDesign(); });
    }
    Array.prototype.forEach.call(boxes, function (box) {
      var id = box.getAttribute("data-design-item");
      box.checked = !!ticked[id];
      box.addEventListener("change", function () {
        ticked[id] = box.checked;
        ls.setItem(DESIGN + "items", JSON.stringify(ticked));
        showDesign();
      });
    });
    showDesign();
    var forget = document.querySelector("[data-forget-notes]");
    if (forget) {
      forget.addEventListener("click", function () {
        Object.keys(ls).forEach(function (k) {
          if (k.indexOf(PREDICT) === 0 || k.indexOf(DESIGN) === 0) ls.removeItem(k);
        });
        location.reload();
      });
    }
  }

  function drawProgress() {
    var line = document.getElementById("exercise-progress");
    if (!line || ls.getItem(LEARNER) !== "1") return;
    fetch("/api/exercises", { credentials: "same-origin", cache: "no-store", headers: { Accept: "application/json" } })
      .then(function (res) { return res.ok ? res.json() : null; })
      .then(function (d) {
        if (!d) return;
        if (!d.learner) { ls.removeItem(LEARNER); return; } // the cookie is gone
        var n = d.done + (designDone() ? 1 : 0);
        line.textContent = n + " of " + d.total + " done";
        line.title = "Exercises: your progress";
        // The pill style is added only now: its display would override
        // the hidden attribute.
        line.className = "exercise-progress chip";
        line.hidden = false;
      })
      .catch(function () { /* no line, no harm */ });
  }

  function init() {
    var page = document.querySelector("[data-exercises]");
    if (page) initPage(page);
    drawProgress();
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
