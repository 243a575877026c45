package fib

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"strconv"
	"strings"
	"time"

	"cacheworkshop/cache"
	"cacheworkshop/cache/page"
	"cacheworkshop/handlers"
	"cacheworkshop/trace"
)

// Bounds of /benchmark?n=. The memoised ways recurse n deep and the Redis
// one makes about 3n round trips, so 300 keeps even that way well under a
// second while showing numbers far beyond int64.
const (
	defaultN = 30
	maxN     = 300
	// memoTTL only guards against a run that dies before cleaning up:
	// each run deletes its own memo keys when it finishes.
	memoTTL = time.Minute
)

// Bounds of naive recursion's share of the server. From naiveSlotN up
// (fib(25) makes a quarter of a million calls, about a millisecond) a
// naive run takes the lesson's one slot; below, it is too cheap to
// starve anything and runs at once. A request waits for the slot at most
// naiveWait, behind at most naiveQueue others; beyond either it gets a 429
// asking it to retry after naiveRetryAfter.
const (
	naiveSlotN      = 25
	naiveWait       = 2 * time.Second
	naiveQueue      = 3
	naiveRetryAfter = "2" // seconds, as the Retry-After header writes them
)

// way is one row of the benchmark table.
type way struct {
	ID, Name, How string
	Ran           bool
	Note          string // why it did not run, or what went wrong
	Failed        bool
	Dur           time.Duration
	Calls         string
	Ops           string // cache operations: map accesses or round trips
	Speedup       string
	Outcome       string // whole-result way: HIT, MISS or BYPASS
	// Waited is how long naive recursion waited for another request's
	// run to finish.
	Waited time.Duration
}

// benchmarkData is what benchmark.html's content sees.
type benchmarkData struct {
	N, Max, NaiveMax int
	// NaiveSlotN is the n from which naive runs take turns.
	NaiveSlotN int
	Value      string
	Digits     int
	Ways       []way
	Baseline   string
	ResultKey  string
	TTL        string
	Quick      []int
}

// storedResult is how a whole result is stored: the value and what
// computing it cost, so a hit can say what it saved.
type storedResult struct {
	Value     string        `json:"v"`
	Computed  time.Time     `json:"at"`
	Took      time.Duration `json:"took"`
	CallsMade int           `json:"calls"`
}

// serveBenchmark runs the four ways for ?n= and sends the page. Its
// numbers are this request's measurements, so the page is Measured (never
// cached itself); its X-Cache is the whole-result way's lookup.
func (l *Lesson) serveBenchmark(w http.ResponseWriter, r *http.Request) error {
	n, err := handlers.IntParam(r, "n", defaultN, 1, maxN)
	if err != nil {
		var he *handlers.Error
		if errors.As(err, &he) && he.Status == http.StatusBadRequest {
			return handlers.BadRequest(he.Msg + fmt.Sprintf(" The memoised ways run for n from 1 to %d; naive recursion only up to %d, beyond which it is shown as skipped.", maxN, NaiveMax))
		}
		return err
	}
	ctx := r.Context()

	naive, naiveV, err := l.runNaive(ctx, w, n)
	if err != nil {
		return err
	}
	mem, memV, err := runMapMemo(ctx, n)
	if err != nil {
		return err
	}
	rw, redisV := l.runRedisMemo(ctx, n)
	res, err := l.wholeResult(ctx, n)
	if err != nil {
		return err
	}

	// Every way that ran must give the same number: the page claims so.
	values := []*big.Int{naiveV, memV, redisV, res.value}
	var agreed *big.Int
	for _, v := range values {
		if v == nil {
			continue // did not run
		}
		if agreed == nil {
			agreed = v
		} else if v.Cmp(agreed) != 0 {
			return fmt.Errorf("fib(%d): the ways disagree: %s vs %s", n, agreed, v)
		}
	}

	d := benchmarkData{N: n, Max: maxN, NaiveMax: NaiveMax, NaiveSlotN: naiveSlotN, TTL: l.k.TTL.String(), ResultKey: res.key,
		Quick: []int{10, 20, 30, 35, NaiveMax, NaiveMax + 1, 90, maxN}}
	d.Value = agreed.String()
	d.Digits = len(d.Value)
	d.Ways = []way{naive, mem, rw, res.way}
	d.Baseline = speedups(d.Ways)
	// The learner's exercises compare the ways' timings (handlers.Event).
	figures := map[string]float64{"n": float64(n)}
	for _, w := range d.Ways {
		if w.Ran && !w.Failed {
			figures[w.ID+"_ms"] = float64(w.Dur) / float64(time.Millisecond)
		}
	}
	l.k.RecordLab(r, "fib", "n="+strconv.Itoa(n), figures)

	// The default n is left out of the canonical URL, so the mode switch
	// links of /benchmark stay /benchmark?cache=….
	nParam := ""
	if n != defaultN {
		nParam = strconv.Itoa(n)
	}
	req := page.NewRequest("benchmark", "/benchmark", l.k.Mode(r), "n", nParam)
	e, err := l.k.Render(ctx, req, fmt.Sprintf("Fibonacci benchmark, n = %d", n), "benchmark", d)
	if err != nil {
		return err
	}
	// The bar's figures are the ways' own timings, all known by now, so
	// it is rendered here, where a template error can still become an
	// error page; only the trace panel needs the request's final figures.
	bar, err := l.k.Partial(nil, "benchmark", "fib-bar", res.bar(n, l.k.TTL))
	if err != nil {
		return err
	}
	l.k.Measured(w, r, e, res.way.Outcome, func(b []byte, _ *page.Served, sum trace.Summary, st []byte) []byte {
		b = append(b, bar...)
		return handlers.TracePanel(b, sum, st)
	})
	return nil
}

