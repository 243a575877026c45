package cache

import (
	"context"
	"errors"
	"fmt"
	neturl "net/url"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// Redis is a Cache over a Redis server or a Redis Cluster. Every key is
// stored under Prefix so that clearing the workshop's cache never touches
// anyone else's data, and no command here blocks the server (no KEYS, no
// FLUSHALL). On a cluster, keys read together share a hash tag (see
// cluster.go), so no command spans two slots.
type Redis struct {
	client  redis.UniversalClient
	cluster bool
	prefix  string
	ttl     time.Duration
	label   string
	guard   *Guard
	gens    *redisGens

	hits, misses, errs, sets, deletes atomic.Uint64
}

var (
	_ Cache     = (*Redis)(nil)
	_ Inspector = (*Redis)(nil)
	_ Clearer   = (*Redis)(nil)
	_ Locker    = (*Redis)(nil)
)

// RedisConfig configures NewRedis.
type RedisConfig struct {
	// Client is the connection pool, to one server or a cluster; see
	// NewRedisClient for the timeouts the workshop relies on.
	Client redis.UniversalClient
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
	_, cluster := cfg.Client.(*redis.ClusterClient)
	return &Redis{client: cfg.Client, cluster: cluster, prefix: cfg.Prefix, ttl: cfg.DefaultTTL, label: cfg.Label,
		guard: cfg.Guard, gens: newRedisGens(cfg.Client, cfg.Prefix)}
}

// Guard returns the breaker and fault switches, or nil.
func (r *Redis) Guard() *Guard { return r.guard }

// NewRedisClient parses a redis:// URL and sets the short timeouts a cache
// needs: a cache that waits seconds for a dead server is worse than none.
// A URL in go-redis's cluster form, redis://host1:port1?addr=host2:port2
// (one addr per further node), gives a cluster client; any other a client
// of one server.
func NewRedisClient(url string) (redis.UniversalClient, error) {
	if isCluster(url) {
		return newClusterClient(url)
	}
	opt, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("REDIS_URL: %w", err)
	}
	opt.DialTimeout = 250 * time.Millisecond
	opt.ReadTimeout = 150 * time.Millisecond
	opt.WriteTimeout = 150 * time.Millisecond
	opt.PoolTimeout = 200 * time.Millisecond
	// -1 disables retries: in go-redis v9, 0 means the default of 3.
	opt.MaxRetries = -1
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

// newClusterClient is NewRedisClient for a cluster URL: the same timeouts,
// for every node.
func newClusterClient(rawURL string) (*redis.ClusterClient, error) {
	opt, err := redis.ParseClusterURL(rawURL)
	if err != nil {
		return nil, fmt.Errorf("REDIS_URL (cluster): %w", err)
	}
	if u, _ := neturl.Parse(rawURL); u != nil && u.Path != "" && u.Path != "/" && u.Path != "/0" {
		return nil, fmt.Errorf("REDIS_URL (cluster): a Redis Cluster has database 0 only, not %s", u.Path)
	}
	opt.DialTimeout = 250 * time.Millisecond
	opt.ReadTimeout = 150 * time.Millisecond
	opt.WriteTimeout = 150 * time.Millisecond
	opt.PoolTimeout = 200 * time.Millisecond
	opt.MaxRetries = -1
	opt.DialerRetries = 1
	opt.PoolSize = 32 // per node
	opt.ContextTimeoutEnabled = false
	// One redirection is what a MOVED or ASK reply (a slot that moved to
	// another node) needs. go-redis also spends these tries on a node that
	// does not answer, with a backoff between them: the default of three
	// made each call to a dead cluster take about 100 ms. With one, and
	// no backoff before it (-1), a refused call fails at once.
	opt.MaxRedirects = 1
	opt.MinRetryBackoff = -1
	//
	// go-redis can split a command whose keys span slots into one per
	// slot. The workshop places its keys so that this is never needed
	// (cluster.go); with the splitting off, a layout mistake is a
	// CROSSSLOT error in the tests rather than hidden round trips.
	opt.DisableRoutingPolicies = true
	return redis.NewClusterClient(opt), nil
}

// Name implements Cache.
func (r *Redis) Name() string { return "redis" }

// Label is the backend's display name.
func (r *Redis) Label() string { return r.label }

// Prefix is the namespace every key lives under.
func (r *Redis) Prefix() string { return r.prefix }

// Client exposes the pool for features that need raw commands (stats, locks).
func (r *Redis) Client() redis.UniversalClient { return r.client }

// Cluster reports whether the client is a Redis Cluster's.
func (r *Redis) Cluster() bool { return r.cluster }

// DB is the database number the keys live in: a cluster has only 0.
func (r *Redis) DB() int {
	if c, ok := r.client.(*redis.Client); ok {
		return c.Options().DB
	}
	return 0
}

// GenPrefix is the prefix of every generation key (and of the applied
// change id): <prefix>{gen}:, one hash slot.
func (r *Redis) GenPrefix() string { return r.gens.prefix }

func (r *Redis) fail(op string, err error) error {
	r.errs.Add(1)
	return fmt.Errorf("redis %s: %w: %w", op, ErrUnavailable, err)
}

// Get implements Cache.
func (r *Redis) Get(ctx context.Context, key string) ([]byte, bool, error) {
	v, err := r.client.Get(ctx, r.prefix+key).Bytes()
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

// GetMulti implements Cache with one MGET (on a cluster, one per hash slot
// the keys are in: one for keys that share a tag).
func (r *Redis) GetMulti(ctx context.Context, keys []string) ([][]byte, error) {
	if len(keys) == 0 {
		return nil, nil
	}
	full := make([]string, len(keys))
	for i, k := range keys {
		full[i] = r.prefix + k
	}
	vals, err := r.mget(ctx, full)
	if err != nil {
		return nil, r.fail("MGET", err)
	}
	out := make([][]byte, len(keys))
	var hits uint64
	for i, v := range vals {
		if s, ok := v.(string); ok {
			out[i] = []byte(s)
			hits++
		}
	}
	r.hits.Add(hits)
	r.misses.Add(uint64(len(keys)) - hits)
	return out, nil
}

// GetVersioned implements Cache with one MGET of the server's applied
// change id, the generations and the entry, so a Redis hit is one round
// trip. On a cluster the entry is in another slot than the generations:
// two MGETs in one pipeline, one round trip to each node involved, in
// parallel. The generations are trusted only when the server has applied
// every change this instance knows of (ErrBehind otherwise). A generation
// that does not exist yet is created (once per name and server), and the
// read is then a miss.
func (r *Redis) GetVersioned(ctx context.Context, key string, gens []string, cur []int64) ([]byte, bool, error) {
	keys := make([]string, len(gens)+2)
	keys[0] = r.gens.appliedKey
	for i, n := range gens {
		keys[i+1] = r.gens.prefix + n
	}
	keys[len(gens)+1] = r.prefix + key
	vals, err := r.mget(ctx, keys)
	if err != nil {
		return nil, false, r.fail("MGET", err)
	}
	var applied int64
	if s, ok := vals[0].(string); ok {
		applied, _ = strconv.ParseInt(s, 10, 64)
	}
	if applied < r.gens.required.Load() {
		r.errs.Add(1)
		if r.gens.onBehind != nil {
			r.gens.onBehind()
		}
		return nil, false, ErrBehind
	}
	created, err := r.gens.readGens(ctx, gens, vals[1:len(gens)+1], applied, cur)
	if err != nil {
		r.errs.Add(1)
		return nil, false, err
	}
	s, ok := vals[len(gens)+1].(string)
	if created || !ok {
		r.misses.Add(1)
		return nil, false, nil
	}
	v, ok := unstamp([]byte(s), cur)
	if !ok {
		r.misses.Add(1)
		return nil, false, nil
	}
	r.hits.Add(1)
	return v, true, nil
}

// SetVersioned implements Cache.
func (r *Redis) SetVersioned(ctx context.Context, key string, cur []int64, value []byte, ttl time.Duration) error {
	return r.Set(ctx, key, stamp(cur, value), ttl)
}

// Apply implements Cache: the changes go to the server in one pipelined
// round trip of scripts that apply each in order, or ErrGap when the server
// lacks an earlier change (the invalidator then sends it everything since
// the server's applied id).
func (r *Redis) Apply(ctx context.Context, changes ...Change) error {
	if _, err := r.gens.apply(ctx, changes); err != nil {
		r.errs.Add(1)
		return err
	}
	return nil
}

// Applied returns the id of the last change the server has applied.
func (r *Redis) Applied(ctx context.Context) (int64, error) {
	n, err := r.gens.applied(ctx)
	if err != nil {
		return 0, r.fail("GET", err)
	}
	return n, nil
}

// Require makes reads trust the server's generations only once it has
// applied change id; onBehind is told when a read finds it has not.
func (r *Redis) Require(id int64) {
	for {
		cur := r.gens.required.Load()
		if cur >= id || r.gens.required.CompareAndSwap(cur, id) {
			return
		}
	}
}

// Required is the change id reads wait for (see Require).
func (r *Redis) Required() int64 { return r.gens.required.Load() }

// OnBehind sets what a read that finds the server behind tells: the
// invalidator's relay, so it catches the server up at once.
func (r *Redis) OnBehind(f func()) { r.gens.onBehind = f }

// TryLock implements Locker with SET NX PX and a random token.
func (r *Redis) TryLock(ctx context.Context, key string, ttl time.Duration) (*Lock, bool, error) {
	return TryLock(ctx, r.client, r.prefix+key, ttl)
}

// TTL implements Inspector.
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
	n, err := r.unlink(ctx, full)
	if err != nil {
		return r.fail("UNLINK", err)
	}
	r.deletes.Add(uint64(n))
	return nil
}

// Clear implements Clearer: every key under the prefix except the
// generations goes, and the client-side counters are zeroed.
func (r *Redis) Clear(ctx context.Context) error {
	err := r.deletePrefix(ctx, "", r.gens.prefix)
	for _, c := range []*atomic.Uint64{&r.hits, &r.misses, &r.errs, &r.sets, &r.deletes} {
		c.Store(0)
	}
	return err
}

// DeletePrefix removes every key starting with prefix by SCAN + UNLINK in batches, so a large
// keyspace never blocks the server the way KEYS would. On a cluster every
// master is scanned, for SCAN walks one server's keys.
func (r *Redis) DeletePrefix(ctx context.Context, prefix string) error {
	return r.deletePrefix(ctx, prefix, "")
}

// deletePrefix deletes the keys under prefix, except those under keep (a
// full key prefix) when it is set.
func (r *Redis) deletePrefix(ctx context.Context, prefix, keep string) error {
	pattern := escapeGlob(r.prefix+prefix) + "*"
	err := r.eachMaster(ctx, func(ctx context.Context, node *redis.Client) error {
		var cursor uint64
		for {
			keys, next, err := node.Scan(ctx, cursor, pattern, 500).Result()
			if err != nil {
				return fmt.Errorf("SCAN on %s: %w", node.Options().Addr, err)
			}
			if keep != "" {
				keys = slices.DeleteFunc(keys, func(k string) bool { return strings.HasPrefix(k, keep) })
			}
			if len(keys) > 0 {
				n, err := r.unlink(ctx, keys)
				if err != nil {
					return fmt.Errorf("UNLINK: %w", err)
				}
				r.deletes.Add(uint64(n))
			}
			if next == 0 {
				return nil
			}
			cursor = next
		}
	})
	if err != nil {
		return r.fail("SCAN", err)
	}
	return nil
}

// CountKeys counts the keys under the prefix with SCAN, on every master of
// a cluster.
func (r *Redis) CountKeys(ctx context.Context) (int, error) {
	var n atomic.Int64
	err := r.eachMaster(ctx, func(ctx context.Context, node *redis.Client) error {
		var cursor uint64
		for {
			keys, next, err := node.Scan(ctx, cursor, escapeGlob(r.prefix)+"*", 1000).Result()
			if err != nil {
				return fmt.Errorf("SCAN on %s: %w", node.Options().Addr, err)
			}
			n.Add(int64(len(keys)))
			if next == 0 {
				return nil
			}
			cursor = next
		}
	})
	if err != nil {
		return int(n.Load()), r.fail("SCAN", err)
	}
	return int(n.Load()), nil
}

// Ping checks the server answers (every master, on a cluster).
func (r *Redis) Ping(ctx context.Context) error {
	if err := Ping(ctx, r.client); err != nil {
		return r.fail("PING", err)
	}
	return nil
}

// Stats implements Inspector with the client-side counters (server figures
// come from INFO).
func (r *Redis) Stats() Stats {
	return Stats{
		Hits: r.hits.Load(), Misses: r.misses.Load(), Errors: r.errs.Load(),
		Sets: r.sets.Load(), Deletes: r.deletes.Load(),
	}
}

// Close closes the connection pool.
func (r *Redis) Close() error { return r.client.Close() }

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
