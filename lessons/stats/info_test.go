package stats_test

import (
	"encoding/json"
	"net/http"
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
