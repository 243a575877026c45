// Cache statistics: poll /api/cache-stats and update the page in place,
// plus a live chart of lookups per second computed from counter deltas.
"use strict";
(function () {
  var root = document.getElementById("stats");
  if (!root) return;
  var api = root.getAttribute("data-api") || "/api/cache-stats";
  var every = 3000;
  var prev = null;
  var chart = null;
  var maxPoints = 40;

  function get(obj, path) {
    var parts = path.split(".");
    for (var i = 0; i < parts.length; i++) {
      if (obj == null) return undefined;
      obj = obj[parts[i]];
    }
    return obj;
  }

  function human(n) {
    var units = [["G", 1 << 30], ["M", 1 << 20], ["K", 1 << 10]];
    for (var i = 0; i < units.length; i++) {
      if (n >= units[i][1]) return (n / units[i][1]).toFixed(2) + units[i][0];
    }
    return n + "B";
  }

  // utcTime writes an instant as the server does, "15:04:05", in UTC:
  // one time zone on every page, whatever the browser's.
  function utcTime(iso) {
    return new Date(iso).toISOString().slice(11, 19);
  }

  function format(v, how, d) {
    if (v === undefined || v === null || v === "") return "–";
    // A key count still under way is an estimate, and says so.
    if (how === "count") return (d && d.redis && d.redis.entries_estimate ? "≈ " : "") + v;
    if (how === "pct") return (v * 100).toFixed(1) + "%";
    if (how === "bytes") return human(v);
    if (how === "ratio") return Number(v).toFixed(2);
    if (how === "list") return v.join("; ");
    return String(v);
  }

  // Colours come from the stylesheet's variables (style.css), so a mode or
  // an outcome looks the same in a chart as in a badge.
  function cssColour(name) {
    return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  }

  function initChart() {
    var canvas = document.getElementById("stats-chart");
    if (!canvas || typeof Chart === "undefined") return;
    var memory = cssColour("--memory"), redis = cssColour("--redis");
    function ds(label, color, dash) {
      return { label: label, data: [], borderColor: color, backgroundColor: color,
        borderDash: dash ? [6, 4] : [], tension: 0.2, pointRadius: 2, spanGaps: true };
    }
    chart = new Chart(canvas, {
      type: "line",
      data: { labels: [], datasets: [
        ds("memory hits/s", memory), ds("memory misses/s", memory, true),
        ds("redis hits/s", redis), ds("redis misses/s", redis, true)
      ] },
      options: { animation: false, maintainAspectRatio: false,
        scales: { x: { title: { display: true, text: "time (UTC)" } },
          y: { beginAtZero: true, title: { display: true, text: "lookups per second" } } } }
    });
  }

  function rate(cur, old, path, secs) {
    var a = get(cur, path), b = get(old, path);
    if (typeof a !== "number" || typeof b !== "number" || secs <= 0) return null;
    // A clear resets the counters: show zero rather than a negative rate.
    return Math.max(0, (a - b) / secs);
  }

  function plot(cur) {
    if (!chart) return;
    if (prev) {
      var secs = (Date.parse(cur.generated_at) - Date.parse(prev.generated_at)) / 1000;
      var label = utcTime(cur.generated_at);
      var vals = [rate(cur, prev, "memory.hits", secs), rate(cur, prev, "memory.misses", secs),
        rate(cur, prev, "redis.hits", secs), rate(cur, prev, "redis.misses", secs)];
      chart.data.labels.push(label);
      for (var i = 0; i < vals.length; i++) chart.data.datasets[i].data.push(vals[i]);
      if (chart.data.labels.length > maxPoints) {
        chart.data.labels.shift();
        chart.data.datasets.forEach(function (d) { d.data.shift(); });
      }
      chart.update();
    }
    prev = cur;
  }

  function apply(d) {
    var cells = root.querySelectorAll("[data-stat]");
    for (var i = 0; i < cells.length; i++) {
      var path = cells[i].getAttribute("data-stat");
      var v = get(d, path);
      if (path.indexOf("redis.entries") === 0 && !d.redis.available) v = undefined;
      cells[i].textContent = format(v, cells[i].getAttribute("data-format"), d);
    }
    var unreported = document.getElementById("redis-unreported");
    if (unreported) {
      var srv = d.redis.server;
      unreported.hidden = !(srv && srv.unreported && srv.unreported.length);
    }
    var err = document.getElementById("redis-error");
    if (err) {
      err.hidden = !!d.redis.available;
      if (!d.redis.available) err.textContent = (d.redis.error || "Redis unavailable.") + " Redis-mode pages are served from the database until it is back.";
    }
    var when = document.getElementById("stats-updated");
    if (when) {
      when.setAttribute("datetime", d.generated_at);
      when.textContent = utcTime(d.generated_at) + " UTC";
    }
    var up = document.getElementById("stats-uptime");
    if (up && typeof d.uptime_s === "number") up.textContent = String(d.uptime_s);
    // The server judges each hit ratio (good, fair, poor, too few
    // lookups); the page only repaints its verdict.
    ["memory", "redis"].forEach(function (b) {
      var cell = root.querySelector('[data-judge="' + b + '"]');
      if (cell && d[b] && d[b].ratio_class) cell.className = "num ratio ratio-" + d[b].ratio_class;
    });
    plot(d);
  }

  function poll() {
    fetch(api, { credentials: "same-origin", cache: "no-store", headers: { Accept: "application/json" } })
      .then(function (res) { if (!res.ok) throw new Error("HTTP " + res.status); return res.json(); })
      .then(apply)
      .catch(function () { /* keep the last figures; the next poll retries */ })
      .then(function () { setTimeout(poll, document.hidden ? every * 4 : every); });
  }

  initChart();
  poll();
})();
