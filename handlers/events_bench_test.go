package handlers_test

import (
	"testing"
)

// BenchmarkLearnerHit is a memory HIT of the list page for an anonymous
// visitor and for a learner, whose request is then summarised into the
// exercises' log: the difference is what recording costs a request.
func BenchmarkLearnerHit(b *testing.B) {
	srv := newBenchServer(b)
	for _, who := range []struct{ name, cookie string }{
		{"anonymous", "cache_mode=memory"},
		{"learner", "cache_mode=memory; learner=kOVhaCLeMcgT7TsJWGATwg"},
	} {
		b.Run(who.name, func(b *testing.B) {
			r := pageRequest("/products?page=1", "memory")
			r.Header.Set("Cookie", who.cookie)
			w := newBenchWriter()
			srv.ServeHTTP(w, r)
			serveChecked(b, srv, w, r, "HIT")
			b.ReportAllocs()
			for b.Loop() {
				serveChecked(b, srv, w, r, "HIT")
			}
		})
	}
}
