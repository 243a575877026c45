package cache

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/redis/go-redis/v9"
)

// Redis is a Cache over a Redis server. Every key is stored under Prefix so
// that clearing the workshop's cache never touches anyone else's data, and
// no command here blocks the server (no KEYS, no FLUSHALL).
type Redis struct {
	client *redis.Client
	prefix string
	ttl    time.Duration
	label  string
	guard  *Guard

	hits, misses, errs, sets, deletes atomic.Uint64
}

var _ Cache = (*Redis)(nil)

// RedisConfig configures NewRedis.
type RedisConfig struct {
	// Client is the connection pool; see NewRedisClient for the timeouts
	// the workshop relies on.
	Client *redis.Client
	// Prefix namespaces every key. Default "cw:".
	Prefix string
	// DefaultTTL applies when Set is called with ttl <= 0. Default 5m.
	DefaultTTL time.Duration
	// Label is what the UI calls this backend, e.g. "Redis (embedded)".
	Label string
	// Guard, when set, is installed as a hook on Client: a circuit
	// breaker and the fault switches for every command of the client.
	Guard *Guard
}

// NewRedis wraps a go-redis client.
func NewRedis(cfg RedisConfig) *Redis {
	if cfg.Prefix == "" {
		cfg.Prefix = "cw:"
	}
	if cfg.DefaultTTL <= 0 {
		cfg.DefaultTTL = 5 * time.Minute
	}
	if cfg.Label == "" {
		cfg.Label = "Redis"
	}
	if cfg.Guard != nil {
		cfg.Client.AddHook(cfg.Guard)
	}
	return &Redis{client: cfg.Client, prefix: cfg.Prefix, ttl: cfg.DefaultTTL, label: cfg.Label, guard: cfg.Guard}
}

// Guard returns the breaker and fault switches, or nil.
func (r *Redis) Guard() *Guard { return r.guard }

// NewRedisClient parses a redis:// URL and sets the short timeouts a cache
// needs: a cache that waits seconds for a dead server is worse than none.
func NewRedisClient(url string) (*redis.Client, error) {
	opt, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("REDIS_URL: %w", err)
	}
	opt.DialTimeout = 250 * time.Millisecond
	opt.ReadTimeout = 150 * time.Millisecond
	opt.WriteTimeout = 150 * time.Millisecond
	opt.PoolTimeout = 200 * time.Millisecond
	opt.MaxRetries = 0
	// One dial attempt per command: go-redis's default of five with
	// backoff would make every call against a dead server cost half a
	// second.
	opt.DialerRetries = 1
	opt.PoolSize = 32
	// Cache reads must not wait for a slow request's deadline: the
	// timeouts above bound every call on their own.
	opt.ContextTimeoutEnabled = false
	return redis.NewClient(opt), nil
}

// Name implements Cache.
func (r *Redis) Name() string { return "redis" }

// Label is the backend's display name.
func (r *Redis) Label() string { return r.label }

// Prefix is the namespace every key lives under.
func (r *Redis) Prefix() string { return r.prefix }

// Client exposes the pool for features that need raw commands (stats, locks).
func (r *Redis) Client() *redis.Client { return r.client }

func (r *Redis) fail(op string, err error) error {
	r.errs.Add(1)
	return fmt.Errorf("redis %s: %w: %w", op, ErrUnavailable, err)
}

// Get implements Cache.
func (r *Redis) Get(ctx context.Context, key string) ([]byte, bool, error) {
	s, err := r.client.Get(ctx, r.prefix+key).Result()
	v := bytesOf(s)
	if errors.Is(err, redis.Nil) {
		r.misses.Add(1)
		return nil, false, nil
	}
	if err != nil {
		return nil, false, r.fail("GET", err)
	}
	r.hits.Add(1)
	return v, true, nil
}

// GetMulti implements Cache with one MGET.
func (r *Redis) GetMulti(ctx context.Context, keys []string) ([][]byte, error) {
	if len(keys) == 0 {
		return nil, nil
	}
	full := make([]string, len(keys))
	for i, k := range keys {
		full[i] = r.prefix + k
	}
	vals, err := r.client.MGet(ctx, full...).Result()
	if err != nil {
		return nil, r.fail("MGET", err)
	}
	out := make([][]byte, len(keys))
	var hits uint64
	for i, v := range vals {
		if s, ok := v.(string); ok {
			out[i] = bytesOf(s)
			hits++
		}
	}
	r.hits.Add(hits)
	r.misses.Add(uint64(len(keys)) - hits)
	return out, nil
}

