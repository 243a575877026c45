package loadtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	// HdrHistogram keeps every latency of a mode in fixed memory with three
	// significant digits, the format load tools (wrk2, Gatling) report
	// percentiles from.
	"github.com/HdrHistogram/hdrhistogram-go"

	"cacheworkshop/cache"
)

// Bounds of a run. The load runs inside the server it measures, on the
// same CPUs, so it is kept short and one at a time.
const (
	maxRequests    = 20_000
	maxConcurrency = 64
	// runLimit bounds a whole run.
	runLimit = 30 * time.Second
	// tick is how often progress is reported, and the width of one point
	// of the latency-over-time chart.
	tick = 200 * time.Millisecond
	// keepRuns is how many runs the page keeps for comparison.
	keepRuns = 10
)

// runModes are the modes every run loads, in their display order; each
// has an equal share of runLimit.
var (
	runModes  = cache.Modes
	modeLimit = runLimit / time.Duration(len(runModes))
)

// target is a page a run may load: one of a fixed list, never a URL from
// the form.
type target struct {
	Name  string
	Label string
	// path is the i-th request's path (without ?cache=).
	path func(i int) string
}

var targets = []target{
	{"list", "List page 1: /products?page=1", func(int) string { return "/products?page=1" }},
	{"list-pages", "List pages 1 to 50 in turn: /products?page=N", func(i int) string { return "/products?page=" + strconv.Itoa(i%50+1) }},
	{"detail", "One product's page: /products/1", func(int) string { return "/products/1" }},
	{"details", "Product pages 1 to 1000 in turn: /products/N", func(i int) string { return "/products/" + strconv.Itoa(i%1000+1) }},
	{"api", "One product as JSON: /api/products/1", func(int) string { return "/api/products/1" }},
}

func findTarget(name string) (target, bool) {
	for _, t := range targets {
		if t.Name == name {
			return t, true
		}
	}
	return target{}, false
}

// xcacheKinds are the X-Cache values counted one by one; any other value
// counts as "other", and a response without the header as "none". ERROR
// is a lookup that failed (a Redis timeout under load, the breaker open):
// the page was built from the database instead.
var xcacheKinds = []string{"HIT", "MISS", "ERROR", "BYPASS", "other", "none"}

func xcacheKind(v string) string {
	switch v {
	case "HIT", "MISS", "ERROR", "BYPASS":
		return v
	case "":
		return "none"
	}
	return "other"
}

// Run is one load test: the same page loaded in every mode in turn.
type Run struct {
	ID          int       `json:"id"`
	Target      string    `json:"target"`
	TargetLabel string    `json:"target_label"`
	Requests    int       `json:"requests"` // per mode, as asked
	Concurrency int       `json:"concurrency"`
	Started     time.Time `json:"started"`
	// Finished is zero while the run is under way.
	Finished time.Time     `json:"finished,omitzero"`
	Modes    []*ModeResult `json:"modes"`
	// Stopped says the run ended early; StopReason says why (the learner
	// stopped it, or the server is shutting down).
	Stopped    bool   `json:"stopped,omitempty"`
	StopReason string `json:"stop_reason,omitempty"`

	base string // http://host:port of this server
	tg   target
	// stop ends the run early with a cause: errStopped or errShutdown.
	stop context.CancelCauseFunc

	// mu guards everything the run's goroutine changes, and the events
	// the streams replay.
	mu      sync.Mutex
	events  []event
	changed chan struct{} // closed and replaced at each new event
}

// ModeResult is one mode's part of a run, as measured from the responses.
type ModeResult struct {
	Mode  string `json:"mode"`
	Label string `json:"label"`
	// Done counts the requests that got an answer or failed; Errors
	// those that failed or answered with a status of 400 or more.
	Done       int    `json:"done"`
	Errors     int    `json:"errors"`
	FirstError string `json:"first_error,omitempty"`
	// XCache counts the responses' X-Cache headers (see xcacheKinds).
	XCache  map[string]int `json:"x_cache"`
	Elapsed time.Duration  `json:"elapsed_ns"`
	// Latencies of the answered requests: a round trip, from sending the
	// request to reading the last byte of the body.
	P50 time.Duration `json:"p50_ns"`
	P95 time.Duration `json:"p95_ns"`
	P99 time.Duration `json:"p99_ns"`
	Max time.Duration `json:"max_ns"`
	// TimedOut says the mode ran out of its modeLimit before its last
	// request; Finished that it ended, one way or another.
	TimedOut bool    `json:"timed_out,omitempty"`
	Finished bool    `json:"finished"`
	Points   []Point `json:"points"`
}

// Point is one tick of the latency-over-time chart: the requests that
// ended during it.
type Point struct {
	// T is the end of the tick, in seconds since the mode started.
	T   float64       `json:"t"`
	N   int           `json:"n"`
	P50 time.Duration `json:"p50_ns"`
	P95 time.Duration `json:"p95_ns"`
}

// Throughput is answered requests per second.
func (m *ModeResult) Throughput() float64 {
	if m.Elapsed <= 0 {
		return 0
	}
	return float64(m.Done) / m.Elapsed.Seconds()
}

