package metrics_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/go-chi/chi/v5"

	"cacheworkshop/cache"
	"cacheworkshop/metrics"
	"cacheworkshop/trace"
)

// BenchmarkObserve is what observing costs a request on top of its
// handler: a detail page's usual four lookups counted, and its duration
// recorded under its route. Compare a memory hit's server time (the
// request bar shows it) with this figure.
func BenchmarkObserve(b *testing.B) {
	for _, observed := range []bool{false, true} {
		name := "bare"
		if observed {
			name = "observed"
		}
		b.Run(name, func(b *testing.B) {
			h := http.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				tr := trace.From(r.Context())
				for _, layer := range []string{"page", "frag", "frag", "data"} {
					tr.Cache(trace.Lookup{Layer: layer, Backend: "memory", Key: "k", Outcome: trace.Hit})
				}
				w.WriteHeader(http.StatusOK)
			}))
			if observed {
				h = metrics.New().Observe(h)
			}
			r := chi.NewRouter()
			r.Use(func(next http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
					ctx := cache.WithMode(trace.NewContext(req.Context(), trace.New()), cache.ModeMemory)
					next.ServeHTTP(w, req.WithContext(ctx))
				})
			})
			r.Method(http.MethodGet, "/products/{id}", h)
			req := httptest.NewRequest(http.MethodGet, "/products/7", nil)
			w := httptest.NewRecorder()
			b.ReportAllocs()
			for b.Loop() {
				r.ServeHTTP(w, req)
			}
		})
	}
}
