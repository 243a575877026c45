package handlers_test

import (
	"context"
	"regexp"
	"testing"
	"time"

	"cacheworkshop/app"
	"cacheworkshop/internal/testapp"
)

var pageKey = regexp.MustCompile(`cache;desc="memory miss (page:detail:[^ "]+)`)

// TestPageNotOutlivingFragment: the detail page holds the catalogue
// sidebar, a fragment cached for one minute; with pages cached for five,
// the page entry must expire when the sidebar does, or the sidebar would
// be shown older than its own TTL.
func TestPageNotOutlivingFragment(t *testing.T) {
	a := testapp.New(t, func(c *app.Config) { c.TTL = 5 * time.Minute })
	r := a.Get("/products/9?cache=memory")
	m := pageKey.FindStringSubmatch(r.Header.Get("Server-Timing"))
	if m == nil {
		t.Fatalf("no page miss in Server-Timing %q", r.Header.Get("Server-Timing"))
	}
	left, found, err := a.Memory.TTL(context.Background(), m[1])
	if err != nil || !found {
		t.Fatalf("page entry %s: found %v, %v", m[1], found, err)
	}
	if left > time.Minute || left < 50*time.Second {
		t.Errorf("page entry TTL: got %v, want at most the sidebar's 1 min", left)
	}
	// A product page built later, around the same sidebar copy, expires
	// with it too, not a minute after its own build.
	time.Sleep(1100 * time.Millisecond)
	r = a.Get("/products/10?cache=memory")
	m = pageKey.FindStringSubmatch(r.Header.Get("Server-Timing"))
	if m == nil {
		t.Fatal("no page miss for product 10")
	}
	left2, _, _ := a.Memory.TTL(context.Background(), m[1])
	if left2 > left-time.Second {
		t.Errorf("second page TTL %v: want it to end with the sidebar copy it holds (%v earlier at most)", left2, left)
	}
}
