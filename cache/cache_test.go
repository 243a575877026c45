package cache_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"cacheworkshop/cache"
	"cacheworkshop/internal/testredis"
)

type backend struct {
	name string
	new  func(t *testing.T) cache.Cache
}

// backends are memory, every real-Redis kind (a single redis-server,
// "redis", and a three-node Redis Cluster, "cluster") and tiered.
func backends() []backend {
	bs := []backend{
		{"memory", func(t *testing.T) cache.Cache {
			return cache.NewMemory(cache.MemoryConfig{MaxBytes: 1 << 20})
		}},
	}
	for _, k := range testredis.Kinds() {
		bs = append(bs, backend{k.Name, func(t *testing.T) cache.Cache { return newRedis(t, k.Start(t), "test:") }})
	}
	// The tiered mode's cache: memory in front of a single redis-server.
	bs = append(bs, backend{"tiered", func(t *testing.T) cache.Cache {
		return &cache.Tiered{Front: cache.NewMemory(cache.MemoryConfig{MaxBytes: 1 << 20}),
			Back: newRedis(t, testredis.Start(t), "test:")}
	}})
	return bs
}

// newRedis is the workshop's Redis cache over a real Redis, through the
// client REDIS_URL would give.
func newRedis(t *testing.T, srv testredis.Instance, prefix string) *cache.Redis {
	t.Helper()
	c, err := cache.NewRedisClient(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return cache.NewRedis(cache.RedisConfig{Client: c, Prefix: prefix})
}

// TestCacheContract runs the documented semantics against every backend.
func TestCacheContract(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			c := b.new(t)
			ctx := context.Background()

			if v, found, err := c.Get(ctx, "absent"); found || err != nil || v != nil {
				t.Fatalf("Get(absent): got %q, %v, %v, want nil, false, nil", v, found, err)
			}
			if err := c.Delete(ctx, "absent"); err != nil {
				t.Fatalf("Delete(absent): got %v, want nil", err)
			}
			if err := c.Set(ctx, "k", []byte("v1"), time.Minute); err != nil {
				t.Fatal(err)
			}
			if v, found, err := c.Get(ctx, "k"); !found || err != nil || string(v) != "v1" {
				t.Fatalf("Get(k): got %q, %v, %v, want v1, true, nil", v, found, err)
			}
			if err := c.Set(ctx, "k", []byte("v2"), time.Minute); err != nil {
				t.Fatal(err)
			}
			if v, _, _ := c.Get(ctx, "k"); string(v) != "v2" {
				t.Fatalf("overwrite: got %q, want v2", v)
			}
			bin := []byte{0, 1, 2, 255, '\n'}
			if err := c.Set(ctx, "bin", bin, time.Minute); err != nil {
				t.Fatal(err)
			}
			if v, _, _ := c.Get(ctx, "bin"); !bytes.Equal(v, bin) {
				t.Fatalf("binary: got %v, want %v", v, bin)
			}
			got, err := c.GetMulti(ctx, []string{"k", "absent", "bin"})
			if err != nil || len(got) != 3 || string(got[0]) != "v2" || got[1] != nil || !bytes.Equal(got[2], bin) {
				t.Fatalf("GetMulti: got %q, %v", got, err)
			}
			if err := c.Delete(ctx, "k", "bin"); err != nil {
				t.Fatal(err)
			}
			if _, found, _ := c.Get(ctx, "k"); found {
				t.Fatal("Get after Delete: found, want miss")
			}
		})
	}
}

