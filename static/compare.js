// Cache comparison: chart the server's measurements, and run the same
// comparison from the browser on request.
"use strict";
(function () {
  // Colours come from the stylesheet's variables (style.css), so a mode or
  // an outcome looks the same in a chart as in a badge.
  function cssColour(name) {
    return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  }
  var colors = { none: cssColour("--none"), memory: cssColour("--memory"), redis: cssColour("--redis"), tiered: cssColour("--tiered") };
  var hasChart = typeof Chart !== "undefined";

  // The server's table is the source of truth; the chart only redraws it:
  // one dataset per mode, in the mode's colour, so the legend names the
  // colours the bars have. The axis is logarithmic, or a memory hit of a
  // few microseconds would be an invisible sliver beside a build.
  function serverChart() {
    var canvas = document.getElementById("compare-chart");
    var rows = document.querySelectorAll("#compare-results tr.mode-row");
    if (!canvas || !rows.length || !hasChart) return;
    var datasets = [];
    rows.forEach(function (tr) {
      var c = colors[tr.getAttribute("data-mode")] || cssColour("--accent");
      // A log axis cannot show 0: a time below a microsecond is drawn at one.
      var v = [parseFloat(tr.getAttribute("data-median")), parseFloat(tr.getAttribute("data-p95"))]
        .map(function (x) { return Math.max(x, 0.001); });
      datasets.push({ label: tr.getAttribute("data-label"), data: v, backgroundColor: c, borderColor: c });
    });
    new Chart(canvas, {
      type: "bar",
      data: { labels: ["median", "p95"], datasets: datasets },
      options: { maintainAspectRatio: false, animation: false,
        plugins: { tooltip: { callbacks: { label: function (ctx) { return ctx.dataset.label + ": " + ctx.parsed.y + " ms"; } } } },
        scales: { y: { type: "logarithmic", title: { display: true, text: "ms inside the server (log scale)" } } } }
    });
  }

  function sorted(a) { return a.slice().sort(function (x, y) { return x - y; }); }
  function pct(s, p) {
    if (!s.length) return NaN;
    var i = Math.ceil(p * s.length) - 1;
    return s[Math.max(0, Math.min(i, s.length - 1))];
  }
  function fmt(v) { return isNaN(v) ? "–" : v.toFixed(2); }

  // serverTotal reads the "total" entry of a Server-Timing header.
  function serverTotal(h) {
    if (!h) return NaN;
    var m = /(?:^|,)\s*total;dur=([0-9.]+)/.exec(h);
    return m ? parseFloat(m[1]) : NaN;
  }

  function oneRequest(url) {
    var t0 = performance.now();
    // credentials "omit": the learner's cache-mode cookie is neither sent
    // nor replaced by the ?cache= of these requests.
    return fetch(url, { credentials: "omit", cache: "no-store" }).then(function (res) {
      return res.arrayBuffer().then(function () {
        return { ms: performance.now() - t0, ok: res.ok, xcache: res.headers.get("X-Cache") || "?",
          server: serverTotal(res.headers.get("Server-Timing")) };
      });
    });
  }

  var runChart = null;
  function histogram(results, modes) {
    var canvas = document.getElementById("run-chart");
    if (!canvas || !hasChart) return;
    var all = [];
    modes.forEach(function (m) { all = all.concat(results[m].ms); });
    var s = sorted(all);
    var lo = s[0], hi = pct(s, 0.98);
    if (!(hi > lo)) hi = lo + 0.1;
    var bins = 20, width = (hi - lo) / bins, labels = [];
    for (var i = 0; i < bins; i++) labels.push((lo + i * width).toFixed(2));
    labels[bins - 1] = "≥ " + labels[bins - 1];
    var datasets = modes.map(function (m) {
      var counts = new Array(bins).fill(0);
      results[m].ms.forEach(function (v) {
        var b = Math.floor((v - lo) / width);
        counts[Math.max(0, Math.min(b, bins - 1))]++;
      });
      return { label: results[m].label, data: counts, backgroundColor: colors[m] };
    });
    if (runChart) runChart.destroy();
    runChart = new Chart(canvas, {
      type: "bar",
      data: { labels: labels, datasets: datasets },
      options: { maintainAspectRatio: false, animation: false,
        scales: { x: { title: { display: true, text: "round trip from the browser, ms (bin start)" } },
          y: { beginAtZero: true, title: { display: true, text: "requests" }, ticks: { precision: 0 } } } }
    });
  }

  function fillTable(results, modes) {
    var table = document.getElementById("run-table");
    var body = table.querySelector("tbody");
    body.textContent = "";
    modes.forEach(function (m) {
      var r = results[m], s = sorted(r.ms), srv = sorted(r.server.filter(function (v) { return !isNaN(v); }));
      var tr = document.createElement("tr");
      var cells = [r.label, fmt(pct(s, 0.5)), fmt(pct(s, 0.95)), fmt(pct(srv, 0.5)),
        Object.keys(r.xcache).map(function (k) { return r.xcache[k] + " " + k; }).join(", ")];
      cells.forEach(function (c, i) {
        var td = document.createElement("td");
        td.textContent = c;
        if (i > 0 && i < 4) td.className = "num";
        tr.appendChild(td);
      });
      body.appendChild(tr);
    });
    table.hidden = false;
  }

  function browserRun() {
    var box = document.getElementById("browser-run");
    if (!box) return;
    var btn = document.getElementById("run-start");
    var input = document.getElementById("run-n");
    var bar = document.getElementById("run-progress");
    var status = document.getElementById("run-status");
    var base = box.getAttribute("data-url");
    var modes = ["none", "memory", "redis"];
    var labels = {};
    document.querySelectorAll("#compare-results tr.mode-row").forEach(function (tr) {
      labels[tr.getAttribute("data-mode")] = tr.getAttribute("data-label");
    });
    status.textContent = "Ready: press the button to send the requests.";

    btn.addEventListener("click", function () {
      var n = Math.max(5, Math.min(200, parseInt(input.value, 10) || 30));
      input.value = n;
      btn.disabled = true;
      var total = modes.length * (n + 1), done = 0;
      bar.max = total;
      bar.value = 0;
      var results = {};
      modes.forEach(function (m) { results[m] = { label: labels[m] || m, ms: [], server: [], xcache: {}, failed: 0 }; });
      var queue = [];
      modes.forEach(function (m) { queue.push({ mode: m, warm: true }); });
      for (var i = 0; i < n; i++) modes.forEach(function (m) { queue.push({ mode: m, warm: false }); });

      function next() {
        if (!queue.length) return Promise.resolve();
        var job = queue.shift();
        return oneRequest(base + (base.indexOf("?") < 0 ? "?" : "&") + "cache=" + job.mode).then(function (r) {
          if (!job.warm) {
            var res = results[job.mode];
            if (r.ok) {
              res.ms.push(r.ms);
              res.server.push(r.server);
              res.xcache[r.xcache] = (res.xcache[r.xcache] || 0) + 1;
            } else {
              res.failed++;
            }
          }
          done++;
          bar.value = done;
          status.textContent = "Sent " + done + " of " + total + " requests…";
          return next();
        });
      }
      next().then(function () {
        fillTable(results, modes);
        histogram(results, modes);
        status.textContent = "Done: " + n + " timed requests per mode after one warm-up each, measured with performance.now() around fetch.";
      }).catch(function (err) {
        status.textContent = "The run stopped: " + err.message;
      }).then(function () { btn.disabled = false; });
    });
  }

  serverChart();
  browserRun();
})();
