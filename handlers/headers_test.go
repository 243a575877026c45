package handlers_test

import (
	"cacheworkshop/internal/testapp"
	"slices"
	"strings"
	"testing"
)

// TestHitHeaders pins the headers of a cached page: every one of them is
// work on each hit, so a new one should be a deliberate choice. The
// security policy must still forbid framing and inline script.
func TestHitHeaders(t *testing.T) {
	a := testapp.New(t)
	for _, path := range []string{"/products?page=2", "/products/7", "/api/products/7"} {
		for _, mode := range []string{"memory", "redis"} {
			a.Get(path, "Cookie", "cache_mode="+mode)
			r := a.Get(path, "Cookie", "cache_mode="+mode)
			if r.Status != 200 || r.Header.Get("X-Cache") != "HIT" {
				t.Fatalf("GET %s (%s) twice: got %d X-Cache %q, want 200 HIT", path, mode, r.Status, r.Header.Get("X-Cache"))
			}
			var got []string
			for k := range r.Header {
				if k != "Date" && k != "Etag" && k != "Last-Modified" {
					got = append(got, k)
				}
			}
			slices.Sort(got)
			want := []string{"Cache-Control", "Content-Length", "Content-Security-Policy", "Content-Type",
				"Server-Timing", "X-Cache", "X-Cache-Mode", "X-Content-Type-Options", "X-Instance"}
			if !slices.Equal(got, want) {
				t.Errorf("GET %s (%s): got headers %v, want %v (plus Date, ETag, Last-Modified)", path, mode, got, want)
			}
			csp := r.Header.Get("Content-Security-Policy")
			for _, d := range []string{"frame-ancestors 'none'", "script-src 'self'", "object-src 'none'"} {
				if !strings.Contains(csp, d) {
					t.Errorf("GET %s: got CSP %q, want it to contain %q", path, csp, d)
				}
			}
			if got := r.Header.Get("X-Content-Type-Options"); got != "nosniff" {
				t.Errorf("GET %s: got X-Content-Type-Options %q, want nosniff", path, got)
			}
			if strings.HasPrefix(r.Header.Get("Content-Type"), "text/html") &&
				!strings.Contains(r.Body, `<meta name="referrer" content="same-origin">`) {
				t.Errorf("GET %s: the page sets no referrer policy", path)
			}
		}
	}
}
