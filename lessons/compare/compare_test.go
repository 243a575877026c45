package compare_test

import (
	"net/http"
	"regexp"
	"strings"
	"testing"

	"cacheworkshop/internal/testapp"
)

var compareRowRE = regexp.MustCompile(`<tr class="mode-row( fastest)?" data-mode="(\w+)" data-label="[^"]*" data-median="([0-9.]+)" data-p95="([0-9.]+)" data-samples="([0-9. ]+)">`)

func TestComparePage(t *testing.T) {
	a := testapp.New(t)
	r := a.Get("/products/compare?page=2")
	if r.Status != http.StatusOK {
		t.Fatalf("got %d, want 200: %.300s", r.Status, r.Body)
	}
	// A measurement is never served from a cache, whatever the mode.
	testapp.CheckTiming(t, r, "memory", "BYPASS")
	if got, want := r.Header.Get("Cache-Control"), "no-store"; got != want {
		t.Errorf("Cache-Control: got %q, want %q", got, want)
	}
	// The measuring requests must not change the learner's mode cookie.
	if sc := r.Header.Values("Set-Cookie"); len(sc) != 0 {
		t.Errorf("Set-Cookie: got %q, want none", sc)
	}
	rows := compareRowRE.FindAllStringSubmatch(r.Body, -1)
	if got, want := len(rows), 4; got != want {
		t.Fatalf("mode rows: got %d, want %d", got, want)
	}
	fastest := 0
	for i, want := range []string{"none", "memory", "redis", "tiered"} {
		row := rows[i]
		if row[2] != want {
			t.Errorf("row %d: got mode %q, want %q", i, row[2], want)
		}
		if row[1] != "" {
			fastest++
		}
		if n := len(strings.Fields(row[5])); n != 40 {
			t.Errorf("%s samples: got %d, want 40", want, n)
		}
	}
	if fastest != 1 {
		t.Errorf("fastest rows: got %d, want 1", fastest)
	}
	for _, want := range []string{"40 BYPASS", "40 HIT", `href="/products/compare?page=1" rel="prev"`,
		`href="/products/compare?page=3" rel="next"`, `href="/products?page=2"`, "Run in your browser",
		`<progress id="run-progress"`, "compare.js", "chart-4.6.1.umd.min.js", "<h2>Try this</h2>",
		"per instance", "survives restarts", "network hop"} {
		if !strings.Contains(r.Body, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if got := strings.Count(r.Body, "40 HIT"); got != 3 {
		t.Errorf("rows with 40 HITs: got %d, want 3 (memory, Redis and tiered)", got)
	}
	if strings.Contains(r.Body, "not every sample was a HIT") {
		t.Error("page reports missed samples with Redis up")
	}
}

func TestComparePageEdges(t *testing.T) {
	a := testapp.New(t)
	first := a.Get("/products/compare")
	if first.Status != http.StatusOK || !strings.Contains(first.Body, `<span class="disabled">← Previous</span>`) {
		t.Errorf("page 1: got %d, want 200 without a previous link", first.Status)
	}
	last := a.Get("/products/compare?page=50")
	if last.Status != http.StatusOK || !strings.Contains(last.Body, `<span class="disabled">Next →</span>`) {
		t.Errorf("page 50: got %d, want 200 without a next link", last.Status)
	}
	cases := []struct{ query, want string }{
		{"page=0", "page must be a whole number from 1"},
		{"page=abc", "page must be a whole number from 1"},
		{"page=51", "page must be from 1 to 50"},
		{"page=1&page=2", "several different values"},
		{"page=5&page=500", "several different values"},
		{"cache=bogus", "unknown cache mode"},
		// Digits only: no sign, space, exponent or base prefix.
		{"page=%2B5", "page must be a whole number from 1"},
		{"page=+5", "page must be a whole number from 1"},
		{"page=-5", "page must be a whole number from 1"},
		{"page=%205", "page must be a whole number from 1"},
		{"page=5%20", "page must be a whole number from 1"},
		{"page=5e2", "page must be a whole number from 1"},
		{"page=0x5", "page must be a whole number from 1"},
		{"page=5.0", "page must be a whole number from 1"},
		{"page=", "page must be a whole number from 1"},
	}
	for _, c := range cases {
		t.Run(c.query, func(t *testing.T) {
			r := a.Get("/products/compare?" + c.query)
			if r.Status != http.StatusBadRequest {
				t.Fatalf("got %d, want 400", r.Status)
			}
			if !strings.Contains(r.Body, c.want) {
				t.Errorf("body lacks %q", c.want)
			}
		})
	}
}

func TestComparePageRedisDown(t *testing.T) {
	a := testapp.New(t)
	a.RedisServer.Stop()
	r := a.Get("/products/compare?cache=redis")
	if r.Status != http.StatusOK {
		t.Fatalf("got %d, want 200", r.Status)
	}
	rows := compareRowRE.FindAllStringSubmatch(r.Body, -1)
	if len(rows) != 4 {
		t.Fatalf("mode rows: got %d, want 4", len(rows))
	}
	// Without Redis the Redis samples are served from the database, and
	// the page says so instead of passing them off as cache hits.
	if !strings.Contains(r.Body, "not every sample was a HIT</strong>: is Redis down?") {
		t.Error("page does not flag the Redis samples")
	}
	if got, want := len(strings.Fields(rows[2][5])), 5; got != want {
		t.Errorf("redis samples with Redis down: got %d, want %d", got, want)
	}
	if !strings.Contains(r.Body, "only 5 samples were taken") {
		t.Error("page does not say why Redis has fewer samples")
	}
	// Tiered mode stores nothing while Redis is down (an entry goes in
	// front only once Redis holds it), so memory alone hits.
	if strings.Count(r.Body, "40 HIT") != 1 {
		t.Errorf("rows with 40 HITs: got %d, want 1 (memory only)", strings.Count(r.Body, "40 HIT"))
	}
}
