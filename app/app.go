// Package app wires the workshop together, in one place used by main.go,
// the bench and the tests: the SQLite store and its seed, Redis (or the
// embedded fallback), the two caches, the invalidator, the web server with
// every lesson, and the http.Server settings.
package app

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	neturl "net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"cacheworkshop/cache"
	"cacheworkshop/handlers"
	"cacheworkshop/lessons/account"
	"cacheworkshop/lessons/compare"
	"cacheworkshop/lessons/eviction"
	"cacheworkshop/lessons/exercises"
	"cacheworkshop/lessons/fib"
	"cacheworkshop/lessons/httpcache"
	"cacheworkshop/lessons/instances"
	"cacheworkshop/lessons/invalidation"
	"cacheworkshop/lessons/labs"
	"cacheworkshop/lessons/loadtest"
	"cacheworkshop/lessons/proxycache"
	"cacheworkshop/lessons/stats"
	"cacheworkshop/lessons/teacher"
	"cacheworkshop/lessons/weather"
	"cacheworkshop/metrics"
	"cacheworkshop/models"
	"cacheworkshop/seed"
)

// App is a wired workshop, ready to serve.
type App struct {
	Config Config
	Store  *models.Store
	Memory *cache.Memory
	Redis  *cache.Redis
	// RedisLabel is "Redis", or "Redis (embedded)" when Embedded is set:
	// nothing answered at RedisURL and the in-process server is used.
	RedisLabel  string
	Embedded    bool
	Invalidator *cache.Invalidator
	Server      *handlers.Server
	// HTTP is the http.Server with the workshop's timeouts; Serve uses it.
	HTTP *http.Server
	// Seeded is how many products seeding inserted (0: already seeded),
	// and SeedTime how long it took.
	Seeded   int
	SeedTime time.Duration

	log     *slog.Logger
	closers []func()
}