// TestVersionedContract: an entry is found only under the generation
// values it was stored with; a bump of any of them makes it a miss, and
// Clear removes entries but keeps generations.
func TestVersionedContract(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			c := b.new(t)
			ctx := context.Background()
			gens := []string{"list", "product:7"}
			cur := make([]int64, 2)
			if v, found, err := c.GetVersioned(ctx, "page", gens, cur); found || err != nil || v != nil {
				t.Fatalf("GetVersioned(empty): got %q, %v, %v, want nil, false, nil", v, found, err)
			}
			if err := c.SetVersioned(ctx, "page", cur, []byte("body"), time.Minute); err != nil {
				t.Fatal(err)
			}
			again := make([]int64, 2)
			if v, found, err := c.GetVersioned(ctx, "page", gens, again); !found || err != nil || string(v) != "body" {
				t.Fatalf("GetVersioned after SetVersioned: got %q, %v, %v, want body, true, nil", v, found, err)
			}
			if err := c.Apply(ctx, cache.Change{ID: 1, Names: []string{"product:7"}}); err != nil {
				t.Fatal(err)
			}
			after := make([]int64, 2)
			if _, found, err := c.GetVersioned(ctx, "page", gens, after); found || err != nil {
				t.Fatalf("GetVersioned after Bump: got found=%v err=%v, want a miss", found, err)
			}
			if after[0] != cur[0] || after[1] == cur[1] {
				t.Errorf("generations after change 1 to product:7: got %v, want [%d, 1]", after, cur[0])
			}
			// An entry stored under the current values is found again;
			// other readings never match it.
			if err := c.SetVersioned(ctx, "page", after, []byte("new"), time.Minute); err != nil {
				t.Fatal(err)
			}
			if v, found, _ := c.GetVersioned(ctx, "page", gens, make([]int64, 2)); !found || string(v) != "new" {
				t.Fatalf("GetVersioned after rebuild: got %q, %v, want new, true", v, found)
			}
			if _, found, _ := c.GetVersioned(ctx, "page", gens[:1], make([]int64, 1)); found {
				t.Error("GetVersioned with fewer generations found an entry stamped with two")
			}
			// A plain Set under the key is not a versioned entry.
			_ = c.Set(ctx, "plain", []byte("x"), time.Minute)
			if _, found, _ := c.GetVersioned(ctx, "plain", gens, make([]int64, 2)); found {
				t.Error("GetVersioned found an unstamped value")
			}
			cl, ok := c.(cache.Clearer)
			if !ok {
				t.Fatalf("%T does not implement Clearer", c)
			}
			if err := cl.Clear(ctx); err != nil {
				t.Fatal(err)
			}
			if _, found, _ := c.Get(ctx, "plain"); found {
				t.Error("Clear left an entry")
			}
			kept := make([]int64, 2)
			_, _, _ = c.GetVersioned(ctx, "page", gens, kept)
			if kept[1] != after[1] {
				t.Errorf("generations after Clear: got %v, want %v (generations survive)", kept, after)
			}
		})
	}
}

// TestCacheConcurrent hammers each backend from many goroutines; run with
// -race it proves the memory cache's locking.
func TestCacheConcurrent(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			c := b.new(t)
			ctx := context.Background()
			var wg sync.WaitGroup
			for g := range 8 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := range 200 {
						k := fmt.Sprintf("k%d", i%17)
						if i%3 == 0 {
							_ = c.Set(ctx, k, []byte(k), time.Minute)
						} else if v, found, err := c.Get(ctx, k); err != nil || (found && string(v) != k) {
							t.Errorf("goroutine %d: Get(%s) = %q, %v, %v", g, k, v, found, err)
							return
						}
					}
				}()
			}
			wg.Wait()
		})
	}
}

func TestMemoryTTL(t *testing.T) {
	now := time.Unix(1000, 0)
	m := cache.NewMemory(cache.MemoryConfig{Now: func() time.Time { return now }})
	ctx := context.Background()
	_ = m.Set(ctx, "short", []byte("x"), time.Second)
	_ = m.Set(ctx, "long", []byte("y"), time.Hour)
	now = now.Add(2 * time.Second)
	if _, found, _ := m.Get(ctx, "short"); found {
		t.Error("short-lived entry still found after its TTL")
	}
	if _, found, _ := m.Get(ctx, "long"); !found {
		t.Error("long-lived entry missing before its TTL")
	}
	if d, ok, _ := m.TTL(ctx, "long"); !ok || d != time.Hour-2*time.Second {
		t.Errorf("TTL(long): got %v, %v, want %v, true", d, ok, time.Hour-2*time.Second)
	}
}

