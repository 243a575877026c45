package loadtest_test

import (
	"bufio"
	"context"
	"encoding/json"
	"maps"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"cacheworkshop/app"
	"cacheworkshop/cache"
	"cacheworkshop/internal/testapp"
	"cacheworkshop/lessons/loadtest"
)

// sseEvent is one parsed server-sent event.
type sseEvent struct {
	ID   int
	Name string
	Data string
}

// events reads a run's whole stream (it ends with the run), with
// Last-Event-ID when lastID is not empty.
func events(t *testing.T, a *testapp.App, id int, lastID string) []sseEvent {
	t.Helper()
	var extra []string
	if lastID != "" {
		extra = []string{"Last-Event-ID", lastID}
	}
	r := a.Get("/loadtest/events?run="+strconv.Itoa(id), extra...)
	if r.Status != http.StatusOK {
		t.Fatalf("events of run %d: status %d (%.300s)", id, r.Status, r.Body)
	}
	if got := r.Header.Get("Content-Type"); got != "text/event-stream; charset=utf-8" {
		t.Errorf("Content-Type: got %q, want text/event-stream", got)
	}
	var out []sseEvent
	var ev sseEvent
	sc := bufio.NewScanner(strings.NewReader(r.Body))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if ev.Name != "" {
				out = append(out, ev)
			}
			ev = sseEvent{}
		case strings.HasPrefix(line, "id: "):
			ev.ID, _ = strconv.Atoi(strings.TrimPrefix(line, "id: "))
		case strings.HasPrefix(line, "event: "):
			ev.Name = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			ev.Data = strings.TrimPrefix(line, "data: ")
		}
	}
	return out
}

// start posts the form and returns the run's id from the redirect.
func start(t *testing.T, a *testapp.App, form url.Values, extra ...string) int {
	t.Helper()
	r := a.Post("/loadtest", form, extra...)
	if r.Status != http.StatusSeeOther {
		t.Fatalf("POST /loadtest %v: status %d, want 303 (%.300s)", form, r.Status, r.Body)
	}
	loc := r.Header.Get("Location")
	id, err := strconv.Atoi(strings.TrimPrefix(loc, "/loadtest?run="))
	if err != nil {
		t.Fatalf("Location %q is not a run's page", loc)
	}
	return id
}

// modes are the modes a run loads, in order.
var modes = func() []string {
	var out []string
	for _, m := range cache.Modes {
		out = append(out, m.String())
	}
	return out
}()

func form(target, requests, concurrency string) url.Values {
	return url.Values{"target": {target}, "requests": {requests}, "concurrency": {concurrency}}
}

type apiRuns struct {
	Running int             `json:"running"`
	Runs    []*loadtest.Run `json:"runs"`
}

func kept(t *testing.T, a *testapp.App) apiRuns {
	t.Helper()
	var out apiRuns
	testapp.DecodeJSON(t, a.Get("/api/loadtest"), &out)
	return out
}

// pageLookups is the server's own count of page-cache lookups by backend
// and outcome, from /metrics.
// settledLookups is pageLookups once the counters stop moving: the
// metrics middleware counts a request's lookups after its response is
// written, so a run's last response can reach the test just before its
// lookup is counted.
func settledLookups(t *testing.T, a *testapp.App) map[string]float64 {
	t.Helper()
	prev := pageLookups(t, a)
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
		cur := pageLookups(t, a)
		if maps.Equal(cur, prev) {
			return cur
		}
		prev = cur
	}
	return prev
}

func pageLookups(t *testing.T, a *testapp.App) map[string]float64 {
	t.Helper()
	r := a.Get("/metrics")
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(r.Body))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, m := range fams["cacheworkshop_cache_lookups_total"].GetMetric() {
		l := map[string]string{}
		for _, lp := range m.GetLabel() {
			l[lp.GetName()] = lp.GetValue()
		}
		if l["layer"] == "page" {
			out[l["backend"]+" "+l["outcome"]] += m.GetCounter().GetValue()
		}
	}
	return out
}