// New opens the store (seeding it when empty), connects to Redis and
// builds the server. hooks are added to the Redis client before the
// workshop's own circuit breaker, outermost first (the bench counts round
// trips with one).
func New(ctx context.Context, cfg Config, log *slog.Logger, hooks ...redis.Hook) (*App, error) {
	if log == nil {
		log = slog.Default()
	}
	redis.SetLogger(quietRedisLog{})
	if cfg.Instance == "" {
		cfg.Instance = defaultInstance(cfg.Addr)
	}
	a := &App{Config: cfg, log: log}
	ok := false
	defer func() {
		if !ok {
			a.Close()
		}
	}()
	store, err := models.Open(cfg.DatabasePath)
	if err != nil {
		return nil, err
	}
	a.Store = store
	a.closers = append(a.closers, func() { _ = store.Close() })
	t0 := time.Now()
	if a.Seeded, err = seed.Seed(ctx, store.DB()); err != nil {
		return nil, fmt.Errorf("seed: %w", err)
	}
	a.SeedTime = time.Since(t0)
	if a.Seeded > 0 {
		log.Info("seeded catalogue", "products", a.Seeded, "took", a.SeedTime.Round(time.Millisecond))
	}

	rdb, err := a.connectRedis(ctx)
	if err != nil {
		return nil, err
	}
	for _, h := range hooks {
		rdb.AddHook(h)
	}
	a.RedisLabel = "Redis"
	if a.Embedded {
		a.RedisLabel = "Redis (embedded)"
	}
	a.Memory = cache.NewMemory(cache.MemoryConfig{MaxBytes: cfg.MemoryBytes, DefaultTTL: cfg.TTL})
	// Every Redis key carries the database's epoch: a new database's
	// change ids start from 1 again, so it must not share generations or
	// pages with another database that used the same Redis.
	a.Redis = cache.NewRedis(cache.RedisConfig{Client: rdb, Prefix: cfg.RedisPrefix + store.Epoch() + ":", DefaultTTL: cfg.TTL,
		Label: a.RedisLabel, Guard: cache.NewGuard()})
	id := make([]byte, 6)
	_, _ = rand.Read(id)
	changes := &changeLog{store: store}
	a.closers = append(a.closers, changes.close)
	a.Invalidator = &cache.Invalidator{Memory: a.Memory, Redis: a.Redis, Log: changes,
		Channel: a.Redis.Prefix() + "invalidate", ID: hex.EncodeToString(id), Logger: log}
	if err := a.Invalidator.Start(ctx); err != nil {
		return nil, fmt.Errorf("invalidations: %w", err)
	}

	weatherLesson := weather.New(weather.Config{Latency: cfg.WeatherLatency, TTL: cfg.WeatherTTL, UpstreamURL: cfg.WeatherURL})
	a.Server, err = handlers.NewServer(handlers.Config{
		Store: store, Memory: a.Memory, Redis: a.Redis, RedisLabel: a.RedisLabel, Invalidator: a.Invalidator,
		DefaultMode: cfg.DefaultMode, TTL: cfg.TTL, SlowQuery: cfg.SlowQuery,
		Dev: cfg.Dev, TemplateDir: cfg.TemplateDir, StaticDir: cfg.StaticDir, Logger: log,
		AdminToken: cfg.AdminToken, EditRequiresAdmin: cfg.EditAdmin, Pprof: cfg.Pprof, NoPageCache: cfg.NoPageCache,
		Addr: cfg.Addr, AllowedHosts: cfg.AllowedHosts, Instance: cfg.Instance,
		Lessons: []handlers.Lesson{
			fib.New(),
			weatherLesson,
			compare.New(),
			httpcache.New(),
			stats.New(),
			labs.New(),
			instances.New(instances.Config{Silent: cfg.NoAnnounce}),
			proxycache.New(),
			invalidation.New(),
			exercises.New(),
			teacher.New(teacher.Config{Addr: cfg.Addr, Weather: weatherLesson}),
			account.New(),
			eviction.New(),
			metrics.New(),
			loadtest.New(),
		},
	})
	if err != nil {
		return nil, err
	}
	a.HTTP = &http.Server{
		Handler:           a.Server,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	ok = true
	return a, nil
}

// Close releases Redis, the embedded server and the store, in reverse
// order of opening.
func (a *App) Close() {
	for i := len(a.closers) - 1; i >= 0; i-- {
		a.closers[i]()
	}
	a.closers = nil
}

// ShutdownTimeout bounds how long in-flight requests may take to finish
// once the server is told to stop.
const ShutdownTimeout = 10 * time.Second

// Run listens on Config.Addr and serves until ctx ends, then shuts down
// gracefully: no new connections, in-flight requests finish.
func (a *App) Run(ctx context.Context) error {
	ln, err := net.Listen("tcp", a.Config.Addr)
	if err != nil {
		return err
	}
	lctx, stop := context.WithCancel(ctx)
	defer stop()
	go a.Invalidator.Run(lctx)
	go a.watchRedisURL(lctx)
	a.RunLessons(lctx)
	a.log.Info("Cache Workshop is serving", "url", "http://"+ln.Addr().String(), "cache_default", a.Config.DefaultMode.String(),
		"redis", a.RedisLabel, "database", a.Config.DatabasePath)
	errc := make(chan error, 1)
	go func() { errc <- a.HTTP.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	a.log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), ShutdownTimeout)
	defer cancel()
	if err := a.HTTP.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	// Changes Redis has not applied are in the database's outbox, where
	// any instance relays them; sending them now, if Redis answers, only
	// makes them visible sooner.
	if err := a.Invalidator.Flush(sctx); err != nil {
		a.log.Warn("redis still lacks some invalidations; another instance or the next start relays them", "pending", a.Invalidator.Pending(), "err", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	a.log.Info("stopped cleanly")
	return nil
}

// RunLessons starts the background work of the lessons that have some
// (handlers.Runner), until ctx ends.
func (a *App) RunLessons(ctx context.Context) {
	for _, l := range a.Server.Lessons() {
		if r, ok := l.(handlers.Runner); ok {
			go r.Run(ctx)
		}
	}
}

// defaultInstance names a process that was not given INSTANCE: the host
// name and the listen port, which tell apart several processes on one
// machine and one process on several.
func defaultInstance(addr string) string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "localhost"
	}
	if _, port, err := net.SplitHostPort(addr); err == nil {
		host += ":" + port
	}
	if len(host) > 40 {
		host = host[len(host)-40:]
	}
	return host
}

// quietRedisLog drops go-redis's internal pool chatter (dial retries while
// Redis is down); the workshop reports cache failures itself.
type quietRedisLog struct{}

// Printf implements go-redis's internal logger.
func (quietRedisLog) Printf(context.Context, string, ...any) {}

