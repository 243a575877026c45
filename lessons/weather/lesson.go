// Package weather is the lesson on caching a slow upstream API.
//
// GET /api/weather?city= asks a weather service that takes a second to
// answer (a simulated one, served by this same server at /upstream/weather
// and reached over real HTTP, as a real integration would be). The lesson
// shows what a cache in front of such a service does and what it must get
// right:
//
//   - the key is made from the normalised city alone (Normalize), so case,
//     stray spaces and unrelated query parameters never create new entries,
//     and an alias shares its city's key ("NYC" is "new york");
//   - keys come from a fixed list, never from what clients send: the
//     service knows a few dozen cities (Cities), and answers 404 for any
//     other name. That 404 is the same for every unknown name, so it is
//     cached once, under weather:unknown, for 30 s and with no stale copy;
//   - a reading is kept for a TTL, so the first call pays the upstream's
//     latency and the next ones answer from the cache until it expires;
//   - concurrent misses for one city share a single upstream call, so an
//     expiring entry never stampedes the slow service;
//   - every good reading is also kept for a day as a stale copy, served
//     (saying so) when the upstream fails, since an old temperature is more
//     useful than an error.
//
// So whatever names are sent, each backend holds at most 2 keys per listed
// city (weather:<city> and weather:stale:<city>) plus weather:unknown:
// 2 × 50 + 1 = 101 keys under weather: (cw:weather: in Redis). KeyBound
// says so in code, and the tests check it against a thousand random names.
//
// weather.go is the pure part: city normalisation, the list of cities and
// the simulated readings. The GET /weather page itself is static for a
// mode, so it is an ordinary cached page.
package weather

import (
	"context"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/go-chi/chi/v5"
	"golang.org/x/sync/singleflight"

	"cacheworkshop/cache/page"
	"cacheworkshop/handlers"
)

// Config configures the lesson; the app fills it from WEATHER_LATENCY_MS,
// WEATHER_TTL and WEATHER_UPSTREAM_URL.
type Config struct {
	// Latency is how long the simulated upstream waits before answering.
	Latency time.Duration
	// TTL is how long a city's reading is cached; <= 0 means DefaultTTL.
	TTL time.Duration
	// UpstreamURL is the weather service: its base URL (the path
	// /upstream/weather is added) or the endpoint itself, whose query
	// knobs such as ?delay_ms= are kept. Empty means this server's own
	// /upstream/weather.
	UpstreamURL string
}

// DefaultTTL is how long a reading is cached when Config.TTL is not set.
const DefaultTTL = time.Minute

// KeyBound is the most keys the API stores under weather: in one backend:
// a fresh and a stale copy per listed city, and the one shared answer for
// every other name.
func KeyBound() int { return 2*len(cities) + 1 }

const (
	// staleTTL is how long the last good reading is kept to answer with
	// when the upstream fails: long after the fresh copy expired.
	staleTTL = 24 * time.Hour
	// maxDelay bounds the simulated upstream's ?delay_ms= knob, well
	// below the server's shutdown deadline (app.ShutdownTimeout, 10 s): a
	// request held open with it can never make a clean stop time out.
	maxDelay = 5 * time.Second
	// upstreamPath is the simulated upstream's route.
	upstreamPath = "/upstream/weather"
)

// Lesson serves the weather page, the cached API and the simulated
// upstream. Build it with New; the server calls Register.
type Lesson struct {
	cfg Config
	kit *handlers.Kit
	// client calls the upstream. Its transport is its own, so the demo's
	// connections never share a pool with anything else; each call's
	// timeout comes from its context.
	client *http.Client
	// flight merges concurrent misses for one city in one mode into a
	// single upstream call.
	flight singleflight.Group
	// down makes the simulated upstream answer 503 to every call.
	down atomic.Bool
}

// SetUpstreamDown takes the simulated upstream down (every call answers
// 503, as ?fail=1 does) or brings it back up. It acts on this server's own
// /upstream/weather only, not on a WEATHER_UPSTREAM_URL service.
func (l *Lesson) SetUpstreamDown(down bool) { l.down.Store(down) }

// UpstreamDown reports whether the simulated upstream is down.
func (l *Lesson) UpstreamDown() bool { return l.down.Load() }

// New returns the lesson for cfg.
func New(cfg Config) *Lesson {
	if cfg.TTL <= 0 {
		cfg.TTL = DefaultTTL
	}
	cfg.Latency = max(cfg.Latency, 0)
	return &Lesson{cfg: cfg, client: &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}}
}

// Register implements handlers.Lesson.
func (l *Lesson) Register(r chi.Router, k *handlers.Kit) {
	l.kit = k
	r.Get("/weather", k.Handle(l.servePage))
	r.Get("/api/weather", k.Handle(l.serveAPI))
	// The upstream answers its own errors in JSON, as a real service
	// would, rather than through the workshop's HTML error pages.
	r.Get(upstreamPath, l.serveUpstream)
}

// timeout is how long the API waits for the upstream: twice its normal
// latency plus two seconds, so only a really stuck upstream (not a busy
// machine) times out, but never so long that a learner waits minutes.
func (l *Lesson) timeout() time.Duration {
	return min(2*l.cfg.Latency+2*time.Second, 30*time.Second)
}

// pageData is what templates/weather.html shows: the lesson's settings
// and the mode, nothing of the request.
type pageData struct {
	LatencyMS  int64
	TTL        string
	Timeout    string
	Upstream   string
	ModeValue  string
	ModeLabel  string
	StaleHours int
	// Cities are the names the service knows, offered as the city field's
	// suggestions; UnknownTTL is how long its 404 for any other is kept.
	Cities     []string
	UnknownTTL string
	KeyBound   int
}

// servePage is the lesson's page. It is the same for everyone in a mode,
// so it is cached like the catalogue's pages, keyed by the mode alone: its
// query string is ignored, so stray parameters never create new entries.
func (l *Lesson) servePage(w http.ResponseWriter, r *http.Request) error {
	req := page.NewRequest("weather", "/weather", l.kit.Mode(r))
	return l.kit.Cached(w, r, page.Spec{Request: req, Build: l.buildPage})
}

// buildPage renders the page for req (a cache miss, or every request in
// mode none).
func (l *Lesson) buildPage(ctx context.Context, req page.Request) (*page.Entry, error) {
	up := "this server's own " + upstreamPath + ", over HTTP"
	if l.cfg.UpstreamURL != "" {
		up = l.cfg.UpstreamURL
	}
	d := pageData{LatencyMS: l.cfg.Latency.Milliseconds(), TTL: spoken(l.cfg.TTL), Timeout: l.timeout().String(),
		Upstream: up, ModeValue: req.Mode.String(), ModeLabel: l.kit.Label(req.Mode), StaleHours: int(staleTTL.Hours()),
		Cities: Cities(), UnknownTTL: spoken(unknownTTL), KeyBound: KeyBound()}
	return l.kit.Render(ctx, req, "Weather API", "weather", d)
}

// spoken writes a short duration the way people say it ("60 s"); longer
// ones keep Go's form ("1h30m0s").
func spoken(d time.Duration) string {
	if d < 10*time.Minute && d%time.Second == 0 {
		return strconv.Itoa(int(d.Seconds())) + " s"
	}
	return d.String()
}
