package handlers

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-chi/chi/v5"
	"golang.org/x/sync/singleflight"

	"cacheworkshop/cache"
	"cacheworkshop/models"
	"cacheworkshop/seed"
	"cacheworkshop/trace"
)

// labRoutes registers the reliability labs: fault switches, the stampede
// lab, the catalogue reset, and pprof when enabled.
func (s *Server) labRoutes(r chi.Router) {
	r.Get("/faults", s.handle(s.serveFaults))
	r.Post("/faults", s.handle(s.serveFaultsPost))
	r.Get("/stampede", s.handle(s.serveStampede))
	r.Post("/stampede", s.handle(s.serveStampede))
	r.Post("/reset", s.handle(s.serveReset))
	if s.cfg.Pprof {
		r.Route("/debug/pprof", func(r chi.Router) {
			r.Use(loopbackOnly)
			r.HandleFunc("/", pprof.Index)
			r.HandleFunc("/cmdline", pprof.Cmdline)
			r.HandleFunc("/profile", pprof.Profile)
			r.HandleFunc("/symbol", pprof.Symbol)
			r.HandleFunc("/trace", pprof.Trace)
			r.HandleFunc("/{name}", pprof.Index)
		})
	}
}

// loopbackOnly hides profiling from anything but this machine.
func loopbackOnly(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host, _, err := net.SplitHostPort(r.RemoteAddr)
		if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
			http.NotFound(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// adminPaths are the POST routes that need ADMIN_TOKEN when it is set.
var adminPaths = map[string]bool{"/cache-stats/clear": true, "/faults": true, "/reset": true}

// requireAdmin checks ADMIN_TOKEN (form field admin_token or header
// X-Admin-Token) on admin actions, and on edits when EDIT_REQUIRES_ADMIN.
func (s *Server) requireAdmin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.cfg.AdminToken == "" || r.Method != http.MethodPost {
			next.ServeHTTP(w, r)
			return
		}
		needs := adminPaths[r.URL.Path] ||
			(s.cfg.EditRequiresAdmin && strings.HasPrefix(r.URL.Path, "/products/") && strings.HasSuffix(r.URL.Path, "/edit"))
		if !needs {
			next.ServeHTTP(w, r)
			return
		}
		tok := r.Header.Get("X-Admin-Token")
		if tok == "" {
			r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
			if err := r.ParseForm(); err != nil {
				s.serveError(w, r, errBadRequest("The form could not be read."))
				return
			}
			tok = r.PostForm.Get("admin_token")
		}
		if subtle.ConstantTimeCompare([]byte(tok), []byte(s.cfg.AdminToken)) != 1 {
			s.serveError(w, r, &httpError{status: http.StatusForbidden,
				msg: "This action needs the admin token (ADMIN_TOKEN): enter it in the form's admin token field."})
			return
		}
		next.ServeHTTP(w, r)
	})
}

type faultsData struct {
	Guard      cache.GuardState
	LatencyMS  int64
	AdminToken bool
	RedisLabel string
	Pending    int
}

func (s *Server) serveFaults(w http.ResponseWriter, r *http.Request) error {
	g := s.redis.Guard()
	if g == nil {
		return errNotFound("Fault switches need the Redis guard, which this server was started without.")
	}
	st := g.State()
	d := faultsData{Guard: st, LatencyMS: st.Latency.Milliseconds(), AdminToken: s.cfg.AdminToken != "",
		RedisLabel: s.redisLabel(), Pending: s.inval.Redis.Pending()}
	return s.serveUncached(w, r, "faults", "Redis faults", "faults", d)
}

func (s *Server) serveFaultsPost(w http.ResponseWriter, r *http.Request) error {
	g := s.redis.Guard()
	if g == nil {
		return errNotFound("Fault switches are not available.")
	}
	if err := parseSmallForm(w, r); err != nil {
		return err
	}
	switch r.PostForm.Get("action") {
	case "fail-on":
		g.SetFail(true)
	case "fail-off":
		g.SetFail(false)
	case "latency-on":
		g.SetLatency(200 * time.Millisecond)
	case "latency-off":
		g.SetLatency(0)
	case "reset":
		g.SetFail(false)
		g.SetLatency(0)
	default:
		return errBadRequest("action must be one of fail-on, fail-off, latency-on, latency-off, reset.")
	}
	s.log.Info("fault switch", "action", r.PostForm.Get("action"))
	http.Redirect(w, r, "/faults", http.StatusSeeOther)
	return nil
}

// parseSmallForm parses a form body of at most maxFormBytes.
func parseSmallForm(w http.ResponseWriter, r *http.Request) error {
	if r.PostForm != nil {
		return nil
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return err
		}
		return errBadRequest("The form could not be read.")
	}
	return nil
}

// serveReset restores the seeded catalogue and invalidates every page.
func (s *Server) serveReset(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	var maxID int64
	if err := s.store.DB().WithContext(ctx).Model(&models.Product{}).Select("COALESCE(MAX(id), 0)").Scan(&maxID).Error; err != nil {
		return err
	}
	if err := s.store.DB().WithContext(ctx).Exec("DELETE FROM products").Error; err != nil {
		return err
	}
	if _, err := seed.Seed(ctx, s.store.DB()); err != nil {
		return err
	}
	names := []string{genList}
	for _, c := range models.Categories {
		names = append(names, genCategory(c))
	}
	for id := int64(1); id <= max(maxID, seed.Count); id++ {
		names = append(names, genProduct(id))
	}
	s.categories.Clear()
	s.inval.Invalidate(ctx, names...)
	setFlash(w, flash{Message: fmt.Sprintf("Catalogue reset to its %d seeded products; %d generations bumped in every backend.", seed.Count, len(names))})
	http.Redirect(w, r, "/products", http.StatusSeeOther)
	return nil
}

