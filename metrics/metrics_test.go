package metrics_test

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"cacheworkshop/app"
	"cacheworkshop/cache"
	"cacheworkshop/internal/testapp"
)

// scrape fetches /metrics from the app's loopback server and parses it
// with Prometheus's own text parser.
func scrape(t *testing.T, a *testapp.App, extra ...string) map[string]*dto.MetricFamily {
	t.Helper()
	r := a.Get("/metrics", extra...)
	if r.Status != http.StatusOK {
		t.Fatalf("GET /metrics: got status %d, want 200 (body %.300s)", r.Status, r.Body)
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
		t.Errorf("Content-Type: got %q, want the Prometheus text format", ct)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(r.Body))
	if err != nil {
		t.Fatalf("parse /metrics: %v\n%.2000s", err, r.Body)
	}
	return fams
}

// value is the value of the series of family name whose labels include
// every pair in labels (0 when there is none): a counter's or gauge's
// value, a histogram's count.
func value(fams map[string]*dto.MetricFamily, name string, labels ...string) float64 {
	f, ok := fams[name]
	if !ok {
		return 0
	}
	for _, m := range f.GetMetric() {
		if !hasLabels(m, labels) {
			continue
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount())
		}
	}
	return 0
}

func hasLabels(m *dto.Metric, labels []string) bool {
	for i := 0; i+1 < len(labels); i += 2 {
		found := false
		for _, lp := range m.GetLabel() {
			if lp.GetName() == labels[i] && lp.GetValue() == labels[i+1] {
				found = true
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// series counts the workshop's own series (the Go runtime's and the
// process's are fixed sets): a histogram counts once per label set.
func series(fams map[string]*dto.MetricFamily) int {
	n := 0
	for name, f := range fams {
		if strings.HasPrefix(name, "cacheworkshop_") {
			n += len(f.GetMetric())
		}
	}
	return n
}

// TestMetricsFromRequests: the figures move by exactly what the requests
// did: a MISS then a HIT of one page, two timed requests under its route.
func TestMetricsFromRequests(t *testing.T) {
	a := testapp.New(t)
	// The families read from the caches exist from the start; the
	// request families once a request was counted.
	fams := scrape(t, a)
	for _, name := range []string{"cacheworkshop_memory_evictions_total", "cacheworkshop_memory_bytes",
		"cacheworkshop_invalidations_applied_total", "cacheworkshop_redis_breaker_open", "go_goroutines",
		"process_resident_memory_bytes"} {
		if _, ok := fams[name]; !ok {
			t.Errorf("/metrics lacks %s", name)
		}
	}
	for i, m := range cache.Modes {
		mode := m.String()
		t.Run(mode, func(t *testing.T) {
			before := scrape(t, a)
			// A product of its own per mode: tiered reads the entries the
			// memory and Redis modes store.
			path := fmt.Sprintf("/products/%d?cache=%s", 17+i, mode)
			first, second := a.Get(path), a.Get(path)
			testapp.CheckTiming(t, first, mode, testapp.WantOutcome(mode, false))
			testapp.CheckTiming(t, second, mode, testapp.WantOutcome(mode, true))
			after := scrape(t, a)
			delta := func(name string, labels ...string) float64 {
				return value(after, name, labels...) - value(before, name, labels...)
			}
			// The page lookups of the two requests, by outcome.
			want := map[string]float64{"HIT": 1, "MISS": 1}
			if mode == "none" {
				want = map[string]float64{"BYPASS": 2}
			}
			for outcome, n := range want {
				if got := delta("cacheworkshop_cache_lookups_total", "layer", "page", "backend", mode, "outcome", outcome); got != n {
					t.Errorf("page lookups %s %s: got %v, want %v", mode, outcome, got, n)
				}
			}
			if got := delta("cacheworkshop_http_request_duration_seconds", "route", "/products/{id}", "mode", mode, "code", "2xx"); got != 2 {
				t.Errorf("timed requests of /products/{id} in %s: got %v, want 2", mode, got)
			}
		})
	}
}

// TestMetricsCacheCounters: evictions, bytes, invalidations and the
// breaker are the counters the caches keep, read at scrape time.
func TestMetricsCacheCounters(t *testing.T) {
	a := testapp.New(t, func(c *app.Config) { c.MemoryBytes = 64 << 10 })
	for id := 1; id <= 40; id++ {
		if r := a.Get(fmt.Sprintf("/products/%d?cache=memory", id)); r.Status != http.StatusOK {
			t.Fatalf("product %d: status %d", id, r.Status)
		}
	}
	fams := scrape(t, a)
	st := a.Memory.Stats()
	if st.Evictions == 0 {
		t.Fatal("40 detail pages in a 64 KiB budget evicted nothing: the test does not test eviction")
	}
	// Scraping stores nothing in the memory cache, so the figures cannot
	// have moved since.
	for _, c := range []struct {
		name string
		want float64
	}{
		{"cacheworkshop_memory_evictions_total", float64(st.Evictions)},
		{"cacheworkshop_memory_bytes", float64(st.Bytes)},
		{"cacheworkshop_memory_entries", float64(st.Entries)},
		{"cacheworkshop_memory_max_bytes", 64 << 10},
	} {
		if got := value(fams, c.name); got != c.want {
			t.Errorf("%s: got %v, want %v", c.name, got, c.want)
		}
	}

	before := value(fams, "cacheworkshop_invalidations_applied_total")
	p := a.Product(3)
	if r := a.Post("/products/3/edit", testapp.EditForm(p, map[string]string{"stock": "77"})); r.Status != http.StatusSeeOther {
		t.Fatalf("edit: status %d, want 303 (%.300s)", r.Status, r.Body)
	}
	if got := value(scrape(t, a), "cacheworkshop_invalidations_applied_total") - before; got != 1 {
		t.Errorf("invalidations applied after one edit: got %v more, want 1", got)
	}

	// A dead Redis opens the breaker after a few failed calls.
	a.RedisServer.Stop()
	defer a.RedisServer.Restart()
	for i := 0; i < 10 && !a.Redis.Guard().State().Open; i++ {
		a.Get(fmt.Sprintf("/products/%d?cache=redis", 100+i))
	}
	fams = scrape(t, a)
	st2 := a.Redis.Guard().State()
	if !st2.Open {
		t.Fatal("the breaker did not open with Redis stopped")
	}
	if got := value(fams, "cacheworkshop_redis_breaker_open"); got != 1 {
		t.Errorf("breaker open: got %v, want 1", got)
	}
	if got := value(fams, "cacheworkshop_redis_breaker_opens_total"); got != float64(st2.Opens) || got < 1 {
		t.Errorf("breaker opens: got %v, want %v (at least 1)", got, st2.Opens)
	}
	if got := value(fams, "cacheworkshop_redis_failed_calls_total"); got < 3 {
		t.Errorf("failed Redis calls: got %v, want at least the breaker's threshold, 3", got)
	}
}

// TestMetricsURLFloodBounded: thousands of made-up paths, matched or not
// by a route, in every mode, add no series: routes are patterns.
func TestMetricsURLFloodBounded(t *testing.T) {
	a := testapp.New(t)
	// flood sends n made-up requests and returns the random tokens their
	// paths carry.
	flood := func(n int, seed uint64) []string {
		rng := rand.New(rand.NewPCG(seed, 1))
		paths, toks := make([]string, n), make([]string, n)
		for i := range paths {
			tok := fmt.Sprintf("zz%08x", rng.Uint32())
			toks[i] = tok
			mode := cache.Modes[i%len(cache.Modes)].String()
			switch i % 6 {
			case 0:
				paths[i] = "/" + tok
			case 1:
				paths[i] = "/products/" + tok + "?cache=" + mode
			case 2:
				paths[i] = fmt.Sprintf("/products/%d?cache=%s", 2000+rng.IntN(1_000_000), mode)
			case 3:
				paths[i] = "/api/products/" + tok + "?cache=" + mode
			case 4:
				paths[i] = "/products?page=" + tok + "&cache=" + mode
			default:
				paths[i] = "/" + tok + "/" + tok + "/metrics?cache=" + mode
			}
		}
		var wg sync.WaitGroup
		next := make(chan string)
		client := &http.Client{Timeout: 10 * time.Second}
		for range 8 {
			wg.Go(func() {
				for p := range next {
					res, err := client.Get(a.TS.URL + p)
					if err != nil {
						t.Errorf("GET %s: %v", p, err)
						continue
					}
					_ = res.Body.Close()
				}
			})
		}
		for _, p := range paths {
			next <- p
		}
		close(next)
		wg.Wait()
		return toks
	}
	flood(300, 1)
	scrape(t, a) // so that /metrics's own series exists from here on
	n1 := series(scrape(t, a))
	t0 := time.Now()
	toks := flood(2000, 2)
	t.Logf("2000 requests in %v", time.Since(t0))
	r := a.Get("/metrics")
	fams := scrape(t, a)
	if n2 := series(fams); n2 != n1 {
		t.Errorf("series after 300 random paths: %d; after 2000 more: got %d, want %d", n1, n2, n1)
	}
	for _, tok := range toks {
		if strings.Contains(r.Body, tok) {
			t.Fatalf("/metrics contains %q, from a request's path", tok)
		}
	}
	if got := value(fams, "cacheworkshop_http_request_duration_seconds", "route", "/products/{id}", "code", "4xx"); got == 0 {
		t.Error("the flood's bad product ids were not timed under /products/{id} with code 4xx")
	}
}

// TestMetricsAccess: loopback only without ADMIN_TOKEN; the token, from
// anywhere, with it.
func TestMetricsAccess(t *testing.T) {
	open := testapp.New(t)
	guarded := testapp.New(t, func(c *app.Config) { c.AdminToken = "s3cret" })
	cases := []struct {
		name   string
		app    *testapp.App
		remote string
		header []string
		want   int
	}{
		{"loopback, no token set", open, "127.0.0.1:5555", nil, http.StatusOK},
		{"loopback IPv6, no token set", open, "[::1]:5555", nil, http.StatusOK},
		{"another machine, no token set", open, "203.0.113.9:5555", nil, http.StatusForbidden},
		{"another machine with a token nobody set", open, "203.0.113.9:5555", []string{"Authorization", "Bearer s3cret"}, http.StatusForbidden},
		{"token set, none sent, loopback", guarded, "127.0.0.1:5555", nil, http.StatusUnauthorized},
		{"token set, wrong bearer", guarded, "127.0.0.1:5555", []string{"Authorization", "Bearer nope"}, http.StatusUnauthorized},
		{"token set, basic auth", guarded, "127.0.0.1:5555", []string{"Authorization", "Basic czNjcmV0"}, http.StatusUnauthorized},
		{"token set, bearer, another machine", guarded, "203.0.113.9:5555", []string{"Authorization", "Bearer s3cret"}, http.StatusOK},
		{"token set, X-Admin-Token", guarded, "203.0.113.9:5555", []string{"X-Admin-Token", "s3cret"}, http.StatusOK},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
			req.Host = "127.0.0.1"
			req.RemoteAddr = c.remote
			for i := 0; i+1 < len(c.header); i += 2 {
				req.Header.Set(c.header[i], c.header[i+1])
			}
			rec := httptest.NewRecorder()
			c.app.Server.ServeHTTP(rec, req)
			if rec.Code != c.want {
				t.Fatalf("got status %d, want %d (body %.200s)", rec.Code, c.want, rec.Body.String())
			}
			body := rec.Body.String()
			if c.want == http.StatusOK && !strings.Contains(body, "cacheworkshop_memory_bytes") {
				t.Errorf("body lacks the metrics: %.200s", body)
			}
			if c.want != http.StatusOK && strings.Contains(body, "cacheworkshop_") {
				t.Errorf("a refused request saw metrics: %.200s", body)
			}
			if c.want == http.StatusUnauthorized && rec.Header().Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
		})
	}
}
