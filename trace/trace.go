// Package trace records what one request did: every cache lookup with its
// layer, key, outcome and duration, the database queries, and rendering.
// It becomes the request's Server-Timing header, so the browser's DevTools
// (and the page's own trace panel) show the real breakdown.
package trace

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Outcomes of a cache lookup.
const (
	Hit    = "HIT"
	Miss   = "MISS"
	Bypass = "BYPASS"
	Error  = "ERROR"
)

// Lookup is one cache decision.
type Lookup struct {
	Layer   string        `json:"layer"` // page, frag, gen, data, memo
	Backend string        `json:"backend"`
	Key     string        `json:"key"`
	Outcome string        `json:"outcome"`
	Dur     time.Duration `json:"dur_ns"`
}

// Trace collects one request's events. A nil *Trace ignores everything, so
// code can record unconditionally.
type Trace struct {
	Start time.Time

	mu        sync.Mutex
	lookups   []Lookup
	bypassed  int
	dbCount   int
	dbDur     time.Duration
	simulated time.Duration
	render    time.Duration
}

// New starts a trace now.
func New() *Trace { return &Trace{Start: time.Now()} }

type contextKey struct{}

// NewContext returns ctx carrying t.
func NewContext(ctx context.Context, t *Trace) context.Context {
	return context.WithValue(ctx, contextKey{}, t)
}

// From returns the request's trace, or nil.
func From(ctx context.Context) *Trace {
	t, _ := ctx.Value(contextKey{}).(*Trace)
	return t
}

// Cache records a cache lookup.
func (t *Trace) Cache(l Lookup) {
	if t == nil {
		return
	}
	t.mu.Lock()
	t.lookups = append(t.lookups, l)
	if l.Outcome == Bypass {
		t.bypassed++
	}
	t.mu.Unlock()
}

// DB records one database query.
func (t *Trace) DB(d time.Duration) {
	if t == nil {
		return
	}
	t.mu.Lock()
	t.dbCount++
	t.dbDur += d
	t.mu.Unlock()
}

// Simulated records artificial latency (SLOW_QUERY_MS) separately from the
// real database time, so the two are never confused.
func (t *Trace) Simulated(d time.Duration) {
	if t == nil {
		return
	}
	t.mu.Lock()
	t.simulated += d
	t.mu.Unlock()
}

// Render records template execution time.
func (t *Trace) Render(d time.Duration) {
	if t == nil {
		return
	}
	t.mu.Lock()
	t.render += d
	t.mu.Unlock()
}

// Summary is a trace's figures without its lookups: what a request bar
// shows, copied without allocating.
type Summary struct {
	Lookups int // how many cache lookups were recorded
	// Bypassed is how many of them asked no cache (BYPASS): a page or a
	// fragment built without one, as everything is in mode none. They
	// are renders, not lookups, and the trace panel words them so.
	Bypassed  int
	DBCount   int
	DB        time.Duration
	Simulated time.Duration
	Render    time.Duration
	Total     time.Duration
}

// Snapshot is a copy of a trace's figures and lookups.
type Snapshot struct {
	Summary
	Lookups []Lookup // the lookups themselves (Summary.Lookups counts them)
}