func TestMemoryLRUBudget(t *testing.T) {
	const budget = 10_000
	m := cache.NewMemory(cache.MemoryConfig{MaxBytes: budget})
	ctx := context.Background()
	val := make([]byte, 1000)
	for i := range 50 {
		_ = m.Set(ctx, fmt.Sprintf("k%02d", i), val, time.Minute)
		if i == 5 {
			_, _, _ = m.Get(ctx, "k00") // keep k00 recently used
		}
		_, _, _ = m.Get(ctx, "k00")
		if s := m.Stats(); s.Bytes > budget {
			t.Fatalf("after %d sets: %d bytes, budget %d", i+1, s.Bytes, budget)
		}
	}
	s := m.Stats()
	if s.Evictions == 0 {
		t.Errorf("evictions: got 0, want > 0")
	}
	if _, found, _ := m.Get(ctx, "k00"); !found {
		t.Error("recently used k00 was evicted before older entries")
	}
	if _, found, _ := m.Get(ctx, "k01"); found {
		t.Error("least recently used k01 survived")
	}
	if _, found, _ := m.Get(ctx, "k49"); !found {
		t.Error("newest entry k49 missing")
	}
	// A value bigger than the whole budget is refused rather than
	// flushing everything else.
	_ = m.Set(ctx, "huge", make([]byte, 2*budget), time.Minute)
	if _, found, _ := m.Get(ctx, "huge"); found {
		t.Error("value larger than the budget was stored")
	}
	if _, found, _ := m.Get(ctx, "k49"); !found {
		t.Error("oversized Set evicted other entries")
	}
}

func TestParseMode(t *testing.T) {
	tests := []struct {
		in      string
		def     cache.Mode
		want    cache.Mode
		wantErr bool
	}{
		{"none", cache.ModeMemory, cache.ModeNone, false},
		{"false", cache.ModeMemory, cache.ModeNone, false},
		{"off", cache.ModeRedis, cache.ModeNone, false},
		{"0", cache.ModeRedis, cache.ModeNone, false},
		{"memory", cache.ModeNone, cache.ModeMemory, false},
		{" Redis ", cache.ModeNone, cache.ModeRedis, false},
		{"true", cache.ModeMemory, cache.ModeMemory, false},
		{"on", cache.ModeRedis, cache.ModeRedis, false},
		{"1", cache.ModeRedis, cache.ModeRedis, false},
		{"", cache.ModeMemory, cache.ModeNone, true},
		{"memcached", cache.ModeMemory, cache.ModeNone, true},
		{"2", cache.ModeMemory, cache.ModeNone, true},
		{"\xff", cache.ModeMemory, cache.ModeNone, true},
	}
	for _, tt := range tests {
		got, err := cache.ParseMode(tt.in, tt.def)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("ParseMode(%q, %v): got %v, %v, want %v, err=%v", tt.in, tt.def, got, err, tt.want, tt.wantErr)
		}
	}
}

