// Fibonacci benchmark: draws the timing table as a bar chart. The numbers
// come from the table the server rendered; nothing is measured here.
"use strict";
(function () {
  // Colours come from the stylesheet's variables (style.css), so a mode or
  // an outcome looks the same in a chart as in a badge.
  function cssColour(name) {
    return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  }

  function draw() {
    var canvas = document.getElementById("fib-chart");
    if (!canvas || typeof Chart === "undefined") return;
    var rows = document.querySelectorAll("#fib-results tbody tr[data-ns]");
    // Naive recursion is the no-cache way; the memos take their backend's
    // colour; the whole result the accent, as it uses the current mode.
    var colours = { naive: cssColour("--none"), memory: cssColour("--memory"), redis: cssColour("--redis"),
      result: cssColour("--accent") };
    var labels = [], data = [], bg = [], spoken = [];
    rows.forEach(function (tr) {
      // The server sends nanoseconds, so a map lookup of a few hundred
      // nanoseconds is not rounded to zero before it reaches the chart.
      var ms = parseInt(tr.getAttribute("data-ns"), 10) / 1e6;
      if (!(ms >= 0)) return;
      labels.push(tr.getAttribute("data-name"));
      // The median as the table writes it ("340 µs"), for the tooltip.
      spoken.push(tr.getAttribute("data-time") + " (median of " + tr.getAttribute("data-runs") + ")");
      // A log axis cannot show 0: clamp to one nanosecond.
      data.push(Math.max(ms, 1e-6));
      bg.push(colours[tr.getAttribute("data-way")] || "#5b6675");
    });
    if (!data.length) return;
    new Chart(canvas, {
      type: "bar",
      data: { labels: labels, datasets: [{ label: "Time (ms)", data: data, backgroundColor: bg }] },
      options: {
        maintainAspectRatio: false,
        animation: false,
        plugins: {
          legend: { display: false },
          tooltip: { callbacks: { label: function (c) { return spoken[c.dataIndex]; } } }
        },
        scales: {
          y: { type: "logarithmic", title: { display: true, text: "milliseconds, median (log scale)" } }
        }
      }
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", draw);
  else draw();
})();
