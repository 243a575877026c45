// Package labs holds the reliability labs. The faults page makes the
// app's own Redis calls fail or slow down, to show that a cache is an
// optimisation the pages must survive losing: a circuit breaker stops
// paying a timeout per call, and pages are built from the database
// meanwhile. The stampede lab expires a hot key under many concurrent
// requests and counts the origin loads with no protection, with
// singleflight (one load per process) and with a Redis lock (one load in
// all), and with two protections that serve a stale or early copy on
// purpose: stale-while-revalidate and probabilistic early refresh.
package labs

import (
	"sync/atomic"

	"github.com/go-chi/chi/v5"

	"cacheworkshop/cache"
	"cacheworkshop/handlers"
	"cacheworkshop/models"
)

// Lesson serves /faults and /stampede.
type Lesson struct {
	kit   *handlers.Kit
	store *models.Store
	redis *cache.Redis
	// lab is the stampede lab's own view of the same Redis, under its own
	// prefix: its keys never mix with the pages', and its thousands of
	// reads per run do not swell the client counters the statistics page
	// shows.
	lab *cache.Redis
	// running is set while a stampede run is under way: a run fires up to
	// maxStampedeN concurrent requests once per protection, so one at a time
	// is plenty for one process, and a second would skew the first's
	// timings.
	running atomic.Bool
}

// New returns the lesson; it takes what it needs from the Kit in Register.
func New() *Lesson { return &Lesson{} }

// Register implements handlers.Lesson. The pages are open; what they post
// (flipping a fault switch, firing a stampede) needs the admin token when
// ADMIN_TOKEN is set.
func (l *Lesson) Register(r chi.Router, k *handlers.Kit) {
	l.kit, l.store, l.redis = k, k.Store, k.Redis
	// Same client, so the fault switches (a hook on the client) apply to
	// the lab too; no Guard here, or the hook would be installed twice.
	l.lab = cache.NewRedis(cache.RedisConfig{Client: k.Redis.Client(), Prefix: k.Redis.Prefix() + "lab:stampede:",
		Label: k.Redis.Label()})
	r.Get("/faults", k.Handle(l.serveFaults))
	r.Get("/api/faults", k.Handle(l.serveFaultsJSON))
	r.With(k.RequireAdmin).Post("/faults", k.Handle(l.serveFaultsPost))
	r.Get("/stampede", k.Handle(l.serveStampede))
	r.With(k.RequireAdmin).Post("/stampede", k.Handle(l.serveStampede))
}