// runNaive is way 1: plain recursion, no cache. Beyond NaiveMax it is
// skipped (nil value) rather than left to run for minutes. A costly run
// first takes the naive slot (see naiveSlotN); when it cannot, the whole
// request is a 429 whose Retry-After header says when to try again.
func (l *Lesson) runNaive(ctx context.Context, rw http.ResponseWriter, n int) (way, *big.Int, error) {
	w := way{ID: "naive", Name: "Naive recursion", How: "fib(n−1) + fib(n−2), recomputing every subproblem; no cache"}
	if n > NaiveMax {
		w.Note = fmt.Sprintf("skipped: n > %d would take more than a second (and fib(93) no longer fits in 64 bits)", NaiveMax)
		return w, nil, nil
	}
	if n >= naiveSlotN {
		waited, release, ok := l.takeNaiveSlot(ctx)
		if !ok {
			rw.Header().Set("Retry-After", naiveRetryAfter)
			return w, nil, &handlers.Error{Status: http.StatusTooManyRequests, Msg: fmt.Sprintf(
				"Naive recursion is busy. It runs for one request at a time on this server, because a run keeps a "+
					"processor core busy and several at once would slow every page down, and other requests are already "+
					"running it or waiting for it. Try again in %s seconds, or pick n below %d (cheap enough to run at "+
					"once) or above %d (naive recursion is skipped; the memoised ways still run).", naiveRetryAfter, naiveSlotN, NaiveMax)}
		}
		defer release()
		w.Waited = waited
	}
	t0 := time.Now()
	v, calls, err := Naive(n)
	w.Dur = time.Since(t0)
	if err != nil {
		return w, nil, err
	}
	w.Ran, w.Calls, w.Ops = true, group(strconv.FormatUint(calls, 10)), "0"
	return w, new(big.Int).SetUint64(v), nil
}

// takeNaiveSlot waits for the naive slot: at most naiveWait, and only
// when fewer than naiveQueue requests are already waiting. It returns how
// long it waited and the function that gives the slot back, or ok=false
// when the request should be told to retry (including when its client
// has gone: nobody would read the page).
func (l *Lesson) takeNaiveSlot(ctx context.Context) (waited time.Duration, release func(), ok bool) {
	if l.naiveQueued.Add(1) > 1+naiveQueue {
		l.naiveQueued.Add(-1)
		return 0, nil, false
	}
	release = func() {
		<-l.naiveSlot
		l.naiveQueued.Add(-1)
	}
	select {
	case l.naiveSlot <- struct{}{}:
		return 0, release, true // free: no wait to report
	default:
	}
	t0 := time.Now()
	timer := time.NewTimer(naiveWait)
	defer timer.Stop()
	select {
	case l.naiveSlot <- struct{}{}:
		return time.Since(t0), release, true
	case <-timer.C:
	case <-ctx.Done():
	}
	l.naiveQueued.Add(-1)
	return time.Since(t0), nil, false
}

