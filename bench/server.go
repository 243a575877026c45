package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
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

	"cacheworkshop/app"
	"cacheworkshop/cache"
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

// withAppSettings returns an http.Server for h with the App's own server
// settings (timeouts, header limit, error log), so the raw handlers are
// served by a net/http configured exactly like the workshop's.
func withAppSettings(a *app.App, h http.Handler) *http.Server {
	s := a.HTTP
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: s.ReadHeaderTimeout,
		ReadTimeout:       s.ReadTimeout,
		WriteTimeout:      s.WriteTimeout,
		IdleTimeout:       s.IdleTimeout,
		MaxHeaderBytes:    s.MaxHeaderBytes,
		ErrorLog:          s.ErrorLog,
	}
}

// served is one listening server.
type served struct {
	addr string
	hs   *http.Server
}

// serve starts hs on a loopback port of the bench's own (a workshop's
// App.HTTP as app.New configured it, or a raw handler's withAppSettings).
// Its connections' goroutines carry the profiler label server=name, so a
// -cpuprofile can be split per server (go tool pprof -tagfocus server=raw ...).
func serve(name string, hs *http.Server) (*served, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
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

// workshop is the servers under test, each built in-process by app.New
// exactly as main.go builds one, plus the instruments the table needs.
// All three share one SQLite file (the first seeds it) and one Redis.
type workshop struct {
	main *app.App
	slow *app.App // SlowQuery 300 ms, for the one row that shows it
	// frag has the page cache switched off (NoPageCache), so every page
	// is rebuilt from cached fragments: the fragments-hot rows. Like every
	// App it has its own memory cache, and its Redis keys are under
	// fragPrefix.
	frag *app.App
	// rawRdb is the raw Redis handler's own client: the same settings and
	// round-trip counter, without the workshop's circuit breaker hook.
	rawRdb  redis.UniversalClient
	seedDur time.Duration
	seeded  int
	total   int64
	redisRT atomic.Int64
	logs    syncBuffer
	cancel  context.CancelFunc
}

// fragPrefix namespaces the fragments-hot server's Redis keys, so it
// shares no cache entry with the other servers.
const fragPrefix = "cwf:"

// benchConfig is the configuration every workshop server starts from:
// app's defaults with the bench's database and Redis, no simulated query
// latency, and no embedded fallback (the bench starts its own Redis, so
// one that does not answer is an error, not a silent switch).
func benchConfig(dbPath string, rs *redisServer) app.Config {
	c := app.Defaults()
	c.DatabasePath = dbPath
	c.RedisURL = rs.url
	c.SlowQuery = 0
	c.TTL = 5 * time.Minute
	c.MemoryBytes = 64 << 20
	c.NoEmbedded = true
	return c
}

func newWorkshop(ctx context.Context, dbPath string, rs *redisServer) (*workshop, error) {
	w := &workshop{}
	ok := false
	defer func() {
		if !ok {
			w.close()
		}
	}()
	log := slog.New(slog.NewTextHandler(&w.logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	// The round-trip counter is the outermost hook on every client, the
	// raw one included, so all count alike; app.New puts the workshop's
	// breaker inside it.
	count := rtCounter{&w.redisRT}
	cfg := benchConfig(dbPath, rs)
	var err error
	if w.main, err = app.New(ctx, cfg, log, count); err != nil {
		return nil, err
	}
	w.seeded, w.seedDur = w.main.Seeded, w.main.SeedTime
	if w.total, err = w.main.Store.Count(ctx); err != nil {
		return nil, err
	}
	slow := cfg
	slow.SlowQuery = 300 * time.Millisecond
	if w.slow, err = app.New(ctx, slow, log, count); err != nil {
		return nil, fmt.Errorf("slow server: %w", err)
	}
	frag := cfg
	frag.NoPageCache = true
	frag.RedisPrefix = fragPrefix
	if w.frag, err = app.New(ctx, frag, log, count); err != nil {
		return nil, fmt.Errorf("fragments-hot server: %w", err)
	}
	if w.rawRdb, err = cache.NewRedisClient(rs.url); err != nil {
		return nil, err
	}
	w.rawRdb.AddHook(count)
	lctx, cancel := context.WithCancel(ctx)
	w.cancel = cancel
	go w.main.Invalidator.Run(lctx)
	ok = true
	return w, nil
}

// queries is how many statements the workshop servers have run, read from
// models.Store.Queries: the same place that times each one into the
// request trace, so the table's query column agrees with Server-Timing.
func (w *workshop) queries() int64 {
	return w.main.Store.Queries() + w.slow.Store.Queries() + w.frag.Store.Queries()
}

func (w *workshop) close() {
	if w.cancel != nil {
		w.cancel()
	}
	if w.rawRdb != nil {
		_ = w.rawRdb.Close()
	}
	for _, a := range []*app.App{w.frag, w.slow, w.main} {
		if a != nil {
			a.Close()
		}
	}
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
//
// work, when not zero, is CPU work the handler does first (a busy loop
// sized before the load, on an idle machine): the row built with it says
// what that much per-request work costs on this machine, so a hit's ratio
// to the floor can be read as microseconds of work.
func rawHitHandler(hdr http.Header, body []byte, slotStart, slotEnd int, work time.Duration) http.Handler {
	spins := spinsFor(work)
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
		spin(spins)
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
func rawRedisHandler(rdb redis.UniversalClient, key string) http.Handler {
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

// spinSink keeps the busy loop's result alive, so the compiler cannot drop
// the loop.
var spinSink atomic.Uint64

// spin does n rounds of arithmetic that cannot be skipped.
func spin(n int) {
	x := uint64(n)
	for i := 0; i < n; i++ {
		x = x*6364136223846793005 + 1442695040888963407
	}
	spinSink.Store(x)
}

// spinsFor is how many spin rounds take d on this machine now, timed over
// two million rounds (the fastest of five tries, so a busy moment does not
// inflate it).
func spinsFor(d time.Duration) int {
	if d <= 0 {
		return 0
	}
	const n = 2_000_000
	best := time.Duration(1<<63 - 1)
	for range 5 {
		t0 := time.Now()
		spin(n)
		best = min(best, time.Since(t0))
	}
	return int(float64(n) * float64(d) / float64(max(best, 1)))
}
