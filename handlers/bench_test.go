package handlers_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"cacheworkshop/app"
	"cacheworkshop/handlers"
	"cacheworkshop/internal/testapp"
)

// newBenchServer is newApp's server (own SQLite file, own real
// redis-server, SLOW_QUERY_MS=0), for benchmarks.
func newBenchServer(b *testing.B) *handlers.Server {
	b.Helper()
	return testapp.New(b, func(c *app.Config) { c.TTL = 5 * time.Minute }).Server
}

// benchWriter is a ResponseWriter that counts the body instead of keeping
// it, so the benchmark measures the handler and not a recorder's buffer.
type benchWriter struct {
	h      http.Header
	status int
	n      int
}

func newBenchWriter() *benchWriter { return &benchWriter{h: make(http.Header)} }

func (w *benchWriter) Header() http.Header { return w.h }

func (w *benchWriter) WriteHeader(s int) {
	if w.status == 0 {
		w.status = s
	}
}

func (w *benchWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	w.n += len(p)
	return len(p), nil
}

func (w *benchWriter) reset() {
	clear(w.h)
	w.status, w.n = 0, 0
}

// benchModes are the list page's modes and the X-Cache each must answer
// with once warm.
var benchModes = []struct{ mode, xcache string }{
	{"none", "BYPASS"},
	{"memory", "HIT"},
	{"redis", "HIT"},
}

// pageRequest is a GET as a browser sends it after the learner picked a
// mode: the mode rides in the cookie.
func pageRequest(path, mode string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, path, nil)
	r.Header.Set("Cookie", "cache_mode="+mode)
	return r
}

// serveChecked serves r once and fails unless it is a 200 with the wanted
// X-Cache.
func serveChecked(b *testing.B, srv http.Handler, w *benchWriter, r *http.Request, xcache string) {
	w.reset()
	srv.ServeHTTP(w, r)
	if w.status != http.StatusOK || w.h.Get("X-Cache") != xcache {
		b.Fatalf("GET %s: got status %d X-Cache %q, want 200 %q", r.URL, w.status, w.h.Get("X-Cache"), xcache)
	}
}

// BenchmarkListPage serves the first list page through the real handler
// (middleware, router, cache, writer) in each mode, without a network.
func BenchmarkListPage(b *testing.B) {
	srv := newBenchServer(b)
	for _, m := range benchModes {
		b.Run(m.mode, func(b *testing.B) {
			r := pageRequest("/products?page=1", m.mode)
			w := newBenchWriter()
			srv.ServeHTTP(w, r) // fills the cache in the cached modes
			serveChecked(b, srv, w, r, m.xcache)
			b.SetBytes(int64(w.n))
			b.ReportAllocs()
			for b.Loop() {
				serveChecked(b, srv, w, r, m.xcache)
			}
		})
	}
}

// BenchmarkListPageParallel is BenchmarkListPage from every P at once, as
// concurrent visitors load it.
func BenchmarkListPageParallel(b *testing.B) {
	srv := newBenchServer(b)
	for _, m := range benchModes {
		b.Run(m.mode, func(b *testing.B) {
			warm := newBenchWriter()
			srv.ServeHTTP(warm, pageRequest("/products?page=1", m.mode))
			serveChecked(b, srv, warm, pageRequest("/products?page=1", m.mode), m.xcache)
			b.SetBytes(int64(warm.n))
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				r := pageRequest("/products?page=1", m.mode)
				w := newBenchWriter()
				for pb.Next() {
					w.reset()
					srv.ServeHTTP(w, r)
					if w.status != http.StatusOK || w.h.Get("X-Cache") != m.xcache {
						b.Errorf("GET %s: got status %d X-Cache %q, want 200 %q", r.URL, w.status, w.h.Get("X-Cache"), m.xcache)
						return
					}
				}
			})
		})
	}
}

// BenchmarkDetailPage serves one product page in each mode.
func BenchmarkDetailPage(b *testing.B) {
	srv := newBenchServer(b)
	for _, m := range benchModes {
		b.Run(m.mode, func(b *testing.B) {
			r := pageRequest("/products/42", m.mode)
			w := newBenchWriter()
			srv.ServeHTTP(w, r)
			serveChecked(b, srv, w, r, m.xcache)
			b.SetBytes(int64(w.n))
			b.ReportAllocs()
			for b.Loop() {
				serveChecked(b, srv, w, r, m.xcache)
			}
		})
	}
}
