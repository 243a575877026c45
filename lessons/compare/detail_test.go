package compare_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"cacheworkshop/app"
	"cacheworkshop/internal/testapp"
)

// TestCompareDetailPage compares a product's detail page, the slow kind:
// fewer samples, each mode's outcomes as for the list, and links between
// the two kinds of comparison.
func TestCompareDetailPage(t *testing.T) {
	a := testapp.New(t, func(c *app.Config) { c.SlowQuery = 20 * time.Millisecond })
	r := a.Get("/products/compare?product=7")
	if r.Status != http.StatusOK {
		t.Fatalf("got %d, want 200: %.300s", r.Status, r.Body)
	}
	testapp.CheckTiming(t, r, "memory", "BYPASS")
	rows := compareRowRE.FindAllStringSubmatch(r.Body, -1)
	if got, want := len(rows), 4; got != want {
		t.Fatalf("mode rows: got %d, want %d", got, want)
	}
	for i, want := range []string{"none", "memory", "redis", "tiered"} {
		if rows[i][2] != want {
			t.Errorf("row %d: got mode %q, want %q", i, rows[i][2], want)
		}
		if n := len(strings.Fields(rows[i][5])); n != 10 {
			t.Errorf("%s samples: got %d, want 10", want, n)
		}
	}
	for _, want := range []string{"10 BYPASS", `href="/products/7"`, `data-url="/products/7"`,
		`href="/products/compare?product=6" rel="prev"`, `href="/products/compare?product=8" rel="next"`,
		`href="/products/compare?page=1">A list page`, `aria-current="page">A detail page`} {
		if !strings.Contains(r.Body, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if got := strings.Count(r.Body, "10 HIT"); got != 3 {
		t.Errorf("rows with 10 HITs: got %d, want 3 (memory, Redis and tiered)", got)
	}
	// The list's comparison links to the detail's.
	if l := a.Get("/products/compare?page=2"); !strings.Contains(l.Body, `href="/products/compare?product=1">A detail page`) {
		t.Error("the list comparison does not link to a detail comparison")
	}

	tests := []struct {
		query string
		want  int
	}{
		{"product=7&page=2", http.StatusBadRequest},
		{"product=0", http.StatusBadRequest},
		{"product=abc", http.StatusBadRequest},
		{"product=7&product=8", http.StatusBadRequest},
		{"product=1001", http.StatusNotFound},
	}
	for _, tt := range tests {
		if got := a.Get("/products/compare?" + tt.query).Status; got != tt.want {
			t.Errorf("?%s: got %d, want %d", tt.query, got, tt.want)
		}
	}
}
