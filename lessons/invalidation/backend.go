package invalidation

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"cacheworkshop/cache"
)

// The lab keeps its entries apart from the workshop's: in a memory cache
// of its own (the same code as the workshop's memory backend) and in
// Redis under the lab's own prefix, with a client of its own whose hook
// counts the commands each measured step sends. Nothing the lab does can
// make a catalogue page stale, or evict one.
const (
	// entryPrefix holds the fifteen views; tagPrefix the tags strategy's
	// sets; racePrefix the race replays' keys. Generations live under the
	// backend's own "gen:" prefix.
	entryPrefix = "v:"
	tagPrefix   = "tag:"
	racePrefix  = "race:"
)

// backend is what a strategy does its work with, in one mode. Both
// implementations use the workshop's cache types; what a plain key-value
// cache lacks (a prefix scan, sets for tags) each does its own way, and
// that is part of the lesson.
type backend interface {
	cache.Cache
	// deletePrefix deletes every key under prefix and says how many.
	deletePrefix(ctx context.Context, prefix string) (int, error)
	// tag adds key to the sets of tags, for as long as the entry lives.
	tag(ctx context.Context, key string, tags []string, ttl time.Duration) error
	// invalidateTag deletes every key in tag's set, and the set, and
	// returns the keys.
	invalidateTag(ctx context.Context, tag string) ([]string, error)
	// ttl says how long key has left.
	ttl(ctx context.Context, key string) (time.Duration, bool, error)
	// clear drops every lab entry and tag set; generations stay.
	clear(ctx context.Context) error
}

// memoryBackend is the lab's memory cache, and its tag sets: a memory
// cache has no sets, so the tags live in a map beside it.
type memoryBackend struct {
	*cache.Memory
	mu   sync.Mutex
	tags map[string]map[string]struct{}
}

func newMemoryBackend() *memoryBackend {
	return &memoryBackend{Memory: cache.NewMemory(cache.MemoryConfig{MaxBytes: 8 << 20, DefaultTTL: labTTL}),
		tags: map[string]map[string]struct{}{}}
}

func (m *memoryBackend) deletePrefix(_ context.Context, prefix string) (int, error) {
	n, _ := m.Memory.DeletePrefix(prefix)
	return n, nil
}

func (m *memoryBackend) tag(_ context.Context, key string, tags []string, _ time.Duration) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, t := range tags {
		if m.tags[t] == nil {
			m.tags[t] = map[string]struct{}{}
		}
		m.tags[t][key] = struct{}{}
	}
	return nil
}

func (m *memoryBackend) invalidateTag(ctx context.Context, tag string) ([]string, error) {
	m.mu.Lock()
	keys := make([]string, 0, len(m.tags[tag]))
	for k := range m.tags[tag] {
		keys = append(keys, k)
	}
	delete(m.tags, tag)
	m.mu.Unlock()
	return keys, m.Delete(ctx, keys...)
}

func (m *memoryBackend) ttl(ctx context.Context, key string) (time.Duration, bool, error) {
	return m.TTL(ctx, key)
}

func (m *memoryBackend) clear(ctx context.Context) error {
	m.Memory.DeletePrefix(entryPrefix)
	m.Memory.DeletePrefix(racePrefix)
	m.mu.Lock()
	clear(m.tags)
	m.mu.Unlock()
	return nil
}

// redisBackend is the lab's namespace in Redis. Its client is the lab's
// own, so the counting hook sees the lab's commands and no others.
type redisBackend struct {
	*cache.Redis
	client *redis.Client
	// prefix is the full prefix of the lab's keys, for the commands the
	// cache type has no method for (SCAN, SADD, SMEMBERS).
	prefix string
}

// scanCount is the COUNT hint of the lab's SCANs: how many slots of the
// keyspace each call walks (the default, 10, would take ten times the
// round trips).
const scanCount = 1000

// deletePrefix is the safe pattern delete: SCAN walks the keyspace a slice
// at a time, so the server never blocks the way KEYS would, and each
// batch found is removed with UNLINK, which frees the memory off the main
// thread. It still has to walk every key of the database, matching or
// not.
func (r *redisBackend) deletePrefix(ctx context.Context, prefix string) (int, error) {
	return scanUnlink(ctx, r.client, escapeGlob(r.prefix+prefix)+"*")
}

// scanUnlink deletes every key matching pattern, with SCAN and UNLINK.
func scanUnlink(ctx context.Context, c *redis.Client, pattern string) (int, error) {
	var cursor uint64
	deleted := 0
	for {
		keys, next, err := c.Scan(ctx, cursor, pattern, scanCount).Result()
		if err != nil {
			return deleted, unavailable("SCAN", err)
		}
		if len(keys) > 0 {
			n, err := c.Unlink(ctx, keys...).Result()
			if err != nil {
				return deleted, unavailable("UNLINK", err)
			}
			deleted += int(n)
		}
		if next == 0 {
			return deleted, nil
		}
		cursor = next
	}
}

// tag adds the entry to each tag's set and keeps the set alive as long as
// the entry: one round trip, but two commands per tag on every fill.
func (r *redisBackend) tag(ctx context.Context, key string, tags []string, ttl time.Duration) error {
	pipe := r.client.Pipeline()
	for _, t := range tags {
		pipe.SAdd(ctx, r.prefix+tagPrefix+t, key)
		pipe.Expire(ctx, r.prefix+tagPrefix+t, ttl)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return unavailable("SADD", err)
	}
	return nil
}

