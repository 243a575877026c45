package handlers_test

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"strings"
	"testing"
	"time"

	"cacheworkshop/internal/testapp"
)

// TestCookieResponsesArePrivate: a response that sets a cookie is never
// marked public, whatever the page asked for, so no shared cache hands the
// cookie to someone else; the browser's own freshness is kept.
func TestCookieResponsesArePrivate(t *testing.T) {
	a := testapp.New(t)
	for _, tc := range []struct {
		name, path string
		header     []string
		cookie     bool   // whether the response sets a cookie
		want       string // Cache-Control
	}{
		{"public page setting the mode cookie", "/static-content?cache=redis", nil, true, "private, max-age=3600"},
		{"public page, cookie already set", "/static-content?cache=redis", []string{"Cookie", "cache_mode=redis"}, false, "public, max-age=3600"},
		{"public page without ?cache=", "/static-content", nil, false, "public, max-age=3600"},
		{"no-store page setting the mode cookie", "/products?cache=none", nil, true, "no-store"},
		{"revalidated page setting the mode cookie", "/dynamic-content?cache=none", nil, true, "private, no-cache, must-revalidate"},
	} {
		r := a.Get(tc.path, tc.header...)
		if r.Status != http.StatusOK {
			t.Fatalf("%s: GET %s: got %d, want 200", tc.name, tc.path, r.Status)
		}
		if got := len(r.Header.Values("Set-Cookie")) > 0; got != tc.cookie {
			t.Errorf("%s: sets a cookie: got %v, want %v", tc.name, got, tc.cookie)
		}
		if got := r.Header.Get("Cache-Control"); got != tc.want {
			t.Errorf("%s: Cache-Control: got %q, want %q", tc.name, got, tc.want)
		}
	}
}

// TestCrossOriginRefusalHeaders: the cross-origin 403 is answered outside
// the router, and still carries the headers of every other page.
func TestCrossOriginRefusalHeaders(t *testing.T) {
	a := testapp.New(t)
	home := a.Get("/")
	r := a.Post("/products/1/edit", testapp.EditForm(a.Product(1), nil), "Sec-Fetch-Site", "cross-site")
	if r.Status != http.StatusForbidden {
		t.Fatalf("cross-site edit: got %d, want 403", r.Status)
	}
	for _, h := range []string{"Content-Security-Policy", "X-Content-Type-Options"} {
		if got, want := r.Header.Get(h), home.Header.Get(h); got != want || want == "" {
			t.Errorf("403 %s: got %q, want %q as on the home page", h, got, want)
		}
	}
	if got := r.Header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("403 Cache-Control: got %q, want no-store", got)
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") || !strings.Contains(r.Body, "Cross-site form submissions are refused") {
		t.Errorf("403: got %q %.200q, want the HTML refusal", ct, r.Body)
	}
}

// TestHeadKeepsFlash: a HEAD request (a link checker, a prefetch) shows no
// page, so it must not use up the "saved" message meant for the editor's
// next page.
func TestHeadKeepsFlash(t *testing.T) {
	a := testapp.New(t)
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	cl := &http.Client{Jar: jar, Timeout: 20 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	send := func(method, path string, body io.Reader) (*http.Response, string) {
		t.Helper()
		req, err := http.NewRequest(method, a.TS.URL+path, body)
		if err != nil {
			t.Fatal(err)
		}
		if body != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		res, err := cl.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		if err != nil {
			t.Fatal(err)
		}
		return res, string(b)
	}
	form := testapp.EditForm(a.Product(5), map[string]string{"stock": "55"})
	res, _ := send(http.MethodPost, "/products/5/edit", strings.NewReader(form.Encode()))
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/products/5" {
		t.Fatalf("edit: got %d to %q, want 303 to /products/5", res.StatusCode, res.Header.Get("Location"))
	}
	res, _ = send(http.MethodHead, "/products/5", nil)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("HEAD /products/5: got %d, want 200", res.StatusCode)
	}
	for _, c := range res.Header.Values("Set-Cookie") {
		if strings.HasPrefix(c, "flash=") {
			t.Errorf("HEAD /products/5 sets %q, want the flash cookie left alone", c)
		}
	}
	if _, body := send(http.MethodGet, "/products/5", nil); !strings.Contains(body, "Saved") {
		t.Error("GET after HEAD: the saved message is gone, want it shown once")
	}
	if _, body := send(http.MethodGet, "/products/5", nil); strings.Contains(body, "Saved") {
		t.Error("second GET: the saved message is shown again, want it used up")
	}
}