// TTL returns how long key has left, and whether it is present.
func (r *Redis) TTL(ctx context.Context, key string) (time.Duration, bool, error) {
	d, err := r.client.PTTL(ctx, r.prefix+key).Result()
	if err != nil {
		return 0, false, r.fail("PTTL", err)
	}
	switch d {
	case -2: // go-redis passes the server's "no such key" through as -2ns
		return 0, false, nil
	case -1: // no expiry
		return -1, true, nil
	}
	return d, true, nil
}

// Set implements Cache with SET EX.
func (r *Redis) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if ttl <= 0 {
		ttl = r.ttl
	}
	if err := r.client.Set(ctx, r.prefix+key, value, ttl).Err(); err != nil {
		return r.fail("SET", err)
	}
	r.sets.Add(1)
	return nil
}

// Delete implements Cache with UNLINK, which frees memory off the main thread.
func (r *Redis) Delete(ctx context.Context, keys ...string) error {
	if len(keys) == 0 {
		return nil
	}
	full := make([]string, len(keys))
	for i, k := range keys {
		full[i] = r.prefix + k
	}
	n, err := r.client.Unlink(ctx, full...).Result()
	if err != nil {
		return r.fail("UNLINK", err)
	}
	r.deletes.Add(uint64(n))
	return nil
}

// DeletePrefix implements Cache by SCAN + UNLINK in batches, so a large
// keyspace never blocks the server the way KEYS would.
func (r *Redis) DeletePrefix(ctx context.Context, prefix string) error {
	pattern := escapeGlob(r.prefix+prefix) + "*"
	var cursor uint64
	for {
		keys, next, err := r.client.Scan(ctx, cursor, pattern, 500).Result()
		if err != nil {
			return r.fail("SCAN", err)
		}
		if len(keys) > 0 {
			n, err := r.client.Unlink(ctx, keys...).Result()
			if err != nil {
				return r.fail("UNLINK", err)
			}
			r.deletes.Add(uint64(n))
		}
		if next == 0 {
			return nil
		}
		cursor = next
	}
}

// CountKeys counts the keys under the prefix with SCAN.
func (r *Redis) CountKeys(ctx context.Context) (int, error) {
	var cursor uint64
	n := 0
	for {
		keys, next, err := r.client.Scan(ctx, cursor, escapeGlob(r.prefix)+"*", 1000).Result()
		if err != nil {
			return n, r.fail("SCAN", err)
		}
		n += len(keys)
		if next == 0 {
			return n, nil
		}
		cursor = next
	}
}

// Ping checks the server answers.
func (r *Redis) Ping(ctx context.Context) error {
	if err := r.client.Ping(ctx).Err(); err != nil {
		return r.fail("PING", err)
	}
	return nil
}

// Stats returns the client-side counters (server figures come from INFO).
func (r *Redis) Stats() Stats {
	return Stats{
		Hits: r.hits.Load(), Misses: r.misses.Load(), Errors: r.errs.Load(),
		Sets: r.sets.Load(), Deletes: r.deletes.Load(),
	}
}

// ResetStats zeroes the client-side counters.
func (r *Redis) ResetStats() {
	for _, c := range []*atomic.Uint64{&r.hits, &r.misses, &r.errs, &r.sets, &r.deletes} {
		c.Store(0)
	}
}

// Close closes the connection pool.
func (r *Redis) Close() error { return r.client.Close() }

// bytesOf returns the bytes of s without copying them. go-redis hands
// replies over as strings; values are read-only by the Cache contract, so
// sharing the string's memory saves copying every page on every hit.
func bytesOf(s string) []byte {
	if s == "" {
		return nil
	}
	return unsafe.Slice(unsafe.StringData(s), len(s))
}

func escapeGlob(s string) string {
	if !strings.ContainsAny(s, `*?[]\`) {
		return s
	}
	var b strings.Builder
	for _, c := range s {
		if strings.ContainsRune(`*?[]\`, c) {
			b.WriteByte('\\')
		}
		b.WriteRune(c)
	}
	return b.String()
}
