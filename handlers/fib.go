package handlers

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"math/big"
	"net/http"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"

	"cacheworkshop/cache"
	"cacheworkshop/fib"
	"cacheworkshop/trace"
)

// Bounds of /benchmark?n=. The memoised ways recurse n deep and the Redis
// one makes about 3n round trips, so 300 keeps even that way well under a
// second while showing numbers far beyond int64.
const (
	fibDefaultN = 30
	fibMaxN     = 300
	// fibMemoTTL only guards against a run that dies before cleaning up:
	// each run deletes its own memo keys when it finishes.
	fibMemoTTL = time.Minute
)

// fibRoutes registers this demo's routes.
func (s *Server) fibRoutes(r chi.Router) {
	r.Get("/benchmark", s.handle(s.serveBenchmark))
}

// fibWay is one row of the benchmark table.
type fibWay struct {
	ID, Name, How string
	Ran           bool
	Note          string // why it did not run, or what went wrong
	Failed        bool
	Dur           time.Duration
	Calls         string
	Ops           string // cache operations: map accesses or round trips
	Speedup       string
	Outcome       string // whole-result way: HIT, MISS or BYPASS
}

// MS is the duration for the chart, in milliseconds.
func (w fibWay) MS() string { return strconv.FormatFloat(float64(w.Dur.Nanoseconds())/1e6, 'f', 4, 64) }

type fibData struct {
	N, Max, NaiveMax int
	Value            string
	Digits           int
	Ways             []fibWay
	Baseline         string
	ResultKey        string
	TTL              string
	Quick            []int
}

// fibResult is how a whole result is stored: the value and what computing
// it cost, so a hit can say what it saved.
type fibResult struct {
	Value     string        `json:"v"`
	Computed  time.Time     `json:"at"`
	Took      time.Duration `json:"took"`
	CallsMade int           `json:"calls"`
}

