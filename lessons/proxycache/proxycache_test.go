package proxycache_test

import (
	"net/http"
	"strings"
	"testing"

	"cacheworkshop/internal/testapp"
)

func TestDemoHeaders(t *testing.T) {
	a := testapp.New(t)
	tests := []struct {
		kind, cacheControl, vary string
	}{
		{"public", "public, max-age=0, s-maxage=30", ""},
		{"private", "private, max-age=30", ""},
		{"no-store", "no-store", ""},
		{"vary", "public, max-age=0, s-maxage=30", "Accept-Language"},
		{"stale", "public, max-age=0, s-maxage=5, stale-while-revalidate=30, stale-if-error=600", ""},
	}
	for _, tc := range tests {
		r := a.Get("/proxy-cache/demo/" + tc.kind)
		if r.Status != http.StatusOK {
			t.Fatalf("%s: status %d", tc.kind, r.Status)
		}
		if got := r.Header.Get("Cache-Control"); got != tc.cacheControl {
			t.Errorf("%s: got Cache-Control %q, want %q", tc.kind, got, tc.cacheControl)
		}
		if got := r.Header.Get("Vary"); got != tc.vary {
			t.Errorf("%s: got Vary %q, want %q", tc.kind, got, tc.vary)
		}
		if got := r.Header.Get("X-Cache-Mode"); got != "" {
			t.Errorf("%s: got X-Cache-Mode %q: a response a proxy may share must not depend on the mode", tc.kind, got)
		}
		if r.Header.Get("Set-Cookie") != "" {
			t.Errorf("%s: sets a cookie", tc.kind)
		}
	}
}

func TestDemoLanguage(t *testing.T) {
	a := testapp.New(t)
	tests := []struct{ accept, want string }{
		{"fr-CH, fr;q=0.9, en;q=0.8", "Bonjour"},
		{"de", "Hallo"},
		{"es, en;q=0.5", "Hello"},
		{"", "Hello"},
	}
	for _, tc := range tests {
		r := a.Get("/proxy-cache/demo/vary", "Accept-Language", tc.accept)
		if !strings.Contains(r.Body, tc.want) {
			t.Errorf("Accept-Language %q: got no %q", tc.accept, tc.want)
		}
	}
}

func TestLessonPage(t *testing.T) {
	a := testapp.New(t)
	r := a.Get("/proxy-cache")
	if r.Status != http.StatusOK || !strings.Contains(r.Body, `data-proxied="false"`) {
		t.Fatalf("direct: status %d, want the no-proxy notice", r.Status)
	}
	if got := r.Header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("the lesson page itself: got Cache-Control %q, want no-store", got)
	}
	r = a.Get("/proxy-cache", "X-Proxy-Cache-Enabled", "nginx")
	if !strings.Contains(r.Body, `data-proxied="true"`) {
		t.Errorf("through the proxy: the page does not say so")
	}
}

func TestDemoBadInput(t *testing.T) {
	a := testapp.New(t)
	for _, p := range []string{"/proxy-cache/demo/everything", "/proxy-cache/demo/public?round=-1", "/proxy-cache/demo/public?round=x"} {
		r := a.Get(p)
		if r.Status != http.StatusNotFound && r.Status != http.StatusBadRequest {
			t.Errorf("%s: got %d, want 404 or 400", p, r.Status)
		}
	}
}