// TestRedisClearKeepsOthers: Clear removes the workshop's prefix only,
// with SCAN and UNLINK, and never another application's keys. On a
// cluster the keys are spread over every node, and every node is cleared.
func TestRedisClearKeepsOthers(t *testing.T) {
	for _, k := range testredis.Kinds() {
		t.Run(k.Name, func(t *testing.T) {
			r := newRedis(t, k.Start(t), "cw:")
			client := r.Client()
			ctx := context.Background()
			const n = 60
			for i := range n {
				_ = r.Set(ctx, fmt.Sprintf("page:%d", i), []byte("1"), time.Minute)
			}
			cur := make([]int64, 1)
			_, _, _ = r.GetVersioned(ctx, "page:v", []string{"list"}, cur) // creates the generation
			_ = client.Set(ctx, "other:app", "keep", 0).Err()
			_ = client.Set(ctx, "cwx", "keep", 0).Err()
			if got, err := r.CountKeys(ctx); err != nil || got != n+1 {
				t.Fatalf("CountKeys: got %d, %v, want %d (pages and one generation)", got, err, n+1)
			}
			if err := r.Clear(ctx); err != nil {
				t.Fatal(err)
			}
			if got, err := r.CountKeys(ctx); err != nil || got != 1 {
				t.Errorf("CountKeys after Clear: got %d, %v, want 1 (the generation survives)", got, err)
			}
			if _, found, _ := r.Get(ctx, "page:0"); found {
				t.Error("Clear left the workshop's key")
			}
			for _, k := range []string{"other:app", "cwx"} {
				if v, err := client.Get(ctx, k).Result(); err != nil || v != "keep" {
					t.Errorf("foreign key %s after Clear: got %q, %v, want keep", k, v, err)
				}
			}
		})
	}
}

func TestEmbedded(t *testing.T) {
	e, err := cache.StartEmbedded()
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	client, err := cache.NewRedisClient(e.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	r := cache.NewRedis(cache.RedisConfig{Client: client, Label: "Redis (embedded)"})
	ctx := context.Background()
	if err := r.Set(ctx, "k", []byte("v"), 300*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if v, found, err := r.Get(ctx, "k"); !found || err != nil || string(v) != "v" {
		t.Fatalf("Get: got %q, %v, %v", v, found, err)
	}
	// The embedded server's clock is kept moving, so TTLs expire.
	deadline := time.Now().Add(3 * time.Second)
	for {
		if _, found, _ := r.Get(ctx, "k"); !found {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("key with 300ms TTL still present after 3s on the embedded server")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestGuard proves a dead Redis stops costing a timeout per call once the
// breaker opens, that it closes when Redis is back, and that the fault
// switches act on every command.
func TestGuard(t *testing.T) {
	srv := testredis.Start(t)
	client, err := cache.NewRedisClient(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	g := cache.NewGuard()
	g.Cooldown = 300 * time.Millisecond
	r := cache.NewRedis(cache.RedisConfig{Client: client, Guard: g})
	ctx := context.Background()
	if err := r.Set(ctx, "k", []byte("v"), time.Minute); err != nil {
		t.Fatal(err)
	}

	g.SetFail(true)
	if _, _, err := r.Get(ctx, "k"); !errors.Is(err, cache.ErrFaultInjected) {
		t.Errorf("with fail switch: got %v, want ErrFaultInjected", err)
	}
	g.SetFail(false)
	g.SetLatency(50 * time.Millisecond)
	start := time.Now()
	if _, found, err := r.Get(ctx, "k"); !found || err != nil {
		t.Errorf("with latency: got found=%v err=%v", found, err)
	}
	if d := time.Since(start); d < 50*time.Millisecond {
		t.Errorf("latency switch: call took %v, want at least 50ms", d)
	}
	g.SetLatency(0)

	srv.Stop()
	for range g.Threshold {
		if _, _, err := r.Get(ctx, "k"); err == nil {
			t.Fatal("Get with Redis stopped: got nil error")
		}
	}
	if !g.State().Open {
		t.Fatalf("breaker after %d failures: got closed, want open", g.Threshold)
	}
	if _, _, err := r.Get(ctx, "k"); !errors.Is(err, cache.ErrCircuitOpen) {
		t.Errorf("open breaker: got %v, want ErrCircuitOpen", err)
	}
	if g.State().ShortCircuits == 0 {
		t.Error("short circuits: got 0, want > 0")
	}

	srv.Restart()
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, _, err := r.Get(ctx, "k")
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("breaker did not close within 5s of Redis returning: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if g.State().Open {
		t.Error("breaker still open after a successful call")
	}
}
