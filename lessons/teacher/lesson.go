// Package teacher is the teacher's page, GET /teacher: the controls a
// class needs while it works through the lessons.
//
//   - Reset the catalogue (a button for the existing POST /reset).
//   - Clear the memory cache or the workshop's keys in Redis, through each
//     backend's cache.Clearer: in Redis that is SCAN and UNLINK under the
//     workshop's prefix, never KEYS or FLUSHALL, and the generation
//     counters stay.
//   - Set the page TTL and the memory cache's byte budget of this process
//     while it runs: a budget of a few hundred KiB makes LRU eviction
//     visible within a few pages, a TTL of seconds makes expiry visible.
//     Every page's request bar says so while either differs from its
//     configured value.
//   - Take the weather lesson's simulated upstream down and up, to show
//     the stale copy a cache can serve when its source fails.
//   - Classroom mode: the address learners on other machines open, from
//     the server's listen address (every interface's for a wildcard one),
//     or why there is none (a loopback address).
//
// Every control is a form POST, refused cross-site like every other form
// of the workshop, parsed strictly (a 400 changes nothing) and, when
// ADMIN_TOKEN is set, refused without the token.
package teacher

import (
	"time"

	"github.com/go-chi/chi/v5"

	"cacheworkshop/handlers"
)

// Upstream is the weather lesson's switch for its simulated upstream
// (weather.Lesson implements it).
type Upstream interface {
	SetUpstreamDown(down bool)
	UpstreamDown() bool
}

// Config is what the lesson needs besides the Kit.
type Config struct {
	// Addr is the server's listen address (ADDR), for classroom mode.
	Addr string
	// Weather is the weather lesson's upstream switch; nil hides it.
	Weather Upstream
}

// Bounds of the live settings. The budget's upper bound is the largest
// MEMORY_CACHE_MB (1 TiB); its lower one still holds a small page.
const (
	minTTLSeconds = 1
	maxTTLSeconds = 24 * 60 * 60
	minBudgetKiB  = 16
	maxBudgetKiB  = 1 << 30
	// clearTimeout bounds a clear of Redis: SCAN and UNLINK in batches.
	clearTimeout = 10 * time.Second
)

// Lesson serves the teacher's page and its controls.
type Lesson struct {
	cfg Config
	kit *handlers.Kit
}

// New returns the lesson for cfg.
func New(cfg Config) *Lesson { return &Lesson{cfg: cfg} }

// Register implements handlers.Lesson. Every route is behind
// RequireAdmin, which lets the page itself (a GET) through and asks the
// posts for the token when ADMIN_TOKEN is set.
func (l *Lesson) Register(r chi.Router, k *handlers.Kit) {
	l.kit = k
	r.Group(func(r chi.Router) {
		r.Use(k.RequireAdmin)
		r.Get("/teacher", k.Handle(l.servePage))
		r.Post("/teacher/clear", k.Handle(l.serveClear))
		r.Post("/teacher/page-ttl", k.Handle(l.servePageTTL))
		r.Post("/teacher/memory-budget", k.Handle(l.serveMemoryBudget))
		r.Post("/teacher/weather-upstream", k.Handle(l.serveWeather))
	})
}