// runMapMemo is way 2: the memo is a Go map that starts empty, so a
// lookup costs a map access.
func runMapMemo(ctx context.Context, n int) (way, *big.Int, error) {
	w := way{ID: "memory", Name: "Memoised in process memory", How: "each fib(k) kept in a Go map; a lookup is a map access"}
	t0 := time.Now()
	v, st, err := Memoized(ctx, n, MapMemo{})
	w.Dur = time.Since(t0)
	if err != nil {
		return w, nil, err
	}
	w.Ran, w.Calls = true, group(strconv.Itoa(st.Calls))
	w.Ops = fmt.Sprintf("%d map accesses (%d hits)", st.Lookups(), st.Hits)
	// Hundreds of map accesses would swamp the trace; one line sums them up.
	trace.From(ctx).Cache(trace.Lookup{Layer: "memo", Backend: "memory", Key: memoSummary("go map", st), Outcome: "read", Dur: w.Dur})
	return w, v, nil
}

// runRedisMemo is way 3: the same memo in Redis, whatever the request's
// mode, since comparing it with the map is the point. It uses the Redis
// backend directly rather than through Kit.Backend: a traced read per
// subproblem would put some 3n lines in the trace, so one line sums the run
// up, and the round trips it reports are exactly the GETs and SETs sent
// (CacheMemo makes one per lookup and one per store). A Redis failure is
// shown in the row; the page still answers.
func (l *Lesson) runRedisMemo(ctx context.Context, n int) (way, *big.Int) {
	w := way{ID: "redis", Name: "Memoised in " + l.k.Label(cache.ModeRedis),
		How: "each fib(k) kept in Redis; every lookup and store is a network round trip"}
	// A prefix of its own per run, so concurrent runs never share (or
	// delete) each other's subproblems and every run starts cold.
	run := make([]byte, 4)
	_, _ = rand.Read(run)
	m := &CacheMemo{Cache: l.k.Redis, Prefix: "fib:memo:" + hex.EncodeToString(run) + ":", TTL: memoTTL}
	t0 := time.Now()
	v, st, err := Memoized(ctx, n, m)
	w.Dur = time.Since(t0)
	lookup := trace.Lookup{Layer: "memo", Backend: "redis", Key: memoSummary(m.Prefix+"*", st), Outcome: "read", Dur: w.Dur}
	if err != nil {
		l.k.Log.Warn("fib redis memo failed", "err", err)
		w.Failed, w.Note = true, "failed: Redis unavailable ("+page.Short(err)+")"
		lookup.Outcome = trace.Error
		v = nil
	} else {
		w.Ran, w.Calls = true, group(strconv.Itoa(st.Calls))
		w.Ops = fmt.Sprintf("%d round trips (%d hits)", st.Lookups(), st.Hits)
	}
	trace.From(ctx).Cache(lookup)
	if len(m.Keys) > 0 {
		// Cleanup is not part of the measured computation, and must
		// happen even if the visitor has gone.
		if err := l.k.Redis.Delete(context.WithoutCancel(ctx), m.Keys...); err != nil {
			l.k.Log.Warn("fib memo cleanup failed; keys expire on their own", "err", err)
		}
	}
	return w, v
}

// wholeResult is way 4 and what the request bar says about it.
type wholeResult struct {
	way     way
	value   *big.Int
	key     string
	backend string        // display name of the mode's cache
	stored  bool          // a miss stored its result
	cached  *storedResult // on a hit: the stored copy
	notice  string        // a cache failure, told to the learner
}

