package handlers

import (
	"html/template"
	"net/http"
	"strconv"
	"strings"
	"time"

	"cacheworkshop/cache"
	"cacheworkshop/cache/page"
	"cacheworkshop/trace"
)

// This file is the request bar: the per-request markup spliced into every
// page at its slot, saying how this response was served with this
// request's own measured timings, followed by the trace panel, one-time
// messages and cache notices. It is built in Go rather than in a template
// because it runs on every hit, where a template execution would cost more
// than the whole rest of the hit; the golden tests in bar_test.go pin its
// markup.

// bar returns the slot writer of a page response to r.
func (s *Server) bar(w http.ResponseWriter, r *http.Request) page.Slot {
	return func(b []byte, sv *page.Served, sum trace.Summary, st []byte) []byte {
		if f, ok := takeFlash(w, r); ok {
			b = appendFlash(b, f)
		}
		b = s.appendChangedSettings(b)
		return appendInstance(appendBar(b, sv, sum, st, time.Now()), s.cfg.Instance)
	}
}

// esc appends s escaped for HTML text and attribute values, with
// html/template's own escaper.
func esc(b []byte, s string) []byte { return append(b, template.HTMLEscapeString(s)...) }

// escAttr appends the Server-Timing value st escaped for the data
// attribute, byte by byte into b. It replaces what html/template's escaper
// would (the value is printable ASCII: the trace only ever writes that),
// without its string conversion and buffer: on a memory hit that escaper
// took 15 % of the server's CPU, and with this loop BenchmarkListPage/memory
// went from 9.7 µs and 43 allocations to 6.4–7.1 µs and 36.
func escAttr(b, st []byte) []byte {
	for _, c := range st {
		switch c {
		case '"':
			b = append(b, "&#34;"...)
		case '&':
			b = append(b, "&amp;"...)
		case '<':
			b = append(b, "&lt;"...)
		case '>':
			b = append(b, "&gt;"...)
		case '\'':
			b = append(b, "&#39;"...)
		default:
			b = append(b, c)
		}
	}
	return b
}

func appendFlash(b []byte, f flash) []byte {
	b = append(b, `<div class="flash" role="status"><p><strong>`...)
	b = esc(b, f.Message)
	b = append(b, `</strong></p>`...)
	if len(f.Details) > 0 {
		b = append(b, `<ul class="flash-log">`...)
		for _, d := range f.Details {
			b = append(b, `<li>`...)
			b = esc(b, d)
			b = append(b, `</li>`...)
		}
		b = append(b, `</ul>`...)
	}
	return append(b, `</div>`...)
}

