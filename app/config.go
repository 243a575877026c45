package app

import (
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"cacheworkshop/cache"
)

// Config is the workshop's whole configuration. Defaults returns the
// documented defaults; ParseConfig applies the environment and then the
// command line over them. Every default lives here and nowhere else.
type Config struct {
	Addr         string
	DatabasePath string
	RedisURL     string
	DefaultMode  cache.Mode
	TTL          time.Duration
	SlowQuery    time.Duration
	MemoryBytes  int64
	// Weather: the simulated upstream's latency, how long a city's
	// reading is cached, and the upstream's base URL (empty: this
	// server's own /upstream/weather).
	WeatherLatency time.Duration
	WeatherTTL     time.Duration
	WeatherURL     string
	AdminToken     string
	// Instance names this process in the X-Instance header, the request
	// bar and /instances (INSTANCE; default host name and port).
	Instance string
	// AllowedHosts are host names the Host header may carry besides
	// localhost, IP addresses and the name in Addr (ALLOWED_HOSTS).
	AllowedHosts []string
	EditAdmin    bool
	Pprof        bool
	Dev          bool
	// TemplateDir and StaticDir are what Dev reads from disk.
	TemplateDir, StaticDir string

	// Set by programs, not by users: the bench and tests.

	// RedisPrefix namespaces every Redis key (default "cw:").
	RedisPrefix string
	// NoPageCache keeps fragment caching but skips the page cache.
	NoPageCache bool
	// NoAnnounce keeps this instance off /instances (no announcement
	// writes), for tests that count Redis commands.
	NoAnnounce bool
	// NoEmbedded makes an unreachable REDIS_URL an error instead of
	// starting the embedded server.
	NoEmbedded bool
}

// Defaults returns the documented defaults.
func Defaults() Config {
	return Config{
		Addr: "127.0.0.1:8080", DatabasePath: "data/workshop.db", RedisURL: "redis://127.0.0.1:6379/0",
		DefaultMode: cache.ModeMemory, TTL: 5 * time.Minute, SlowQuery: 300 * time.Millisecond,
		MemoryBytes: 64 << 20, WeatherLatency: time.Second, WeatherTTL: time.Minute,
		TemplateDir: "templates", StaticDir: "static", RedisPrefix: "cw:",
	}
}

// env reads a variable; empty counts as unset.
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

