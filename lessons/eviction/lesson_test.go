package eviction_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"cacheworkshop/app"
	"cacheworkshop/handlers"
	"cacheworkshop/internal/testapp"
	"cacheworkshop/lessons/eviction"
)

var (
	polylineRE = regexp.MustCompile(`<g class="ev-series (ev-\w+)"[^>]*><polyline points="([^"]+)">`)
	ratioRE    = regexp.MustCompile(`<td class="num" data-policy="(\w+)">([\d.]+)%</td>`)
)

// testLookups keeps the page's replays short: under the race detector a
// 100,000-lookup replay takes minutes. The pure replay tests use the full
// length.
const testLookups = 10_000

// server serves the workshop of a with an eviction lesson whose traces
// are testLookups long, and get fetches one of its pages.
type server struct {
	t  *testing.T
	ts *httptest.Server
}

func newServer(t *testing.T, a *app.App) *server {
	t.Helper()
	l := eviction.New()
	l.Lookups = testLookups
	s, err := handlers.NewServer(handlers.Config{Store: a.Store, Memory: a.Memory, Redis: a.Redis, RedisLabel: a.RedisLabel,
		Invalidator: a.Invalidator, DefaultMode: a.Config.DefaultMode, TTL: a.Config.TTL, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Lessons: []handlers.Lesson{l}})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	return &server{t: t, ts: ts}
}

type resp struct {
	Status int
	Header http.Header
	Body   string
}

