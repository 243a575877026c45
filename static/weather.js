// Weather demo: calls /api/weather from the browser, times each call, and
// keeps a chart and a table of the recent ones. The server's JSON says
// how it was served; this script only adds the browser's own timing.
"use strict";
(function () {
  var MAX_ROWS = 30;
  var form, cityInput, statusEl, tbody, jsonOut, chart;
  var seq = 0;
  var colours = {};
  // Colours come from the stylesheet's variables (style.css), so a mode or
  // an outcome looks the same in a chart as in a badge.
  function cssColour(name) {
    return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  }


  function cell(tr, text, cls) {
    var td = document.createElement("td");
    td.textContent = text;
    if (cls) td.className = cls;
    tr.appendChild(td);
    return td;
  }

  function badge(outcome) {
    var span = document.createElement("span");
    var o = (outcome || "ERROR").toUpperCase();
    span.className = "badge badge-" + ({ HIT: "hit", MISS: "miss", BYPASS: "bypass" }[o] || "error");
    span.textContent = o;
    return span;
  }

  function fmt(n) {
    return typeof n === "number" ? n.toFixed(n >= 100 ? 0 : 2) : "–";
  }

  function addRow(n, mode, status, data, browserMs) {
    var empty = tbody.querySelector(".weather-empty");
    if (empty) empty.remove();
    var tr = document.createElement("tr");
    if (status !== 200) tr.className = "row-error";
    else if (data.stale) tr.className = "row-stale";
    cell(tr, String(n), "num");
    cell(tr, data.city || "");
    cell(tr, mode);
    cell(tr, String(status) + (data.stale ? " (stale)" : ""));
    cell(tr, "").appendChild(badge(status === 200 || data.cache ? data.cache : "ERROR"));
    cell(tr, data.source || "");
    cell(tr, fmt(data.upstream_ms), "num");
    cell(tr, fmt(data.total_ms), "num");
    cell(tr, fmt(browserMs), "num");
    cell(tr, typeof data.temperature === "number" ? data.temperature.toFixed(1) : "–", "num");
    var cond = cell(tr, data.conditions || data.error || "");
    if (data.warning) cond.title = data.warning;
    cell(tr, typeof data.ttl_remaining_s === "number" ? String(data.ttl_remaining_s) : "–", "num");
    tbody.insertBefore(tr, tbody.firstChild);
    while (tbody.rows.length > MAX_ROWS) tbody.deleteRow(tbody.rows.length - 1);
  }

  function addPoint(n, status, data, browserMs) {
    if (!chart) return;
    // A 404 for an unknown city is an answer, cached like a reading, so
    // its bar shows how it was served; other failures are errors.
    var outcome = (status === 200 || status === 404) ? (data.cache || "ERROR") : "ERROR";
    chart.data.labels.push("#" + n + " " + (data.city || ""));
    chart.data.datasets[0].data.push(Math.max(browserMs, 0.01));
    chart.data.datasets[0].backgroundColor.push(colours[outcome] || colours.ERROR);
    chart.data.datasets[1].data.push(typeof data.temperature === "number" ? data.temperature : null);
    if (chart.data.labels.length > MAX_ROWS) {
      chart.data.labels.shift();
      chart.data.datasets.forEach(function (ds) {
        ds.data.shift();
        if (Array.isArray(ds.backgroundColor)) ds.backgroundColor.shift();
      });
    }
    chart.update();
  }

  function makeChart() {
    var canvas = document.getElementById("weather-chart");
    if (!canvas || typeof Chart === "undefined") return;
    chart = new Chart(canvas, {
      data: {
        labels: [],
        datasets: [
          { type: "bar", label: "Response time (ms, browser)", data: [], backgroundColor: [], yAxisID: "y" },
          { type: "line", label: "Temperature (°C)", data: [], borderColor: "#1f4e79", backgroundColor: "#1f4e79",
            yAxisID: "t", spanGaps: true, tension: 0.2 }
        ]
      },
      options: {
        maintainAspectRatio: false,
        animation: false,
        plugins: {
          // Bars are coloured per outcome (explained under the chart), so
          // the legend names only the temperature line.
          legend: { labels: { filter: function (item) { return item.datasetIndex === 1; } } }
        },
        scales: {
          y: { type: "logarithmic", position: "left", title: { display: true, text: "ms (log scale)" } },
          t: { type: "linear", position: "right", grid: { drawOnChartArea: false }, title: { display: true, text: "°C" } }
        }
      }
    });
  }

  function call(mode) {
    var city = cityInput.value;
    var n = ++seq;
    var url = "/api/weather?cache=" + encodeURIComponent(mode) + "&city=" + encodeURIComponent(city);
    statusEl.textContent = "Calling " + url + " …";
    var t0 = performance.now();
    var status = 0;
    fetch(url, { headers: { Accept: "application/json" }, cache: "no-store", credentials: "same-origin" })
      .then(function (res) {
        status = res.status;
        return res.text();
      })
      .then(function (text) {
        var ms = performance.now() - t0;
        var data;
        try { data = JSON.parse(text); } catch (e) { data = { error: "The answer was not JSON (" + status + ")." }; }
        jsonOut.textContent = JSON.stringify(data, null, 2);
        addRow(n, mode, status, data, ms);
        addPoint(n, status, data, ms);
        if (status === 200) {
          statusEl.textContent = "#" + n + ": " + data.cache + " from " + data.source + " in " + ms.toFixed(1) +
            " ms" + (data.warning ? ". " + data.warning : ".");
        } else {
          statusEl.textContent = "#" + n + ": " + status + (data.cache ? " " + data.cache : "") + " in " + ms.toFixed(1) +
            " ms: " + (data.error || "request failed");
        }
      })
      .catch(function (err) {
        statusEl.textContent = "#" + n + ": the request failed: " + err.message;
      });
  }

  function init() {
    form = document.getElementById("weather-form");
    if (!form) return;
    colours = { HIT: cssColour("--hit"), MISS: cssColour("--miss"), BYPASS: cssColour("--bypass"), ERROR: cssColour("--error") };
    cityInput = document.getElementById("weather-city");
    statusEl = document.getElementById("weather-status");
    tbody = document.querySelector("#weather-calls tbody");
    jsonOut = document.getElementById("weather-json");
    makeChart();
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      // Enter in the city field submits with the first button, as the
      // browser itself would (mode none has only "Fetch fresh").
      var btn = ev.submitter || document.getElementById("weather-through") || form.querySelector("button[type=submit]");
      call(btn.value);
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