// connectRedis connects to RedisURL, or starts the embedded server when
// nothing answers there, so the Redis mode always works. RedisURL names a
// single server, or a Redis Cluster in go-redis's form
// (redis://host1:port1?addr=host2:port2&addr=host3:port3), which must
// answer on every master with every slot served.
func (a *App) connectRedis(ctx context.Context) (redis.UniversalClient, error) {
	url := a.Config.RedisURL
	rdb, err := cache.NewRedisClient(url)
	if err != nil {
		return nil, err
	}
	_, cluster := rdb.(*redis.ClusterClient)
	// A few tries, so that a Redis that is restarting as the workshop
	// starts is not mistaken for none at all.
	var perr error
	for try := range 3 {
		if try > 0 {
			time.Sleep(300 * time.Millisecond)
		}
		pctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
		perr = cache.Ping(pctx, rdb)
		cancel()
		if perr == nil {
			break
		}
	}
	if perr == nil {
		if cluster {
			a.log.Info("connected to a Redis Cluster", "url", redactURL(url))
		} else {
			a.log.Info("connected to Redis", "url", redactURL(url))
			a.warnClusterNode(ctx, rdb)
		}
		a.closers = append(a.closers, func() { _ = rdb.Close() })
		return rdb, nil
	}
	_ = rdb.Close()
	if a.Config.NoEmbedded {
		return nil, fmt.Errorf("no Redis at %s: %w", redactURL(url), perr)
	}
	emb, err := cache.StartEmbedded()
	if err != nil {
		return nil, fmt.Errorf("no Redis at %s (%v) and the embedded one failed to start: %w", redactURL(url), perr, err)
	}
	a.closers = append(a.closers, emb.Close)
	if rdb, err = cache.NewRedisClient(emb.URL()); err != nil {
		return nil, err
	}
	a.closers = append(a.closers, func() { _ = rdb.Close() })
	a.Embedded = true
	a.log.Warn("no Redis answered; using Redis (embedded), an in-process Redis-protocol server (miniredis), private to this instance",
		"tried", redactURL(url), "err", perr, "embedded_addr", emb.Addr(),
		"hint", "for a real Redis run `redis-server` or set REDIS_URL=redis://host:6379/0")
	return rdb, nil
}

// warnClusterNode says so when a single-server REDIS_URL names one node of
// a Redis Cluster: a plain client does not follow the cluster's MOVED
// redirections, so every key served by another node would fail.
func (a *App) warnClusterNode(ctx context.Context, rdb redis.UniversalClient) {
	ictx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	info, err := rdb.Info(ictx, "cluster").Result()
	if err == nil && strings.Contains(info, "cluster_enabled:1") {
		a.log.Warn("REDIS_URL names one node of a Redis Cluster as if it were a single server: keys on the other nodes will fail",
			"url", redactURL(a.Config.RedisURL), "hint", "list the nodes: REDIS_URL=redis://host1:port1?addr=host2:port2&addr=host3:port3")
	}
}

// watchRedisURL tells, once, when REDIS_URL starts answering while this
// instance uses its embedded server: it stays on it (a running cache is
// not switched under live requests) until restarted, so its Redis mode is
// not shared with other instances. Invalidations still reach it: they
// travel through the database's change log, not through Redis.
func (a *App) watchRedisURL(ctx context.Context) {
	if !a.Embedded {
		return
	}
	rdb, err := cache.NewRedisClient(a.Config.RedisURL)
	if err != nil {
		return
	}
	defer rdb.Close()
	t := time.NewTicker(5 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if cache.Ping(ctx, rdb) == nil {
			a.log.Warn("REDIS_URL answers now, but this instance keeps its embedded Redis until it is restarted: "+
				"its Redis mode is private to it (other instances' edits still invalidate it, through the database)",
				"url", redactURL(a.Config.RedisURL))
			return
		}
	}
}

// redactURL hides a password in a Redis URL for logs.
func redactURL(u string) string {
	if opt, err := redis.ParseURL(u); err == nil {
		if opt.Password == "" {
			return u
		}
		return "redis://" + opt.Addr + "/" + strconv.Itoa(opt.DB) + " (password hidden)"
	}
	// A cluster URL (with addr parameters), or one that does not parse.
	p, err := neturl.Parse(u)
	if err != nil {
		return "(a REDIS_URL that does not parse)"
	}
	return p.Redacted()
}
