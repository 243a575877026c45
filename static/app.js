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

  // Server-Timing entries look like: name;desc="backend outcome key";dur=0.12
  var entryRE = /([A-Za-z0-9_-]+)(?:;desc="([^"]*)")?(?:;dur=([0-9.]+))?/g;

  function parseServerTiming(value) {
    var out = [], m;
    entryRE.lastIndex = 0;
    while ((m = entryRE.exec(value)) !== null) {
      if (!m[0]) { entryRE.lastIndex++; continue; }
      out.push({ name: m[1], description: m[2] || "", duration: parseFloat(m[3] || "0") });
      // Skip to the next entry separator.
      var next = value.indexOf(", ", entryRE.lastIndex);
      if (next < 0) break;
      entryRE.lastIndex = next + 2;
    }
    return out;
  }

  // The page's own navigation entry carries the Server-Timing header as
  // PerformanceServerTiming objects (secure contexts: localhost, HTTPS).
  // Elsewhere, e.g. a classroom LAN over plain HTTP, the same value is in
  // the panel's data attribute.
  function timingEntries(panel) {
    var nav = performance.getEntriesByType && performance.getEntriesByType("navigation")[0];
    if (nav && nav.serverTiming && nav.serverTiming.length) {
      return Array.prototype.map.call(nav.serverTiming, function (e) {
        return { name: e.name, description: e.description, duration: e.duration };
      });
    }
    return parseServerTiming(panel.getAttribute("data-server-timing") || "");
  }

  var layerNames = { cache: "page" };
  var plain = { db: "sqlite", sim: "simulated latency (SLOW_QUERY_MS)", render: "html/template", total: "whole request" };

  function cell(tr, text, cls) {
    var td = document.createElement("td");
    if (cls) td.className = cls;
    td.textContent = text;
    tr.appendChild(td);
    return td;
  }

  function explain(key, holder, button) {
    button.disabled = true;
    fetch("/api/cache-key?key=" + encodeURIComponent(key), { credentials: "same-origin" })
      .then(function (r) { return r.json(); })
      .then(function (rep) {
        var ul = document.createElement("ul");
        ul.className = "keyparts";
        (rep.parts || []).forEach(function (p) {
          var li = document.createElement("li");
          var b = document.createElement("b");
          b.textContent = p.name + " ";
          var code = document.createElement("code");
          code.textContent = p.value;
          li.appendChild(b);
          li.appendChild(code);
          li.appendChild(document.createTextNode(": " + p.meaning));
          ul.appendChild(li);
        });
        var outcome = holder.getAttribute("data-outcome");
        if (rep.outcomes && rep.outcomes[outcome]) {
          var why = document.createElement("li");
          why.textContent = "why " + outcome + ": " + rep.outcomes[outcome];
          ul.appendChild(why);
        }
        Object.keys(rep.in || {}).forEach(function (backend) {
          var st = rep.in[backend], li = document.createElement("li");
          li.textContent = backend + " now: " + (st.error ? "unavailable (" + st.error + ")" :
            st.present ? "cached, " + st.ttl_remaining_s + " s left" : "not cached");
          ul.appendChild(li);
        });
        holder.appendChild(ul);
        button.remove();
      })
      .catch(function () { button.disabled = false; });
  }

  function drawTrace(panel) {
    var entries = timingEntries(panel);
    var wrap = document.createElement("div");
    wrap.className = "table-wrap";
    var table = document.createElement("table");
    table.innerHTML = '<thead><tr><th scope="col">Layer</th><th scope="col">Backend</th>' +
      '<th scope="col">Key</th><th scope="col">Outcome</th><th scope="col" class="num">ms</th></tr></thead>';
    var tbody = document.createElement("tbody");
    entries.forEach(function (e) {
      var tr = document.createElement("tr");
      // As the server prints them: microseconds show below 10 ms.
      var ms = e.duration.toFixed(e.duration < 10 ? 3 : 2);
      if (plain[e.name]) {
        cell(tr, e.name);
        cell(tr, plain[e.name]);
        cell(tr, e.description);
        cell(tr, "");
      } else {
        var parts = e.description.split(" ");
        var backend = parts[0] || "", outcome = (parts[1] || "").toUpperCase();
        var key = parts.slice(2).join(" ");
        cell(tr, layerNames[e.name] || e.name);
        cell(tr, backend);
        var keyCell = cell(tr, "");
        keyCell.setAttribute("data-outcome", outcome);
        var code = document.createElement("code");
        code.textContent = key;
        keyCell.appendChild(code);
        if (outcome === "BYPASS") {
          // No cache was asked: say what happened instead of a lookup.
          // Fragments built in mode none are summed: "product-row x20".
          var times = / x(\d+)$/.exec(key);
          var what = document.createElement("span");
          what.className = "muted trace-built";
          what.textContent = times ? " rendered " + times[1] + "×, no cache asked" : " built, no cache asked";
          keyCell.appendChild(what);
        }
        if (/^(page|frag):/.test(key)) {
          var btn = document.createElement("button");
          btn.type = "button";
          btn.className = "explain";
          btn.textContent = "explain";
          btn.addEventListener("click", function () { explain(key, keyCell, btn); });
          keyCell.appendChild(document.createTextNode(" "));
          keyCell.appendChild(btn);
        }
        var oc = cell(tr, "");
        var badge = document.createElement("span");
        badge.className = "badge badge-" + outcome.toLowerCase();
        badge.textContent = outcome;
        oc.appendChild(badge);
      }
      cell(tr, ms, "num");
      tbody.appendChild(tr);
    });
    table.appendChild(tbody);
    wrap.appendChild(table);
    panel.insertBefore(wrap, panel.querySelector(".trace-note"));
  }

  function init() {
    Array.prototype.forEach.call(document.querySelectorAll("details.trace[data-server-timing]"), drawTrace);
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