// ParseConfig reads the environment, then args (flags win). Bad values
// are reported, never silently replaced by defaults. -h prints the flags
// and returns flag.ErrHelp.
func ParseConfig(args []string) (Config, error) {
	c := Defaults()
	fs := flag.NewFlagSet("cacheworkshop", flag.ContinueOnError)
	var mode, ttl, slow, mem, wms, wttl, hosts string
	fs.StringVar(&c.Addr, "addr", env("ADDR", c.Addr), "listen address (env ADDR)")
	fs.StringVar(&c.DatabasePath, "database-path", env("DATABASE_PATH", c.DatabasePath), "SQLite file; its folder is created (env DATABASE_PATH)")
	fs.StringVar(&c.RedisURL, "redis-url", env("REDIS_URL", c.RedisURL), "Redis server; if none answers, an embedded one is started (env REDIS_URL)")
	fs.StringVar(&mode, "cache-default", env("CACHE_DEFAULT", c.DefaultMode.String()), "mode when a request names none: none, memory, redis or tiered (env CACHE_DEFAULT)")
	fs.StringVar(&ttl, "cache-ttl", env("CACHE_TTL", c.TTL.String()), "how long cached pages live (env CACHE_TTL)")
	fs.StringVar(&slow, "slow-query-ms", env("SLOW_QUERY_MS", strconv.Itoa(int(c.SlowQuery.Milliseconds()))), "simulated database latency added to uncached detail lookups, in ms (env SLOW_QUERY_MS)")
	fs.StringVar(&mem, "memory-cache-mb", env("MEMORY_CACHE_MB", strconv.Itoa(int(c.MemoryBytes>>20))), "byte budget of the in-process cache, in MiB (env MEMORY_CACHE_MB)")
	fs.StringVar(&wms, "weather-latency-ms", env("WEATHER_LATENCY_MS", strconv.Itoa(int(c.WeatherLatency.Milliseconds()))), "latency of the simulated upstream weather service, in ms (env WEATHER_LATENCY_MS)")
	fs.StringVar(&wttl, "weather-ttl", env("WEATHER_TTL", c.WeatherTTL.String()), "how long a city's weather is cached (env WEATHER_TTL)")
	fs.StringVar(&c.WeatherURL, "weather-upstream-url", env("WEATHER_UPSTREAM_URL", ""), "weather service URL; empty means this server's own /upstream/weather (env WEATHER_UPSTREAM_URL)")
	fs.StringVar(&c.AdminToken, "admin-token", env("ADMIN_TOKEN", ""), "if set, required to clear caches, flip fault switches, reset the catalogue, use the teacher controls, start a load test and scrape /metrics (env ADMIN_TOKEN)")
	fs.StringVar(&c.Instance, "instance", env("INSTANCE", ""), "this process's name in the X-Instance header and on /instances; default host name:port (env INSTANCE)")
	fs.StringVar(&hosts, "allowed-hosts", env("ALLOWED_HOSTS", ""), "more host names to answer to, comma-separated, besides localhost, IP addresses and the -addr name; others get 400 (env ALLOWED_HOSTS)")
	fs.BoolVar(&c.EditAdmin, "edit-requires-admin", envBool("EDIT_REQUIRES_ADMIN"), "product edits, creates and deletes need the admin token too (env EDIT_REQUIRES_ADMIN=1)")
	fs.BoolVar(&c.Pprof, "pprof", envBool("PPROF"), "serve /debug/pprof to loopback clients (env PPROF=1)")
	fs.BoolVar(&c.Dev, "dev", envBool("DEV"), "read templates and static files from disk on every request (env DEV=1)")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	var err error
	if c.TTL, err = time.ParseDuration(ttl); err != nil || c.TTL <= 0 {
		return c, fmt.Errorf("CACHE_TTL: %q is not a positive duration like 5m or 30s", ttl)
	}
	if c.SlowQuery, err = millis(slow, 60_000); err != nil {
		return c, fmt.Errorf("SLOW_QUERY_MS: %q is not a whole number of milliseconds from 0 to 60000", slow)
	}
	if n, err := strconv.Atoi(mem); err != nil || n < 1 || n > 1<<20 {
		return c, fmt.Errorf("MEMORY_CACHE_MB: %q is not a whole number of MiB from 1 to 1048576", mem)
	} else {
		c.MemoryBytes = int64(n) << 20
	}
	if c.WeatherLatency, err = millis(wms, 60_000); err != nil {
		return c, fmt.Errorf("WEATHER_LATENCY_MS: %q is not a whole number of milliseconds from 0 to 60000", wms)
	}
	if c.WeatherTTL, err = time.ParseDuration(wttl); err != nil || c.WeatherTTL <= 0 {
		return c, fmt.Errorf("WEATHER_TTL: %q is not a positive duration like 60s", wttl)
	}
	if c.AllowedHosts, err = hostList(hosts); err != nil {
		return c, fmt.Errorf("ALLOWED_HOSTS: %w", err)
	}
	if !validInstance(c.Instance) {
		return c, fmt.Errorf("INSTANCE: %q is not a name of 1 to 40 letters, digits, dots, dashes, underscores or colons", c.Instance)
	}
	switch mode {
	case "none", "memory", "redis", "tiered":
		c.DefaultMode, _ = cache.ParseMode(mode, cache.ModeMemory)
	default:
		return c, fmt.Errorf("CACHE_DEFAULT: %q is not one of none, memory, redis, tiered", mode)
	}
	return c, nil
}

// validInstance accepts an empty name (the default is made at start) or
// a short one that is safe in a header, a Redis key and a page.
func validInstance(s string) bool {
	if len(s) > 40 {
		return false
	}
	for _, c := range s {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("._-:", c)
		if !ok {
			return false
		}
	}
	return true
}

// hostList splits ALLOWED_HOSTS. Each entry is a bare name, as the Host
// header carries it without its port: a URL or a port given by mistake
// would otherwise allow nothing, silently.
func hostList(s string) ([]string, error) {
	var names []string
	for n := range strings.SplitSeq(s, ",") {
		n = strings.TrimSpace(n)
		if n == "" {
			continue
		}
		for _, r := range n {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.' || r == '_') {
				return nil, fmt.Errorf("%q is not a host name: give names like classroom.local, without scheme, port or path", n)
			}
		}
		names = append(names, n)
	}
	return names, nil
}

func millis(s string, limit int) (time.Duration, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n > limit {
		return 0, fmt.Errorf("out of range")
	}
	return time.Duration(n) * time.Millisecond, nil
}
