package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"gorm.io/gorm"

	"cacheworkshop/cache"
	"cacheworkshop/handlers"
	"cacheworkshop/models"
	"cacheworkshop/seed"
)

// syncBuffer collects log output written from several goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write implements io.Writer.
func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String implements fmt.Stringer.
func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// newHTTPServer applies main.go's server settings, so every row (the raw
// handlers included) is served by an identically configured net/http.
func newHTTPServer(h http.Handler, errLog io.Writer) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          log.New(errLog, "http: ", 0),
	}
}

// served is one listening server.
type served struct {
	addr string
	hs   *http.Server
}

// serve starts a server on a loopback port. Its connections' goroutines
// carry the profiler label server=name, so a -cpuprofile can be split per
// server (go tool pprof -tagfocus server=raw ...).
func serve(name string, h http.Handler, errLog io.Writer) (*served, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	hs := newHTTPServer(h, errLog)
	labels := pprof.WithLabels(context.Background(), pprof.Labels("server", name))
	hs.ConnState = func(_ net.Conn, st http.ConnState) {
		// StateActive is reported from the connection's own goroutine.
		if st == http.StateActive {
			pprof.SetGoroutineLabels(labels)
		}
	}
	go func() { _ = hs.Serve(ln) }()
	return &served{addr: ln.Addr().String(), hs: hs}, nil
}

func (s *served) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = s.hs.Shutdown(ctx)
}

// workshop is the server under test, built in-process exactly as main.go
// builds it, plus the instruments the table needs.
type workshop struct {
	store *models.Store
	rdb   *redis.Client
	// rawRdb is the raw Redis handler's own client: the same settings and
	// round-trip counter, without the workshop's circuit breaker hook.
	rawRdb  *redis.Client
	memory  *cache.Memory
	redis   *cache.Redis
	srv     *handlers.Server
	slowSrv *handlers.Server // SLOW_QUERY_MS=300, for the one row that shows it
	// fragSrv has the page cache switched off (NoPageCache), so every page
	// is rebuilt from cached fragments: the fragments-hot rows. It has its
	// own memory cache and its own Redis key prefix.
	fragSrv   *handlers.Server
	seedDur   time.Duration
	seeded    int
	total     int64
	redisRT   atomic.Int64
	dbQueries atomic.Int64
	logs      syncBuffer
	cancel    context.CancelFunc
}

// fragPrefix namespaces the fragments-hot server's Redis keys, so it
// shares no cache entry with the other servers.
const fragPrefix = "cwf:"

func newWorkshop(ctx context.Context, dbPath string, rs *redisServer) (*workshop, error) {
	w := &workshop{}
	store, err := models.Open(dbPath)
	if err != nil {
		return nil, err
	}
	w.store = store
	t0 := time.Now()
	n, err := seed.Seed(ctx, store.DB())
	w.seedDur = time.Since(t0)
	if err != nil {
		return nil, fmt.Errorf("seed: %w", err)
	}
	w.seeded = n
	if w.total, err = store.Count(ctx); err != nil {
		return nil, err
	}
	if err := countQueries(store.DB(), &w.dbQueries); err != nil {
		return nil, err
	}
	if w.rdb, err = cache.NewRedisClient(rs.url); err != nil {
		return nil, err
	}
	if w.rawRdb, err = cache.NewRedisClient(rs.url); err != nil {
		return nil, err
	}
	// The counter is the outermost hook on both clients, so both count
	// alike; the workshop's breaker (a Guard, as main.go installs) sits
	// inside it on the workshop's client only.
	w.rdb.AddHook(rtCounter{&w.redisRT})
	w.rawRdb.AddHook(rtCounter{&w.redisRT})
	log := slog.New(slog.NewTextHandler(&w.logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	w.memory = cache.NewMemory(cache.MemoryConfig{MaxBytes: 64 << 20, DefaultTTL: 5 * time.Minute})
	// With a Guard, as main.go builds it: its hook wraps every command.
	w.redis = cache.NewRedis(cache.RedisConfig{Client: w.rdb, DefaultTTL: 5 * time.Minute, Label: rs.label, Guard: cache.NewGuard()})
	cfg := handlers.ServerConfig{
		Store: store, Memory: w.memory, Redis: w.redis, RedisEmbedded: rs.embedded,
		DefaultMode: cache.ModeMemory, TTL: 5 * time.Minute,
		SlowQuery: 0, Logger: log,
		WeatherLatency: time.Second, WeatherTTL: time.Minute,
	}
	if w.srv, err = handlers.NewServer(cfg); err != nil {
		return nil, err
	}
	slow := cfg
	slow.SlowQuery = 300 * time.Millisecond
	slow.Memory = cache.NewMemory(cache.MemoryConfig{MaxBytes: 64 << 20, DefaultTTL: 5 * time.Minute})
	if w.slowSrv, err = handlers.NewServer(slow); err != nil {
		return nil, err
	}
	frag := cfg
	frag.NoPageCache = true
	frag.Memory = cache.NewMemory(cache.MemoryConfig{MaxBytes: 64 << 20, DefaultTTL: 5 * time.Minute})
	frag.Redis = cache.NewRedis(cache.RedisConfig{Client: w.rdb, Prefix: fragPrefix, DefaultTTL: 5 * time.Minute, Label: rs.label})
	if w.fragSrv, err = handlers.NewServer(frag); err != nil {
		return nil, err
	}
	lctx, cancel := context.WithCancel(ctx)
	w.cancel = cancel
	go w.srv.Listen(lctx)
	return w, nil
}

func (w *workshop) close() {
	if w.cancel != nil {
		w.cancel()
	}
	if w.rawRdb != nil {
		_ = w.rawRdb.Close()
	}
	if w.rdb != nil {
		_ = w.rdb.Close()
	}
	if w.store != nil {
		_ = w.store.Close()
	}
}

// countQueries counts every statement the app sends to SQLite, so the
// table can show that a hit runs none.
func countQueries(db *gorm.DB, n *atomic.Int64) error {
	inc := func(*gorm.DB) { n.Add(1) }
	cb := db.Callback()
	for _, err := range []error{
		cb.Query().After("gorm:query").Register("bench:count_query", inc),
		cb.Row().After("gorm:row").Register("bench:count_row", inc),
		cb.Raw().After("gorm:raw").Register("bench:count_raw", inc),
	} {
		if err != nil {
			return err
		}
	}
	return nil
}

// rawHandler is the reference: net/http writing fixed bytes.
func rawHandler(body []byte) http.Handler {
	cl := strconv.Itoa(len(body))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Content-Length", cl)
		_, _ = w.Write(body)
	})
}

