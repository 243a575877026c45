package handlers

import (
	"net/http"
	"sync/atomic"

	"cacheworkshop/cache"
)

// This file names the instance that served each response, and counts its
// responses by mode and outcome for /instances: with several processes
// behind one proxy, a learner can only see that each has its own memory
// cache if every response says where it came from.

// Counts are one instance's responses since it started, per mode.
type Counts struct {
	// Requests are responses served in the mode; Hits and Misses those
	// whose page lookup said HIT or MISS (X-Cache).
	Requests, Hits, Misses int64
}

// HitRatio is Hits over Hits+Misses, or 0 before any lookup.
func (c Counts) HitRatio() float64 {
	if c.Hits+c.Misses == 0 {
		return 0
	}
	return float64(c.Hits) / float64(c.Hits+c.Misses)
}

// modeCounters are the live counters behind Counts, one set per mode.
type modeCounters struct {
	requests, hits, misses atomic.Int64
}

// instanceHeader sets X-Instance on every response, static files and
// errors included.
func (s *Server) instanceHeader(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Instance", s.cfg.Instance)
		next.ServeHTTP(w, r)
	})
}

// countResponses counts each page and API response, after the handler,
// under its mode and its page outcome. It runs after withMode, which put
// the mode in the context; reading the X-Cache header the handler set
// costs a map lookup, not a wrapped ResponseWriter.
func (s *Server) countResponses(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r)
		m := int(cache.ModeFrom(r.Context()))
		if m >= len(s.counts) {
			return
		}
		c := &s.counts[m]
		c.requests.Add(1)
		switch w.Header().Get("X-Cache") {
		case "HIT":
			c.hits.Add(1)
		case "MISS":
			c.misses.Add(1)
		}
	})
}

// Counts returns this instance's responses per mode, keyed by the mode's
// name (none, memory, redis).
func (k *Kit) Counts() map[string]Counts {
	out := make(map[string]Counts, len(cache.Modes))
	for _, m := range cache.Modes {
		c := &k.s.counts[m]
		out[m.String()] = Counts{Requests: c.requests.Load(), Hits: c.hits.Load(), Misses: c.misses.Load()}
	}
	return out
}

// Instance is this process's name (INSTANCE, or host name:port).
func (k *Kit) Instance() string { return k.s.cfg.Instance }

// appendInstance ends the request bar with the instance that served it.
func appendInstance(b []byte, name string) []byte {
	if name == "" {
		return b
	}
	b = append(b, `<p class="reqbar-instance muted">Served by instance <strong>`...)
	b = esc(b, name)
	return append(b, "</strong>.</p>"...)
}

// Addr is the address this server was told to listen on (ADDR).
func (k *Kit) Addr() string { return k.s.cfg.Addr }
