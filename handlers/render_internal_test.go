package handlers

import (
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"

	"cacheworkshop/cache"
)

func TestPager(t *testing.T) {
	tests := []struct {
		page, last, perPage int
		want                string // page numbers, * current, … a gap
	}{
		{1, 1, 20, "1*"},
		{1, 50, 20, "1* 2 3 …50"},
		{25, 50, 20, "1 …23 24 25* 26 27 …50"},
		{50, 50, 20, "1 …48 49 50*"},
		{2, 3, 20, "1 2* 3"},
	}
	for _, tt := range tests {
		var got []string
		for _, l := range pager("/products", tt.page, tt.last, tt.perPage) {
			s := fmt.Sprint(l.N)
			if l.Gap {
				s = "…" + s
			}
			if l.Current {
				s += "*"
			}
			got = append(got, s)
			if want := pageURL("/products", l.N, tt.perPage); l.URL != want {
				t.Errorf("pager(%d, %d): link %d: got URL %q, want %q", tt.page, tt.last, l.N, l.URL, want)
			}
		}
		if g := strings.Join(got, " "); g != tt.want {
			t.Errorf("pager(%d, %d, %d): got %s, want %s", tt.page, tt.last, tt.perPage, g, tt.want)
		}
	}
	if got, want := pager("/products", 1, 2, 50)[1].URL, "/products?page=2&per_page=50"; got != want {
		t.Errorf("pager with per_page: got %q, want %q", got, want)
	}
	if got, want := pager("/categories/books", 1, 2, 20)[1].URL, "/categories/books?page=2"; got != want {
		t.Errorf("pager of a category: got %q, want %q", got, want)
	}
}

// TestModeLinks checks the mode switch of a page rendered for one request
// (forms, labs): every mode, the current one marked, the request's own
// query kept without cache=, and never a URL a browser reads as another
// host. Cached pages build the same links from their canonical request.
func TestModeLinks(t *testing.T) {
	s := &Server{cfg: Config{RedisLabel: "Redis (embedded)"}}
	tests := []struct {
		target string
		mode   cache.Mode
		want   map[string]string // mode → URL
	}{
		{"/products?page=2&cache=redis", cache.ModeRedis, map[string]string{
			"none": "/products?cache=none&page=2", "redis": "/products?cache=redis&page=2"}},
		{"/", cache.ModeMemory, map[string]string{"memory": "/?cache=memory"}},
		{`/no/such/"><script>`, cache.ModeNone, map[string]string{"none": "/no/such/%22%3E%3Cscript%3E?cache=none"}},
		{"//evil.example/x", cache.ModeNone, map[string]string{"none": "/.//evil.example/x?cache=none"}},
		{"/weather?q=%3Cx%3E", cache.ModeNone, map[string]string{"none": "/weather?cache=none&q=%3Cx%3E"}},
	}
	for _, tt := range tests {
		r := httptest.NewRequest("GET", "http://example.com"+tt.target, nil)
		r = r.WithContext(cache.WithMode(r.Context(), tt.mode))
		d := s.layout(liveRequest(r, "x"), "T", "", nil, nil)
		if len(d.Modes) != len(cache.Modes) {
			t.Fatalf("layout(%s): got %d mode links, want %d", tt.target, len(d.Modes), len(cache.Modes))
		}
		current := 0
		for _, l := range d.Modes {
			if l.Current {
				current++
				if l.Mode != tt.mode.String() {
					t.Errorf("layout(%s): got %s marked current, want %s", tt.target, l.Mode, tt.mode)
				}
			}
			if want, ok := tt.want[l.Mode]; ok && l.URL != want {
				t.Errorf("layout(%s): %s link: got %q, want %q", tt.target, l.Mode, l.URL, want)
			}
			if strings.HasPrefix(l.URL, "//") || strings.Count(l.URL, "cache=") != 1 {
				t.Errorf("layout(%s): %s link %q", tt.target, l.Mode, l.URL)
			}
			if l.Mode == "redis" && l.Label != "Redis (embedded)" {
				t.Errorf("layout(%s): redis label: got %q, want the embedded label", tt.target, l.Label)
			}
		}
		if current != 1 {
			t.Errorf("layout(%s): got %d current links, want 1", tt.target, current)
		}
	}
}