// rawHitHandler is the floor of any page hit that carries per-request
// markup: net/http writing the exact headers a memory hit sends (fixed
// values, set without allocating) and the stored body with the bar of one
// real response spliced back in through a pooled buffer, as the workshop's
// writer does. No routing, no lookup, no trace, no formatting: what a hit
// costs beyond this row is the workshop's own work.
func rawHitHandler(hdr http.Header, body []byte, slotStart, slotEnd int) http.Handler {
	shared := make(map[string][]string, len(hdr))
	for k, v := range hdr {
		if k != "Date" && k != "Content-Length" {
			shared[k] = v
		}
	}
	cl := []string{strconv.Itoa(len(body))}
	prefix, slot, suffix := body[:slotStart], body[slotStart:slotEnd], body[slotEnd:]
	bufs := sync.Pool{New: func() any { b := make([]byte, 0, 32<<10); return &b }}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		for k, v := range shared {
			h[k] = v
		}
		h["Content-Length"] = cl
		bp := bufs.Get().(*[]byte)
		out := append(append(append((*bp)[:0], prefix...), slot...), suffix...)
		_, _ = w.Write(out)
		*bp = out
		bufs.Put(bp)
	})
}

// rawRedisHandler is the Redis-hit reference: one go-redis GET of the same
// bytes, written as they come.
func rawRedisHandler(rdb *redis.Client, key string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v, err := rdb.Get(r.Context(), key).Bytes()
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		h := w.Header()
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Content-Length", strconv.Itoa(len(v)))
		_, _ = w.Write(v)
	})
}

// probeResult is one full response read with net/http, used to check a
// row's claims before loading it.
type probeResult struct {
	status int
	header http.Header
	body   []byte
}

var probeClient = &http.Client{Timeout: 20 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

func probe(ctx context.Context, addr, path, cookie string) (*probeResult, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+path, nil)
	if err != nil {
		return nil, err
	}
	if cookie != "" {
		req.Header.Set("Cookie", cookie)
	}
	res, err := probeClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, err
	}
	return &probeResult{status: res.StatusCode, header: res.Header, body: b}, nil
}

// vmRSS reads the resident set size, in bytes, from /proc/<pid>/status.
func vmRSS(pid string) (int64, error) {
	b, err := os.ReadFile("/proc/" + pid + "/status")
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(v)
			if len(f) == 0 {
				break
			}
			kb, err := strconv.ParseInt(f[0], 10, 64)
			if err != nil {
				return 0, err
			}
			return kb << 10, nil
		}
	}
	return 0, fmt.Errorf("no VmRSS in /proc/%s/status", pid)
}
