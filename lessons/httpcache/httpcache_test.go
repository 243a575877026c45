package httpcache_test

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"cacheworkshop/internal/testapp"
)

func TestStaticContentHeaders(t *testing.T) {
	a := testapp.New(t)
	for _, mode := range []string{"none", "memory", "redis"} {
		t.Run(mode, func(t *testing.T) {
			// The response that sets the mode cookie is the visitor's own,
			// so it may not be stored by a shared cache; once the cookie
			// is set, the page is public.
			first := a.Get("/static-content?cache=" + mode)
			if got, want := first.Header.Get("Cache-Control"), "private, max-age=3600"; got != want || first.Header.Get("Set-Cookie") == "" {
				t.Errorf("with ?cache= (Set-Cookie %q): Cache-Control got %q, want %q", first.Header.Get("Set-Cookie"), got, want)
			}
			r := a.Get("/static-content", "Cookie", "cache_mode="+mode)
			if r.Status != http.StatusOK {
				t.Fatalf("got %d, want 200", r.Status)
			}
			testapp.CheckTiming(t, r, mode, "BYPASS")
			if got, want := r.Header.Get("Cache-Control"), "public, max-age=3600"; got != want || r.Header.Get("Set-Cookie") != "" {
				t.Errorf("Cache-Control: got %q, want %q with no Set-Cookie", got, want)
			}
			exp, err := http.ParseTime(r.Header.Get("Expires"))
			if err != nil {
				t.Fatalf("Expires %q: %v", r.Header.Get("Expires"), err)
			}
			date, err := http.ParseTime(r.Header.Get("Date"))
			if err != nil {
				t.Fatalf("Date %q: %v", r.Header.Get("Date"), err)
			}
			// Both headers are whole seconds taken a moment apart.
			if d := exp.Sub(date); d < time.Hour-2*time.Second || d > time.Hour+2*time.Second {
				t.Errorf("Expires - Date: got %v, want 1h", d)
			}
			for _, want := range []string{"<h2>Try this</h2>", "DevTools", "max-age=3600", `data-outcome="BYPASS"`} {
				if !strings.Contains(r.Body, want) {
					t.Errorf("page lacks %q", want)
				}
			}
		})
	}
}

func TestDynamicContentRevalidates(t *testing.T) {
	a := testapp.New(t)
	r := a.Get("/dynamic-content")
	if r.Status != http.StatusOK {
		t.Fatalf("got %d, want 200", r.Status)
	}
	testapp.CheckTiming(t, r, "memory", "BYPASS")
	if got, want := r.Header.Get("Cache-Control"), "no-cache, must-revalidate"; got != want {
		t.Errorf("Cache-Control: got %q, want %q", got, want)
	}
	lm := r.Header.Get("Last-Modified")
	lmt, err := http.ParseTime(lm)
	if err != nil {
		t.Fatalf("Last-Modified %q: %v", lm, err)
	}
	if !strings.Contains(r.Body, "<h2>Try this</h2>") {
		t.Error("page lacks the Try this box")
	}

	cases := []struct {
		name, ims string
		status    int
	}{
		{"same date", lm, http.StatusNotModified},
		{"later date", lmt.Add(time.Hour).Format(http.TimeFormat), http.StatusNotModified},
		{"older date", lmt.Add(-time.Second).Format(http.TimeFormat), http.StatusOK},
		{"unparseable", "yesterday", http.StatusOK},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := a.Get("/dynamic-content", "If-Modified-Since", c.ims)
			if r.Status != c.status {
				t.Fatalf("got %d, want %d", r.Status, c.status)
			}
			if c.status == http.StatusNotModified {
				if r.Body != "" {
					t.Errorf("304 body: got %d bytes, want none", len(r.Body))
				}
				testapp.CheckTiming(t, r, "memory", "BYPASS")
			}
		})
	}

	// An edit moves Last-Modified, so the browser's date no longer matches.
	time.Sleep(1100 * time.Millisecond) // HTTP dates have whole seconds
	p := a.Product(9)
	if e := a.Post("/products/9/edit", testapp.EditForm(p, map[string]string{"stock": "3"})); e.Status != http.StatusSeeOther {
		t.Fatalf("edit: got %d, want 303", e.Status)
	}
	after := a.Get("/dynamic-content", "If-Modified-Since", lm)
	if after.Status != http.StatusOK {
		t.Fatalf("after edit: got %d, want 200", after.Status)
	}
	if got := after.Header.Get("Last-Modified"); got == lm {
		t.Errorf("Last-Modified after edit: got %q, want a later date", got)
	}
	if !strings.Contains(after.Body, "/products/9\"") {
		t.Error("the edited product is not among the latest edits")
	}
}

