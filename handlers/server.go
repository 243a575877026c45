// Package handlers is the workshop's web server: routes, the cache-mode
// middleware, the cached-page machinery and every page.
package handlers

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	"golang.org/x/sync/singleflight"

	"cacheworkshop/cache"
	"cacheworkshop/models"
	"cacheworkshop/static"
	"cacheworkshop/templates"
)

// ServerConfig is everything NewServer needs. Zero values get defaults.
type ServerConfig struct {
	Store *models.Store
	// Memory is this instance's in-process cache.
	Memory *cache.Memory
	// Redis is the shared cache; RedisEmbedded says it is the in-process
	// fallback server rather than the one at REDIS_URL.
	Redis         *cache.Redis
	RedisEmbedded bool
	DefaultMode   cache.Mode
	TTL           time.Duration
	// SlowQuery is simulated database latency added to uncached detail
	// lookups, so the cost a cache saves is visible on a tiny database.
	SlowQuery time.Duration
	// Dev reads templates and static files from disk on every request.
	Dev bool
	// TemplateDir and StaticDir are the folders Dev reads from.
	TemplateDir, StaticDir string
	// WeatherLatency is the simulated upstream weather service's delay
	// (WEATHER_LATENCY_MS); WeatherTTL how long a city's weather is cached
	// (WEATHER_TTL). WeatherUpstreamURL is the upstream's base URL; empty
	// means this server's own /upstream/weather, reached over real HTTP at
	// the local address the request came in on.
	WeatherLatency     time.Duration
	WeatherTTL         time.Duration
	WeatherUpstreamURL string
	Logger             *slog.Logger
	// AdminToken, when set, is required to clear caches, flip fault
	// switches and reset the catalogue; EditRequiresAdmin extends that to
	// product edits. Pprof mounts /debug/pprof for loopback clients.
	AdminToken        string
	EditRequiresAdmin bool
	Pprof             bool
	// NoPageCache skips the whole-page cache but keeps fragment caching,
	// so a benchmark can measure a page miss with hot fragments.
	NoPageCache bool
}

// Server serves the workshop.
type Server struct {
	cfg    ServerConfig
	store  *models.Store
	memory *cache.Memory
	redis  *cache.Redis
	inval  *cache.Invalidator
	log    *slog.Logger
	pages  *pageSet
	assets *assets
	flight singleflight.Group
	// categories maps product id to category, for detail-page keys.
	categories sync.Map
	started    time.Time
	handler    http.Handler
	mux        *chi.Mux // the router inside handler, named in every request's routing context
	headOnce   sync.Once
	head       template.HTML // headLinks, made once
}

// NewServer builds the server once: templates are parsed here, not per
// request.
func NewServer(cfg ServerConfig) (*Server, error) {
	if cfg.TTL <= 0 {
		cfg.TTL = 5 * time.Minute
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.TemplateDir == "" {
		cfg.TemplateDir = "templates"
	}
	if cfg.StaticDir == "" {
		cfg.StaticDir = "static"
	}
	var tfs, sfs fs.FS = templates.FS, static.FS
	if cfg.Dev {
		tfs, sfs = os.DirFS(cfg.TemplateDir), os.DirFS(cfg.StaticDir)
	}
	s := &Server{
		cfg: cfg, store: cfg.Store, memory: cfg.Memory, redis: cfg.Redis,
		log: cfg.Logger, assets: newAssets(sfs, cfg.Dev), started: time.Now(),
	}
	id := make([]byte, 6)
	_, _ = rand.Read(id)
	s.inval = &cache.Invalidator{
		Memory: cache.NewMemoryGens(), Redis: cache.NewRedisGens(cfg.Redis.Client(), cfg.Redis.Prefix()),
		Client: cfg.Redis.Client(), Channel: cfg.Redis.Prefix() + "invalidate",
		ID: hex.EncodeToString(id), Log: cfg.Logger,
	}
	pages, err := newPageSet(tfs, cfg.Dev, s.funcs())
	if err != nil {
		return nil, err
	}
	s.pages = pages
	s.handler = s.routes()
	return s, nil
}

// Listen applies other instances' invalidations until ctx ends; run it in
// a goroutine when several instances share one Redis.
func (s *Server) Listen(ctx context.Context) { s.inval.Listen(ctx) }

// redisLabel is the Redis mode's display name.
func (s *Server) redisLabel() string {
	if s.cfg.RedisEmbedded {
		return "Redis (embedded)"
	}
	return "Redis"
}

func (s *Server) routes() http.Handler {
	r := chi.NewRouter()
	s.mux = r
	// HEAD is answered by the GET handlers (writeEntry sends no body).
	r.Use(s.recoverer, securityHeaders, middleware.GetHead)
	r.Method(http.MethodGet, "/static/*", s.assets)
	r.Method(http.MethodHead, "/static/*", s.assets)
	r.Get("/favicon.ico", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, s.assets.URL("favicon.svg"), http.StatusMovedPermanently)
	})
	r.Group(func(r chi.Router) {
		r.Use(s.withMode, s.requireAdmin)
		r.Get("/", s.handle(s.serveHome))
		r.Get("/products", s.handle(s.serveList))
		r.Get("/products/{id}", s.handle(s.serveDetail))
		r.Get("/products/{id}/edit", s.handle(s.serveEditForm))
		r.Post("/products/{id}/edit", s.handle(s.serveEdit))
		r.Get("/api/cache-key", s.handle(s.serveCacheKey))
		// Each demo registers its own routes from its own file.
		s.fibRoutes(r)       // fib.go: /benchmark
		s.weatherRoutes(r)   // weather.go: /weather, /api/weather, /upstream/weather
		s.compareRoutes(r)   // compare.go: /products/compare
		s.httpCacheRoutes(r) // httpcache.go: /static-content, /dynamic-content, /conditional-content
		s.statsRoutes(r)     // stats.go: /cache-stats, /api/cache-stats
		s.apiRoutes(r)       // api.go: /api/products, /api/products/{id}, /api/data
		s.labRoutes(r)       // lab.go: /faults, /stampede, /reset, /debug/pprof
	})
	r.NotFound(s.handle(func(w http.ResponseWriter, r *http.Request) error {
		return errNotFound("There is no page at " + r.URL.Path + ".")
	}))
	r.MethodNotAllowed(s.handle(func(w http.ResponseWriter, r *http.Request) error {
		return &httpError{status: http.StatusMethodNotAllowed, msg: r.Method + " is not allowed on " + r.URL.Path + "."}
	}))
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.serveError(w, r, &httpError{status: http.StatusForbidden,
			msg: "Cross-site form submissions are refused: submit the form from this site's own page."})
	}))
	return cop.Handler(r)
}
