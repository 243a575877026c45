package stats_test

import (
	"cacheworkshop/app"
	"cacheworkshop/internal/testapp"
	"context"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// statsBody mirrors /api/cache-stats.
type statsBody struct {
	Memory      backendBody `json:"memory"`
	Redis       backendBody `json:"redis"`
	GeneratedAt string      `json:"generated_at"`
}

type backendBody struct {
	Name      string   `json:"name"`
	Available bool     `json:"available"`
	Error     string   `json:"error"`
	Hits      uint64   `json:"hits"`
	Misses    uint64   `json:"misses"`
	HitRatio  *float64 `json:"hit_ratio"`
	Sets      uint64   `json:"sets"`
	Deletes   *uint64  `json:"deletes"`
	Evictions *uint64  `json:"evictions"`
	Entries   int      `json:"entries"`
	Bytes     *int64   `json:"bytes"`
	Prefix    string   `json:"prefix"`
	Server    *struct {
		UsedMemoryHuman       string   `json:"used_memory_human"`
		UsedMemoryPeakHuman   string   `json:"used_memory_peak_human"`
		MemFragmentationRatio *float64 `json:"mem_fragmentation_ratio"`
		KeyspaceHits          uint64   `json:"keyspace_hits"`
		KeyspaceMisses        *uint64  `json:"keyspace_misses"`
		OpsPerSec             *uint64  `json:"instantaneous_ops_per_sec"`
	} `json:"server"`
}

func stats(t *testing.T, a *testapp.App) statsBody {
	t.Helper()
	r := a.Get("/api/cache-stats")
	if r.Status != http.StatusOK {
		t.Fatalf("/api/cache-stats: got %d, want 200: %s", r.Status, r.Body)
	}
	var s statsBody
	testapp.DecodeJSON(t, r, &s)
	return s
}

// redisKeys lists the keys under cw: in two groups: the generation
// counters, which a clear keeps, and the rest.
func redisKeys(t *testing.T, a *testapp.App) (gens, others []string) {
	t.Helper()
	keys, err := a.RedisServer.Client().Keys(context.Background(), a.Redis.Prefix()+"*").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if strings.HasPrefix(k, a.Redis.GenPrefix()) {
			gens = append(gens, k)
		} else {
			others = append(others, k)
		}
	}
	return gens, others
}

func TestStatsJSON(t *testing.T) {
	a := testapp.New(t)
	for _, mode := range []string{"memory", "redis"} {
		a.Get("/products?page=3&cache=" + mode) // MISS, then a set
		a.Get("/products?page=3&cache=" + mode) // HIT
	}
	r := a.Get("/api/cache-stats")
	testapp.CheckTiming(t, r, "memory", "BYPASS")
	if got, want := r.Header.Get("Cache-Control"), "no-store"; got != want {
		t.Errorf("Cache-Control: got %q, want %q", got, want)
	}
	var s statsBody
	testapp.DecodeJSON(t, r, &s)
	for _, b := range []backendBody{s.Memory, s.Redis} {
		t.Run(b.Name, func(t *testing.T) {
			if !b.Available || b.Error != "" {
				t.Errorf("available: got %v (%q), want true", b.Available, b.Error)
			}
			if b.Hits < 1 || b.Misses < 1 || b.Sets < 1 || b.Entries < 1 {
				t.Errorf("counters: got hits %d misses %d sets %d entries %d, want each at least 1", b.Hits, b.Misses, b.Sets, b.Entries)
			}
			if b.HitRatio == nil || *b.HitRatio <= 0 || *b.HitRatio >= 1 {
				t.Errorf("hit_ratio: got %v, want between 0 and 1", b.HitRatio)
			}
			if b.Deletes == nil || b.Evictions == nil {
				t.Errorf("got deletes %v evictions %v, want both present", b.Deletes, b.Evictions)
			}
		})
	}
	if s.Memory.Bytes == nil || *s.Memory.Bytes <= 0 {
		t.Errorf("memory bytes: got %v, want > 0", s.Memory.Bytes)
	}
	// Redis cannot tell one prefix's bytes; a 0 would be a made-up figure.
	if s.Redis.Bytes != nil {
		t.Errorf("redis bytes: got %d, want absent", *s.Redis.Bytes)
	}
	// The prefix is cw: and the database's epoch.
	if want := a.Redis.Prefix(); s.Redis.Prefix != want || !strings.HasPrefix(want, "cw:") {
		t.Errorf("redis prefix: got %q, want %q", s.Redis.Prefix, want)
	}
	srv := s.Redis.Server
	if srv == nil || srv.UsedMemoryHuman == "" || srv.UsedMemoryPeakHuman == "" || srv.MemFragmentationRatio == nil ||
		srv.KeyspaceHits < 1 || srv.KeyspaceMisses == nil || srv.OpsPerSec == nil {
		t.Errorf("redis server INFO: got %+v, want every field", srv)
	}
}