// appendBar appends the bar for sv, with the request's figures sum and its
// Server-Timing value st; now dates the entry's age.
func appendBar(b []byte, sv *page.Served, sum trace.Summary, st []byte, now time.Time) []byte {
	e := sv.Entry
	for _, n := range sv.Notices {
		b = append(b, `<p class="notice notice-warn" role="alert">`...)
		b = esc(b, n)
		b = append(b, ` The page was served from the database instead.</p>`...)
	}
	outcome := strings.ToLower(sv.Outcome)
	b = append(b, `<section class="reqbar reqbar-`...)
	b = esc(b, outcome)
	b = append(b, `" aria-label="How this response was served" data-outcome="`...)
	b = esc(b, sv.Outcome)
	b = append(b, `"><span class="badge badge-`...)
	b = esc(b, outcome)
	b = append(b, `">`...)
	b = esc(b, sv.Outcome)
	b = append(b, `</span> `...)
	switch sv.Outcome {
	case trace.Hit:
		b = append(b, `Served from the <strong>`...)
		b = esc(b, sv.Backend)
		b = append(b, ` cache</strong> in <strong class="reqbar-total">`...)
		b = trace.AppendMillis(b, sum.Total)
		b = append(b, ` ms</strong>: no database query, no template rendering. `...)
		if sv.Waited > 0 {
			b = append(b, `It waited `...)
			b = trace.AppendMillis(b, sv.Waited)
			b = append(b, ` ms for another instance holding the rebuild lock, then read its result. `...)
		}
		b = append(b, `<span class="reqbar-built">This copy was built `...)
		b = append(b, Ago(now.Sub(e.BuiltAt))...)
		b = append(b, ` ago in `...)
		b = trace.AppendMillis(b, e.BuildDur)
		b = append(b, ` ms (database: `...)
		b = appendQueries(b, e.DBCount, e.DBDur, e.Simulated)
		b = append(b, `).</span>`...)
	default:
		switch {
		case sv.Outcome == trace.Bypass && sv.Mode != cache.ModeNone:
			b = append(b, `Never cached: this page is measured afresh on every request, built in <strong class="reqbar-total">`...)
		case sv.Outcome == trace.Bypass:
			b = append(b, `No cache: built in <strong class="reqbar-total">`...)
		case sv.Outcome == trace.Error:
			b = append(b, `The <strong>`...)
			b = esc(b, sv.Backend)
			b = append(b, ` cache</strong> could not be read, so this page was built from the database in <strong class="reqbar-total">`...)
		default:
			b = append(b, `Not in the <strong>`...)
			b = esc(b, sv.Backend)
			b = append(b, ` cache</strong>: built in <strong class="reqbar-total">`...)
		}
		b = trace.AppendMillis(b, sum.Total)
		// The whole request's queries, as the trace counts them: the
		// build's and any the handler made before it.
		b = append(b, ` ms</strong> (database: `...)
		b = appendQueries(b, sum.DBCount, sum.DB, sum.Simulated)
		b = append(b, `; rendering `...)
		b = trace.AppendMillis(b, sum.Render)
		b = append(b, ` ms)`...)
		if sv.Shared && sv.Outcome == trace.Miss {
			b = append(b, `, shared with a concurrent request for the same page`...)
		}
		if sv.Stored {
			b = append(b, `, then stored for `...)
			b = append(b, humanDuration(sv.TTL)...)
		}
		b = append(b, `.`...)
	}
	b = append(b, `</section>`...)
	return appendTracePanel(b, sum, st)
}

// appendChangedSettings says which settings of this process the teacher
// page changed, while any differs from its configured value: a learner
// whose pages expire after 10 s, or whose memory cache evicts after a few
// pages, sees why. It costs two atomic loads when nothing changed.
func (s *Server) appendChangedSettings(b []byte) []byte {
	var mem int64
	if s.cfg.Memory != nil {
		mem = s.cfg.Memory.MaxBytes()
	}
	return appendSettings(b, s.pages.TTL(), s.cfg.TTL, mem, s.memBudget)
}

// appendSettings appends the changed-settings line for a page TTL and a
// memory budget against their configured values, or nothing when both
// are as configured.
func appendSettings(b []byte, ttl, ttlConf time.Duration, mem, memConf int64) []byte {
	if ttl == ttlConf && mem == memConf {
		return b
	}
	b = append(b, `<p class="notice notice-settings" role="status" data-changed-settings>Changed on the <a href="/teacher">teacher page</a>, for this server process:`...)
	if ttl != ttlConf {
		b = append(b, ` pages are now stored for <strong data-setting="page-ttl">`...)
		b = append(b, humanDuration(ttl)...)
		b = append(b, `</strong> (CACHE_TTL is `...)
		b = append(b, humanDuration(ttlConf)...)
		b = append(b, `)`...)
		if mem != memConf {
			b = append(b, `;`...)
		}
	}
	if mem != memConf {
		b = append(b, ` the memory cache's budget is <strong data-setting="memory-budget">`...)
		b = append(b, HumanBytes(mem)...)
		b = append(b, `</strong> (MEMORY_CACHE_MB gave `...)
		b = append(b, HumanBytes(memConf)...)
		b = append(b, `)`...)
	}
	return append(b, `.</p>`...)
}

