package cache

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// Generations are named counters recorded in each cached entry and
// compared on every read (see Cache.GetVersioned). Bumping a generation
// makes every entry built under its old value a miss, so invalidating
// "every list page" is one increment instead of a key scan. Readers read
// the generation before the database and editors bump it after the commit,
// so an entry filled from a row read before an edit carries an old
// generation and is never served.

// MemoryGens keeps generations in process memory. They are never evicted:
// losing a counter could resurrect entries built under an old value.
//
// Every cached read looks its generations up, from every core at once, so
// reads take no lock and write nothing shared: a sync.Map of counters,
// whose keys are stable after their first bump. A bump of several names
// is not atomic as a whole, and need not be: a reader that sees any of
// them old builds an entry that later readers reject.
type MemoryGens struct {
	m sync.Map // name → *atomic.Int64
}

// Get fills out[i] with the current value of names[i]; every generation
// starts at 1.
func (g *MemoryGens) Get(names []string, out []int64) {
	for i, n := range names {
		out[i] = 1
		if c, ok := g.m.Load(n); ok {
			out[i] = c.(*atomic.Int64).Load()
		}
	}
}

// Bump advances every named generation.
func (g *MemoryGens) Bump(names ...string) {
	for _, n := range names {
		c, ok := g.m.Load(n)
		if !ok {
			fresh := new(atomic.Int64)
			fresh.Store(1)
			c, _ = g.m.LoadOrStore(n, fresh)
		}
		c.(*atomic.Int64).Add(1)
	}
}

// RedisGens keeps generations in Redis so every instance sharing the server
// agrees on them. A missing counter is created at the current time in
// nanoseconds rather than 1, so a counter lost to eviction or a restart can
// never come back to a value that old entries were built under.
//
// A bump that fails (Redis down) is remembered and replayed before the next
// read is trusted: until the replay succeeds, Get reports an error and
// Redis-mode requests are served from the database, so an edit made during
// an outage can't leave stale pages behind once Redis returns.
type RedisGens struct {
	client *redis.Client
	prefix string

	mu      sync.Mutex
	pending map[string]struct{}
	// anyPending mirrors len(pending) > 0 so that every Redis read can
	// skip the mutex when, as almost always, nothing waits.
	anyPending atomic.Bool
}

// newRedisGens stores generations under prefix+"gen:".
func newRedisGens(client *redis.Client, prefix string) *RedisGens {
	return &RedisGens{client: client, prefix: prefix + "gen:", pending: make(map[string]struct{})}
}

// Pending reports how many bumps wait for Redis to come back.
func (g *RedisGens) Pending() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.pending)
}

// Get fills out[i] with the current value of names[i], creating missing
// counters.
func (g *RedisGens) Get(ctx context.Context, names []string, out []int64) error {
	if err := g.flush(ctx); err != nil {
		return err
	}
	keys := make([]string, len(names))
	for i, n := range names {
		keys[i] = g.prefix + n
	}
	vals, err := g.client.MGet(ctx, keys...).Result()
	if err != nil {
		return fmt.Errorf("redis generations: %w: %w", ErrUnavailable, err)
	}
	var missing []int
	for i, v := range vals {
		s, ok := v.(string)
		if !ok {
			missing = append(missing, i)
			continue
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return fmt.Errorf("redis generation %s: %q is not a number", names[i], s)
		}
		out[i] = n
	}
	if len(missing) == 0 {
		return nil
	}
	base := time.Now().UnixNano()
	pipe := g.client.Pipeline()
	cmds := make([]*redis.StringCmd, len(missing))
	for j, i := range missing {
		pipe.SetNX(ctx, keys[i], base, 0)
		cmds[j] = pipe.Get(ctx, keys[i])
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("redis generations: %w: %w", ErrUnavailable, err)
	}
	for j, i := range missing {
		n, err := cmds[j].Int64()
		if err != nil {
			return fmt.Errorf("redis generation %s: %w", names[i], err)
		}
		out[i] = n
	}
	return nil
}