func (s *Server) serveBenchmark(w http.ResponseWriter, r *http.Request) error {
	n, err := parsePositive(r, "n", fibDefaultN, 1, fibMaxN)
	if err != nil {
		var he *httpError
		if errors.As(err, &he) && he.status == http.StatusBadRequest {
			return errBadRequest(he.msg + fmt.Sprintf(" The memoised ways run for n from 1 to %d; naive recursion only up to %d, beyond which it is shown as skipped.", fibMaxN, fib.NaiveMax))
		}
		return err
	}
	ctx := r.Context()
	tr := trace.From(ctx)
	d := fibData{N: n, Max: fibMaxN, NaiveMax: fib.NaiveMax, TTL: s.cfg.TTL.String(),
		Quick: []int{10, 20, 30, 35, fib.NaiveMax, fib.NaiveMax + 1, 90, fibMaxN}}
	var values []*big.Int

	// 1. Naive recursion.
	naive := fibWay{ID: "naive", Name: "Naive recursion", How: "fib(n−1) + fib(n−2), recomputing every subproblem; no cache"}
	if n <= fib.NaiveMax {
		t0 := time.Now()
		v, calls, err := fib.Naive(n)
		naive.Dur = time.Since(t0)
		if err != nil {
			return err
		}
		naive.Ran = true
		naive.Calls = group(strconv.FormatUint(calls, 10))
		naive.Ops = "0"
		values = append(values, new(big.Int).SetUint64(v))
	} else {
		naive.Note = fmt.Sprintf("skipped: n > %d would take more than a second (and fib(93) no longer fits in 64 bits)", fib.NaiveMax)
	}

	// 2. Memoised in a Go map.
	mem := fibWay{ID: "memory", Name: "Memoised in process memory", How: "each fib(k) kept in a Go map; a lookup is a map access"}
	t0 := time.Now()
	v, st, err := fib.Memoized(ctx, n, fib.MapMemo{})
	mem.Dur = time.Since(t0)
	if err != nil {
		return err
	}
	mem.Ran, mem.Calls = true, group(strconv.Itoa(st.Calls))
	mem.Ops = fmt.Sprintf("%d map accesses (%d hits)", st.Lookups(), st.Hits)
	values = append(values, v)
	tr.Cache(trace.Lookup{Layer: "memo", Backend: "memory", Key: memoSummary("go map", st), Outcome: "read", Dur: mem.Dur})

	// 3. Memoised in Redis: one round trip per lookup and per store.
	rw := fibWay{ID: "redis", Name: "Memoised in " + s.redisLabel(), How: "each fib(k) kept in Redis; every lookup and store is a network round trip"}
	run := make([]byte, 4)
	_, _ = rand.Read(run)
	rm := &fib.CacheMemo{Cache: s.redis, Prefix: "fib:memo:" + hex.EncodeToString(run) + ":", TTL: fibMemoTTL}
	t0 = time.Now()
	v, st, err = fib.Memoized(ctx, n, rm)
	rw.Dur = time.Since(t0)
	l := trace.Lookup{Layer: "memo", Backend: "redis", Key: memoSummary(rm.Prefix+"*", st), Outcome: "read", Dur: rw.Dur}
	if err != nil {
		s.log.Warn("fib redis memo failed", "err", err)
		rw.Failed, rw.Note = true, "failed: Redis unavailable ("+short(err)+")"
		l.Outcome = trace.Error
	} else {
		rw.Ran, rw.Calls = true, group(strconv.Itoa(st.Calls))
		rw.Ops = fmt.Sprintf("%d round trips (%d hits)", st.Lookups(), st.Hits)
		values = append(values, v)
	}
	tr.Cache(l)
	if len(rm.Keys) > 0 {
		// Cleanup is not part of the measured computation.
		if err := s.redis.Delete(context.WithoutCancel(ctx), rm.Keys...); err != nil {
			s.log.Warn("fib memo cleanup failed; keys expire on their own", "err", err)
		}
	}

	// 4. The whole result, cached under its own key in this request's mode.
	res, notice, err := s.fibWholeResult(ctx, n)
	if err != nil {
		return err
	}
	values = append(values, res.value)
	d.ResultKey = res.key

	for _, v := range values[1:] {
		if v.Cmp(values[0]) != 0 {
			return fmt.Errorf("fib(%d): the ways disagree: %s vs %s", n, values[0], v)
		}
	}
	d.Value = values[0].String()
	d.Digits = len(d.Value)
	d.Ways = []fibWay{naive, mem, rw, res.way}
	d.Baseline = speedups(d.Ways)

	e, err := s.renderEntry(ctx, "benchmark", s.layout(r, fmt.Sprintf("Fibonacci benchmark, n = %d", n), "benchmark", d))
	if err != nil {
		return err
	}
	s.writeMeasured(w, r, e, res.way.Outcome, func(b []byte, snap trace.Snapshot) []byte {
		return s.fibBar(b, snap, n, res, notice)
	})
	return nil
}

// fibOutcome is the whole-result way's row plus what the request bar
// needs to say about it.
type fibOutcome struct {
	way     fibWay
	value   *big.Int
	key     string
	backend string
	lookup  time.Duration
	stored  bool
	cached  *fibResult // on a hit: the stored copy
}