func (s *server) get(path string) resp {
	s.t.Helper()
	c := &http.Client{Timeout: 3 * time.Minute}
	res, err := c.Get(s.ts.URL + path)
	if err != nil {
		s.t.Fatalf("GET %s: %v", path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		s.t.Fatal(err)
	}
	return resp{Status: res.StatusCode, Header: res.Header, Body: string(b)}
}

// TestEvictionPage: the page plots both policies at every budget, its
// table holds the same replay, a second identical request is answered
// from the kept replay with the same figures, and the LRU's column never
// falls as the budget grows.
func TestEvictionPage(t *testing.T) {
	a := newServer(t, testapp.New(t).App)
	first := a.get("/eviction?seed=3&skew=1.0")
	if first.Status != http.StatusOK || first.Header.Get("X-Cache") != "BYPASS" {
		t.Fatalf("GET /eviction: got %d %s, want a live 200", first.Status, first.Header.Get("X-Cache"))
	}
	series := polylineRE.FindAllStringSubmatch(first.Body, -1)
	if len(series) != 2 {
		t.Fatalf("plot: got %d series, want 2", len(series))
	}
	for _, s := range series {
		if n := len(strings.Fields(s[2])); n != 8 {
			t.Errorf("%s: got %d points, want 8 budgets", s[1], n)
		}
	}
	ratios := func(body string) map[string][]string {
		out := map[string][]string{}
		for _, m := range ratioRE.FindAllStringSubmatch(body, -1) {
			out[m[1]] = append(out[m[1]], m[2])
		}
		return out
	}
	got := ratios(first.Body)
	if len(got["lru"]) != 8 || len(got["tinylfu"]) != 8 {
		t.Fatalf("table: got %v, want 8 ratios per policy", got)
	}
	for i := 1; i < len(got["lru"]); i++ {
		prev, _ := strconv.ParseFloat(got["lru"][i-1], 64)
		if cur, _ := strconv.ParseFloat(got["lru"][i], 64); cur < prev {
			t.Errorf("LRU ratio falls from %v%% to %v%% as the budget grows", prev, cur)
		}
	}
	if !strings.Contains(first.Body, "Replayed on this request") {
		t.Error("the first request does not say it replayed")
	}
	second := a.get("/eviction?skew=1.0&seed=3&utm=x")
	if !strings.Contains(second.Body, "and kept") {
		t.Error("the second identical request replayed again instead of using the kept replay")
	}
	if again := ratios(second.Body); strings.Join(again["lru"], " ") != strings.Join(got["lru"], " ") ||
		strings.Join(again["tinylfu"], " ") != strings.Join(got["tinylfu"], " ") {
		t.Errorf("kept replay: got %v, want %v", again, got)
	}
	other := ratios(a.get("/eviction?seed=3&skew=0.6").Body)
	if strings.Join(other["lru"], " ") == strings.Join(got["lru"], " ") {
		t.Error("skew 0.6 gave the same LRU ratios as 1.0")
	}
}

// TestEvictionShowsRedisSettings: the page shows the server's own
// maxmemory and policy, read when the page is served.
func TestEvictionShowsRedisSettings(t *testing.T) {
	ta := testapp.New(t)
	a := newServer(t, ta.App)
	ctx := context.Background()
	rdb := ta.RedisServer.Client()
	if err := rdb.ConfigSet(ctx, "maxmemory", "300mb").Err(); err != nil {
		t.Fatal(err)
	}
	if err := rdb.ConfigSet(ctx, "maxmemory-policy", "volatile-lfu").Err(); err != nil {
		t.Fatal(err)
	}
	body := a.get("/eviction").Body
	for _, want := range []string{`<td class="num" id="ev-policy">volatile-lfu</td>`, "300.00 MiB (314572800 bytes)", "redis-cli CONFIG SET maxmemory-policy allkeys-lru"} {
		if !strings.Contains(body, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	if err := rdb.ConfigSet(ctx, "maxmemory-policy", "allkeys-lru").Err(); err != nil {
		t.Fatal(err)
	}
	if body := a.get("/eviction").Body; !strings.Contains(body, `id="ev-policy">allkeys-lru<`) {
		t.Error("the page did not read the changed policy")
	}
	ta.RedisServer.Stop()
	r := a.get("/eviction")
	if r.Status != http.StatusOK || !strings.Contains(r.Body, "unavailable") {
		t.Errorf("with Redis down: got %d, notice shown %v; want 200 with it", r.Status, strings.Contains(r.Body, "unavailable"))
	}
}

// TestEvictionEmbeddedRedis: the embedded server has no CONFIG command;
// the page says what that means instead of failing.
func TestEvictionEmbeddedRedis(t *testing.T) {
	cfg := app.Defaults()
	cfg.DatabasePath = filepath.Join(t.TempDir(), "test.db")
	cfg.RedisURL = "redis://127.0.0.1:1/0" // nothing listens on port 1
	cfg.SlowQuery = 0
	a, err := app.New(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Close)
	if !a.Embedded {
		t.Fatal("the app did not fall back to the embedded server")
	}
	r := newServer(t, a).get("/eviction")
	if r.Status != http.StatusOK || !strings.Contains(r.Body, "does not implement <code>CONFIG GET</code>") {
		t.Errorf("embedded Redis: got %d, explanation shown %v", r.Status, strings.Contains(r.Body, "does not implement"))
	}
}

// TestEvictionRefusesBadInput: the two parameters are strict; a refused
// request is a 400 that names the parameter.
func TestEvictionRefusesBadInput(t *testing.T) {
	a := testapp.New(t)
	for _, q := range []string{"seed=0", "seed=1000001", "seed=abc", "seed=+5", "seed=5e2", "seed=%205", "seed=1&seed=2",
		"skew=0.7", "skew=1", "skew=", "skew=0.80", "skew=1.0&skew=0.6", "skew=%E2%80%AE1.0"} {
		r := a.Get("/eviction?" + q)
		if r.Status != http.StatusBadRequest {
			t.Errorf("%s: got %v, want %v", q, r.Status, http.StatusBadRequest)
			continue
		}
		name, _, _ := strings.Cut(q, "=")
		if !strings.Contains(r.Body, name) {
			t.Errorf("%s: the 400 page does not name %s", q, name)
		}
	}
	if r := a.Post("/eviction", nil); r.Status != http.StatusMethodNotAllowed {
		t.Errorf("POST /eviction: got %d, want 405", r.Status)
	}
}

// TestEvictedGenerationIsAMissNeverStale checks what the page says of a
// Redis eviction, with a real redis-server: a product page whose
// generation key, or whose entry, is evicted is rebuilt (MISS) with the
// current data, and an entry built before an edit is never served after
// it, even when the edited generation was evicted in between.
func TestEvictedGenerationIsAMissNeverStale(t *testing.T) {
	a := testapp.New(t)
	ctx := context.Background()
	rdb := a.RedisServer.Client()
	// evict deletes the one key matching pattern under the prefix, as an
	// allkeys-* policy could, and fails if there is none: a test that
	// evicted nothing would prove nothing.
	evict := func(pattern string) {
		t.Helper()
		keys, err := rdb.Keys(ctx, a.Redis.Prefix()+pattern).Result()
		if err != nil || len(keys) != 1 {
			t.Fatalf("keys matching %s: got %v (%v), want one", pattern, keys, err)
		}
		if err := rdb.Del(ctx, keys[0]).Err(); err != nil {
			t.Fatal(err)
		}
	}
	const gen, applied = "*gen*:product:9", "*gen*:@applied"
	const path = "/products/9?cache=redis"
	outcome := func() string { return a.Get(path).Header.Get("X-Cache") }
	if got := outcome() + " " + outcome(); got != "MISS HIT" {
		t.Fatalf("before any eviction: got %s, want MISS HIT", got)
	}
	// The generation key alone goes: the next read recreates it and misses.
	evict(gen)
	if got := outcome() + " " + outcome(); got != "MISS HIT" {
		t.Errorf("after the generation was evicted: got %s, want MISS HIT", got)
	}
	// An entry built under the old value, an edit, then the edited
	// generation evicted: the recreated value is the edit's, not the old
	// one, so the old entry stays a miss.
	p := a.Product(9)
	if r := a.Post("/products/9/edit", testapp.EditForm(p, map[string]string{"name": "Evicted Lamp"})); r.Status != http.StatusSeeOther {
		t.Fatalf("edit: got %d", r.Status)
	}
	waitApplied(t, a)
	evict(gen)
	r := a.Get(path)
	if r.Header.Get("X-Cache") == "HIT" || !strings.Contains(r.Body, "Evicted Lamp") {
		t.Errorf("after edit and eviction: got %s, new name shown %v; want a rebuild with the new name", r.Header.Get("X-Cache"), strings.Contains(r.Body, "Evicted Lamp"))
	}
	// The applied-change marker goes: Redis is not trusted until the relay
	// has applied the change log again, and the page is never stale.
	evict(applied)
	r = a.Get(path)
	if !strings.Contains(r.Body, "Evicted Lamp") || r.Header.Get("X-Cache") == "HIT" {
		t.Errorf("after the marker was evicted: got %s, new name shown %v; want the page from the database", r.Header.Get("X-Cache"), strings.Contains(r.Body, "Evicted Lamp"))
	}
	deadline := time.Now().Add(10 * time.Second)
	for outcome() != "HIT" {
		if time.Now().After(deadline) {
			t.Fatal("Redis mode never returned to HIT after the marker was re-applied")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if r := a.Get(path); !strings.Contains(r.Body, "Evicted Lamp") {
		t.Error("the HIT after recovery is stale")
	}
}

// waitApplied waits until Redis has applied every change the app knows of.
func waitApplied(t *testing.T, a *testapp.App) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for a.Invalidator.Pending() > 0 {
		if time.Now().After(deadline) {
			t.Fatal("Redis never applied the edit")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