// TestStartBadInput: every invalid form is a 4xx that starts nothing.
func TestStartBadInput(t *testing.T) {
	a := testapp.New(t)
	cases := []struct {
		name string
		body string
		ct   string
		want int
	}{
		{"no fields", "", "application/x-www-form-urlencoded", http.StatusBadRequest},
		{"unknown target", "target=evil&requests=10&concurrency=1", "", http.StatusBadRequest},
		{"a URL as target", "target=http%3A%2F%2Fexample.com%2F&requests=10&concurrency=1", "", http.StatusBadRequest},
		{"a path as target", "target=%2Fproducts%2F1&requests=10&concurrency=1", "", http.StatusBadRequest},
		{"two targets", "target=list&target=api&requests=10&concurrency=1", "", http.StatusBadRequest},
		{"no requests", "target=list&concurrency=1", "", http.StatusBadRequest},
		{"zero requests", "target=list&requests=0&concurrency=1", "", http.StatusBadRequest},
		{"too many requests", "target=list&requests=20001&concurrency=1", "", http.StatusBadRequest},
		{"requests with exponent", "target=list&requests=1e3&concurrency=1", "", http.StatusBadRequest},
		{"negative requests", "target=list&requests=-5&concurrency=1", "", http.StatusBadRequest},
		{"requests with a space", "target=list&requests=+5&concurrency=1", "", http.StatusBadRequest},
		{"zero concurrency", "target=list&requests=10&concurrency=0", "", http.StatusBadRequest},
		{"too much concurrency", "target=list&requests=10&concurrency=65", "", http.StatusBadRequest},
		{"words for concurrency", "target=list&requests=10&concurrency=many", "", http.StatusBadRequest},
		{"JSON body", `{"target":"list","requests":10,"concurrency":1}`, "application/json", http.StatusUnsupportedMediaType},
		{"huge body", "target=list&requests=10&concurrency=1&pad=" + strings.Repeat("x", 70<<10), "", http.StatusRequestEntityTooLarge},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodPost, a.TS.URL+"/loadtest", strings.NewReader(c.body))
			if err != nil {
				t.Fatal(err)
			}
			ct := c.ct
			if ct == "" {
				ct = "application/x-www-form-urlencoded"
			}
			req.Header.Set("Content-Type", ct)
			r := a.Do(req)
			if r.Status != c.want {
				t.Errorf("got status %d, want %d (%.200s)", r.Status, c.want, r.Body)
			}
			if got := kept(t, a); len(got.Runs) != 0 || got.Running != 0 {
				t.Errorf("a refused form started a run: %+v", got)
			}
		})
	}
}

// TestAdminToken: with ADMIN_TOKEN set, starting and stopping need it.
func TestAdminToken(t *testing.T) {
	a := testapp.New(t, func(c *app.Config) { c.AdminToken = "tok" })
	for _, tok := range []string{"", "wrong"} {
		f := form("list", "5", "1")
		if tok != "" {
			f.Set("admin_token", tok)
		}
		if r := a.Post("/loadtest", f); r.Status != http.StatusForbidden {
			t.Errorf("token %q: got status %d, want 403", tok, r.Status)
		}
		if r := a.Post("/loadtest/stop", f); r.Status != http.StatusForbidden {
			t.Errorf("stop with token %q: got status %d, want 403", tok, r.Status)
		}
	}
	if got := kept(t, a); len(got.Runs) != 0 {
		t.Fatalf("a refused form started a run: %+v", got)
	}
	if r := a.Get("/loadtest"); r.Status != http.StatusOK || !strings.Contains(r.Body, `name="admin_token"`) {
		t.Errorf("the page: status %d, and it must ask for the admin token", r.Status)
	}
	id := start(t, a, form("list", "5", "1"), "X-Admin-Token", "tok")
	events(t, a, id, "")
	f := form("list", "5", "1")
	f.Set("admin_token", "tok")
	events(t, a, start(t, a, f), "")
}