// fibWholeResult looks fib(n) up under its own key in the request's mode,
// computing and storing it on a miss. A failing cache is reported and
// worked around: the value is computed instead.
func (s *Server) fibWholeResult(ctx context.Context, n int) (fibOutcome, string, error) {
	mode := cache.ModeFrom(ctx)
	tr := trace.From(ctx)
	o := fibOutcome{key: "fib:result:" + strconv.Itoa(n)}
	o.way = fibWay{ID: "result", Name: "Whole result cached", How: "fib(n) stored under its own key in the current mode's cache"}
	calls := 0
	compute := func() (time.Duration, error) {
		t0 := time.Now()
		v, st, err := fib.Memoized(ctx, n, fib.MapMemo{})
		took := time.Since(t0)
		if err != nil {
			return took, err
		}
		o.value, o.way.Calls, calls = v, group(strconv.Itoa(st.Calls)), st.Calls
		return took, nil
	}
	t0 := time.Now()
	if mode == cache.ModeNone {
		o.backend, o.way.Outcome = "none", trace.Bypass
		tr.Cache(trace.Lookup{Layer: "page", Backend: "none", Key: o.key, Outcome: trace.Bypass})
		if _, err := compute(); err != nil {
			return o, "", err
		}
		o.way.Dur, o.way.Ran, o.way.Ops = time.Since(t0), true, "none (no cache)"
		return o, "", nil
	}
	c, _ := s.backend(mode)
	o.backend = c.Name()
	if mode == cache.ModeRedis {
		o.backend = s.redisLabel()
	}
	raw, found, err := c.Get(ctx, o.key)
	o.lookup = time.Since(t0)
	l := trace.Lookup{Layer: "page", Backend: c.Name(), Key: o.key, Outcome: trace.Miss, Dur: o.lookup}
	var notice string
	if err != nil {
		l.Outcome = trace.Error
		notice = "The " + o.backend + " cache could not be read (" + short(err) + "); fib(" + strconv.Itoa(n) + ") was computed instead."
		s.log.Warn("fib result lookup failed", "err", err)
	} else if found {
		var fr fibResult
		if json.Unmarshal(raw, &fr) == nil {
			if v, ok := new(big.Int).SetString(fr.Value, 10); ok {
				l.Outcome = trace.Hit
				tr.Cache(l)
				o.value, o.cached = v, &fr
				o.way.Outcome, o.way.Ran, o.way.Dur = trace.Hit, true, time.Since(t0)
				o.way.Calls, o.way.Ops = "0", "1 lookup (hit)"
				return o, "", nil
			}
		}
		s.log.Warn("discarding unreadable fib result", "key", o.key)
	}
	tr.Cache(l)
	o.way.Outcome = trace.Miss
	took, err := compute()
	if err != nil {
		return o, "", err
	}
	ops := "1 lookup (miss)"
	if l.Outcome != trace.Error {
		fr, _ := json.Marshal(fibResult{Value: o.value.String(), Computed: time.Now(), Took: took, CallsMade: calls})
		if err := c.Set(ctx, o.key, fr, s.cfg.TTL); err != nil {
			notice = "The result could not be stored in the " + o.backend + " cache (" + short(err) + ")."
			s.log.Warn("fib result store failed", "err", err)
		} else {
			o.stored, ops = true, "1 lookup (miss) + 1 store"
		}
	}
	o.way.Dur, o.way.Ran, o.way.Ops = time.Since(t0), true, ops
	return o, notice, nil
}

// speedups fills each way's speedup against naive recursion when it ran,
// else against the slowest way that did, and names that baseline.
func speedups(ways []fibWay) string {
	base := -1
	if ways[0].Ran {
		base = 0
	} else {
		for i, w := range ways {
			if w.Ran && (base < 0 || w.Dur > ways[base].Dur) {
				base = i
			}
		}
	}
	if base < 0 {
		return ""
	}
	for i := range ways {
		if !ways[i].Ran || ways[i].Dur <= 0 {
			continue
		}
		x := float64(ways[base].Dur) / float64(ways[i].Dur)
		switch {
		case i == base:
			ways[i].Speedup = "1× (baseline)"
		case x >= 100:
			ways[i].Speedup = group(strconv.FormatFloat(x, 'f', 0, 64)) + "× faster"
		case x >= 1:
			ways[i].Speedup = strconv.FormatFloat(x, 'f', 1, 64) + "× faster"
		default:
			ways[i].Speedup = strconv.FormatFloat(1/x, 'f', 1, 64) + "× slower"
		}
	}
	return ways[base].Name
}

func memoSummary(where string, st fib.Stats) string {
	return fmt.Sprintf("%s: %d calls, %d hits, %d misses, %d stores", where, st.Calls, st.Hits, st.Misses, st.Sets)
}

