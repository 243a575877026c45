// Command cacheworkshop serves the Cache Workshop: a product catalogue whose
// every page can be served with no cache, from an in-process memory cache,
// or from Redis, with real measured timings.
//
// Configuration comes from environment variables, each with a matching flag
// that wins over it; run with -h to see them all.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"cacheworkshop/cache"
	"cacheworkshop/handlers"
	"cacheworkshop/models"
	"cacheworkshop/seed"
)

// config is the server's configuration after env and flags are applied.
type config struct {
	Addr         string
	DatabasePath string
	RedisURL     string
	CacheDefault string
	CacheTTL     time.Duration
	SlowQueryMS  int
	MemoryMB     int
	Dev          bool
	WeatherMS    int
	WeatherTTL   time.Duration
	WeatherURL   string
	AdminToken   string
	EditAdmin    bool
	Pprof        bool
}

func env(name, def string) string {
	if v, ok := os.LookupEnv(name); ok && v != "" {
		return v
	}
	return def
}

// envBool reads a switch: 1, true, on or yes (any case) turn it on.
func envBool(name string) bool {
	switch strings.ToLower(strings.TrimSpace(os.Getenv(name))) {
	case "1", "true", "on", "yes":
		return true
	}
	return false
}

// parseConfig reads env, then flags. Bad values are reported, never
// silently replaced by defaults.
func parseConfig(args []string) (config, error) {
	fs := flag.NewFlagSet("cacheworkshop", flag.ContinueOnError)
	var c config
	var ttl, slow, mem, wms, wttl string
	fs.StringVar(&c.Addr, "addr", env("ADDR", "127.0.0.1:8080"), "listen address (env ADDR)")
	fs.StringVar(&c.DatabasePath, "database-path", env("DATABASE_PATH", "data/workshop.db"), "SQLite file; its folder is created (env DATABASE_PATH)")
	fs.StringVar(&c.RedisURL, "redis-url", env("REDIS_URL", "redis://127.0.0.1:6379/0"), "Redis server; if none answers, an embedded one is started (env REDIS_URL)")
	fs.StringVar(&c.CacheDefault, "cache-default", env("CACHE_DEFAULT", "memory"), "mode when a request names none: none, memory or redis (env CACHE_DEFAULT)")
	fs.StringVar(&ttl, "cache-ttl", env("CACHE_TTL", "5m"), "how long cached pages live (env CACHE_TTL)")
	fs.StringVar(&slow, "slow-query-ms", env("SLOW_QUERY_MS", "300"), "simulated database latency added to uncached detail lookups, in ms (env SLOW_QUERY_MS)")
	fs.StringVar(&mem, "memory-cache-mb", env("MEMORY_CACHE_MB", "64"), "byte budget of the in-process cache, in MiB (env MEMORY_CACHE_MB)")
	fs.StringVar(&wms, "weather-latency-ms", env("WEATHER_LATENCY_MS", "1000"), "latency of the simulated upstream weather service, in ms (env WEATHER_LATENCY_MS)")
	fs.StringVar(&wttl, "weather-ttl", env("WEATHER_TTL", "60s"), "how long a city's weather is cached (env WEATHER_TTL)")
	fs.StringVar(&c.WeatherURL, "weather-upstream-url", env("WEATHER_UPSTREAM_URL", ""), "weather service URL; empty means this server's own /upstream/weather (env WEATHER_UPSTREAM_URL)")
	fs.StringVar(&c.AdminToken, "admin-token", env("ADMIN_TOKEN", ""), "if set, required to clear caches, flip fault switches and reset the catalogue (env ADMIN_TOKEN)")
	fs.BoolVar(&c.EditAdmin, "edit-requires-admin", envBool("EDIT_REQUIRES_ADMIN"), "product edits need the admin token too (env EDIT_REQUIRES_ADMIN=1)")
	fs.BoolVar(&c.Pprof, "pprof", envBool("PPROF"), "serve /debug/pprof to loopback clients (env PPROF=1)")
	fs.BoolVar(&c.Dev, "dev", envBool("DEV"), "read templates and static files from disk on every request (env DEV=1)")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	var err error
	if c.CacheTTL, err = time.ParseDuration(ttl); err != nil || c.CacheTTL <= 0 {
		return c, fmt.Errorf("CACHE_TTL: %q is not a positive duration like 5m or 30s", ttl)
	}
	if c.SlowQueryMS, err = strconv.Atoi(slow); err != nil || c.SlowQueryMS < 0 || c.SlowQueryMS > 60_000 {
		return c, fmt.Errorf("SLOW_QUERY_MS: %q is not a whole number of milliseconds from 0 to 60000", slow)
	}
	if c.MemoryMB, err = strconv.Atoi(mem); err != nil || c.MemoryMB < 1 || c.MemoryMB > 1<<20 {
		return c, fmt.Errorf("MEMORY_CACHE_MB: %q is not a whole number of MiB from 1 to 1048576", mem)
	}
	if c.WeatherMS, err = strconv.Atoi(wms); err != nil || c.WeatherMS < 0 || c.WeatherMS > 60_000 {
		return c, fmt.Errorf("WEATHER_LATENCY_MS: %q is not a whole number of milliseconds from 0 to 60000", wms)
	}
	if c.WeatherTTL, err = time.ParseDuration(wttl); err != nil || c.WeatherTTL <= 0 {
		return c, fmt.Errorf("WEATHER_TTL: %q is not a positive duration like 60s", wttl)
	}
	switch c.CacheDefault {
	case "none", "memory", "redis":
	default:
		return c, fmt.Errorf("CACHE_DEFAULT: %q is not one of none, memory, redis", c.CacheDefault)
	}
	return c, nil
}