// ErrorRate is the share of requests that failed, from 0 to 1.
func (m *ModeResult) ErrorRate() float64 {
	if m.Done == 0 {
		return 0
	}
	return float64(m.Errors) / float64(m.Done)
}

// HitRatio is HIT / (HIT + MISS + ERROR) over the responses: a lookup
// that failed is no hit either. It is false when no response looked the
// cache up (mode none answers BYPASS).
func (m *ModeResult) HitRatio() (float64, bool) {
	h, looked := m.XCache["HIT"], m.XCache["HIT"]+m.XCache["MISS"]+m.XCache["ERROR"]
	if looked == 0 {
		return 0, false
	}
	return float64(h) / float64(looked), true
}

// event is one server-sent event of a run's stream.
type event struct {
	Name string
	Data []byte
}

// progress is the data of a "progress" event.
type progress struct {
	Mode     string `json:"mode"`
	Done     int    `json:"done"`
	Requests int    `json:"requests"`
	Errors   int    `json:"errors"`
	Hits     int    `json:"hits"`
	Misses   int    `json:"misses"`
	// CacheErrors are the responses whose cache lookup failed (X-Cache:
	// ERROR).
	CacheErrors int           `json:"cache_errors"`
	Elapsed     time.Duration `json:"elapsed_ns"`
	Point       *Point        `json:"point,omitempty"`
}

// emit appends an event for the streams and wakes them. The caller holds
// r.mu.
func (r *Run) emitLocked(name string, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		b = []byte(`{"error":"unencodable"}`)
	}
	r.events = append(r.events, event{Name: name, Data: b})
	close(r.changed)
	r.changed = make(chan struct{})
}

// eventsFrom returns the events from index i on, whether the run has
// finished, and a channel closed at the next event.
func (r *Run) eventsFrom(i int) ([]event, bool, <-chan struct{}) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if i > len(r.events) {
		i = len(r.events)
	}
	return r.events[i:len(r.events):len(r.events)], !r.Finished.IsZero(), r.changed
}

// Snapshot is a copy of the run that the run's goroutine no longer
// changes, for a page or a JSON answer.
func (r *Run) Snapshot() *Run {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := &Run{ID: r.ID, Target: r.Target, TargetLabel: r.TargetLabel, Requests: r.Requests, Concurrency: r.Concurrency,
		Started: r.Started, Finished: r.Finished, Stopped: r.Stopped, StopReason: r.StopReason}
	for _, m := range r.Modes {
		mc := *m
		mc.XCache = make(map[string]int, len(m.XCache))
		for k, v := range m.XCache {
			mc.XCache[k] = v
		}
		mc.Points = slices.Clone(m.Points)
		c.Modes = append(c.Modes, &mc)
	}
	return c
}

// sample is one request's measurement.
type sample struct {
	latency time.Duration
	xcache  string
	err     string // empty when the request succeeded
}

// execute loads the run's target in every mode in turn, until the last
// or until ctx ends. The caller then calls finish.
func (r *Run) execute(ctx context.Context, client *http.Client) {
	r.mu.Lock()
	r.emitLocked("run", r.header())
	r.mu.Unlock()
	for _, m := range r.Modes {
		if ctx.Err() != nil {
			break
		}
		r.loadMode(ctx, client, m)
	}
}

// finish marks the run finished and tells its streams, last of all: the
// lesson is free for the next run by then.
func (r *Run) finish(ctx context.Context) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.Finished = time.Now()
	if cause := context.Cause(ctx); errors.Is(cause, errStopped) || errors.Is(cause, errShutdown) {
		r.Stopped, r.StopReason = true, cause.Error()
	}
	r.emitLocked("done", map[string]any{"id": r.ID, "stopped": r.Stopped, "stop_reason": r.StopReason})
}

// The causes of a run's early end.
var (
	errStopped = errors.New("stopped by the learner")
	// errShutdown: loading a server that is shutting down would only
	// count refusals, and hold the shutdown up.
	errShutdown = errors.New("the server is shutting down")
)

// header is the data of the "run" event.
func (r *Run) header() map[string]any {
	modes := make([]map[string]string, len(r.Modes))
	for i, m := range r.Modes {
		modes[i] = map[string]string{"mode": m.Mode, "label": m.Label}
	}
	return map[string]any{"id": r.ID, "target": r.Target, "target_label": r.TargetLabel,
		"requests": r.Requests, "concurrency": r.Concurrency, "modes": modes}
}

