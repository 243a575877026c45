package httpcache_test

import (
	"net/http"
	"strings"
	"testing"

	"cacheworkshop/internal/testapp"
)

// TestHTTPPagesNavigationAndCurl checks that each HTTP caching page links
// to the other two, marks itself current, and writes its curl command
// with the address the request was sent to, never a fixed one.
func TestHTTPPagesNavigationAndCurl(t *testing.T) {
	a := testapp.New(t)
	pages := []string{"/static-content", "/dynamic-content", "/conditional-content"}
	for _, path := range pages {
		t.Run(path, func(t *testing.T) {
			for _, host := range []string{"localhost:4321", "10.1.2.3:8000"} {
				req, err := http.NewRequest(http.MethodGet, a.TS.URL+path, nil)
				if err != nil {
					t.Fatal(err)
				}
				req.Host = host
				r := a.Do(req)
				if r.Status != http.StatusOK {
					t.Fatalf("Host %s: got %d, want 200", host, r.Status)
				}
				if want := `<code>curl -i <span class="curl-origin">http://` + host + `</span>` + path; !strings.Contains(r.Body, want) {
					t.Errorf("Host %s: page lacks %q", host, want)
				}
				if strings.Contains(r.Body, "8080") {
					t.Errorf("Host %s: the page names port 8080", host)
				}
				for _, other := range pages {
					link := `<a href="` + other + `"`
					if other == path {
						link += ` aria-current="page"`
					}
					if !strings.Contains(r.Body, link) {
						t.Errorf("sub-navigation lacks %q", link)
					}
				}
				for _, want := range []string{`id="reuse-note" role="status" hidden`, "httpcache.js"} {
					if !strings.Contains(r.Body, want) {
						t.Errorf("page lacks %q", want)
					}
				}
			}
		})
	}
}