func TestStatsPage(t *testing.T) {
	a := testapp.New(t)
	r := a.Get("/cache-stats")
	if r.Status != http.StatusOK {
		t.Fatalf("got %d, want 200", r.Status)
	}
	testapp.CheckTiming(t, r, "memory", "BYPASS")
	for _, want := range []string{`data-stat="memory.hits"`, `data-stat="redis.server.used_memory_human"`,
		`action="/cache-stats/clear"`, `name="backend" value="memory"`, `name="backend" value="redis"`,
		"<h2>Try this</h2>", "stats.js", `id="redis-error" role="alert" hidden`} {
		if !strings.Contains(r.Body, want) {
			t.Errorf("page lacks %q", want)
		}
	}
}

// TestStatsClearRedisOnlyOurKeys puts someone else's keys in the same Redis
// and checks that clearing removes ours and keeps theirs.
func TestStatsClearRedisOnlyOurKeys(t *testing.T) {
	a := testapp.New(t)
	ctx := context.Background()
	rc := a.RedisServer.Client()
	foreign := []string{"other:app:key", "cw", "cwx:1", "c*w:2"}
	for _, k := range foreign {
		if err := rc.Set(ctx, k, "keep me", 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	a.Get("/products?cache=redis")
	a.Get("/products/5?cache=redis")
	gens, ours := redisKeys(t, a)
	if len(ours) < 2 || len(gens) < 1 {
		t.Fatalf("keys under cw: before clear: got %v and generations %v, want at least 2 entries and a generation", ours, gens)
	}
	r := a.Post("/cache-stats/clear", url.Values{"backend": {"redis"}})
	if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/cache-stats" {
		t.Fatalf("got %d to %q, want 303 to /cache-stats", r.Status, r.Header.Get("Location"))
	}
	// Every entry goes; the generation counters stay, untouched.
	gensAfter, oursAfter := redisKeys(t, a)
	if len(oursAfter) != 0 {
		t.Errorf("keys under cw: after clear: got %v, want none but the generations", oursAfter)
	}
	if !slices.Equal(sorted(gensAfter), sorted(gens)) {
		t.Errorf("generations after clear: got %v, want %v kept", gensAfter, gens)
	}
	for _, k := range foreign {
		if v, err := rc.Get(ctx, k).Result(); err != nil || v != "keep me" {
			t.Errorf("foreign key %q: got %q (%v), want it kept", k, v, err)
		}
	}
	if s := stats(t, a); s.Redis.Hits != 0 || s.Redis.Misses != 0 || s.Redis.Entries != len(gens) {
		t.Errorf("after clear: got hits %d misses %d keys %d, want 0, 0 and the %d generations",
			s.Redis.Hits, s.Redis.Misses, s.Redis.Entries, len(gens))
	}
	// The flash reports it once on the page.
	var cookie string
	for _, c := range r.Header.Values("Set-Cookie") {
		if strings.HasPrefix(c, "flash=") {
			cookie, _, _ = strings.Cut(c, ";")
		}
	}
	page := a.Get("/cache-stats", "Cookie", cookie)
	want := "Cleared Redis: " + plural(len(ours), "key", "keys") + " under " + a.Redis.Prefix() + " removed"
	if n := strings.Count(page.Body, want); n != 1 ||
		!strings.Contains(page.Body, plural(len(gens), "key remains", "keys remain")+", the generation counters") ||
		!strings.Contains(page.Body, "Other keys in the same Redis were not touched") {
		t.Errorf("the stats page reports the clear %d times as %q, want once with the generations kept", n, want)
	}
	if sc := strings.Join(page.Header.Values("Set-Cookie"), "\n"); !strings.Contains(sc, "flash=;") || !strings.Contains(sc, "Max-Age=0") {
		t.Errorf("the page showing the message did not expire the flash cookie: Set-Cookie %q", sc)
	}
	// The cache refills: the next Redis-mode load misses, then hits.
	for i, want := range []string{"MISS", "HIT"} {
		if got := a.Get("/products?cache=redis").Header.Get("X-Cache"); got != want {
			t.Errorf("load %d after clear: got %q, want %q", i, got, want)
		}
	}
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

func TestStatsClearMemory(t *testing.T) {
	a := testapp.New(t)
	a.Get("/products?cache=memory")
	a.Get("/products?cache=redis")
	if got := a.Get("/products?cache=memory").Header.Get("X-Cache"); got != "HIT" {
		t.Fatalf("before clear: got %q, want HIT", got)
	}
	r := a.Post("/cache-stats/clear", url.Values{"backend": {"memory"}})
	if r.Status != http.StatusSeeOther {
		t.Fatalf("got %d, want 303", r.Status)
	}
	if s := a.Memory.Stats(); s.Entries != 0 || s.Hits != 0 {
		t.Errorf("memory after clear: got %d entries %d hits, want 0 and 0", s.Entries, s.Hits)
	}
	if got := a.Get("/products?cache=memory").Header.Get("X-Cache"); got != "MISS" {
		t.Errorf("memory after clear: got %q, want MISS", got)
	}
	if got := a.Get("/products?cache=redis").Header.Get("X-Cache"); got != "HIT" {
		t.Errorf("redis after clearing memory: got %q, want HIT (untouched)", got)
	}
}

func TestStatsClearRejects(t *testing.T) {
	a := testapp.New(t)
	a.Get("/products?cache=memory")
	cases := []struct {
		name   string
		form   url.Values
		extra  []string
		status int
	}{
		{"unknown backend", url.Values{"backend": {"disk"}}, nil, http.StatusBadRequest},
		{"no backend", url.Values{}, nil, http.StatusBadRequest},
		{"empty backend", url.Values{"backend": {""}}, nil, http.StatusBadRequest},
		{"conflicting backends", url.Values{"backend": {"memory", "redis"}}, nil, http.StatusBadRequest},
		{"cross-site", url.Values{"backend": {"memory"}}, []string{"Sec-Fetch-Site", "cross-site"}, http.StatusForbidden},
		{"foreign origin", url.Values{"backend": {"memory"}}, []string{"Origin", "https://evil.example"}, http.StatusForbidden},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := a.Post("/cache-stats/clear", c.form, c.extra...)
			if r.Status != c.status {
				t.Fatalf("got %d, want %d", r.Status, c.status)
			}
			if s := a.Memory.Stats(); s.Entries == 0 {
				t.Errorf("memory entries: got 0, want the cached page kept")
			}
		})
	}
	if r := a.Get("/cache-stats/clear"); r.Status != http.StatusMethodNotAllowed {
		t.Errorf("GET clear: got %d, want 405", r.Status)
	}
}

