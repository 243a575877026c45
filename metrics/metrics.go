// Package metrics serves GET /metrics: the workshop's counters in the
// Prometheus text format, for a Prometheus server (or curl) to scrape.
//
// It uses github.com/prometheus/client_golang, the standard Go library for
// the format: it writes exactly what Prometheus parses, and its Go runtime
// and process collectors come with it. The registry is the package's own,
// not the library's global one, so only what is listed here is exposed.
//
// What it counts:
//   - every cache lookup a request recorded in its trace, by layer,
//     backend and outcome;
//   - request durations by route pattern, mode and status class;
//   - the memory cache's evictions, bytes and entries, the invalidations
//     applied, and the Redis circuit breaker, read from the counters those
//     parts already keep, at scrape time.
//
// Labels come from fixed sets: a route is chi's pattern ("/products/{id}"),
// never the path, so a flood of made-up URLs adds no series.
package metrics

import (
	"crypto/subtle"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"cacheworkshop/cache"
	"cacheworkshop/handlers"
	"cacheworkshop/trace"
)

// Path is where the metrics are served.
const Path = "/metrics"

// namespace prefixes every metric of the workshop's own.
const namespace = "cacheworkshop"

// Caps on label combinations. The values come from the code (route
// patterns, layer names), so they are far below these; the caps only make
// sure that a label fed from somewhere unexpected cannot grow the output
// without bound. Beyond a cap, new combinations are counted under "other".
const (
	maxLookupSeries  = 128
	maxRequestSeries = 512
	other            = "other"
)

// durationBuckets span a memory hit (tens of microseconds) to a slow
// uncached page or a load-test stream (seconds), in seconds.
var durationBuckets = []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}

// Metrics is the /metrics lesson: it observes every request (Observe) and
// serves the registry (Register).
type Metrics struct {
	reg      *prometheus.Registry
	handler  http.Handler
	lookups  *bounded[lookupKey, prometheus.Counter]
	requests *bounded[requestKey, prometheus.Observer]
	// token is ADMIN_TOKEN: when set, a scrape must carry it.
	token string
}

type lookupKey struct{ layer, backend, outcome string }

type requestKey struct{ route, mode, code string }

// New returns the metrics with their registry. The counters that read the
// caches are added in Register, from the Kit.
func New() *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	lookups := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace, Name: "cache_lookups_total",
		Help: "Cache lookups recorded in the requests' traces, by layer (page, frag, data, ...), backend and outcome (HIT, MISS, BYPASS, ERROR, ...).",
	}, []string{"layer", "backend", "outcome"})
	durations := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: namespace, Name: "http_request_duration_seconds",
		Help:    "Time from the cache mode being resolved to the handler returning, by route pattern, cache mode and status class.",
		Buckets: durationBuckets,
	}, []string{"route", "mode", "code"})
	m.reg.MustRegister(lookups, durations,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.lookups = newBounded(maxLookupSeries, lookupKey{other, other, other}, func(k lookupKey) (prometheus.Counter, error) {
		return lookups.GetMetricWithLabelValues(k.layer, k.backend, k.outcome)
	})
	m.requests = newBounded(maxRequestSeries, requestKey{other, other, other}, func(k requestKey) (prometheus.Observer, error) {
		return durations.GetMetricWithLabelValues(k.route, k.mode, k.code)
	})
	m.handler = promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
	return m
}

// Register implements handlers.Lesson.
func (m *Metrics) Register(r chi.Router, k *handlers.Kit) {
	m.token = k.AdminToken
	c := &cacheCollector{memory: k.Memory, invalidator: k.Invalidator}
	if k.Invalidator != nil {
		// No change can reach this instance between the invalidator's
		// start and here (its listeners run once the server serves), so
		// every change it learns of from now on is one applied since.
		c.startChange = k.Invalidator.Known()
	}
	if k.Redis != nil {
		c.guard = k.Redis.Guard()
	}
	m.reg.MustRegister(c)
	r.Get(Path, k.Handle(m.serve))
}

