// Package handlers is the workshop's web layer: the router and its
// middleware, the error adapter, the layout every page shares, static
// assets, one-time messages, the request bar, and the catalogue's own pages
// (home, list, detail, edit, the JSON API and the key explainer).
//
// The caching engines live in cache/page and cache/fragment, and each
// lesson in its own package under lessons/, registering its routes from a
// Kit (see kit.go). The app package wires them together.
package handlers

import (
	"bytes"
	"context"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"

	"cacheworkshop/cache"
	"cacheworkshop/cache/fragment"
	"cacheworkshop/cache/page"
	"cacheworkshop/lessons/snippets"
	"cacheworkshop/models"
	"cacheworkshop/render"
	"cacheworkshop/static"
	"cacheworkshop/templates"
	"cacheworkshop/trace"
)

// Config is everything NewServer needs. The app package fills it from the
// environment; its defaults live there.
type Config struct {
	Store *models.Store
	// Memory is this instance's in-process cache; Redis is the shared one,
	// labelled RedisLabel ("Redis", or "Redis (embedded)" for the
	// in-process fallback server).
	Memory      *cache.Memory
	Redis       *cache.Redis
	RedisLabel  string
	Invalidator *cache.Invalidator
	DefaultMode cache.Mode
	TTL         time.Duration
	// SlowQuery is simulated database latency added to uncached detail
	// lookups, so the cost a cache saves is visible on a tiny database.
	SlowQuery time.Duration
	// Dev reads templates and static files from disk on every request,
	// from TemplateDir and StaticDir.
	Dev                    bool
	TemplateDir, StaticDir string
	Logger                 *slog.Logger
	// AdminToken, when set, is required by the admin routes; with
	// EditRequiresAdmin, by product edits too. Pprof mounts /debug/pprof
	// for loopback clients.
	AdminToken        string
	EditRequiresAdmin bool
	Pprof             bool
	// NoPageCache skips the whole-page cache but keeps fragment caching,
	// so a benchmark can measure a page miss with hot fragments.
	NoPageCache bool
	// Addr is the listen address; its host name, if it has one, is an
	// allowed Host. AllowedHosts are more names the Host header may carry
	// (ALLOWED_HOSTS), besides localhost and any IP address.
	Addr         string
	AllowedHosts []string
	// Instance names this process in X-Instance and the request bar.
	Instance string
	// Lessons register their routes on the server's router.
	Lessons []Lesson
}

// Lesson is a feature package that registers its own routes, as the
// lessons under lessons/ do.
type Lesson interface {
	Register(r chi.Router, k *Kit)
}

// Observer is a Lesson that also wraps every request of the lessons'
// group, inside withMode, so it sees the mode, the trace and the matched
// route (the metrics package counts and times requests with it).
type Observer interface {
	Observe(next http.Handler) http.Handler
}

// Runner is a lesson with background work (announcing this instance,
// listening on a channel): the app runs it until shutdown.
type Runner interface {
	Run(ctx context.Context)
}

// Lessons are the lessons the server was built with.
func (s *Server) Lessons() []Lesson { return s.cfg.Lessons }

// Server serves the workshop. It is built once by NewServer.
type Server struct {
	cfg      Config
	store    *models.Store
	log      *slog.Logger
	views    *render.Set
	frags    *fragment.Engine
	pages    *page.Engine
	assets   *assets
	failures *cache.FailureLog
	hosts    *hostNames
	kit      *Kit
	events   EventSink // learners' events, when the exercises are on (events.go)
	handler  http.Handler
	// tiered is the tiered mode's cache: Memory in front of Redis.
	tiered *cache.Tiered
	// counts are this instance's responses per mode (see instance.go).
	counts []modeCounters
	// panels are the code panels by page name, and joined the digests
	// that mix each into its page's keys; both are read-only once built.
	panels    map[string]*snippets.Panel
	panelHTML map[string]template.HTML
	joined    map[string]*joinedDigest
	// memBudget is the memory cache's budget as configured, which the
	// teacher page may change while the server runs.
	memBudget int64
	// categories maps product id to category, for detail-page keys.
	categories sync.Map
}

// CategoryStatsTTL is how long the detail page's category sidebar is
// kept: it is invalidated by time alone, on purpose (see detail.html), and
// a detail page's entry expires with it.
const CategoryStatsTTL = time.Minute

// fragmentTTLs are per-fragment lifetimes; others use the page TTL.
var fragmentTTLs = map[string]time.Duration{
	"category-stats": CategoryStatsTTL,
	"site-nav":       time.Hour,
	"site-footer":    time.Hour,
}