// TestRunFigures: one worker on one product page: in each cached mode the
// first request misses and every later one hits, and the figures say so,
// as do the server's own counters.
func TestRunFigures(t *testing.T) {
	a := testapp.New(t)
	before := pageLookups(t, a)
	id := start(t, a, form("detail", "50", "1"))
	evs := events(t, a, id, "")
	after := settledLookups(t, a)

	if len(evs) < 5 || evs[0].Name != "run" || evs[len(evs)-1].Name != "done" {
		t.Fatalf("stream: want run, progress..., done; got %d events: %+v", len(evs), evs)
	}
	var results []loadtest.ModeResult
	lastDone := map[string]int{}
	for i, ev := range evs {
		if ev.ID != i {
			t.Errorf("event %d has id %d", i, ev.ID)
		}
		switch ev.Name {
		case "progress":
			var p struct {
				Mode string
				Done int
			}
			if err := json.Unmarshal([]byte(ev.Data), &p); err != nil {
				t.Fatal(err)
			}
			if p.Done < lastDone[p.Mode] {
				t.Errorf("progress of %s went back from %d to %d", p.Mode, lastDone[p.Mode], p.Done)
			}
			lastDone[p.Mode] = p.Done
		case "mode":
			var m loadtest.ModeResult
			if err := json.Unmarshal([]byte(ev.Data), &m); err != nil {
				t.Fatal(err)
			}
			results = append(results, m)
		}
	}
	if len(results) != len(modes) {
		t.Fatalf("mode events: got %d, want %d", len(results), len(modes))
	}
	// Tiered keeps its own entries (a page is rendered for its mode), so
	// it misses once like the others.
	wantXCache := map[string]map[string]int{
		"none":   {"BYPASS": 50},
		"memory": {"MISS": 1, "HIT": 49},
		"redis":  {"MISS": 1, "HIT": 49},
		"tiered": {"MISS": 1, "HIT": 49},
	}
	for i, m := range results {
		if m.Mode != modes[i] {
			t.Errorf("mode %d: got %s, want %s", i, m.Mode, modes[i])
		}
		if m.Done != 50 || m.Errors != 0 || !m.Finished || m.TimedOut {
			t.Errorf("%s: done %d, errors %d, finished %v, timed out %v; want 50, 0, true, false", m.Mode, m.Done, m.Errors, m.Finished, m.TimedOut)
		}
		if lastDone[m.Mode] != 50 {
			t.Errorf("%s: last progress said %d done, want 50", m.Mode, lastDone[m.Mode])
		}
		for k, n := range wantXCache[m.Mode] {
			if m.XCache[k] != n {
				t.Errorf("%s X-Cache %s: got %d, want %d (all: %v)", m.Mode, k, m.XCache[k], n, m.XCache)
			}
		}
		if !(m.P50 > 0 && m.P50 <= m.P95 && m.P95 <= m.P99 && m.P99 <= m.Max+m.Max/500) {
			t.Errorf("%s: percentiles out of order: p50 %v p95 %v p99 %v max %v", m.Mode, m.P50, m.P95, m.P99, m.Max)
		}
		n := 0
		for _, p := range m.Points {
			n += p.N
		}
		if n != m.Done {
			t.Errorf("%s: the chart's points hold %d requests, want %d", m.Mode, n, m.Done)
		}
	}
	// The server's traces saw exactly what the X-Cache headers said.
	for _, backend := range []string{"memory", "redis", "tiered"} {
		for _, outcome := range []string{"HIT", "MISS"} {
			k := backend + " " + outcome
			if got, want := after[k]-before[k], float64(wantXCache[backend][outcome]); got != want {
				t.Errorf("server-side page lookups %s during the run: got %v, want %v", k, got, want)
			}
		}
	}
	if got := after["none BYPASS"] - before["none BYPASS"]; got < 50 {
		t.Errorf("server-side BYPASS lookups during the run: got %v, want at least 50", got)
	}

	// The JSON and the page show the same run.
	got := kept(t, a)
	if got.Running != 0 || len(got.Runs) != 1 || got.Runs[0].ID != id || got.Runs[0].Finished.IsZero() {
		t.Fatalf("/api/loadtest after the run: %+v", got)
	}
	for i, m := range got.Runs[0].Modes {
		if m.Done != results[i].Done || m.P99 != results[i].P99 || m.XCache["HIT"] != results[i].XCache["HIT"] {
			t.Errorf("/api/loadtest %s differs from its stream: %+v vs %+v", m.Mode, m, results[i])
		}
	}
	page := a.Get("/loadtest?run=" + strconv.Itoa(id))
	if page.Status != http.StatusOK {
		t.Fatalf("run page: status %d", page.Status)
	}
	for _, want := range []string{`data-mode="memory" data-done="50" data-hits="49" data-misses="1"`, "98.0 %", "HIT 49 · MISS 1", `class="loadtest-chart" data-mode="redis"`} {
		if !strings.Contains(page.Body, want) {
			t.Errorf("run page lacks %q", want)
		}
	}
	if strings.Contains(page.Body, "data-events=") {
		t.Error("a finished run's page still follows its stream")
	}
}

