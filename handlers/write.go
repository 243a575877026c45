package handlers

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"cacheworkshop/cache"
	"cacheworkshop/trace"
)

// writeEntry sends a served response: the stored bytes with this request's
// own markup spliced in at the slot, and headers that say truthfully how the
// response was obtained. No template runs here, so a hit costs a lookup
// and a write.
func (s *Server) writeEntry(w http.ResponseWriter, r *http.Request, sv *served) {
	e := sv.entry
	h := w.Header()
	h["X-Cache"] = outcomeHeader(sv.outcome)
	if e.ETag != "" {
		h.Set("ETag", e.ETag)
	}
	if !e.LastModified.IsZero() {
		h.Set("Last-Modified", e.LastModified.UTC().Format(http.TimeFormat))
	}
	if h.Get("Cache-Control") == "" {
		if e.Slot >= 0 {
			// The body carries this request's own bar and trace, so no
			// copy of it may be reused: every load asks the server and
			// shows freshly measured timings. Clients that send
			// If-None-Match themselves still get a 304 below.
			h["Cache-Control"] = noStore
		} else {
			h["Cache-Control"] = noCache
		}
	}
	tr := trace.From(r.Context())
	if e.ETag != "" && etagMatch(r.Header.Get("If-None-Match"), e.ETag) {
		h.Set("Server-Timing", string(tr.AppendServerTiming(nil, tr.Summary())))
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h["Content-Type"] = contentTypeHeader(e.ContentType)
	if e.Slot < 0 {
		h["Server-Timing"] = []string{string(tr.AppendServerTiming(nil, tr.Summary()))}
		h["Content-Length"] = []string{strconv.Itoa(len(e.Body))}
		w.WriteHeader(e.Status)
		if r.Method != http.MethodHead {
			_, _ = w.Write(e.Body)
		}
		return
	}
	// The page is assembled in one pooled buffer and sent in one write:
	// three writes around the slot cost extra flushes and system calls
	// once the body outgrows the connection's buffer. The Server-Timing
	// value is formatted once, into a pooled scratch buffer, and serves
	// both the header and the trace panel's data attribute.
	bp := writeBufs.Get().(*[]byte)
	sp := writeBufs.Get().(*[]byte)
	sum := tr.Summary()
	st := tr.AppendServerTiming((*sp)[:0], sum)
	out := append((*bp)[:0], e.Body[:e.Slot]...)
	out = s.appendSlot(out, w, r, sv, sum, st)
	out = append(out, e.Body[e.Slot:]...)
	h["Server-Timing"] = []string{string(st)}
	h["Content-Length"] = []string{strconv.Itoa(len(out))}
	w.WriteHeader(e.Status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(out)
	}
	*bp, *sp = out, st
	writeBufs.Put(bp)
	writeBufs.Put(sp)
}

var writeBufs = sync.Pool{New: func() any { b := make([]byte, 0, 32<<10); return &b }}

// hasCookie is a cheap test before parsing cookies: most requests carry
// no flash message.
func hasCookie(r *http.Request, name string) bool {
	for _, h := range r.Header["Cookie"] {
		if strings.Contains(h, name+"=") {
			return true
		}
	}
	return false
}

// cookieValue returns the first cookie called name, as r.Cookie would,
// without parsing and allocating every cookie of the header: the mode
// cookie is read on every page request. A quoted value is unquoted; the
// caller validates the value itself.
func cookieValue(r *http.Request, name string) (string, bool) {
	for _, line := range r.Header["Cookie"] {
		for part := range strings.SplitSeq(line, ";") {
			part = strings.TrimSpace(part)
			v, ok := strings.CutPrefix(part, name)
			if !ok || !strings.HasPrefix(v, "=") {
				continue
			}
			v = v[1:]
			if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
				v = v[1 : len(v)-1]
			}
			return v, true
		}
	}
	return "", false
}

var (
	noStore     = []string{"no-store"}
	noCache     = []string{"no-cache"}
	hitHeader   = []string{"HIT"}
	missHeader  = []string{"MISS"}
	bypassHdr   = []string{"BYPASS"}
	htmlHeader  = []string{"text/html; charset=utf-8"}
	jsonHeader  = []string{"application/json; charset=utf-8"}
	outcomeHdrs = map[string][]string{trace.Hit: hitHeader, trace.Miss: missHeader, trace.Bypass: bypassHdr}
)

// outcomeHeader and contentTypeHeader reuse shared header values.
func outcomeHeader(o string) []string {
	if v, ok := outcomeHdrs[o]; ok {
		return v
	}
	return []string{o}
}

func contentTypeHeader(ct string) []string {
	switch ct {
	case htmlHeader[0]:
		return htmlHeader
	case jsonHeader[0]:
		return jsonHeader
	}
	return []string{ct}
}

