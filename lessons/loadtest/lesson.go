// Package loadtest is the load-testing lesson (/loadtest). The server
// loads one of its own pages over real loopback HTTP, in every cache mode
// in turn, with a bounded number of requests and workers, and reports what
// a load-testing tool (Locust, wrk, k6) would: throughput, latency
// percentiles, the error rate, the hit ratio the responses' X-Cache headers
// show, and latency over time, which is where a cold cache warming up, or a
// cache that stops answering, becomes visible. Progress is streamed to the
// page with server-sent events, and the last runs are kept side by side.
package loadtest

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"

	"cacheworkshop/cache"
	"cacheworkshop/handlers"
)

// Lesson serves /loadtest, its event stream, its JSON twin and the
// actions that start and stop a run.
type Lesson struct {
	kit *handlers.Kit

	mu      sync.Mutex
	runs    []*Run // oldest first, at most keepRuns
	lastID  int
	running *Run // the run under way, if any
	// closing is set once the server shuts down: no new run starts.
	closing bool
}

// New returns the lesson; it takes what it needs from the Kit in Register.
func New() *Lesson { return &Lesson{} }

// Register implements handlers.Lesson. Starting and stopping a run need
// the admin token when ADMIN_TOKEN is set: a run loads the whole server.
func (l *Lesson) Register(r chi.Router, k *handlers.Kit) {
	l.kit = k
	r.Get("/loadtest", k.Handle(l.servePage))
	r.With(k.RequireAdmin).Post("/loadtest", k.Handle(l.serveStart))
	r.With(k.RequireAdmin).Post("/loadtest/stop", k.Handle(l.serveStop))
	r.Get("/loadtest/events", k.Handle(l.serveEvents))
	r.Get("/api/loadtest", k.Handle(l.serveJSON))
}

// Run implements handlers.Runner: when the server shuts down, the run
// under way stops at once, so that neither it nor the streams following it
// hold the shutdown up.
func (l *Lesson) Run(ctx context.Context) {
	<-ctx.Done()
	l.mu.Lock()
	l.closing = true
	run := l.running
	l.mu.Unlock()
	if run != nil {
		run.stop(errShutdown)
	}
}

// serveStart validates the form, starts a run in the background and sends
// the browser to the page that follows it. Nothing runs unless every
// field is valid and no other run is under way.
func (l *Lesson) serveStart(w http.ResponseWriter, r *http.Request) error {
	if err := handlers.ParseForm(w, r); err != nil {
		return err
	}
	name, _, err := handlers.FormValue(r, "target")
	if err != nil {
		return err
	}
	tg, ok := findTarget(name)
	if !ok {
		return handlers.BadRequest(fmt.Sprintf("The field target must be one of %s (got %q).", targetNames(), clip(name, 24)))
	}
	n, err := handlers.FormInt(r, "requests", 1, maxRequests)
	if err != nil {
		return err
	}
	c, err := handlers.FormInt(r, "concurrency", 1, maxConcurrency)
	if err != nil {
		return err
	}
	// The load goes to the address this request arrived on: this server's
	// own listener, whatever ADDR said (":8080", a port chosen by the
	// system) and whatever proxy stands in front of it.
	addr, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
	if !ok {
		return &handlers.Error{Status: http.StatusServiceUnavailable,
			Msg: "This server cannot tell the address it is listening on, so it cannot load itself."}
	}
	// The run outlives this request: it is bounded by runLimit (and a
	// little time for the last requests to end), not by the browser.
	ctx, cancelTimeout := context.WithTimeout(context.Background(), runLimit+5*time.Second)
	ctx, stop := context.WithCancelCause(ctx)
	l.mu.Lock()
	if l.closing {
		l.mu.Unlock()
		stop(nil)
		cancelTimeout()
		return &handlers.Error{Status: http.StatusServiceUnavailable, Msg: "The server is shutting down: no new load test starts."}
	}
	if cur := l.running; cur != nil {
		l.mu.Unlock()
		stop(nil)
		cancelTimeout()
		w.Header().Set("Retry-After", strconv.Itoa(int(runLimit.Seconds())))
		return &handlers.Error{Status: http.StatusConflict, Msg: fmt.Sprintf(
			"Load test #%d is still running, and one runs at a time: two loads would share the CPUs and skew each other's figures. "+
				"It ends within %d seconds; follow it on /loadtest?run=%d, or stop it there.", cur.ID, int(runLimit.Seconds()), cur.ID)}
	}
	l.lastID++
	run := newRun(l.lastID, tg, n, c, "http://"+addr.String(), func(m cache.Mode) string { return l.kit.Label(m) })
	run.stop = stop
	l.runs = append(l.runs, run)
	if len(l.runs) > keepRuns {
		l.runs = l.runs[len(l.runs)-keepRuns:]
	}
	l.running = run
	l.mu.Unlock()

	go func() {
		defer cancelTimeout()
		client, closeIdle := newClient(c)
		run.execute(ctx, client)
		closeIdle()
		l.finished(run)
		run.finish(ctx)
		stop(nil)
	}()
	http.Redirect(w, r, runURL(run.ID), http.StatusSeeOther)
	return nil
}