// TestHitRatioUnderConcurrency: eight workers over 50 list pages in turn,
// 120 requests.
// Each page misses at least once, and more only when a slow miss is still
// being built as the page comes round again; whatever happened, the run's
// X-Cache counts are the server's own page lookups.
func TestHitRatioUnderConcurrency(t *testing.T) {
	a := testapp.New(t)
	before := pageLookups(t, a)
	id := start(t, a, form("list-pages", "120", "8"))
	events(t, a, id, "")
	after := settledLookups(t, a)
	run := kept(t, a).Runs[0]
	for _, m := range run.Modes {
		if m.Done != 120 || m.Errors != 0 {
			t.Errorf("%s: done %d errors %d (timed out: %v), want 120 and 0 (first error %q)", m.Mode, m.Done, m.Errors, m.TimedOut, m.FirstError)
		}
		if m.Mode == "none" {
			if m.XCache["BYPASS"] != m.Done {
				t.Errorf("none: X-Cache %v, want BYPASS only", m.XCache)
			}
			continue
		}
		// Tiered finds the pages the memory mode stored.
		hits, misses := m.XCache["HIT"], m.XCache["MISS"]
		if hits+misses != 120 || m.Mode != "tiered" && misses < 50 {
			t.Errorf("%s: X-Cache %v, want 120 HITs and MISSes, at least 50 MISSes but in tiered", m.Mode, m.XCache)
		}
		for _, outcome := range []string{"HIT", "MISS"} {
			k := m.Mode + " " + outcome
			if got := after[k] - before[k]; got != float64(m.XCache[outcome]) {
				t.Errorf("server-side %s: got %v, the run counted %d", k, got, m.XCache[outcome])
			}
		}
		if r, ok := m.HitRatio(); !ok || r != float64(hits)/120 {
			t.Errorf("%s hit ratio: got %v, want %d/120", m.Mode, r, hits)
		}
	}
}

// TestOneAtATime: a second run is refused while one is under way; stopping
// keeps what was measured and frees the server for the next.
func TestOneAtATime(t *testing.T) {
	// 20 ms per uncached detail page: 20,000 requests from one worker
	// would take the mode's whole 10 s.
	a := testapp.New(t, func(c *app.Config) { c.SlowQuery = 20 * time.Millisecond })
	if r := a.Post("/loadtest/stop", url.Values{}); r.Status != http.StatusConflict {
		t.Errorf("stop with nothing running: got status %d, want 409", r.Status)
	}
	id := start(t, a, form("detail", "20000", "1"))
	r := a.Post("/loadtest", form("list", "10", "1"))
	if r.Status != http.StatusConflict || !strings.Contains(r.Body, "still running") {
		t.Errorf("second run: got status %d, want 409 saying the first is still running (%.300s)", r.Status, r.Body)
	}
	if got := kept(t, a); got.Running != id || len(got.Runs) != 1 {
		t.Fatalf("after the refused run: %+v, want run %d alone, running", got, id)
	}
	if r := a.Get("/loadtest"); !strings.Contains(r.Body, `data-events="/loadtest/events?run=`+strconv.Itoa(id)+`"`) {
		t.Error("the page of a running run does not follow its stream")
	}
	time.Sleep(300 * time.Millisecond)
	if r := a.Post("/loadtest/stop", url.Values{}); r.Status != http.StatusSeeOther {
		t.Fatalf("stop: status %d, want 303", r.Status)
	}
	evs := events(t, a, id, "")
	if last := evs[len(evs)-1]; last.Name != "done" || !strings.Contains(last.Data, `"stopped":true`) {
		t.Errorf("last event: got %+v, want done, stopped", last)
	}
	run := kept(t, a).Runs[0]
	if !run.Stopped || run.StopReason != "stopped by the learner" || run.Modes[0].Done == 0 || run.Modes[0].Done >= 20000 || run.Modes[0].TimedOut || run.Modes[1].Done != 0 {
		t.Errorf("stopped run: stopped %v, none done %d (timed out %v), memory done %d; want true, some, false, 0",
			run.Stopped, run.Modes[0].Done, run.Modes[0].TimedOut, run.Modes[1].Done)
	}
	next := start(t, a, form("list", "10", "1"))
	if next != id+1 {
		t.Errorf("next run's id: got %d, want %d", next, id+1)
	}
	events(t, a, next, "")
}

