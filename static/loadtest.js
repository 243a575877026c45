// Load test: follow a run's progress from its server-sent events and draw
// latency over time per mode. Every figure comes from the server; when the
// run ends the page is reloaded, so the results table is the server's.
"use strict";
(function () {
  var colors = { none: "#6b4f00", memory: "#0b6e4f", redis: "#a4262c" };
  var chart = null;

  // datasetsFor makes two lines per mode: the median, solid, and p95,
  // dashed, in the mode's colour.
  function datasetsFor(series) {
    var sets = [];
    series.forEach(function (m) {
      var c = colors[m.mode] || "#1f4e79";
      sets.push({ label: m.label + " p50", mode: m.mode, stat: "p50", borderColor: c, backgroundColor: c,
        data: m.points.map(function (p) { return { x: p.t, y: Math.max(p.p50, 0.001) }; }), pointRadius: 2 });
      sets.push({ label: m.label + " p95", mode: m.mode, stat: "p95", borderColor: c, backgroundColor: c, borderDash: [6, 4],
        data: m.points.map(function (p) { return { x: p.t, y: Math.max(p.p95, 0.001) }; }), pointRadius: 0 });
    });
    return sets;
  }

  function draw(canvas, series) {
    if (typeof Chart === "undefined") return;
    chart = new Chart(canvas, {
      type: "line",
      data: { datasets: datasetsFor(series) },
      options: {
        maintainAspectRatio: false, animation: false, parsing: true,
        plugins: { tooltip: { callbacks: { label: function (c) {
          return c.dataset.label + ": " + c.parsed.y.toPrecision(3) + " ms at " + c.parsed.x.toFixed(1) + " s";
        } } } },
        scales: {
          x: { type: "linear", beginAtZero: true, title: { display: true, text: "seconds since the mode started" } },
          y: { type: "logarithmic", title: { display: true, text: "round trip, ms (log scale)" } }
        }
      }
    });
  }

  // addPoint appends one tick of a mode to its two lines.
  function addPoint(mode, p) {
    if (!chart) return;
    chart.data.datasets.forEach(function (ds) {
      if (ds.mode !== mode) return;
      ds.data.push({ x: p.t, y: Math.max((ds.stat === "p50" ? p.p50_ns : p.p95_ns) / 1e6, 0.001) });
    });
    chart.update("none");
  }

  function follow(panel, canvas, series) {
    var status = document.getElementById("loadtest-status");
    var bar = document.getElementById("loadtest-progress");
    var current = {}; // requests done so far, by mode
    function say(text) { if (status) status.textContent = text; }
    function doneSoFar() {
      var n = 0;
      Object.keys(current).forEach(function (m) { n += current[m]; });
      return n;
    }
    // The stream replays every event from the start, so the chart is
    // rebuilt from it rather than from the page's copy.
    series.forEach(function (m) { m.points = []; });
    draw(canvas, series);
    var es = new EventSource(panel.getAttribute("data-events"));
    es.addEventListener("progress", function (e) {
      var p = JSON.parse(e.data);
      current[p.mode] = p.done;
      if (p.point) addPoint(p.mode, p.point);
      if (bar) bar.value = doneSoFar();
      var ratio = p.hits + p.misses > 0 ? (100 * p.hits / (p.hits + p.misses)).toFixed(1) + " % hits" : "no cache";
      say(p.mode + ": " + p.done + " of " + p.requests + " requests in " + (p.elapsed_ns / 1e9).toFixed(1) + " s, " +
        p.errors + " errors, " + ratio);
    });
    es.addEventListener("mode", function (e) {
      var m = JSON.parse(e.data);
      current[m.mode] = m.done;
      if (bar) bar.value = doneSoFar();
    });
    es.addEventListener("done", function () {
      es.close();
      say("Done: loading the results…");
      location.replace("/loadtest?run=" + panel.getAttribute("data-run"));
    });
    es.onerror = function () {
      if (es.readyState === EventSource.CLOSED) say("The progress stream closed; reload the page to see the results.");
    };
  }

  function init() {
    var panel = document.getElementById("loadtest-run");
    var canvas = document.getElementById("loadtest-chart");
    if (!panel || !canvas) return;
    var series = [];
    try { series = JSON.parse(canvas.getAttribute("data-series") || "[]"); } catch (err) { series = []; }
    if (panel.hasAttribute("data-events") && typeof EventSource !== "undefined") follow(panel, canvas, series);
    else draw(canvas, series);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