// etagMatch implements If-None-Match's weak comparison.
func etagMatch(header, etag string) bool {
	if header == "" {
		return false
	}
	if strings.TrimSpace(header) == "*" {
		return true
	}
	want := strings.TrimPrefix(etag, "W/")
	for _, t := range strings.Split(header, ",") {
		if strings.TrimPrefix(strings.TrimSpace(t), "W/") == want {
			return true
		}
	}
	return false
}

// appendSlot appends the per-request part of a page: how this response
// was served, with real timings, the trace, one-time messages and cache
// notices. sum and st are the request's trace figures and Server-Timing
// value, so the bar, the panel and the header agree.
func (s *Server) appendSlot(b []byte, w http.ResponseWriter, r *http.Request, sv *served, sum trace.Summary, st []byte) []byte {
	e := sv.entry
	if f, ok := s.takeFlash(w, r); ok {
		b = append(b, `<div class="flash" role="status"><p><strong>`...)
		b = appendEscaped(b, f.Message)
		b = append(b, `</strong></p>`...)
		if len(f.Details) > 0 {
			b = append(b, `<ul class="flash-log">`...)
			for _, d := range f.Details {
				b = append(b, `<li>`...)
				b = appendEscaped(b, d)
				b = append(b, `</li>`...)
			}
			b = append(b, `</ul>`...)
		}
		b = append(b, `</div>`...)
	}
	for _, n := range sv.notices {
		b = append(b, `<p class="notice notice-warn" role="alert">`...)
		b = appendEscaped(b, n)
		b = append(b, ` The page was served from the database instead.</p>`...)
	}
	outcome, ok := lowerOutcome[sv.outcome]
	if !ok {
		outcome = strings.ToLower(sv.outcome)
	}
	b = append(b, `<section class="reqbar reqbar-`...)
	b = append(b, outcome...)
	b = append(b, `" aria-label="How this response was served" data-outcome="`...)
	b = append(b, sv.outcome...)
	b = append(b, `"><span class="badge badge-`...)
	b = append(b, outcome...)
	b = append(b, `">`...)
	b = append(b, sv.outcome...)
	b = append(b, `</span> `...)
	switch sv.outcome {
	case trace.Hit:
		b = append(b, `Served from the <strong>`...)
		b = appendEscaped(b, sv.backend)
		b = append(b, ` cache</strong> in <strong class="reqbar-total">`...)
		b = trace.AppendMillis(b, sum.Total)
		b = append(b, ` ms</strong>: no database query, no template rendering. `...)
		if sv.waited > 0 {
			b = append(b, `It waited `...)
			b = trace.AppendMillis(b, sv.waited)
			b = append(b, ` ms for another instance holding the rebuild lock, then read its result. `...)
		}
		b = append(b, `<span class="reqbar-built">This copy was built `...)
		b = appendAgo(b, time.Since(e.BuiltAt))
		b = append(b, ` ago in `...)
		b = trace.AppendMillis(b, e.BuildDur)
		b = append(b, ` ms (database: `...)
		b = appendQueries(b, e.DBCount, e.DBDur, e.Simulated)
		b = append(b, `).</span>`...)
	default:
		if sv.outcome == trace.Bypass && sv.mode != cache.ModeNone {
			b = append(b, `Never cached: this page is measured afresh on every request, built in <strong class="reqbar-total">`...)
		} else if sv.outcome == trace.Bypass {
			b = append(b, `No cache: built in <strong class="reqbar-total">`...)
		} else {
			b = append(b, `Not in the <strong>`...)
			b = appendEscaped(b, sv.backend)
			b = append(b, ` cache</strong>: built in <strong class="reqbar-total">`...)
		}
		b = trace.AppendMillis(b, sum.Total)
		b = append(b, ` ms</strong> (database: `...)
		if e.DBCount == 0 && e.DBDur == 0 && sum.DBCount > 0 {
			b = appendQueries(b, sum.DBCount, sum.DB, sum.Simulated)
		} else {
			b = appendQueries(b, e.DBCount, e.DBDur, e.Simulated)
		}
		b = append(b, `; rendering `...)
		b = trace.AppendMillis(b, sum.Render)
		b = append(b, ` ms)`...)
		switch {
		case sv.shared && sv.outcome == trace.Miss:
			b = append(b, `, shared with a concurrent request for the same page`...)
		}
		if sv.stored {
			b = append(b, `, then stored for `...)
			b = append(b, humanDuration(sv.ttl)...)
		}
		b = append(b, `.`...)
	}
	b = append(b, `</section>`...)
	return appendTracePanel(b, sum, st)
}

// lowerOutcome holds the outcomes as CSS class suffixes.
var lowerOutcome = map[string]string{trace.Hit: "hit", trace.Miss: "miss", trace.Bypass: "bypass", trace.Error: "error"}

