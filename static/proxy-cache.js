// The shared-cache lesson: requests each demo response and shows what the
// proxy said (X-Proxy-Cache), which instance built the copy, and its build
// number. Without a proxy there is no X-Proxy-Cache, and the row says what
// nginx would have done instead.
(function () {
  "use strict";
  var table = document.getElementById("proxy-demos");
  if (!table) return;

  function get(kind, opts) {
    var url = "/proxy-cache/demo/" + kind + (opts && opts.round ? "?round=" + opts.round : "");
    var headers = {};
    if (opts && opts.lang) headers["Accept-Language"] = opts.lang;
    var t0 = performance.now();
    return fetch(url, { cache: "no-store", headers: headers, credentials: "same-origin" }).then(function (r) {
      return {
        status: r.status,
        proxy: r.headers.get("X-Proxy-Cache"),
        instance: r.headers.get("X-Instance"),
        build: r.headers.get("X-Demo-Build"),
        lang: opts && opts.lang,
        ms: performance.now() - t0
      };
    });
  }

  function describe(res) {
    var s = res.proxy ? res.proxy : "no proxy";
    s += " · " + res.instance + " build " + res.build;
    if (res.lang) s = res.lang + ": " + s;
    return s;
  }

  function show(row, lines, note) {
    var cell = row.querySelector(".result");
    cell.textContent = "";
    lines.forEach(function (l) {
      var div = document.createElement("div");
      div.textContent = l;
      cell.appendChild(div);
    });
    if (note) {
      var p = document.createElement("div");
      p.className = "muted";
      p.textContent = note;
      cell.appendChild(p);
    }
  }

  function wouldBe(row) {
    return row.dataset.stored === "true"
      ? "Without a proxy every request is built; nginx would answer the second from its copy."
      : "nginx would pass every request through, as here.";
  }

  table.addEventListener("click", function (ev) {
    var btn = ev.target.closest("button[data-action]");
    if (!btn) return;
    var row = btn.closest("tr");
    var kind = row.dataset.kind;
    var action = btn.dataset.action;
    btn.disabled = true;
    var done = function () { btn.disabled = false; };
    var proxied = function (rs) { return rs.some(function (r) { return r.proxy; }); };
    if (action === "twice") {
      get(kind).then(function (a) {
        return get(kind).then(function (b) {
          show(row, [describe(a), describe(b)], proxied([a, b]) ? "" : wouldBe(row));
        });
      }).then(done, done);
    } else if (action === "vary") {
      get(kind, { lang: "en" }).then(function (a) {
        return get(kind, { lang: "fr" }).then(function (b) {
          return get(kind, { lang: "en" }).then(function (c) {
            show(row, [describe(a), describe(b), describe(c)], proxied([a, b, c]) ? "" : wouldBe(row));
          });
        });
      }).then(done, done);
    } else if (action === "stampede") {
      var round = Math.floor(Math.random() * 1e9) + 1;
      var all = [];
      for (var i = 0; i < 20; i++) all.push(get(kind, { round: round }));
      Promise.all(all).then(function (rs) {
        var builds = {};
        rs.forEach(function (r) { builds[r.instance + " build " + r.build] = true; });
        var counts = {};
        rs.forEach(function (r) { var k = r.proxy || "no proxy"; counts[k] = (counts[k] || 0) + 1; });
        var summary = Object.keys(counts).map(function (k) { return counts[k] + " × " + k; }).join(", ");
        var n = Object.keys(builds).length;
        show(row, ["20 requests: " + summary, n + (n === 1 ? " build reached an instance" : " builds reached the instances")],
          proxied(rs) ? "" : "Without a proxy each request builds its own copy; nginx's proxy_cache_lock would let one through.");
      }).then(done, done);
    }
  });
})();