// finished frees the lesson for the next run.
func (l *Lesson) finished(run *Run) {
	l.mu.Lock()
	if l.running == run {
		l.running = nil
	}
	l.mu.Unlock()
}

func newRun(id int, tg target, n, c int, base string, label func(cache.Mode) string) *Run {
	run := &Run{ID: id, Target: tg.Name, TargetLabel: tg.Label, Requests: n, Concurrency: c, Started: time.Now(),
		base: base, tg: tg, changed: make(chan struct{})}
	for _, m := range runModes {
		run.Modes = append(run.Modes, &ModeResult{Mode: m.String(), Label: label(m), XCache: map[string]int{}})
	}
	return run
}

// newClient is the load's HTTP client: one keep-alive connection per
// worker, no proxy from the environment, no compression, redirects
// reported rather than followed. closeIdle closes its connections.
func newClient(concurrency int) (client *http.Client, closeIdle func()) {
	tr := &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 2 * time.Second}).DialContext,
		MaxIdleConns:        concurrency,
		MaxIdleConnsPerHost: concurrency,
		MaxConnsPerHost:     concurrency,
		IdleConnTimeout:     10 * time.Second,
		DisableCompression:  true,
	}
	return &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
		tr.CloseIdleConnections
}

// serveStop stops the run under way; what it measured so far is kept.
func (l *Lesson) serveStop(w http.ResponseWriter, r *http.Request) error {
	if err := handlers.ParseForm(w, r); err != nil {
		return err
	}
	l.mu.Lock()
	run := l.running
	l.mu.Unlock()
	if run == nil {
		return &handlers.Error{Status: http.StatusConflict, Msg: "No load test is running, so there is nothing to stop."}
	}
	run.stop(errStopped)
	http.Redirect(w, r, runURL(run.ID), http.StatusSeeOther)
	return nil
}

// serveEvents streams a run's progress as server-sent events: every event
// since the start (or since Last-Event-ID, when the browser reconnects),
// then each new one as it happens, until the run ends.
func (l *Lesson) serveEvents(w http.ResponseWriter, r *http.Request) error {
	run, err := l.requestedRun(r, true)
	if err != nil {
		return err
	}
	from := 0
	if v := r.Header.Get("Last-Event-ID"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || strings.TrimLeft(v, "0123456789") != "" {
			return handlers.BadRequest("The Last-Event-ID header must be the id of an event of this stream.")
		}
		from = n + 1
	}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no") // nginx: pass each event on at once
	rc := http.NewResponseController(w)
	w.WriteHeader(http.StatusOK)
	_, _ = fmt.Fprint(w, "retry: 2000\n\n")
	keepAlive := time.NewTicker(15 * time.Second)
	defer keepAlive.Stop()
	for i := from; ; {
		evs, finished, changed := run.eventsFrom(i)
		for _, ev := range evs {
			if _, err := fmt.Fprintf(w, "id: %d\nevent: %s\ndata: %s\n\n", i, ev.Name, ev.Data); err != nil {
				return nil // the browser went away
			}
			i++
		}
		if err := rc.Flush(); err != nil || finished {
			return nil
		}
		select {
		case <-changed:
		case <-r.Context().Done():
			return nil
		case <-keepAlive.C:
			// A comment line keeps proxies from closing an idle stream.
			if _, err := fmt.Fprint(w, ": waiting\n\n"); err != nil {
				return nil
			}
		}
	}
}

// apiRuns is the JSON twin of the page.
type apiRuns struct {
	Running int    `json:"running,omitempty"` // the id of the run under way
	Runs    []*Run `json:"runs"`              // newest first
}

func (l *Lesson) serveJSON(w http.ResponseWriter, r *http.Request) error {
	runs, running := l.kept()
	out := apiRuns{Runs: make([]*Run, 0, len(runs))}
	if running != nil {
		out.Running = running.ID
	}
	for i := len(runs) - 1; i >= 0; i-- {
		out.Runs = append(out.Runs, runs[i].Snapshot())
	}
	l.kit.JSON(w, r, http.StatusOK, out)
	return nil
}

// kept returns the kept runs, oldest first, and the one under way.
func (l *Lesson) kept() ([]*Run, *Run) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]*Run(nil), l.runs...), l.running
}

// requestedRun is the kept run ?run= names; without it, the latest run
// (nil when there is none), unless required.
func (l *Lesson) requestedRun(r *http.Request, required bool) (*Run, error) {
	id, err := handlers.IntParam(r, "run", 0, 1, 1_000_000_000)
	if err != nil {
		return nil, err
	}
	runs, _ := l.kept()
	if id == 0 {
		if required {
			return nil, handlers.BadRequest("Name the run: ?run=N.")
		}
		if len(runs) == 0 {
			return nil, nil
		}
		return runs[len(runs)-1], nil
	}
	for _, run := range runs {
		if run.ID == id {
			return run, nil
		}
	}
	return nil, handlers.NotFound(fmt.Sprintf("Load test #%d is not kept: the page keeps the last %d runs.", id, keepRuns))
}