// loadMode sends the run's requests in mode m from Concurrency workers
// until every request is done or the mode's time is up, and records the
// results in m as they come: progress at every tick, the figures at the
// end.
func (r *Run) loadMode(parent context.Context, client *http.Client, m *ModeResult) {
	ctx, cancel := context.WithTimeout(parent, modeLimit)
	defer cancel()
	samples := make(chan sample, 4*r.Concurrency)
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range r.Concurrency {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= r.Requests {
					return
				}
				s, ok := r.one(ctx, client, m.Mode, i)
				if !ok {
					return // the mode's time is up, or the run was stopped
				}
				samples <- s
			}
		})
	}
	go func() { wg.Wait(); close(samples) }()

	// The overall percentiles come from a histogram of every latency, in
	// microseconds from 1 µs to a minute; each tick's from its own
	// samples, sorted. Every latency is kept with when it ended, for the
	// chart drawn once the mode is over.
	hist := hdrhistogram.New(1, time.Minute.Microseconds(), 3)
	var window []time.Duration
	var maxLat time.Duration
	ended := make([]endedSample, 0, r.Requests)
	t := time.NewTicker(tick)
	defer t.Stop()
	flush := func() {
		var pt *Point
		if len(window) > 0 {
			slices.Sort(window)
			pt = &Point{T: time.Since(start).Seconds(), N: len(window), P50: nearestRank(window, 0.50), P95: nearestRank(window, 0.95)}
			window = window[:0]
		}
		r.mu.Lock()
		m.Elapsed = time.Since(start)
		if pt != nil {
			m.Points = append(m.Points, *pt)
		}
		r.emitLocked("progress", progress{Mode: m.Mode, Done: m.Done, Requests: r.Requests, Errors: m.Errors,
			Hits: m.XCache["HIT"], Misses: m.XCache["MISS"], CacheErrors: m.XCache["ERROR"], Elapsed: m.Elapsed, Point: pt})
		r.mu.Unlock()
	}
	for open := true; open; {
		select {
		case s, ok := <-samples:
			if !ok {
				open = false
				break
			}
			_ = hist.RecordValue(max(s.latency.Microseconds(), 1))
			maxLat = max(maxLat, s.latency)
			window = append(window, s.latency)
			ended = append(ended, endedSample{at: time.Since(start), latency: s.latency})
			r.mu.Lock()
			m.Done++
			m.XCache[xcacheKind(s.xcache)]++
			if s.err != "" {
				m.Errors++
				if m.FirstError == "" {
					m.FirstError = s.err
				}
			}
			r.mu.Unlock()
		case <-t.C:
			flush()
		}
	}
	flush()
	r.mu.Lock()
	m.Elapsed = time.Since(start)
	m.Points = timeline(ended, m.Elapsed)
	m.TimedOut = m.Done < r.Requests && errors.Is(ctx.Err(), context.DeadlineExceeded) && parent.Err() == nil
	if m.Done > 0 {
		us := func(q float64) time.Duration { return time.Duration(hist.ValueAtQuantile(q)) * time.Microsecond }
		m.P50, m.P95, m.P99, m.Max = us(50), us(95), us(99), maxLat
	}
	m.Finished = true
	r.emitLocked("mode", m)
	r.mu.Unlock()
}

// one sends request i in mode and measures it. ok is false when the
// request was cut short by the end of the mode's time or of the run: it
// is then not a measurement at all.
func (r *Run) one(ctx context.Context, client *http.Client, mode string, i int) (s sample, ok bool) {
	path := r.tg.path(i)
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.base+path+sep+"cache="+mode, nil)
	if err != nil {
		return sample{err: err.Error()}, true
	}
	req.Header.Set("User-Agent", "cacheworkshop-loadtest")
	t0 := time.Now()
	res, err := client.Do(req)
	if err == nil {
		_, err = io.Copy(io.Discard, res.Body)
		_ = res.Body.Close()
	}
	s.latency = time.Since(t0)
	if ctx.Err() != nil {
		return s, false
	}
	switch {
	case err != nil:
		s.err = err.Error()
	case res.StatusCode >= 400:
		s.err = fmt.Sprintf("%s on %s", res.Status, path)
	}
	if res != nil {
		s.xcache = res.Header.Get("X-Cache")
	}
	return s, true
}

// endedSample is a latency and when its request ended, since the mode
// started.
type endedSample struct{ at, latency time.Duration }

// maxPoints is how many slices a finished mode's chart has at most.
const maxPoints = 40

// timeline cuts a mode's run into equal slices by when each request
// ended, up to maxPoints of them with five requests each on average, and
// gives the median and p95 of each: a fast mode, over in a fraction of a
// tick, still shows its cold start.
func timeline(ended []endedSample, elapsed time.Duration) []Point {
	if len(ended) == 0 || elapsed <= 0 {
		return nil
	}
	n := min(maxPoints, max(1, len(ended)/5))
	width := elapsed / time.Duration(n)
	if width <= 0 {
		n, width = 1, elapsed
	}
	buckets := make([][]time.Duration, n)
	for _, e := range ended {
		i := min(int(e.at/width), n-1)
		buckets[i] = append(buckets[i], e.latency)
	}
	var pts []Point
	for i, b := range buckets {
		if len(b) == 0 {
			continue
		}
		slices.Sort(b)
		pts = append(pts, Point{T: (time.Duration(i+1) * width).Seconds(), N: len(b), P50: nearestRank(b, 0.50), P95: nearestRank(b, 0.95)})
	}
	return pts
}

// nearestRank is the q-quantile of sorted: the smallest value with at
// least q of the values at or below it.
func nearestRank(sorted []time.Duration, q float64) time.Duration {
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}