// Snapshot copies the figures and lookups so far, with Total measured now.
func (t *Trace) Snapshot() Snapshot {
	if t == nil {
		return Snapshot{}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return Snapshot{Summary: t.summaryLocked(), Lookups: append([]Lookup(nil), t.lookups...)}
}

// Count calls f with each lookup's layer, backend and outcome, under the
// trace's lock: what a metric counts, without copying the lookups as
// Snapshot does. f must not use the trace.
func (t *Trace) Count(f func(layer, backend, outcome string)) {
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	for i := range t.lookups {
		l := &t.lookups[i]
		f(l.Layer, l.Backend, l.Outcome)
	}
}

// Summary returns the figures so far, with Total measured now.
func (t *Trace) Summary() Summary {
	if t == nil {
		return Summary{}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.summaryLocked()
}

func (t *Trace) summaryLocked() Summary {
	return Summary{Lookups: len(t.lookups), Bypassed: t.bypassed, DBCount: t.dbCount, DB: t.dbDur,
		Simulated: t.simulated, Render: t.render, Total: time.Since(t.Start)}
}

// AppendServerTiming appends the trace's lookups, with the figures of sum,
// as a Server-Timing header value, without copying the lookups. Passing
// the Summary the page shows keeps the header's total and the page's equal.
func (t *Trace) AppendServerTiming(b []byte, sum Summary) []byte {
	if t == nil {
		return appendServerTiming(b, nil, sum)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return appendServerTiming(b, t.lookups, sum)
}

// ServerTiming formats the snapshot as a Server-Timing header value: one
// entry per cache lookup, then db, sim (simulated latency), render, total.
func (s Snapshot) ServerTiming() string {
	return string(appendServerTiming(make([]byte, 0, 96+64*len(s.Lookups)), s.Lookups, s.Summary))
}

// lowerOutcomes spares a strings.ToLower per lookup for the usual outcomes.
var lowerOutcomes = map[string]string{Hit: "hit", Miss: "miss", Bypass: "bypass", Error: "error"}

func appendServerTiming(b []byte, lookups []Lookup, s Summary) []byte {
	for _, l := range lookups {
		name := "cache"
		if l.Layer != "page" {
			name = l.Layer
		}
		b = append(b, name...)
		b = append(b, `;desc="`...)
		b = appendDesc(b, l.Backend)
		b = append(b, ' ')
		if o, ok := lowerOutcomes[l.Outcome]; ok {
			b = append(b, o...)
		} else {
			b = appendDesc(b, strings.ToLower(l.Outcome))
		}
		if l.Key != "" {
			b = append(b, ' ')
			b = appendDesc(b, l.Key)
		}
		b = append(b, `";dur=`...)
		b = AppendMillis(b, l.Dur)
		b = append(b, ", "...)
	}
	b = append(b, `db;desc="`...)
	b = strconv.AppendInt(b, int64(s.DBCount), 10)
	if s.DBCount == 1 {
		b = append(b, ` query";dur=`...)
	} else {
		b = append(b, ` queries";dur=`...)
	}
	b = AppendMillis(b, s.DB)
	if s.Simulated > 0 {
		b = append(b, `, sim;desc="simulated latency";dur=`...)
		b = AppendMillis(b, s.Simulated)
	}
	b = append(b, ", render;dur="...)
	b = AppendMillis(b, s.Render)
	b = append(b, ", total;dur="...)
	b = AppendMillis(b, s.Total)
	return b
}

// appendDesc copies s into a quoted-string, dropping quotes and backslashes
// and anything outside printable ASCII so a key can never break the header.
func appendDesc(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= 0x7f || c == '"' || c == '\\' {
			c = '_'
		}
		b = append(b, c)
	}
	return b
}

// AppendMillis appends d in milliseconds: three decimals below 10 ms, so
// a cache hit of a few microseconds reads as 0.012 rather than 0.01 (or a
// suspicious 0.00), and two from 10 ms up, where microseconds are noise.
func AppendMillis(b []byte, d time.Duration) []byte {
	us := d.Microseconds()
	if us < 0 {
		us = 0
	}
	b = strconv.AppendInt(b, us/1000, 10)
	b = append(b, '.')
	frac := us % 1000
	if us < 10_000 {
		return append(b, byte('0'+frac/100), byte('0'+frac/10%10), byte('0'+frac%10))
	}
	frac /= 10
	return append(b, byte('0'+frac/10), byte('0'+frac%10))
}

// Millis formats d like AppendMillis.
func Millis(d time.Duration) string { return string(AppendMillis(nil, d)) }
