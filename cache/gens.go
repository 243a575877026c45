package cache

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/redis/go-redis/v9"
)

// Generations are named counters compared on every read (see
// Cache.GetVersioned): an entry is stamped with the values of the
// generations it depends on ("list", "product:7", "category:books"), and a
// change to any of them makes it a miss, so invalidating every list page
// is one write instead of a key scan.
//
// A generation's value is the id of the last change that touched it, a
// Change from the database's outbox. Changes are applied with "raise to
// the change id if larger", so applying one twice, or from two instances
// at once, is harmless, and a value never goes back. Readers read the
// generations before the database and writers commit before the change
// is applied, so an entry filled from a row read before a write carries a
// value that is already obsolete and is never served after it.

// Change is one committed invalidation: its outbox id and the generations
// it advances.
type Change struct {
	ID    int64
	Names []string
}

// MemoryGens keeps generations in process memory. They are never evicted:
// losing a value could resurrect entries built under an old one.
//
// Every cached read looks its generations up, from every core at once, so
// reads take no lock and write nothing shared: a sync.Map of counters,
// whose keys are stable after their first change.
type MemoryGens struct {
	m sync.Map // name → *atomic.Int64
	// floor is the value of a generation no change has touched since this
	// process started: the newest change id at start-up. Every change up
	// to it happened before this process cached anything.
	floor atomic.Int64
}

// Get fills out[i] with the current value of names[i].
func (g *MemoryGens) Get(names []string, out []int64) {
	floor := g.floor.Load()
	for i, n := range names {
		out[i] = floor
		if c, ok := g.m.Load(n); ok {
			out[i] = max(floor, c.(*atomic.Int64).Load())
		}
	}
}

// apply raises every named generation to id.
func (g *MemoryGens) apply(id int64, names []string) {
	for _, n := range names {
		c, ok := g.m.Load(n)
		if !ok {
			c, _ = g.m.LoadOrStore(n, new(atomic.Int64))
		}
		v := c.(*atomic.Int64)
		for {
			cur := v.Load()
			if cur >= id || v.CompareAndSwap(cur, id) {
				break
			}
		}
	}
}

// ErrBehind is returned by Redis reads while the Redis server has not yet
// applied every change this instance knows of: its generations cannot be
// trusted, so the page is served from the database until it catches up.
var ErrBehind = errors.New("redis has not yet applied every invalidation this instance knows of")

// ErrGap is returned when a change cannot be applied to Redis because an
// earlier one has not been: apply from the one after Redis's last first.
var ErrGap = errors.New("redis is missing earlier invalidations")

// redisGens keeps generations in Redis so every instance sharing the
// server agrees on them, with the id of the last change the server has
// applied (appliedKey): an instance trusts the server's generations only
// when that id is at least the newest change it knows of.
//
// Every generation key and the applied id share the hash tag {gen}, so on
// a Redis Cluster they are in one slot, on one node: the apply script,
// which reads and writes them together, and the MGET of a versioned read
// never span two slots (CROSSSLOT).
type redisGens struct {
	client     redis.UniversalClient
	prefix     string // of every generation key
	appliedKey string
	// required is the newest change id this instance knows of.
	required atomic.Int64
	// onBehind, when set, is told that a read found the server behind,
	// so the relay can catch it up at once.
	onBehind func()
}

func newRedisGens(client redis.UniversalClient, prefix string) *redisGens {
	// '@' never appears in a generation name, so the applied id cannot
	// collide with one.
	return &redisGens{client: client, prefix: prefix + "{gen}:", appliedKey: prefix + "{gen}:@applied"}
}

// applyScript applies one change, in order: it is skipped when the server
// has applied it already and refused (-1) when an earlier change is
// missing, so the server's generations always reflect a prefix of the
// outbox. KEYS[1] is the applied id, KEYS[2..] the generations (all in the
// {gen} slot, as a cluster requires of a script's keys); ARGV[1] the
// change id.
var applyScript = redis.NewScript(`
local id = tonumber(ARGV[1])
local applied = tonumber(redis.call("GET", KEYS[1]) or "0")
if applied >= id then return applied end
if applied < id - 1 then return -1 end
for i = 2, #KEYS do
  local v = tonumber(redis.call("GET", KEYS[i]) or "0")
  if v < id then redis.call("SET", KEYS[i], id) end
end
redis.call("SET", KEYS[1], id)
return id`)

// applied returns the id of the last change the server has applied, 0
// when it has none (a new or emptied server).
func (g *redisGens) applied(ctx context.Context) (int64, error) {
	n, err := g.client.Get(ctx, g.appliedKey).Int64()
	if errors.Is(err, redis.Nil) {
		return 0, nil
	}
	return n, err
}

// apply sends changes, in id order, in one pipelined round trip. It
// returns the server's applied id afterwards, or ErrGap.
func (g *redisGens) apply(ctx context.Context, changes []Change) (int64, error) {
	if len(changes) == 0 {
		return g.applied(ctx)
	}
	pipe := g.client.Pipeline()
	cmds := make([]*redis.Cmd, len(changes))
	for i, c := range changes {
		keys := make([]string, 0, len(c.Names)+1)
		keys = append(keys, g.appliedKey)
		for _, n := range c.Names {
			keys = append(keys, g.prefix+n)
		}
		cmds[i] = applyScript.Eval(ctx, pipe, keys, c.ID)
	}
	// Scripts are sent with EVAL here so a restarted server, which has
	// forgotten every script, needs no second round trip.
	if _, err := pipe.Exec(ctx); err != nil {
		return 0, fmt.Errorf("redis generations: %w: %w", ErrUnavailable, err)
	}
	last, err := cmds[len(cmds)-1].Int64()
	if err != nil {
		return 0, err
	}
	if last < 0 {
		return 0, ErrGap
	}
	return last, nil
}

// readGens fills out from vals (MGET replies for names), creating the
// generations that do not exist yet at the applied id: no entry can have
// been built under them, and they keep that value until a change touches
// them, so pages that depend on them stay cached across other changes.
func (g *redisGens) readGens(ctx context.Context, names []string, vals []any, applied int64, out []int64) (created bool, err error) {
	var missing []int
	for i, v := range vals {
		s, ok := v.(string)
		if !ok {
			missing = append(missing, i)
			continue
		}
		if out[i], err = strconv.ParseInt(s, 10, 64); err != nil {
			return false, fmt.Errorf("redis generation %s: %q is not a number", names[i], s)
		}
	}
	if len(missing) == 0 {
		return false, nil
	}
	pipe := g.client.Pipeline()
	cmds := make([]*redis.StringCmd, len(missing))
	for j, i := range missing {
		pipe.SetNX(ctx, g.prefix+names[i], applied, 0)
		cmds[j] = pipe.Get(ctx, g.prefix+names[i])
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return true, fmt.Errorf("redis generations: %w: %w", ErrUnavailable, err)
	}
	for j, i := range missing {
		if out[i], err = cmds[j].Int64(); err != nil {
			return true, fmt.Errorf("redis generation %s: %w", names[i], err)
		}
	}
	return true, nil
}