// NewServer builds the server: templates are parsed here, not per request.
func NewServer(cfg Config) (*Server, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	var tfs, sfs fs.FS = templates.FS, static.FS
	if cfg.Dev {
		tfs, sfs = os.DirFS(cfg.TemplateDir), os.DirFS(cfg.StaticDir)
	}
	s := &Server{cfg: cfg, store: cfg.Store, log: cfg.Logger, assets: newAssets(sfs, cfg.Dev),
		failures: &cache.FailureLog{Log: cfg.Logger}, hosts: newHostNames(cfg.Addr, cfg.AllowedHosts),
		counts: make([]modeCounters, len(cache.Modes))}
	if cfg.Memory != nil && cfg.Redis != nil {
		s.tiered = &cache.Tiered{Front: cfg.Memory, Back: cfg.Redis}
	}
	funcs := fragment.Funcs()
	funcs["money"] = models.FormatMoney
	funcs["static"] = s.assets.URL
	funcs["ms"] = trace.Millis
	funcs["add"] = func(a, b int) int { return a + b }
	funcs["date"] = func(t time.Time) string { return t.UTC().Format("2 Jan 2006 15:04 UTC") }
	views, err := render.New(tfs, cfg.Dev, funcs)
	if err != nil {
		return nil, err
	}
	s.views = views
	if cfg.Memory != nil {
		s.memBudget = cfg.Memory.MaxBytes()
	}
	if s.panels, err = snippets.All(); err != nil {
		return nil, err
	}
	if err := s.renderPanels(); err != nil {
		return nil, err
	}
	s.joined = make(map[string]*joinedDigest, len(s.panels))
	for name, p := range s.panels {
		s.joined[name] = &joinedDigest{panel: p.Digest}
	}
	s.frags = fragment.New(fragment.Config{Backend: s.backend, Digest: views.FragmentDigest, TTLs: fragmentTTLs})
	s.pages = page.New(page.Config{Backend: s.backend, Label: s.backendLabel, Digest: s.pageDigest, TTL: cfg.TTL,
		Failures: s.failures, Log: cfg.Logger, NoPageCache: cfg.NoPageCache})
	s.kit = &Kit{Store: cfg.Store, Memory: cfg.Memory, Redis: cfg.Redis, Invalidator: cfg.Invalidator,
		Log: cfg.Logger, TTL: cfg.TTL, AdminToken: cfg.AdminToken, s: s}
	s.handler = s.routes()
	return s, nil
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// backend returns the cache of a mode, or nil for mode none.
func (s *Server) backend(m cache.Mode) cache.Cache {
	switch m {
	case cache.ModeMemory:
		return s.cfg.Memory
	case cache.ModeRedis:
		return s.cfg.Redis
	case cache.ModeTiered:
		if s.tiered != nil {
			return s.tiered
		}
	}
	return nil
}

// backendLabel names a mode's backend in a sentence: "memory", "Redis".
func (s *Server) backendLabel(m cache.Mode) string {
	if m == cache.ModeRedis {
		return s.cfg.RedisLabel
	}
	return m.String()
}

// label is a mode's display name.
func (s *Server) label(m cache.Mode) string {
	if m == cache.ModeRedis {
		return s.cfg.RedisLabel
	}
	return m.Label()
}

func (s *Server) routes() http.Handler {
	r := chi.NewRouter()
	// HEAD is answered by the GET handlers (page.Write sends no body).
	r.Use(s.recoverer, securityHeaders, s.instanceHeader, middleware.GetHead)
	r.Method(http.MethodGet, "/static/*", s.assets)
	r.Method(http.MethodHead, "/static/*", s.assets)
	r.Get("/favicon.ico", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, s.assets.URL("favicon.svg"), http.StatusMovedPermanently)
	})
	r.Group(func(r chi.Router) {
		r.Use(s.withMode, s.countResponses, s.withEvents)
		for _, l := range s.cfg.Lessons {
			if o, ok := l.(Observer); ok {
				r.Use(o.Observe)
			}
		}
		s.catalogueRoutes(r)
		for _, l := range s.cfg.Lessons {
			l.Register(r, s.kit)
		}
	})
	if s.cfg.Pprof {
		r.With(loopbackOnly).Mount("/debug", middleware.Profiler())
	}
	r.NotFound(s.handle(func(w http.ResponseWriter, r *http.Request) error {
		return NotFound("There is no page at " + r.URL.Path + ".")
	}))
	r.MethodNotAllowed(s.handle(func(w http.ResponseWriter, r *http.Request) error {
		return &Error{Status: http.StatusMethodNotAllowed, Msg: r.Method + " is not allowed on " + r.URL.Path + "."}
	}))
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.serveError(w, r, Forbidden("Cross-site form submissions are refused: submit the form from this site's own page."))
	}))
	// Outermost, so that no route, the cross-origin refusal included,
	// answers a Host that is not allowed, and no response that sets a
	// cookie leaves marked public.
	return privateCookies(s.checkHost(cop.Handler(r)))
}

// fragmentUser is page content whose own templates call
// {{fragment .Req ...}}: renderPage hands it the render.
type fragmentUser interface {
	useRender(fr *fragment.Render)
}

// renderPage renders a page for req into an Entry with a slot, caching its
// fragments in the mode ctx carries. content is the page's own data.
func (s *Server) renderPage(ctx context.Context, req page.Request, title, section string, content any) (*page.Entry, error) {
	t, _, err := s.views.Page(req.Page)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	fr := s.frags.Start(ctx, t, &buf)
	if fu, ok := content.(fragmentUser); ok {
		fu.useRender(fr)
	}
	t0 := time.Now()
	err = render.Execute(&buf, t, s.layout(req, title, section, content, fr))
	fr.Finish()
	if err != nil {
		return nil, err
	}
	trace.From(ctx).Render(time.Since(t0))
	body, slot := render.SplitSlot(buf.Bytes())
	return &page.Entry{Status: http.StatusOK, ContentType: "text/html; charset=utf-8", Slot: slot, Body: body,
		Expires: fr.Expires()}, nil
}
