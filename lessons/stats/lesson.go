// Package stats is the cache statistics lesson: what each backend has done
// since the server started, read live on every request. It teaches what a
// hit ratio means, why a memory cache's figures belong to one process while
// Redis's are shared, why Redis cannot tell one application's memory apart
// from another's (its INFO figures are the whole server's), how to count
// one application's keys without stalling on a big database (a SCAN pass
// spread over refreshes, saying when its count is an estimate), and how to
// clear a cache without touching anyone else's keys (SCAN and UNLINK under
// our prefix, never FLUSHDB).
package stats

import (
	"time"

	"github.com/go-chi/chi/v5"

	"cacheworkshop/cache"
	"cacheworkshop/handlers"
)

// Lesson serves /cache-stats, its JSON twin /api/cache-stats, and the
// per-backend clear action.
type Lesson struct {
	kit    *handlers.Kit
	memory *cache.Memory
	redis  *cache.Redis
	// started dates the uptime the page shows: the lesson is registered
	// once, when the server is built.
	started time.Time
	// keys counts the keys under the Redis prefix, a few SCAN calls per
	// refresh, on the server or on each master of a cluster.
	keys *nodeCounters
}

// New returns the lesson; it takes what it needs from the Kit in Register.
func New() *Lesson { return &Lesson{} }

// Register implements handlers.Lesson. Clearing a cache is an admin action:
// with ADMIN_TOKEN set, it needs the token.
func (l *Lesson) Register(r chi.Router, k *handlers.Kit) {
	l.kit, l.memory, l.redis, l.started = k, k.Memory, k.Redis, time.Now()
	l.keys = newNodeCounters(k.Redis.Prefix())
	r.Get("/cache-stats", k.Handle(l.servePage))
	r.Get("/api/cache-stats", k.Handle(l.serveJSON))
	r.With(k.RequireAdmin).Post("/cache-stats/clear", k.Handle(l.serveClear))
}
