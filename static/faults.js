// Faults page: follow the circuit breaker live, flip the switches without
// leaving the page, and send Redis-mode requests to give the breaker calls
// to count. The page works without it: the switches are a plain form.
"use strict";
(function () {
  var now = document.getElementById("faults-now");
  if (!now) return;
  var api = now.getAttribute("data-api");
  var every = 250;

  function show(el, on) { el.hidden = !on; }

  function seconds(ms) { return (ms / 1000).toFixed(1) + " s"; }

  // apply writes the state the server sent into the page's own markup:
  // values into [data-fault], and the matching sentence of each switch
  // and of the breaker shown, the others hidden.
  function apply(st) {
    now.querySelectorAll("[data-fault]").forEach(function (el) {
      var v = st[el.getAttribute("data-fault")];
      var how = el.getAttribute("data-format");
      if (how === "seconds") v = seconds(v || 0);
      else if (how === "plus-ms") v = "+" + v + " ms";
      else if (v === undefined || v === "") v = "none";
      el.textContent = String(v);
    });
    var state = document.getElementById("breaker-state");
    state.className = "breaker breaker-" + st.breaker;
    now.querySelectorAll("[data-breaker]").forEach(function (el) {
      show(el, el.getAttribute("data-breaker") === st.breaker);
    });
    now.querySelectorAll("[data-step]").forEach(function (el) {
      if (el.getAttribute("data-step") === st.breaker) el.setAttribute("aria-current", "step");
      else el.removeAttribute("aria-current");
    });
    history(st.history || []);
    var on = { fail: st.fail, latency: st.latency_ms > 0 };
    Object.keys(on).forEach(function (k) {
      now.querySelectorAll('[data-fault-on="' + k + '"]').forEach(function (el) { show(el, on[k]); });
      now.querySelectorAll('[data-fault-off="' + k + '"]').forEach(function (el) { show(el, !on[k]); });
    });
  }

  // history redraws the breaker's latest changes, as the server renders
  // them: time (UTC), state, reason.
  var shownHistory = "";
  function history(events) {
    var key = JSON.stringify(events);
    if (!events.length || key === shownHistory) return;
    shownHistory = key;
    var list = document.getElementById("breaker-history");
    list.textContent = "";
    events.forEach(function (e) {
      var li = document.createElement("li");
      var time = document.createElement("time");
      time.setAttribute("datetime", e.at);
      time.textContent = new Date(e.at).toISOString().slice(11, 23);
      var state = document.createElement("span");
      state.className = "breaker breaker-" + e.state;
      state.textContent = e.state;
      li.appendChild(time);
      li.appendChild(document.createTextNode(" "));
      li.appendChild(state);
      li.appendChild(document.createTextNode(" " + e.why));
      list.appendChild(li);
    });
  }

  function poll() {
    fetch(api, { credentials: "same-origin", cache: "no-store", headers: { Accept: "application/json" } })
      .then(function (res) { if (!res.ok) throw new Error("HTTP " + res.status); return res.json(); })
      .then(function (st) {
        apply(st);
        document.getElementById("faults-live").hidden = false;
      })
      .catch(function () { /* keep the last state; the next poll retries */ })
      .then(function () { setTimeout(poll, document.hidden ? every * 8 : every); });
  }

  // The switches post as the form would, but stay on the page, so the
  // traffic below keeps going while the learner flips them.
  var form = document.getElementById("faults-switches");
  var status = document.getElementById("faults-switch-status");
  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    var body = new URLSearchParams(new FormData(form, ev.submitter));
    var label = ev.submitter ? ev.submitter.textContent : "switch";
    // getAttribute: the buttons are named "action", which hides form.action.
    fetch(form.getAttribute("action"), { method: "POST", body: body, credentials: "same-origin" })
      .then(function (res) {
        status.textContent = res.ok ? "Done: " + label + "." : "Refused (" + res.status + "): " +
          (res.status === 403 ? "this action needs the admin token." : "see the server's answer.");
      })
      .catch(function (err) { status.textContent = "The switch could not be sent: " + err.message; });
  });

  // Traffic: one Redis-mode request at a time, every quarter of a second,
  // each shown as its X-Cache. credentials "omit": the learner's mode
  // cookie is neither sent nor replaced.
  var box = document.getElementById("faults-traffic");
  var start = document.getElementById("traffic-toggle");
  var stop = document.getElementById("traffic-stop");
  var strip = document.getElementById("traffic-strip");
  var count = document.getElementById("traffic-count");
  var running = false, sent = 0, tally = {};
  var maxShown = 60;

  function record(outcome) {
    sent++;
    tally[outcome] = (tally[outcome] || 0) + 1;
    var li = document.createElement("li");
    var badge = document.createElement("span");
    badge.className = "badge badge-" + outcome.toLowerCase();
    badge.textContent = outcome;
    li.appendChild(badge);
    strip.insertBefore(li, strip.firstChild);
    while (strip.children.length > maxShown) strip.removeChild(strip.lastChild);
    count.textContent = sent + " sent: " + Object.keys(tally).map(function (k) { return tally[k] + " " + k; }).join(", ");
  }

  function send() {
    if (!running) return;
    fetch(box.getAttribute("data-url"), { credentials: "omit", cache: "no-store" })
      .then(function (res) { record(res.ok ? (res.headers.get("X-Cache") || "?") : "ERROR"); })
      .catch(function () { record("ERROR"); })
      .then(function () { if (running) setTimeout(send, every); });
  }

  start.addEventListener("click", function () {
    if (running) return;
    running = true;
    show(start, false);
    show(stop, true);
    send();
  });
  stop.addEventListener("click", function () {
    running = false;
    show(start, true);
    show(stop, false);
  });
  start.disabled = false;

  poll();
})();