// appendCount appends n with the singular or plural noun.
func appendCount(b []byte, n int, one, many string) []byte {
	b = strconv.AppendInt(b, int64(n), 10)
	if n == 1 {
		return append(b, one...)
	}
	return append(b, many...)
}

func appendQueries(b []byte, n int, d, sim time.Duration) []byte {
	b = strconv.AppendInt(b, int64(n), 10)
	if n == 1 {
		b = append(b, ` query, `...)
	} else {
		b = append(b, ` queries, `...)
	}
	b = trace.AppendMillis(b, d)
	b = append(b, ` ms`...)
	if sim > 0 {
		b = append(b, ` + `...)
		b = trace.AppendMillis(b, sim)
		b = append(b, ` ms simulated latency`...)
	}
	return b
}

// appendTrace adds the collapsible trace panel. The server writes only a
// summary and this response's Server-Timing value; the browser draws the
// table from it (static/app.js, preferring the PerformanceServerTiming API
// where the page is a secure context). Per-request work on a hit stays a
// few hundred bytes, and the learner meets the real browser API.
func (s *Server) appendTrace(b []byte, snap trace.Snapshot) []byte {
	return appendTracePanel(b, snap.Summary, []byte(snap.ServerTiming()))
}

func appendTracePanel(b []byte, sum trace.Summary, st []byte) []byte {
	b = append(b, `<details class="trace" data-server-timing="`...)
	b = appendEscapedBytes(b, st)
	b = append(b, `"><summary>Trace: `...)
	b = appendCount(b, sum.Lookups, " cache lookup", " cache lookups")
	b = append(b, `, `...)
	b = appendCount(b, sum.DBCount, " database query", " database queries")
	b = append(b, `, `...)
	b = trace.AppendMillis(b, sum.Total)
	b = append(b, ` ms in all</summary><p class="trace-note muted">Drawn by your browser from this response's <code>Server-Timing</code> header (DevTools → Network → Timing shows the same). Use <em>explain</em> on a key to see its parts and whether it is cached now.</p></details>`...)
	return b
}

// humanDuration writes a TTL the way people say it: "5 min", "90 s".
func humanDuration(d time.Duration) string {
	switch {
	case d >= time.Hour && d%time.Hour == 0:
		return strconv.Itoa(int(d/time.Hour)) + " h"
	case d >= time.Minute && d%time.Minute == 0:
		return strconv.Itoa(int(d/time.Minute)) + " min"
	case d >= time.Second && d%time.Second == 0:
		return strconv.Itoa(int(d/time.Second)) + " s"
	}
	return d.String()
}

// appendAgo appends how long ago something happened, the way people say it.
func appendAgo(b []byte, d time.Duration) []byte {
	switch {
	case d < time.Second:
		return append(b, "less than a second"...)
	case d < time.Minute:
		b = strconv.AppendInt(b, int64(d/time.Second), 10)
		return append(b, " s"...)
	case d < time.Hour:
		b = strconv.AppendInt(b, int64(d/time.Minute), 10)
		return append(b, " min"...)
	}
	b = strconv.AppendInt(b, int64(d/time.Hour), 10)
	return append(b, " h"...)
}

// ago is appendAgo as a string.
func ago(d time.Duration) string { return string(appendAgo(nil, d)) }

// flash is a one-time message carried by a short-lived cookie from a POST
// to the page it redirects to. It is only ever shown in the slot, never in
// a cached body.
type flash struct {
	Message string   `json:"m"`
	Details []string `json:"d,omitempty"`
}

const flashCookie = "flash"

func setFlash(w http.ResponseWriter, f flash) {
	data, _ := json.Marshal(f)
	http.SetCookie(w, &http.Cookie{Name: flashCookie, Value: base64.RawURLEncoding.EncodeToString(data),
		Path: "/", MaxAge: 60, HttpOnly: true, SameSite: http.SameSiteLaxMode})
}

// takeFlash reads and clears the flash cookie.
func (s *Server) takeFlash(w http.ResponseWriter, r *http.Request) (flash, bool) {
	if !hasCookie(r, flashCookie) {
		return flash{}, false
	}
	c, err := r.Cookie(flashCookie)
	if err != nil {
		return flash{}, false
	}
	http.SetCookie(w, &http.Cookie{Name: flashCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteLaxMode})
	data, err := base64.RawURLEncoding.DecodeString(c.Value)
	var f flash
	if err != nil || json.Unmarshal(data, &f) != nil || f.Message == "" {
		return flash{}, false
	}
	return f, true
}

// modeOf is a helper for handlers that need the mode.
func modeOf(r *http.Request) cache.Mode { return cache.ModeFrom(r.Context()) }
