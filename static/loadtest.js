// Load test: follow a run's progress from its server-sent events and draw
// latency over time, one chart per mode. Every figure comes from the
// server; when the run ends the page is reloaded, so the results table is
// the server's.
"use strict";
(function () {
  var colors = { none: "#6b4f00", memory: "#0b6e4f", redis: "#a4262c", tiered: "#4b3f8f" };
  var charts = {}; // by mode

  function floor(v) { return Math.max(v, 0.001); } // a log axis cannot show 0

  // draw makes a mode's chart: its median, solid, and its p95, dashed.
  // points are in milliseconds; yRange, when given, is shared by every
  // chart so that the modes compare at a glance.
  function draw(canvas, points, yRange) {
    if (typeof Chart === "undefined") return;
    var mode = canvas.getAttribute("data-mode"), c = colors[mode] || "#1f4e79";
    // Label only the powers of ten: a log axis's other ticks crowd it.
    var y = { type: "logarithmic", title: { display: true, text: "round trip, ms (log)" },
      ticks: { callback: function (v) {
        var l = Math.log10(v);
        return Math.abs(l - Math.round(l)) < 1e-9 ? String(+v.toPrecision(1)) : "";
      } } };
    if (yRange) { y.min = yRange[0]; y.max = yRange[1]; }
    charts[mode] = new Chart(canvas, {
      type: "line",
      data: { datasets: [
        { label: "p50", borderColor: c, backgroundColor: c, pointRadius: 2,
          data: points.map(function (p) { return { x: p.t, y: floor(p.p50) }; }) },
        { label: "p95", borderColor: c, backgroundColor: c, borderDash: [6, 4], pointRadius: 0,
          data: points.map(function (p) { return { x: p.t, y: floor(p.p95) }; }) }
      ] },
      options: {
        maintainAspectRatio: false, animation: false,
        plugins: { tooltip: { callbacks: { label: function (ctx) {
          return ctx.dataset.label + ": " + ctx.parsed.y.toPrecision(3) + " ms at " + ctx.parsed.x.toFixed(2) + " s";
        } } } },
        scales: {
          x: { type: "linear", beginAtZero: true, title: { display: true, text: "seconds since the mode started" } },
          y: y
        }
      }
    });
  }

  // sharedRange is the powers of ten around every point of every mode.
  function sharedRange(all) {
    var lo = Infinity, hi = 0;
    all.forEach(function (points) {
      points.forEach(function (p) { lo = Math.min(lo, floor(p.p50)); hi = Math.max(hi, floor(p.p95)); });
    });
    if (!(hi > 0)) return null;
    return [Math.pow(10, Math.floor(Math.log10(lo))), Math.pow(10, Math.ceil(Math.log10(hi)))];
  }

  function pointsOf(canvas) {
    try { return JSON.parse(canvas.getAttribute("data-points") || "[]"); } catch (err) { return []; }
  }

  // addPoint appends one tick of a mode to its chart, live.
  function addPoint(mode, p) {
    var chart = charts[mode];
    if (!chart) return;
    chart.data.datasets[0].data.push({ x: p.t, y: floor(p.p50_ns / 1e6) });
    chart.data.datasets[1].data.push({ x: p.t, y: floor(p.p95_ns / 1e6) });
    chart.update("none");
  }

  function follow(panel, canvases) {
    var status = document.getElementById("loadtest-status");
    var bar = document.getElementById("loadtest-progress");
    var done = {}; // requests done so far, by mode
    function say(text) { if (status) status.textContent = text; }
    function showProgress() {
      if (!bar) return;
      var n = 0;
      Object.keys(done).forEach(function (m) { n += done[m]; });
      bar.value = n;
    }
    // The stream replays every event from the start, so the charts are
    // built from it rather than from the page's copy.
    canvases.forEach(function (c) { draw(c, [], null); });
    var es = new EventSource(panel.getAttribute("data-events"));
    es.addEventListener("progress", function (e) {
      var p = JSON.parse(e.data);
      done[p.mode] = p.done;
      if (p.point) addPoint(p.mode, p.point);
      showProgress();
      var looked = p.hits + p.misses + p.cache_errors;
      var ratio = looked > 0 ? (100 * p.hits / looked).toFixed(1) + " % hits" : "no cache";
      say(p.mode + ": " + p.done + " of " + p.requests + " requests in " + (p.elapsed_ns / 1e9).toFixed(1) + " s, " +
        p.errors + " errors, " + ratio);
    });
    es.addEventListener("mode", function (e) {
      var m = JSON.parse(e.data);
      done[m.mode] = m.done;
      showProgress();
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
    var canvases = Array.prototype.slice.call(document.querySelectorAll("canvas.loadtest-chart"));
    if (!panel) return;
    if (panel.hasAttribute("data-events") && typeof EventSource !== "undefined") {
      follow(panel, canvases);
      return;
    }
    var all = canvases.map(pointsOf);
    var range = sharedRange(all);
    canvases.forEach(function (c, i) { draw(c, all[i], range); });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