func TestStatsRedisDown(t *testing.T) {
	a := testapp.New(t)
	a.Get("/products?cache=memory")
	a.RedisServer.Stop()
	r := a.Get("/cache-stats")
	if r.Status != http.StatusOK {
		t.Fatalf("page: got %d, want 200", r.Status)
	}
	if !strings.Contains(r.Body, "Redis unavailable") || strings.Contains(r.Body, `id="redis-error" role="alert" hidden`) {
		t.Error("page does not say Redis is unavailable")
	}
	s := stats(t, a)
	if s.Redis.Available || !strings.Contains(s.Redis.Error, "Redis unavailable") || s.Redis.Server != nil {
		t.Errorf("redis: got available %v error %q server %v, want unavailable with a reason", s.Redis.Available, s.Redis.Error, s.Redis.Server)
	}
	if !s.Memory.Available || s.Memory.Entries < 1 {
		t.Errorf("memory: got %+v, want its figures regardless", s.Memory)
	}
	c := a.Post("/cache-stats/clear", url.Values{"backend": {"redis"}})
	if c.Status != http.StatusSeeOther {
		t.Fatalf("clear with Redis down: got %d, want 303", c.Status)
	}
	if !strings.Contains(strings.Join(c.Header.Values("Set-Cookie"), " "), "flash=") {
		t.Error("clear with Redis down: no message for the page")
	}
}

// TestStatsClearNeedsAdminToken: with ADMIN_TOKEN set, clearing a cache
// needs the token, while the page and its JSON stay open.
func TestStatsClearNeedsAdminToken(t *testing.T) {
	a := testapp.New(t, func(c *app.Config) { c.AdminToken = "s3cret" })
	a.Get("/products?cache=memory")
	for _, tok := range []string{"", "wrong"} {
		form := url.Values{"backend": {"memory"}}
		if tok != "" {
			form.Set("admin_token", tok)
		}
		if r := a.Post("/cache-stats/clear", form); r.Status != http.StatusForbidden {
			t.Errorf("token %q: got %d, want 403", tok, r.Status)
		}
	}
	if a.Memory.Stats().Entries == 0 {
		t.Fatal("a refused clear emptied the memory cache")
	}
	if r := a.Post("/cache-stats/clear", url.Values{"backend": {"memory"}}, "X-Admin-Token", "s3cret"); r.Status != http.StatusSeeOther {
		t.Errorf("token in the header: got %d, want 303", r.Status)
	}
	if n := a.Memory.Stats().Entries; n != 0 {
		t.Errorf("after the clear with the token: got %d entries, want 0", n)
	}
	page := a.Get("/cache-stats")
	if page.Status != http.StatusOK || strings.Count(page.Body, `name="admin_token"`) != 2 {
		t.Errorf("page: got %d with %d token fields, want 200 with one per clear form", page.Status, strings.Count(page.Body, `name="admin_token"`))
	}
	if r := a.Get("/api/cache-stats"); r.Status != http.StatusOK {
		t.Errorf("JSON: got %d, want 200 without a token", r.Status)
	}
}