// Registry is the registry /metrics serves, for tests and for pages that
// show the same figures.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// serve writes the metrics to a client that may see them: with
// ADMIN_TOKEN set, one that presents it; without, this machine only.
func (m *Metrics) serve(w http.ResponseWriter, r *http.Request) error {
	if m.token != "" {
		if subtle.ConstantTimeCompare([]byte(presentedToken(r)), []byte(m.token)) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="metrics"`)
			return &handlers.Error{Status: http.StatusUnauthorized,
				Msg: "The metrics need the admin token (ADMIN_TOKEN): send it as Authorization: Bearer <token> or in the X-Admin-Token header."}
		}
	} else if !fromLoopback(r) {
		return handlers.Forbidden("The metrics are served to this machine only. To scrape them from elsewhere, set ADMIN_TOKEN and send it as a bearer token.")
	}
	w.Header().Set("Cache-Control", "no-store")
	m.handler.ServeHTTP(w, r)
	return nil
}

// presentedToken is the token in Authorization: Bearer (what Prometheus
// sends with its authorization setting) or X-Admin-Token (what the
// workshop's own admin routes take).
func presentedToken(r *http.Request) string {
	if scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " "); ok && strings.EqualFold(scheme, "Bearer") {
		return strings.TrimSpace(tok)
	}
	return r.Header.Get("X-Admin-Token")
}

// fromLoopback says whether the request's connection comes from this
// machine. Behind a reverse proxy on the same machine every request does:
// set ADMIN_TOKEN there.
func fromLoopback(r *http.Request) bool {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	ip := net.ParseIP(host)
	return err == nil && ip != nil && ip.IsLoopback()
}

// Observe implements handlers.Observer: once the handler has returned, it
// counts the lookups in the request's trace and records the request's
// duration under its route pattern.
func (m *Metrics) Observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t0 := time.Now()
		sw := &handlers.StatusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		trace.From(r.Context()).Count(func(layer, backend, outcome string) {
			m.lookups.get(lookupKey{layer, backend, outcome}).Inc()
		})
		key := requestKey{route: routePattern(r), mode: cache.ModeFrom(r.Context()).String(), code: statusClass(sw.Status())}
		m.requests.get(key).Observe(time.Since(t0).Seconds())
	})
}

// routePattern is the pattern chi matched ("/products/{id}"); a request
// that matched none is "unmatched", whatever its path.
func routePattern(r *http.Request) string {
	if rc := chi.RouteContext(r.Context()); rc != nil {
		if p := rc.RoutePattern(); p != "" {
			return p
		}
	}
	return "unmatched"
}

// statusClass is "2xx", "4xx"...: the figure a dashboard groups by, with
// five values at most.
func statusClass(status int) string {
	if status == 0 {
		status = http.StatusOK // nothing written: net/http sends 200
	}
	if status < 100 || status > 599 {
		return other
	}
	return statusClasses[status/100-1]
}

var statusClasses = [...]string{"1xx", "2xx", "3xx", "4xx", "5xx"}

// bounded hands out one metric per label combination, at most limit of
// them; later combinations share the overflow one. Reads take no lock.
type bounded[K comparable, M any] struct {
	m        sync.Map // K → M
	mu       sync.Mutex
	n        atomic.Int32
	limit    int32
	overflow K
	make     func(K) (M, error)
}

func newBounded[K comparable, M any](limit int32, overflow K, mk func(K) (M, error)) *bounded[K, M] {
	return &bounded[K, M]{limit: limit, overflow: overflow, make: mk}
}

func (b *bounded[K, M]) get(k K) M {
	if v, ok := b.m.Load(k); ok {
		return v.(M)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if v, ok := b.m.Load(k); ok {
		return v.(M)
	}
	if b.n.Load() >= b.limit-1 { // one place is kept for the overflow
		k = b.overflow
		if v, ok := b.m.Load(k); ok {
			return v.(M)
		}
	}
	v, err := b.make(k)
	if err != nil { // a label value that is not UTF-8
		k = b.overflow
		if v, ok := b.m.Load(k); ok {
			return v.(M)
		}
		if v, err = b.make(k); err != nil {
			panic(err) // the overflow's labels are constants
		}
	}
	b.m.Store(k, v)
	b.n.Add(1)
	return v
}

// cacheCollector reads the counters the caches and the invalidator keep,
// at each scrape, so nothing is counted twice and nothing on the request
// path changes for metrics.
type cacheCollector struct {
	memory      *cache.Memory
	guard       *cache.Guard
	invalidator *cache.Invalidator
	startChange int64
}

var (
	descEvictions = prometheus.NewDesc(namespace+"_memory_evictions_total",
		"Entries the memory cache evicted to stay within its byte budget (MEMORY_CACHE_MB). Clearing the cache on the stats page resets it.", nil, nil)
	descBytes = prometheus.NewDesc(namespace+"_memory_bytes",
		"Bytes the memory cache's entries take: keys, values and a fixed allowance per entry.", nil, nil)
	descMaxBytes = prometheus.NewDesc(namespace+"_memory_max_bytes",
		"The memory cache's byte budget (MEMORY_CACHE_MB).", nil, nil)
	descEntries = prometheus.NewDesc(namespace+"_memory_entries",
		"Entries in the memory cache.", nil, nil)
	descApplied = prometheus.NewDesc(namespace+"_invalidations_applied_total",
		"Invalidations (committed changes, this instance's and other instances') applied to this instance's memory generations since it started.", nil, nil)
	descPending = prometheus.NewDesc(namespace+"_invalidations_redis_pending",
		"Changes this instance knows of that Redis had not applied when last checked; its Redis-mode pages come from the database meanwhile.", nil, nil)
	descBreakerOpen = prometheus.NewDesc(namespace+"_redis_breaker_open",
		"1 while the Redis circuit breaker is open (calls fail at once, pages come from the database), else 0.", nil, nil)
	descBreakerOpens = prometheus.NewDesc(namespace+"_redis_breaker_opens_total",
		"Times the Redis circuit breaker opened.", nil, nil)
	descShortCircuits = prometheus.NewDesc(namespace+"_redis_breaker_short_circuits_total",
		"Redis calls refused at once because the breaker was open.", nil, nil)
	descFailedCalls = prometheus.NewDesc(namespace+"_redis_failed_calls_total",
		"Redis calls that failed in transport or were failed by the faults page.", nil, nil)
)

// Describe implements prometheus.Collector.
func (c *cacheCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descEvictions, descBytes, descMaxBytes, descEntries, descApplied, descPending,
		descBreakerOpen, descBreakerOpens, descShortCircuits, descFailedCalls} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *cacheCollector) Collect(ch chan<- prometheus.Metric) {
	if c.memory != nil {
		st := c.memory.Stats()
		ch <- prometheus.MustNewConstMetric(descEvictions, prometheus.CounterValue, float64(st.Evictions))
		ch <- prometheus.MustNewConstMetric(descBytes, prometheus.GaugeValue, float64(st.Bytes))
		ch <- prometheus.MustNewConstMetric(descMaxBytes, prometheus.GaugeValue, float64(st.MaxBytes))
		ch <- prometheus.MustNewConstMetric(descEntries, prometheus.GaugeValue, float64(st.Entries))
	}
	if c.invalidator != nil {
		// Change ids are consecutive (the outbox's AUTOINCREMENT; the
		// Redis relay relies on it too), and the invalidator learns of
		// one only once it is applied to memory: the difference counts
		// the changes applied.
		ch <- prometheus.MustNewConstMetric(descApplied, prometheus.CounterValue, float64(c.invalidator.Known()-c.startChange))
		ch <- prometheus.MustNewConstMetric(descPending, prometheus.GaugeValue, float64(c.invalidator.Pending()))
	}
	if c.guard != nil {
		st := c.guard.State()
		open := 0.0
		if st.Open {
			open = 1
		}
		ch <- prometheus.MustNewConstMetric(descBreakerOpen, prometheus.GaugeValue, open)
		ch <- prometheus.MustNewConstMetric(descBreakerOpens, prometheus.CounterValue, float64(st.Opens))
		ch <- prometheus.MustNewConstMetric(descShortCircuits, prometheus.CounterValue, float64(st.ShortCircuits))
		ch <- prometheus.MustNewConstMetric(descFailedCalls, prometheus.CounterValue, float64(st.Failed))
	}
}
