package stats_test

import (
	"github.com/redis/go-redis/v9"

	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"cacheworkshop/app"
	"cacheworkshop/internal/testapp"
)

// TestStatsEveryRedis reads the statistics from a real redis-server and
// from the embedded fallback, which answers only part of INFO: Redis pages
// hit in both, so the page must not say Redis is unavailable in either,
// and the figures the embedded server lacks are said to be missing, not
// shown as zeros.
func TestStatsEveryRedis(t *testing.T) {
	tests := []struct {
		name     string
		opts     []func(*app.Config)
		embedded bool
	}{
		{"real", nil, false},
		// Nothing answers on port 1: the app starts its embedded server.
		{"embedded", []func(*app.Config){func(c *app.Config) { c.RedisURL, c.NoEmbedded = "redis://127.0.0.1:1/0", false }}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := testapp.New(t, tt.opts...)
			if a.Embedded != tt.embedded {
				t.Fatalf("embedded: got %v, want %v", a.Embedded, tt.embedded)
			}
			a.Get("/products?page=4&cache=redis")
			if r := a.Get("/products?page=4&cache=redis"); r.Header.Get("X-Cache") != "HIT" {
				t.Fatalf("second Redis load: X-Cache %q, want HIT", r.Header.Get("X-Cache"))
			}

			page := a.Get("/cache-stats")
			if page.Status != http.StatusOK {
				t.Fatalf("page: got %d, want 200", page.Status)
			}
			if strings.Contains(page.Body, "%!") {
				t.Errorf("the page has a formatting error: %q", page.Body[strings.Index(page.Body, "%!"):][:40])
			}
			if !strings.Contains(page.Body, `id="redis-error" role="alert" hidden`) {
				t.Errorf("the page says Redis is unavailable while Redis pages hit")
			}
			if got := strings.Contains(page.Body, `id="redis-unreported" hidden`); got == tt.embedded {
				t.Errorf("the note on unreported figures is hidden: got %v, want %v", got, !tt.embedded)
			}

			r := a.Get("/api/cache-stats")
			var s struct {
				Redis struct {
					Available bool   `json:"available"`
					Error     string `json:"error"`
					Hits      uint64 `json:"hits"`
					Server    *struct {
						UsedMemoryHuman string   `json:"used_memory_human"`
						KeyspaceHits    *uint64  `json:"keyspace_hits"`
						DBKeys          uint64   `json:"db_keys"`
						Unreported      []string `json:"unreported"`
					} `json:"server"`
				} `json:"redis"`
			}
			if err := json.Unmarshal([]byte(r.Body), &s); err != nil {
				t.Fatalf("%v: %s", err, r.Body)
			}
			rs := s.Redis
			if !rs.Available || rs.Error != "" || rs.Server == nil {
				t.Fatalf("redis: got available %v, error %q, server %v; want available with INFO figures", rs.Available, rs.Error, rs.Server)
			}
			if rs.Hits < 1 || rs.Server.DBKeys < 1 {
				t.Errorf("got client hits %d and DBSIZE %d, want both at least 1", rs.Hits, rs.Server.DBKeys)
			}
			unreported := strings.Join(rs.Server.Unreported, "; ")
			if tt.embedded {
				if !strings.Contains(unreported, "INFO memory") || rs.Server.UsedMemoryHuman != "" {
					t.Errorf("embedded: got unreported %q and used memory %q, want INFO memory listed as missing and no figure", unreported, rs.Server.UsedMemoryHuman)
				}
				if !strings.Contains(page.Body, "INFO memory") {
					t.Error("embedded: the page does not say which figures are missing")
				}
				return
			}
			if unreported != "" || rs.Server.UsedMemoryHuman == "" || rs.Server.KeyspaceHits == nil || *rs.Server.KeyspaceHits < 1 {
				t.Errorf("real Redis: got unreported %q, used memory %q, keyspace hits %v; want every figure", unreported, rs.Server.UsedMemoryHuman, rs.Server.KeyspaceHits)
			}
		})
	}
}

// TestStatsExplained checks that every figure on the page comes with a
// line saying what it means, that the Redis figures name the redis-cli
// command showing the same, and that the hit ratio is judged.
func TestStatsExplained(t *testing.T) {
	a := testapp.New(t)
	r := a.Get("/cache-stats")
	if r.Status != http.StatusOK {
		t.Fatalf("page: got %d, want 200", r.Status)
	}
	rows := strings.Count(r.Body, `<th scope="row">`)
	if help := strings.Count(r.Body, `<span class="stat-help"`); rows == 0 || help != rows {
		t.Errorf("got %d explanations for %d figures, want one each", help, rows)
	}
	opt := a.Redis.Client().(*redis.Client).Options()
	cli := "redis-cli -h " + strings.Replace(opt.Addr, ":", " -p ", 1)
	for _, want := range []string{
		"<code>" + cli + " INFO memory</code>",
		"<code>" + cli + " --scan --pattern '" + a.Redis.Prefix() + "*' | wc -l</code>",
		"<code>INFO stats</code> → <code>keyspace_hits</code>",
		"<code>INFO memory</code> → <code>mem_fragmentation_ratio</code>",
		"<code>DBSIZE</code>",
		// No lookups yet: no verdict can be drawn.
		`class="num ratio ratio-few" data-judge="memory"`,
	} {
		if !strings.Contains(r.Body, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if opt.Password != "" && strings.Contains(r.Body, opt.Password) {
		t.Error("the page shows the Redis password")
	}
}

// TestStatsRatioVerdict checks the hit ratio's verdict at and around its
// thresholds.
func TestStatsRatioVerdict(t *testing.T) {
	a := testapp.New(t)
	tests := []struct {
		hits, misses int
		want         string
	}{
		{0, 0, "few"},
		{1, 18, "few"},
		{16, 4, "good"},
		{15, 5, "fair"},
		{10, 10, "fair"},
		{9, 11, "poor"},
	}
	for _, tt := range tests {
		a.Memory.Clear(t.Context())
		for i := range tt.misses {
			a.Memory.Get(t.Context(), "verdict:"+strconv.Itoa(i))
		}
		a.Memory.Set(t.Context(), "verdict:hit", []byte("x"), 0)
		for range tt.hits {
			a.Memory.Get(t.Context(), "verdict:hit")
		}
		var s struct {
			Memory struct {
				Hits       int    `json:"hits"`
				Misses     int    `json:"misses"`
				RatioClass string `json:"ratio_class"`
			} `json:"memory"`
		}
		testapp.DecodeJSON(t, a.Get("/api/cache-stats"), &s)
		if s.Memory.Hits != tt.hits || s.Memory.Misses != tt.misses {
			t.Fatalf("counters: got %d hits %d misses, want %d and %d", s.Memory.Hits, s.Memory.Misses, tt.hits, tt.misses)
		}
		if s.Memory.RatioClass != tt.want {
			t.Errorf("%d hits, %d misses: got %v, want %v", tt.hits, tt.misses, s.Memory.RatioClass, tt.want)
		}
	}
}