func TestConditionalContentETag(t *testing.T) {
	a := testapp.New(t)
	for _, mode := range []string{"none", "memory", "redis"} {
		t.Run(mode, func(t *testing.T) {
			path := "/conditional-content?cache=" + mode
			r := a.Get(path)
			if r.Status != http.StatusOK {
				t.Fatalf("got %d, want 200", r.Status)
			}
			testapp.CheckTiming(t, r, mode, "BYPASS")
			etag := r.Header.Get("ETag")
			if etag == "" {
				t.Fatal("no ETag")
			}
			if !strings.Contains(r.Body, "<h2>Try this</h2>") {
				t.Error("page lacks the Try this box")
			}
			for _, inm := range []string{etag, strings.TrimPrefix(etag, "W/"), `"other", ` + etag, "*"} {
				nm := a.Get(path, "If-None-Match", inm)
				if nm.Status != http.StatusNotModified || nm.Body != "" {
					t.Errorf("If-None-Match %s: got %d with %d bytes, want 304 with none", inm, nm.Status, len(nm.Body))
				}
				if got := nm.Header.Get("ETag"); got != etag {
					t.Errorf("304 ETag: got %q, want %q", got, etag)
				}
			}
			if other := a.Get(path, "If-None-Match", `"something-else"`); other.Status != http.StatusOK {
				t.Errorf("non-matching If-None-Match: got %d, want 200", other.Status)
			}
		})
	}
	// Editing a product changes what the page shows, so its ETag.
	before := a.Get("/conditional-content?cache=memory").Header.Get("ETag")
	p := a.Product(12)
	if e := a.Post("/products/12/edit", testapp.EditForm(p, map[string]string{"price": "1.23"})); e.Status != http.StatusSeeOther {
		t.Fatalf("edit: got %d, want 303", e.Status)
	}
	after := a.Get("/conditional-content?cache=memory", "If-None-Match", before)
	if after.Status != http.StatusOK {
		t.Fatalf("after edit: got %d, want 200", after.Status)
	}
	if got := after.Header.Get("ETag"); got == before {
		t.Errorf("ETag after edit: got %q, want a new one", got)
	}
}

// TestDetailConditional checks the product page's ETag/304 in every mode,
// and that an edit changes the ETag.
func TestDetailConditional(t *testing.T) {
	a := testapp.New(t)
	for i, mode := range []string{"none", "memory", "redis"} {
		t.Run(mode, func(t *testing.T) {
			id := int64(31 + i)
			path := "/products/" + itoa(id) + "?cache=" + mode
			r := a.Get(path)
			// The ETag is a digest of the body, which shows category
			// figures too; no single updated_at dates it, so there is no
			// Last-Modified.
			etag, lm := r.Header.Get("ETag"), r.Header.Get("Last-Modified")
			if etag == "" || lm != "" {
				t.Fatalf("validators: got ETag %q Last-Modified %q, want an ETag only", etag, lm)
			}
			p := a.Product(id)
			nm := a.Get(path, "If-None-Match", etag)
			if nm.Status != http.StatusNotModified || nm.Body != "" {
				t.Fatalf("If-None-Match: got %d with %d bytes, want 304 with none", nm.Status, len(nm.Body))
			}
			testapp.CheckTiming(t, nm, mode, testapp.WantOutcome(mode, true))
			if e := a.Post("/products/"+itoa(id)+"/edit", testapp.EditForm(p, map[string]string{"stock": "77"})); e.Status != http.StatusSeeOther {
				t.Fatalf("edit: got %d, want 303", e.Status)
			}
			after := a.Get(path, "If-None-Match", etag)
			if after.Status != http.StatusOK {
				t.Fatalf("after edit: got %d, want 200", after.Status)
			}
			if got := after.Header.Get("ETag"); got == etag || got == "" {
				t.Errorf("ETag after edit: got %q, want a new one (was %q)", got, etag)
			}
		})
	}
}

// TestStaticAssetsFingerprinted checks the pages link static files by
// content hash, serve them immutable, and gzip them on request.
func TestStaticAssetsFingerprinted(t *testing.T) {
	a := testapp.New(t)
	page := a.Get("/products/compare").Body + a.Get("/cache-stats").Body
	re := regexp.MustCompile(`/static/([0-9a-f]{12})/([a-z0-9./-]+\.(?:css|js))`)
	found := map[string]string{}
	for _, m := range re.FindAllStringSubmatch(page, -1) {
		found[m[2]] = m[0]
	}
	for _, name := range []string{"style.css", "demos2.css", "compare.js", "stats.js", "vendor/chartjs/chart-4.6.1.umd.min.js"} {
		t.Run(name, func(t *testing.T) {
			url, ok := found[name]
			if !ok {
				t.Fatalf("no fingerprinted link to %s in the pages", name)
			}
			plain := a.Get(url, "Accept-Encoding", "identity")
			if plain.Status != http.StatusOK {
				t.Fatalf("got %d, want 200", plain.Status)
			}
			if got, want := plain.Header.Get("Cache-Control"), "public, max-age=31536000, immutable"; got != want {
				t.Errorf("Cache-Control: got %q, want %q", got, want)
			}
			if got := plain.Header.Get("Content-Encoding"); got != "" {
				t.Errorf("identity Content-Encoding: got %q, want none", got)
			}
			gz := a.Get(url, "Accept-Encoding", "gzip, deflate, br")
			if got, want := gz.Header.Get("Content-Encoding"), "gzip"; got != want {
				t.Fatalf("Content-Encoding: got %q, want %q", got, want)
			}
			if got, want := gz.Header.Get("Vary"), "Accept-Encoding"; got != want {
				t.Errorf("Vary: got %q, want %q", got, want)
			}
			zr, err := gzip.NewReader(strings.NewReader(gz.Body))
			if err != nil {
				t.Fatal(err)
			}
			body, err := io.ReadAll(zr)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(body, []byte(plain.Body)) || len(gz.Body) >= len(plain.Body) {
				t.Errorf("gzip: got %d bytes unpacking to %d, want fewer than %d unpacking to the same file", len(gz.Body), len(body), len(plain.Body))
			}
			etag := plain.Header.Get("ETag")
			if nm := a.Get(url, "If-None-Match", etag); nm.Status != http.StatusNotModified {
				t.Errorf("If-None-Match: got %d, want 304", nm.Status)
			}
			// An old fingerprint is sent to the current URL, never cached.
			stale := a.Get("/static/000000000000/" + name)
			if stale.Status != http.StatusFound || stale.Header.Get("Location") != url {
				t.Errorf("stale hash: got %d to %q, want 302 to %q", stale.Status, stale.Header.Get("Location"), url)
			}
		})
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