func runURL(id int) string { return "/loadtest?run=" + strconv.Itoa(id) }

func targetNames() string {
	names := make([]string, len(targets))
	for i, t := range targets {
		names[i] = t.Name
	}
	return strings.Join(names, ", ")
}

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// pageData is what templates/loadtest.html shows.
type pageData struct {
	Targets                     []targetOption
	Requests, Concurrency       int
	MaxRequests, MaxConcurrency int
	// ModeSeconds and RunSeconds are the time limits, as the page says
	// them ("7.5").
	ModeSeconds, RunSeconds string
	TickMS                  int64
	AdminToken              bool
	// Run is the run shown (the latest unless ?run= names one), nil
	// before the first; Running is the id of the run under way, if any.
	Run     *runView
	Running int
	// Runs are the kept runs, newest first, for the comparison table.
	Runs []*runView
}

type targetOption struct {
	Name, Label string
	Selected    bool
}

// runView is a run as the page shows it.
type runView struct {
	*Run
	Rows      []modeRow
	Running   bool
	EventsURL string
	// Total is the requests of every mode: the progress bar's end.
	Total int
}

// modeRow is one mode's line of a results table.
type modeRow struct {
	*ModeResult
	Requests   int
	Throughput string
	ErrorRate  string
	HitRatio   string
	XCacheText string
	// Points is the mode's chart data, as JSON, in milliseconds.
	Points string
}

func (l *Lesson) servePage(w http.ResponseWriter, r *http.Request) error {
	shown, err := l.requestedRun(r, false)
	if err != nil {
		return err
	}
	runs, running := l.kept()
	d := pageData{Requests: 500, Concurrency: 8, MaxRequests: maxRequests, MaxConcurrency: maxConcurrency,
		ModeSeconds: seconds(modeLimit), RunSeconds: seconds(runLimit), TickMS: tick.Milliseconds(),
		AdminToken: l.kit.AdminToken != ""}
	if running != nil {
		d.Running = running.ID
	}
	selected := targets[0].Name
	for i := len(runs) - 1; i >= 0; i-- {
		v := newRunView(runs[i].Snapshot())
		if runs[i] == shown {
			d.Run = v
			selected, d.Requests, d.Concurrency = v.Target, v.Requests, v.Concurrency
		}
		d.Runs = append(d.Runs, v)
	}
	for _, t := range targets {
		d.Targets = append(d.Targets, targetOption{Name: t.Name, Label: t.Label, Selected: t.Name == selected})
	}
	title := "Load test"
	if d.Run != nil {
		title = fmt.Sprintf("Load test #%d", d.Run.ID)
	}
	return l.kit.Live(w, r, "loadtest", title, "loadtest", d)
}

func newRunView(run *Run) *runView {
	v := &runView{Run: run, Running: run.Finished.IsZero(), EventsURL: "/loadtest/events?run=" + strconv.Itoa(run.ID),
		Total: run.Requests * len(run.Modes)}
	type chartPoint struct {
		T   float64 `json:"t"`
		P50 float64 `json:"p50"`
		P95 float64 `json:"p95"`
		N   int     `json:"n"`
	}
	for _, m := range run.Modes {
		row := modeRow{ModeResult: m, Requests: run.Requests, Throughput: strconv.FormatFloat(m.Throughput(), 'f', 0, 64),
			ErrorRate: percent(m.ErrorRate()), HitRatio: "–", XCacheText: xcacheText(m.XCache)}
		if h, ok := m.HitRatio(); ok {
			row.HitRatio = percent(h)
		}
		pts := make([]chartPoint, 0, len(m.Points))
		for _, p := range m.Points {
			pts = append(pts, chartPoint{T: p.T, P50: ms(p.P50), P95: ms(p.P95), N: p.N})
		}
		b, _ := json.Marshal(pts)
		row.Points = string(b)
		v.Rows = append(v.Rows, row)
	}
	return v
}

func seconds(d time.Duration) string { return strconv.FormatFloat(d.Seconds(), 'f', -1, 64) }

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func percent(f float64) string { return strconv.FormatFloat(100*f, 'f', 1, 64) + " %" }

// xcacheText lists the X-Cache counts that are not zero: "HIT 499 · MISS 1".
func xcacheText(counts map[string]int) string {
	var parts []string
	for _, k := range xcacheKinds {
		if n := counts[k]; n > 0 {
			parts = append(parts, k+" "+strconv.Itoa(n))
		}
	}
	if len(parts) == 0 {
		return "–"
	}
	return strings.Join(parts, " · ")
}