// invalidateTag reads the tag's set and unlinks its keys with the set.
func (r *redisBackend) invalidateTag(ctx context.Context, tag string) ([]string, error) {
	set := r.prefix + tagPrefix + tag
	keys, err := r.client.SMembers(ctx, set).Result()
	if err != nil {
		return nil, unavailable("SMEMBERS", err)
	}
	full := []string{set}
	for _, k := range keys {
		full = append(full, r.prefix+k)
	}
	if err := r.client.Unlink(ctx, full...).Err(); err != nil {
		return nil, unavailable("UNLINK", err)
	}
	return keys, nil
}

func (r *redisBackend) ttl(ctx context.Context, key string) (time.Duration, bool, error) {
	return r.TTL(ctx, key)
}

func (r *redisBackend) clear(ctx context.Context) error {
	for _, p := range []string{entryPrefix, tagPrefix, racePrefix} {
		if _, err := r.deletePrefix(ctx, p); err != nil {
			return err
		}
	}
	return nil
}

func unavailable(op string, err error) error {
	return fmt.Errorf("redis %s: %w: %w", op, cache.ErrUnavailable, err)
}

// escapeGlob makes a literal prefix safe inside a SCAN MATCH pattern.
func escapeGlob(s string) string {
	var b strings.Builder
	for _, c := range s {
		if strings.ContainsRune(`*?[]\`, c) {
			b.WriteByte('\\')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// tally counts the Redis commands sent on behalf of one measured step. The
// lab's requests may overlap (one reads the page while another runs), so
// each step carries its own tally in its context instead of sharing a
// counter.
type tally struct {
	mu         sync.Mutex
	commands   int
	roundTrips int
	byName     map[string]int
	order      []string
}

type tallyKey struct{}

func withTally(ctx context.Context, t *tally) context.Context {
	return context.WithValue(ctx, tallyKey{}, t)
}

func (t *tally) add(cmds ...redis.Cmder) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.byName == nil {
		t.byName = map[string]int{}
	}
	t.roundTrips++
	for _, c := range cmds {
		n := strings.ToUpper(c.Name())
		if t.byName[n] == 0 {
			t.order = append(t.order, n)
		}
		t.byName[n]++
		t.commands++
	}
}

// count is what a tally shows: commands, round trips and the commands by
// name, in the order first sent.
type count struct {
	Commands, RoundTrips int
	ByName               []nameCount
}

type nameCount struct {
	Name string
	N    int
}

// Of returns the number of commands called name.
func (c count) Of(name string) int {
	for _, nc := range c.ByName {
		if nc.Name == name {
			return nc.N
		}
	}
	return 0
}

func (t *tally) count() count {
	t.mu.Lock()
	defer t.mu.Unlock()
	c := count{Commands: t.commands, RoundTrips: t.roundTrips}
	for _, n := range t.order {
		c.ByName = append(c.ByName, nameCount{n, t.byName[n]})
	}
	return c
}

// counter is the go-redis hook on the lab's client: every command and
// pipeline sent with a tally in its context is counted there. It is added
// after the workshop's guard, so a call the circuit breaker refuses, which
// never reaches the server, is not counted.
type counter struct{}

var _ redis.Hook = counter{}

func (counter) DialHook(next redis.DialHook) redis.DialHook { return next }

func (counter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if t, ok := ctx.Value(tallyKey{}).(*tally); ok {
			t.add(cmd)
		}
		return next(ctx, cmd)
	}
}

func (counter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if t, ok := ctx.Value(tallyKey{}).(*tally); ok {
			t.add(cmds...)
		}
		return next(ctx, cmds)
	}
}

// newRedisBackend opens the lab's own client to the workshop's Redis
// server, with the workshop's guard (so the faults page's switches apply
// to the lab too) and the counting hook inside it. On a Redis Cluster it
// returns nil: the lab's pattern deletes and key sets are single-server
// commands, and the page says the lab runs in memory there.
func newRedisBackend(shared *cache.Redis) *redisBackend {
	single, ok := shared.Client().(*redis.Client)
	if !ok {
		return nil
	}
	opt := *single.Options()
	if opt.MaintNotificationsConfig != nil {
		mc := *opt.MaintNotificationsConfig
		opt.MaintNotificationsConfig = &mc
	}
	// A few connections are plenty: the lab's steps run one at a time.
	// The lab's pipelines of a thousand SETs and its SCANs of a large
	// keyspace get more time than a page's lookups: on a busy machine
	// 150 ms is not always enough for them, and no page waits on the lab.
	opt.PoolSize, opt.MinIdleConns = 4, 0
	opt.ReadTimeout, opt.WriteTimeout = time.Second, time.Second
	client := redis.NewClient(&opt)
	prefix := shared.Prefix() + "lab:invalidation:"
	r := cache.NewRedis(cache.RedisConfig{Client: client, Prefix: prefix, DefaultTTL: labTTL,
		Label: shared.Label(), Guard: shared.Guard()})
	client.AddHook(counter{})
	return &redisBackend{Redis: r, client: client, prefix: prefix}
}