// wholeResult looks fib(n) up under its own key in the request's mode,
// computing and storing it on a miss. The lookup goes through
// Kit.Backend, which records it in the trace. A failing cache is reported
// and worked around: the value is computed instead.
func (l *Lesson) wholeResult(ctx context.Context, n int) (wholeResult, error) {
	mode := cache.ModeFrom(ctx)
	o := wholeResult{key: "fib:result:" + strconv.Itoa(n), backend: l.k.Label(mode)}
	o.way = way{ID: "result", Name: "Whole result cached", How: "fib(n) stored under its own key in the current mode's cache"}
	t0 := time.Now()
	c, ok := l.k.Backend(mode, "page")
	if !ok {
		// Mode none: there is no cache to ask, and the trace says so.
		trace.From(ctx).Cache(trace.Lookup{Layer: "page", Backend: "none", Key: o.key, Outcome: trace.Bypass})
		v, st, err := Memoized(ctx, n, MapMemo{})
		if err != nil {
			return o, err
		}
		o.value = v
		o.way.Outcome, o.way.Ran, o.way.Dur = trace.Bypass, true, time.Since(t0)
		o.way.Calls, o.way.Ops = group(strconv.Itoa(st.Calls)), "none (no cache)"
		return o, nil
	}

	raw, found, err := c.Get(ctx, o.key)
	readable := err == nil
	switch {
	case err != nil:
		o.notice = "The " + o.backend + " cache could not be read (" + page.Short(err) + "); fib(" + strconv.Itoa(n) + ") was computed instead."
	case found:
		var fr storedResult
		if json.Unmarshal(raw, &fr) == nil {
			if v, ok := new(big.Int).SetString(fr.Value, 10); ok {
				o.value, o.cached = v, &fr
				o.way.Outcome, o.way.Ran, o.way.Dur = trace.Hit, true, time.Since(t0)
				o.way.Calls, o.way.Ops = "0", "1 lookup (hit)"
				return o, nil
			}
		}
		// The trace shows the lookup as a hit, since the cache did
		// answer; the notice says why the page counts it as a miss.
		l.k.Log.Warn("discarding unreadable fib result", "key", o.key)
		o.notice = "The cached copy of fib(" + strconv.Itoa(n) + ") could not be read; it was computed again."
	}

	o.way.Outcome = trace.Miss
	tc := time.Now()
	v, st, err := Memoized(ctx, n, MapMemo{})
	if err != nil {
		return o, err
	}
	took := time.Since(tc)
	o.value, o.way.Calls = v, group(strconv.Itoa(st.Calls))
	o.way.Ops = "1 lookup (miss)"
	// After a failed read, a write would most likely fail too.
	if readable {
		fr, _ := json.Marshal(storedResult{Value: v.String(), Computed: time.Now(), Took: took, CallsMade: st.Calls})
		if err := c.Set(ctx, o.key, fr, l.k.TTL); err != nil {
			o.notice = "The result could not be stored in the " + o.backend + " cache (" + page.Short(err) + ")."
		} else {
			o.stored, o.way.Ops = true, "1 lookup (miss) + 1 store"
		}
	}
	o.way.Dur, o.way.Ran = time.Since(t0), true
	return o, nil
}

// barData is what the fib-bar template sees.
type barData struct {
	N            int
	Outcome      string // HIT, MISS or BYPASS
	Class        string // the outcome as a CSS class suffix
	Key, Backend string
	Dur          time.Duration // the whole-result way's time
	Stored       bool
	TTL          string
	Ago          string        // on a hit: how long ago the result was computed
	Took         time.Duration // on a hit: what computing it took then
	Notice       string
}

// bar is the data of the request bar for this outcome.
func (o wholeResult) bar(n int, ttl time.Duration) barData {
	d := barData{N: n, Outcome: o.way.Outcome, Class: strings.ToLower(o.way.Outcome), Key: o.key, Backend: o.backend,
		Dur: o.way.Dur, Stored: o.stored, TTL: ttl.String(), Notice: o.notice}
	if o.cached != nil {
		d.Ago, d.Took = handlers.Ago(time.Since(o.cached.Computed)), o.cached.Took
	}
	return d
}

// speedups fills each way's speedup against naive recursion when it ran,
// else against the slowest way that did, and names that baseline.
func speedups(ways []way) string {
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

// memoSummary is a memo run's line in the trace.
func memoSummary(where string, st Stats) string {
	return fmt.Sprintf("%s: %d calls, %d hits, %d misses, %d stores", where, st.Calls, st.Hits, st.Misses, st.Sets)
}

// group writes a decimal number with thin thousands separators, so that
// 48 million calls can be read at a glance.
func group(digits string) string {
	if len(digits) <= 4 {
		return digits
	}
	var b strings.Builder
	for i := 0; i < len(digits); i++ {
		if i > 0 && (len(digits)-i)%3 == 0 {
			b.WriteString("\u202f")
		}
		b.WriteByte(digits[i])
	}
	return b.String()
}
