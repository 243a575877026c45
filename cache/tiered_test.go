package cache_test

import (
	"context"
	"testing"
	"time"

	"cacheworkshop/cache"
	"cacheworkshop/internal/testredis"
	"cacheworkshop/trace"
)

// tieredOf is an instance's tiered cache: its own memory before the shared
// Redis.
func tieredOf(in *instance) *cache.Tiered { return &cache.Tiered{Front: in.mem, Back: in.rc} }

// TestTieredAcrossInstances: A builds an entry in tiered mode (both tiers),
// B reads it (a Redis hit that fills B's memory, then memory hits), and a
// change committed by A makes both tiers of both instances miss within
// the invalidation bound, with no delete.
func TestTieredAcrossInstances(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv := testredis.Start(t)
	log := &fakeLog{}
	a, b := newInstance(t, ctx, srv, log, "a"), newInstance(t, ctx, srv, log, "b")
	ta, tb := tieredOf(a), tieredOf(b)
	store(t, ctx, ta, "v1")

	tr := trace.New()
	tctx := trace.NewContext(ctx, tr)
	if got, err := read(tctx, tb); got != "v1" || err != nil {
		t.Fatalf("B's first tiered read: got %q, %v, want v1 from Redis", got, err)
	}
	if got := tiers(tr); got != "memory:MISS redis:HIT" {
		t.Errorf("B's first read: got tiers %q, want memory:MISS redis:HIT", got)
	}
	if got, _ := readKey(ctx, b.mem, "tiered:page"); got != "v1" {
		t.Fatalf("B's memory after the Redis hit: got %q, want the filled copy v1", got)
	}
	tr = trace.New()
	if got, _ := read(trace.NewContext(ctx, tr), tb); got != "v1" || tiers(tr) != "memory:HIT" {
		t.Errorf("B's second read: got %q via %q, want v1 from memory alone", got, tiers(tr))
	}

	a.inv.Committed(ctx, log.add("product:7"))
	for _, c := range []struct {
		name string
		c    cache.Cache
		key  string
	}{{"A tiered", ta, "page"}, {"B tiered", tb, "page"}, {"B memory", b.mem, "tiered:page"}, {"Redis", b.rc, "tiered:page"}} {
		eventually(t, time.Second, c.name+" misses after the change", func() bool {
			got, err := readKey(ctx, c.c, c.key)
			return got == "" && err == nil
		})
	}
}

// TestTieredFillKeepsRedisStamp: a copy filled into memory from Redis is
// checked against this instance's own generations, so while memory knows
// a change Redis has not applied, the filled copy is never served.
func TestTieredFillKeepsRedisStamp(t *testing.T) {
	ctx := context.Background()
	srv := testredis.Start(t)
	rc := newRedis(t, srv, "fill:")
	mem := cache.NewMemory(cache.MemoryConfig{})
	storeKey(t, ctx, rc, "tiered:page", "old")
	// Memory has applied change 1; Redis has not been told yet.
	if err := mem.Apply(ctx, cache.Change{ID: 1, Names: []string{"product:7"}}); err != nil {
		t.Fatal(err)
	}
	tc := &cache.Tiered{Front: mem, Back: rc}
	if got, _ := read(ctx, tc); got != "old" {
		t.Fatalf("Redis alone still answers old (its own check passes): got %q", got)
	}
	if got, _ := readKey(ctx, mem, "tiered:page"); got != "" {
		t.Errorf("memory served the filled copy under newer generations: got %q, want a miss", got)
	}
}

// TestTieredPlainFillTTL: a plain key filled from Redis lives in memory no
// longer than Redis says it has left.
func TestTieredPlainFillTTL(t *testing.T) {
	ctx := context.Background()
	srv := testredis.Start(t)
	rc := newRedis(t, srv, "ttl:")
	mem := cache.NewMemory(cache.MemoryConfig{DefaultTTL: time.Hour})
	if err := rc.Set(ctx, "tiered:k", []byte("v"), 300*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	tc := &cache.Tiered{Front: mem, Back: rc}
	if v, found, err := tc.Get(ctx, "k"); !found || err != nil || string(v) != "v" {
		t.Fatalf("got %q, %v, %v, want v", v, found, err)
	}
	left, found, _ := mem.TTL(ctx, "tiered:k")
	if !found || left > 300*time.Millisecond {
		t.Errorf("memory's copy: got %v left (found %v), want at most Redis's 300ms", left, found)
	}
	vals, err := tc.GetMulti(ctx, []string{"k", "absent"})
	if err != nil || string(vals[0]) != "v" || vals[1] != nil {
		t.Errorf("GetMulti: got %q, %v", vals, err)
	}
}

// TestTieredRedisDown: memory hits go on while Redis is down; a memory
// miss reports the Redis failure, so the page engine serves from the
// database.
func TestTieredRedisDown(t *testing.T) {
	ctx := context.Background()
	srv := testredis.Start(t)
	tc := &cache.Tiered{Front: cache.NewMemory(cache.MemoryConfig{}), Back: newRedis(t, srv, "down:")}
	store(t, ctx, tc, "v")
	srv.Stop()
	if got, err := read(ctx, tc); got != "v" || err != nil {
		t.Errorf("memory tier with Redis down: got %q, %v, want v", got, err)
	}
	if _, found, err := tc.GetVersioned(ctx, "other", []string{"product:7"}, make([]int64, 1)); found || err == nil {
		t.Errorf("a memory miss with Redis down: got found=%v err=%v, want the Redis error", found, err)
	}
}

// readKey and storeKey are read and store under another key: the tiered
// mode keeps its entries under "tiered:" in both tiers.
func readKey(ctx context.Context, c cache.Cache, key string) (string, error) {
	v, found, err := c.GetVersioned(ctx, key, []string{"product:7"}, make([]int64, 1))
	if !found {
		return "", err
	}
	return string(v), err
}

func storeKey(t *testing.T, ctx context.Context, c cache.Cache, key, body string) {
	cur := make([]int64, 1)
	if _, _, err := c.GetVersioned(ctx, key, []string{"product:7"}, cur); err != nil {
		t.Fatal(err)
	}
	if err := c.SetVersioned(ctx, key, cur, []byte(body), time.Minute); err != nil {
		t.Fatal(err)
	}
}

// TestTieredOwnKeys: tiered mode never reads what memory mode or Redis
// mode stored under the same key, since each renders its pages for its
// own mode.
func TestTieredOwnKeys(t *testing.T) {
	ctx := context.Background()
	srv := testredis.Start(t)
	rc := newRedis(t, srv, "own:")
	mem := cache.NewMemory(cache.MemoryConfig{})
	store(t, ctx, mem, "memory mode's page")
	store(t, ctx, rc, "Redis mode's page")
	if got, err := read(ctx, &cache.Tiered{Front: mem, Back: rc}); got != "" || err != nil {
		t.Errorf("tiered read: got %q, %v, want a miss", got, err)
	}
}

// tiers lists the tier lookups of a trace, "backend:OUTCOME" each.
func tiers(tr *trace.Trace) string {
	var s string
	for _, l := range tr.Snapshot().Lookups {
		if l.Layer != "tier" {
			continue
		}
		if s != "" {
			s += " "
		}
		s += l.Backend + ":" + l.Outcome
	}
	return s
}