// serveUncached renders a page that is never cached (labs, forms): its
// bar says BYPASS, honestly.
func (s *Server) serveUncached(w http.ResponseWriter, r *http.Request, page, title, section string, data any) error {
	e, err := s.renderEntry(r.Context(), page, s.layout(r, title, section, data))
	if err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	trace.From(r.Context()).Cache(trace.Lookup{Layer: "page", Backend: "none", Key: page + " (never cached)", Outcome: trace.Bypass})
	s.writeEntry(w, r, &served{entry: e, mode: modeOf(r), outcome: trace.Bypass, backend: "none"})
	return nil
}

// Stampede lab.

const (
	maxStampedeN         = 500
	maxStampedeInstances = 8
	stampedeOriginDelay  = 100 * time.Millisecond
)

type stampedeData struct {
	N, Instances int
	Ran          bool
	Results      []stampedeResult
	Error        string
	MaxMS        float64
	OriginMS     int64
}

type stampedeResult struct {
	Protection  string
	Explain     string
	Loads       int64
	P50, P95    string
	Max         string
	MaxMS       float64
	ErrorsCount int64
}

func (s *Server) serveStampede(w http.ResponseWriter, r *http.Request) error {
	d := stampedeData{N: 50, Instances: 4, OriginMS: stampedeOriginDelay.Milliseconds()}
	if r.Method == http.MethodPost {
		if err := parseSmallForm(w, r); err != nil {
			return err
		}
		var err error
		if d.N, err = formInt(r, "n", 1, maxStampedeN); err != nil {
			return err
		}
		if d.Instances, err = formInt(r, "instances", 1, maxStampedeInstances); err != nil {
			return err
		}
		d.Ran = true
		for _, p := range []string{"off", "singleflight", "lock"} {
			res, err := s.runStampede(r.Context(), p, d.N, d.Instances)
			if err != nil {
				d.Error = "Redis unavailable: " + short(err)
				break
			}
			d.Results = append(d.Results, res)
			d.MaxMS = max(d.MaxMS, res.MaxMS)
		}
	}
	return s.serveUncached(w, r, "stampede", "Stampede lab", "stampede", d)
}

func formInt(r *http.Request, name string, lo, hi int) (int, error) {
	v := strings.TrimSpace(r.PostForm.Get(name))
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi || len(v) > 6 {
		return 0, errBadRequest(fmt.Sprintf("%s must be a whole number from %d to %d.", name, lo, hi))
	}
	return n, nil
}

// runStampede expires a hot key and fires n concurrent requests for it,
// spread over simulated instances (each with its own singleflight group,
// as separate processes would have), and counts origin loads.
func (s *Server) runStampede(ctx context.Context, protection string, n, instances int) (stampedeResult, error) {
	res := stampedeResult{Protection: protection}
	switch protection {
	case "off":
		res.Explain = "every request that misses loads the origin itself"
	case "singleflight":
		res.Explain = "concurrent misses share one load per instance (golang.org/x/sync/singleflight)"
	case "lock":
		res.Explain = "per instance singleflight, plus a Redis lock (SET NX PX with a token) so one instance loads while the others wait for its result"
	}
	c := s.redis
	id := make([]byte, 6)
	_, _ = rand.Read(id)
	key := "lab:stampede:" + protection + ":" + hex.EncodeToString(id)
	defer func() { _ = c.Delete(context.WithoutCancel(ctx), key) }()
	if err := c.Ping(ctx); err != nil {
		return res, err
	}
	var loads, errs atomic.Int64
	origin := func() ([]byte, error) {
		loads.Add(1)
		if _, err := s.store.CatalogueSummary(ctx); err != nil {
			return nil, err
		}
		time.Sleep(stampedeOriginDelay) // simulated: a slow origin
		return []byte("catalogue summary"), nil
	}
	load := func(inst *singleflight.Group) error {
		if _, found, err := c.Get(ctx, key); err != nil || found {
			return err
		}
		fill := func() (any, error) {
			v, err := origin()
			if err != nil {
				return nil, err
			}
			return nil, c.Set(ctx, key, v, time.Minute)
		}
		switch protection {
		case "singleflight":
			_, err, _ := inst.Do(key, fill)
			return err
		case "lock":
			_, err, _ := inst.Do(key, func() (any, error) {
				lock, ok, err := cache.TryLock(ctx, c.Client(), c.Prefix()+"lock:"+key, 5*time.Second)
				if err != nil {
					return nil, err
				}
				if !ok {
					if _, found, err := cache.WaitFor(ctx, c, key, 3*time.Second, 10*time.Millisecond); err != nil || found {
						return nil, err
					}
					return fill()
				}
				defer func() { _ = lock.Unlock(context.WithoutCancel(ctx)) }()
				return fill()
			})
			return err
		}
		_, err := fill()
		return err
	}
	groups := make([]singleflight.Group, instances)
	lat := make([]time.Duration, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			t0 := time.Now()
			if err := load(&groups[i%instances]); err != nil {
				errs.Add(1)
			}
			lat[i] = time.Since(t0)
		}()
	}
	close(start)
	wg.Wait()
	slices.Sort(lat)
	res.Loads, res.ErrorsCount = loads.Load(), errs.Load()
	pct := func(p float64) time.Duration { return lat[min(len(lat)-1, int(p*float64(len(lat))))] }
	res.P50, res.P95, res.Max = fmtMS(pct(0.50)), fmtMS(pct(0.95)), fmtMS(lat[len(lat)-1])
	res.MaxMS = float64(lat[len(lat)-1].Microseconds()) / 1000
	return res, nil
}

func fmtMS(d time.Duration) string {
	return strconv.FormatFloat(float64(d.Microseconds())/1000, 'f', 1, 64)
}