// HumanBytes writes a byte count the way people read it: "64 MiB",
// "256 KiB", "1.5 MiB", "900 B".
func HumanBytes(n int64) string {
	const k = 1 << 10
	switch {
	case n >= k<<20 && n%(k<<20) == 0:
		return strconv.FormatInt(n>>30, 10) + " GiB"
	case n >= k<<10 && n%(k<<10) == 0:
		return strconv.FormatInt(n>>20, 10) + " MiB"
	case n >= k<<10:
		return strconv.FormatFloat(float64(n)/(k<<10), 'f', 1, 64) + " MiB"
	case n >= k && n%k == 0:
		return strconv.FormatInt(n>>10, 10) + " KiB"
	case n >= k:
		return strconv.FormatFloat(float64(n)/k, 'f', 1, 64) + " KiB"
	}
	return strconv.FormatInt(n, 10) + " B"
}

// appendCount appends n with the singular or plural noun.
func appendCount(b []byte, n int, one, many string) []byte {
	b = strconv.AppendInt(b, int64(n), 10)
	if n == 1 {
		return append(b, one...)
	}
	return append(b, many...)
}

func appendQueries(b []byte, n int, d, sim time.Duration) []byte {
	b = appendCount(b, n, " query, ", " queries, ")
	b = trace.AppendMillis(b, d)
	b = append(b, ` ms`...)
	if sim > 0 {
		b = append(b, ` + `...)
		b = trace.AppendMillis(b, sim)
		b = append(b, ` ms simulated latency`...)
	}
	return b
}

// appendTracePanel adds the collapsible trace panel. The server writes only
// a summary and this response's Server-Timing value; the browser draws the
// table from it (static/app.js, preferring the PerformanceServerTiming API
// where the page is a secure context). Per-request work on a hit stays a
// few hundred bytes, and the learner meets the real browser API.
func appendTracePanel(b []byte, sum trace.Summary, st []byte) []byte {
	b = append(b, `<details class="trace" data-server-timing="`...)
	b = escAttr(b, st)
	b = append(b, `"><summary>Trace: `...)
	b = appendCount(b, sum.Lookups, " cache lookup", " cache lookups")
	b = append(b, `, `...)
	b = appendCount(b, sum.DBCount, " database query", " database queries")
	b = append(b, `, `...)
	b = trace.AppendMillis(b, sum.Total)
	b = append(b, ` ms in all</summary><p class="trace-note muted">Drawn by your browser from this response's <code>Server-Timing</code> header (DevTools → Network → Timing shows the same). Use <em>explain</em> on a key to see its parts and whether it is cached now.</p></details>`...)
	return b
}

// humanDuration writes a duration the way people say it: "5 min", "90 s".
func humanDuration(d time.Duration) string {
	switch {
	case d >= time.Hour && d%time.Hour == 0:
		return strconv.Itoa(int(d/time.Hour)) + " h"
	case d >= time.Minute && d%time.Minute == 0:
		return strconv.Itoa(int(d/time.Minute)) + " min"
	case d >= time.Second && d%time.Second == 0:
		return strconv.Itoa(int(d/time.Second)) + " s"
	case d >= time.Second:
		return strconv.FormatFloat(d.Seconds(), 'f', 1, 64) + " s"
	}
	return trace.Millis(d) + " ms"
}

// Ago says how long ago something happened, the way people say it and
// every request bar writes it: "less than a second", "42 s", "5 min".
func Ago(d time.Duration) string {
	switch {
	case d < time.Second:
		return "less than a second"
	case d < time.Minute:
		return strconv.Itoa(int(d/time.Second)) + " s"
	case d < time.Hour:
		return strconv.Itoa(int(d/time.Minute)) + " min"
	}
	return strconv.Itoa(int(d/time.Hour)) + " h"
}