// group writes a decimal number with thin thousands separators.
func group(digits string) string {
	if len(digits) <= 4 {
		return digits
	}
	b := make([]byte, 0, len(digits)+len(digits)/3*3)
	for i := 0; i < len(digits); i++ {
		if i > 0 && (len(digits)-i)%3 == 0 {
			b = append(b, "\u202f"...)
		}
		b = append(b, digits[i])
	}
	return string(b)
}

// fibBar is the benchmark's request bar: what happened to the whole-result
// key on this request, measured now.
func (s *Server) fibBar(b []byte, snap trace.Snapshot, n int, o fibOutcome, notice string) []byte {
	if notice != "" {
		b = append(b, `<p class="notice notice-warn" role="alert">`...)
		b = append(b, html.EscapeString(notice)...)
		b = append(b, `</p>`...)
	}
	outcome := o.way.Outcome
	lower := map[string]string{trace.Hit: "hit", trace.Miss: "miss", trace.Bypass: "bypass"}[outcome]
	b = append(b, `<section class="reqbar reqbar-`...)
	b = append(b, lower...)
	b = append(b, `" aria-label="How the whole result was served" data-outcome="`...)
	b = append(b, outcome...)
	b = append(b, `"><span class="badge badge-`...)
	b = append(b, lower...)
	b = append(b, `">`...)
	b = append(b, outcome...)
	b = append(b, `</span> `...)
	key := `<code>` + html.EscapeString(o.key) + `</code>`
	backend := html.EscapeString(o.backend)
	ns := strconv.Itoa(n)
	switch outcome {
	case trace.Hit:
		b = append(b, `fib(`+ns+`) came from the <strong>`+backend+` cache</strong> (key `+key+`) in <strong>`...)
		b = trace.AppendMillis(b, o.way.Dur)
		b = append(b, ` ms</strong>, without computing anything. <span class="reqbar-built">It was computed `...)
		b = append(b, ago(time.Since(o.cached.Computed))...)
		b = append(b, ` ago in `...)
		b = trace.AppendMillis(b, o.cached.Took)
		b = append(b, ` ms. The other three ways were run again on this request, as they are on every request.</span>`...)
	case trace.Miss:
		b = append(b, `fib(`+ns+`) was not in the <strong>`+backend+` cache</strong> (key `+key+`): computed in <strong>`...)
		b = trace.AppendMillis(b, o.way.Dur)
		b = append(b, ` ms</strong>`...)
		if o.stored {
			b = append(b, `, then stored for `+html.EscapeString(s.cfg.TTL.String())+`. Reload: the next request for n = `+ns+` is a HIT.`...)
		} else {
			b = append(b, `.`...)
		}
	default:
		b = append(b, `No cache: the whole result was computed again in <strong>`...)
		b = trace.AppendMillis(b, o.way.Dur)
		b = append(b, ` ms</strong>. Switch to Memory or Redis in the header and reload twice to see a HIT.`...)
	}
	b = append(b, `</section>`...)
	return s.appendTrace(b, snap)
}

// writeMeasured sends a page that is computed on every request (its
// numbers are this request's measurements, so the page itself is never
// cached): outcome is the X-Cache of the data lookup the page made, and bar
// writes the per-request markup at the page's slot.
func (s *Server) writeMeasured(w http.ResponseWriter, r *http.Request, e *Entry, outcome string, bar func([]byte, trace.Snapshot) []byte) {
	h := w.Header()
	h.Set("X-Cache", outcome)
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Type", e.ContentType)
	// One snapshot for the bar and the header, so they show the same figures.
	snap := trace.From(r.Context()).Snapshot()
	var slot []byte
	if e.Slot >= 0 {
		slot = bar(make([]byte, 0, 2048), snap)
	}
	h.Set("Content-Length", strconv.Itoa(len(e.Body)+len(slot)))
	h.Set("Server-Timing", snap.ServerTiming())
	w.WriteHeader(e.Status)
	if r.Method == http.MethodHead {
		return
	}
	if e.Slot < 0 {
		_, _ = w.Write(e.Body)
		return
	}
	_, _ = w.Write(e.Body[:e.Slot])
	_, _ = w.Write(slot)
	_, _ = w.Write(e.Body[e.Slot:])
}
