package handlers_test

import (
	"strings"
	"testing"

	"cacheworkshop/internal/testapp"
)

// TestBuildSeesOnlyItsKey pins the rule that a cacheable build gets only
// what its key is made of: whatever the first visitor's URL carried beyond
// the key must not reach the stored page that everyone else is served.
func TestBuildSeesOnlyItsKey(t *testing.T) {
	a := testapp.New(t)
	for _, mode := range []string{"memory", "redis"} {
		for _, tc := range []struct{ first, plain, leak string }{
			{"/products?page=2&cache=" + mode + "&utm_source=someone", "/products?page=2&cache=" + mode, "utm_source"},
			{"/products/7?cache=" + mode + "&ref=x1", "/products/7?cache=" + mode, "ref=x1"},
			{"/api/products/8?cache=" + mode + "&ref=x1", "/api/products/8?cache=" + mode, "ref=x1"},
		} {
			first := a.Get(tc.first)
			if first.Status != 200 || first.Header.Get("X-Cache") != "MISS" {
				t.Fatalf("%s: got %d %s, want a 200 MISS", tc.first, first.Status, first.Header.Get("X-Cache"))
			}
			hit := a.Get(tc.plain)
			if hit.Header.Get("X-Cache") != "HIT" {
				t.Fatalf("%s: X-Cache %q, want HIT (the first request's entry)", tc.plain, hit.Header.Get("X-Cache"))
			}
			if strings.Contains(hit.Body, tc.leak) {
				t.Errorf("%s: the HIT carries %q from the first visitor's URL", tc.plain, tc.leak)
			}
			if strings.Contains(first.Body, tc.leak) {
				t.Errorf("%s: the page itself echoes %q, which its key does not hold", tc.first, tc.leak)
			}
		}
		// The mode switch of the shared page links to the canonical URL.
		body := a.Get("/products?page=2&cache=" + mode).Body
		if !strings.Contains(body, `href="/products?cache=redis&amp;page=2"`) {
			t.Errorf("%s: mode switch does not link to the canonical page 2", mode)
		}
	}
}

// TestHugeParameterNotStored: a giant unknown parameter right after an
// edit (so the page is rebuilt for it) leaves a normal-sized entry.
func TestHugeParameterNotStored(t *testing.T) {
	a := testapp.New(t)
	normal := len(a.Get("/?cache=redis").Body)
	p := a.Product(3)
	if r := a.Post("/products/3/edit", testapp.EditForm(p, map[string]string{"stock": "9"})); r.Status != 303 {
		t.Fatalf("edit: got %d", r.Status)
	}
	huge := a.Get("/?cache=redis&x=" + strings.Repeat("y", 60_000))
	if huge.Header.Get("X-Cache") != "MISS" {
		t.Fatalf("after the edit: X-Cache %q, want MISS", huge.Header.Get("X-Cache"))
	}
	next := a.Get("/?cache=redis")
	if next.Header.Get("X-Cache") != "HIT" {
		t.Fatalf("plain home page: X-Cache %q, want HIT", next.Header.Get("X-Cache"))
	}
	if len(next.Body) > normal+2048 || strings.Contains(next.Body, "yyyyyyyy") {
		t.Errorf("home page from Redis: %d bytes (normally %d): the giant parameter was stored", len(next.Body), normal)
	}
}