func main() {
	cfg, err := parseConfig(os.Args[1:])
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "cacheworkshop:", err)
		os.Exit(2)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	if err := run(cfg, log); err != nil {
		log.Error("cacheworkshop stopped", "err", err)
		os.Exit(1)
	}
}

// quietRedisLog drops go-redis's internal pool chatter (dial retries while
// Redis is down); the workshop reports cache failures itself.
type quietRedisLog struct{}

// Printf implements go-redis's internal logger.
func (quietRedisLog) Printf(context.Context, string, ...any) {}

func run(cfg config, log *slog.Logger) error {
	start := time.Now()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	redis.SetLogger(quietRedisLog{})

	store, err := models.Open(cfg.DatabasePath)
	if err != nil {
		return err
	}
	defer store.Close()
	t0 := time.Now()
	n, err := seed.Seed(ctx, store.DB())
	if err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	if n > 0 {
		log.Info("seeded catalogue", "products", n, "took", time.Since(t0).Round(time.Millisecond))
	}

	rdb, embedded, closeRedis, err := connectRedis(ctx, cfg.RedisURL, log)
	if err != nil {
		return err
	}
	defer closeRedis()

	mode, _ := cache.ParseMode(cfg.CacheDefault, cache.ModeMemory)
	label := "Redis"
	if embedded {
		label = "Redis (embedded)"
	}
	srv, err := handlers.NewServer(handlers.ServerConfig{
		Store:             store,
		Memory:            cache.NewMemory(cache.MemoryConfig{MaxBytes: int64(cfg.MemoryMB) << 20, DefaultTTL: cfg.CacheTTL}),
		Redis:             cache.NewRedis(cache.RedisConfig{Client: rdb, DefaultTTL: cfg.CacheTTL, Label: label, Guard: cache.NewGuard()}),
		RedisEmbedded:     embedded,
		DefaultMode:       mode,
		TTL:               cfg.CacheTTL,
		SlowQuery:         time.Duration(cfg.SlowQueryMS) * time.Millisecond,
		Dev:               cfg.Dev,
		Logger:            log,
		WeatherLatency:    time.Duration(cfg.WeatherMS) * time.Millisecond,
		WeatherTTL:        cfg.WeatherTTL,
		AdminToken:        cfg.AdminToken,
		EditRequiresAdmin: cfg.EditAdmin,
		Pprof:             cfg.Pprof,
	})
	if err != nil {
		return err
	}
	go srv.Listen(ctx)

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return err
	}
	hs := &http.Server{
		Handler:           srv,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	log.Info("Cache Workshop is serving", "url", "http://"+ln.Addr().String(), "cache_default", cfg.CacheDefault,
		"redis", label, "database", cfg.DatabasePath, "started_in", time.Since(start).Round(time.Millisecond))
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	// Stop accepting, let in-flight requests finish, then close Redis and
	// the database (deferred above).
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	log.Info("stopped cleanly")
	return nil
}

// connectRedis connects to url, or starts the embedded server when nothing
// answers there, so the Redis mode always works.
func connectRedis(ctx context.Context, url string, log *slog.Logger) (*redis.Client, bool, func(), error) {
	rdb, err := cache.NewRedisClient(url)
	if err != nil {
		return nil, false, nil, err
	}
	pctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	perr := rdb.Ping(pctx).Err()
	cancel()
	if perr == nil {
		log.Info("connected to Redis", "url", redactURL(url))
		return rdb, false, func() { _ = rdb.Close() }, nil
	}
	_ = rdb.Close()
	emb, err := cache.StartEmbedded()
	if err != nil {
		return nil, false, nil, fmt.Errorf("no Redis at %s (%v) and the embedded one failed to start: %w", redactURL(url), perr, err)
	}
	rdb, err = cache.NewRedisClient(emb.URL())
	if err != nil {
		emb.Close()
		return nil, false, nil, err
	}
	log.Warn("no Redis answered; using Redis (embedded), an in-process Redis-protocol server (miniredis)",
		"tried", redactURL(url), "embedded_addr", emb.Addr(),
		"hint", "for a real Redis run `redis-server` or set REDIS_URL=redis://host:6379/0")
	return rdb, true, func() { _ = rdb.Close(); emb.Close() }, nil
}

// redactURL hides a password in a Redis URL for logs.
func redactURL(u string) string {
	opt, err := redis.ParseURL(u)
	if err != nil || opt.Password == "" {
		return u
	}
	return "redis://" + opt.Addr + "/" + strconv.Itoa(opt.DB) + " (password hidden)"
}