// TestEvents: the stream's own input, and resuming where a dropped
// connection left off.
func TestEvents(t *testing.T) {
	a := testapp.New(t)
	id := start(t, a, form("api", "20", "2"))
	all := events(t, a, id, "")
	for _, c := range []struct {
		path, lastID string
		want         int
	}{
		{"/loadtest/events", "", http.StatusBadRequest},
		{"/loadtest/events?run=abc", "", http.StatusBadRequest},
		{"/loadtest/events?run=1&run=2", "", http.StatusBadRequest},
		{"/loadtest/events?run=99", "", http.StatusNotFound},
		{"/loadtest/events?run=1", "x", http.StatusBadRequest},
		{"/loadtest/events?run=1", "-1", http.StatusBadRequest},
		{"/loadtest?run=99", "", http.StatusNotFound},
		{"/loadtest?run=0", "", http.StatusBadRequest},
	} {
		var extra []string
		if c.lastID != "" {
			extra = []string{"Last-Event-ID", c.lastID}
		}
		if r := a.Get(c.path, extra...); r.Status != c.want {
			t.Errorf("GET %s (Last-Event-ID %q): got status %d, want %d", c.path, c.lastID, r.Status, c.want)
		}
	}
	rest := events(t, a, id, "2")
	if len(rest) != len(all)-3 || rest[0].ID != 3 || rest[0].Data != all[3].Data {
		t.Errorf("resumed after event 2: got %d events from id %d, want %d from id 3", len(rest), rest[0].ID, len(all)-3)
	}
}

// TestKeepsLastRuns: the eleventh run pushes out the first.
func TestKeepsLastRuns(t *testing.T) {
	a := testapp.New(t)
	for range 11 {
		events(t, a, start(t, a, form("api", "1", "1")), "")
	}
	got := kept(t, a)
	if len(got.Runs) != 10 || got.Runs[0].ID != 11 || got.Runs[9].ID != 2 {
		t.Fatalf("kept runs: %d, from #%d to #%d; want 10, from #11 to #2", len(got.Runs), got.Runs[0].ID, got.Runs[len(got.Runs)-1].ID)
	}
	if r := a.Get("/loadtest?run=1"); r.Status != http.StatusNotFound {
		t.Errorf("run 1: got status %d, want 404", r.Status)
	}
	page := a.Get("/loadtest")
	if n := strings.Count(page.Body, `<th scope="rowgroup"`); n != 10 {
		t.Errorf("comparison table: got %d runs, want 10", n)
	}
}

// TestShutdownStopsRun: when the server shuts down (the app cancels its
// lessons' Run), the run under way ends at once, says why, and no new run
// starts.
func TestShutdownStopsRun(t *testing.T) {
	a := testapp.New(t, func(c *app.Config) { c.SlowQuery = 20 * time.Millisecond })
	var l *loadtest.Lesson
	for _, lesson := range a.Server.Lessons() {
		if lt, ok := lesson.(*loadtest.Lesson); ok {
			l = lt
		}
	}
	if l == nil {
		t.Fatal("the app has no load-test lesson")
	}
	ctx, shutDown := context.WithCancel(context.Background())
	defer shutDown()
	ran := make(chan struct{})
	go func() { l.Run(ctx); close(ran) }()

	id := start(t, a, form("detail", "20000", "2"))
	time.Sleep(300 * time.Millisecond)
	t0 := time.Now()
	shutDown()
	<-ran
	evs := events(t, a, id, "")
	if took := time.Since(t0); took > 5*time.Second {
		t.Errorf("the run took %v to end after the shutdown began", took)
	}
	if last := evs[len(evs)-1]; last.Name != "done" || !strings.Contains(last.Data, `"stop_reason":"the server is shutting down"`) {
		t.Errorf("last event: got %+v, want done, stopped by the shutdown", last)
	}
	if r := a.Post("/loadtest", form("list", "5", "1")); r.Status != http.StatusServiceUnavailable {
		t.Errorf("a run during the shutdown: got status %d, want 503", r.Status)
	}
}