// Bump advances the named generations. On failure the names are kept for
// replay.
func (g *RedisGens) Bump(ctx context.Context, names ...string) error {
	if err := g.bump(ctx, names); err != nil {
		g.mu.Lock()
		for _, n := range names {
			g.pending[n] = struct{}{}
		}
		g.anyPending.Store(true)
		g.mu.Unlock()
		return err
	}
	return nil
}

func (g *RedisGens) bump(ctx context.Context, names []string) error {
	if len(names) == 0 {
		return nil
	}
	base := time.Now().UnixNano()
	pipe := g.client.Pipeline()
	for _, n := range names {
		pipe.SetNX(ctx, g.prefix+n, base, 0)
		pipe.Incr(ctx, g.prefix+n)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("redis generations: %w: %w", ErrUnavailable, err)
	}
	return nil
}

// flush replays pending bumps. It is cheap when nothing is pending.
func (g *RedisGens) flush(ctx context.Context) error {
	if !g.anyPending.Load() {
		return nil
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.pending) == 0 {
		return nil
	}
	names := make([]string, 0, len(g.pending))
	for n := range g.pending {
		names = append(names, n)
	}
	if err := g.bump(ctx, names); err != nil {
		return fmt.Errorf("%d invalidations wait for Redis: %w", len(names), err)
	}
	clear(g.pending)
	g.anyPending.Store(false)
	return nil
}

// Invalidator bumps generations in every backend at once, whatever mode the
// edit was made in, and tells other instances sharing the Redis server to
// bump their in-process generations too.
type Invalidator struct {
	Memory *Memory
	Redis  *Redis // nil when there is no Redis at all
	// Channel is the pub/sub channel of cross-instance broadcasts; empty
	// disables them.
	Channel string
	// ID tells this instance's own broadcasts apart from others'.
	ID  string
	Log *slog.Logger
}

// InvalidationResult says what one backend did with an invalidation, for
// the learner-facing invalidation log.
type InvalidationResult struct {
	Mode  Mode // the backend's mode
	Names []string
	Err   error
}

// Invalidate bumps names in memory and in Redis and broadcasts the bump.
// A Redis failure is reported and queued for replay, never fatal.
func (inv *Invalidator) Invalidate(ctx context.Context, names ...string) []InvalidationResult {
	res := []InvalidationResult{{Mode: ModeMemory, Names: names}}
	_ = inv.Memory.Bump(ctx, names...)
	if inv.Redis != nil {
		err := inv.Redis.Bump(ctx, names...)
		res = append(res, InvalidationResult{Mode: ModeRedis, Names: names, Err: err})
		if err != nil && inv.Log != nil {
			inv.Log.Warn("redis invalidation queued for replay", "names", names, "err", err)
		}
	}
	if inv.Redis != nil && inv.Channel != "" {
		msg := inv.ID + " " + strings.Join(names, " ")
		if err := inv.Redis.client.Publish(ctx, inv.Channel, msg).Err(); err != nil && inv.Log != nil {
			inv.Log.Warn("invalidation broadcast failed", "err", err)
		}
	}
	return res
}

// Listen applies other instances' invalidations to this instance's memory
// generations until ctx ends. It resubscribes after connection loss.
func (inv *Invalidator) Listen(ctx context.Context) {
	if inv.Redis == nil || inv.Channel == "" {
		return
	}
	for ctx.Err() == nil {
		sub := inv.Redis.client.Subscribe(ctx, inv.Channel)
		ch := sub.Channel()
		inv.drain(ctx, ch)
		_ = sub.Close()
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

func (inv *Invalidator) drain(ctx context.Context, ch <-chan *redis.Message) {
	for {
		select {
		case <-ctx.Done():
			return
		case msg, ok := <-ch:
			if !ok {
				return
			}
			fields := strings.Fields(msg.Payload)
			if len(fields) < 2 || fields[0] == inv.ID {
				continue
			}
			_ = inv.Memory.Bump(ctx, fields[1:]...)
		}
	}
}
