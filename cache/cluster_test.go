package cache_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"cacheworkshop/cache"
	"cacheworkshop/internal/testredis"
)

func TestSlot(t *testing.T) {
	tests := []struct {
		key  string
		want int
	}{
		{"123456789", 12739}, // the CRC16 check value 0x31C3, from the Redis Cluster specification
		{"{user1000}.following", cache.Slot("user1000")},
		{"foo{}{bar}", cache.Slot("foo{}{bar}")}, // an empty tag: the whole key is hashed
		{"foo{{bar}}zap", cache.Slot("{bar")},
		{"foo{bar}{zap}", cache.Slot("bar")},
		{"cw:ab:{gen}:list", cache.Slot("gen")},
	}
	for _, tt := range tests {
		if got := cache.Slot(tt.key); got != tt.want {
			t.Errorf("Slot(%q): got %d, want %d", tt.key, got, tt.want)
		}
	}
}

// TestClusterKeyLayout checks on a real cluster what the key layout
// promises: Slot agrees with the servers, a versioned hit is one round
// trip to each node involved (the generations' and the page's), a list's
// rows are one MGET on one node, and commands whose keys span slots are
// split by slot rather than refused with CROSSSLOT.
func TestClusterKeyLayout(t *testing.T) {
	cl := testredis.StartCluster(t)
	client, err := cache.NewRedisClient(cl.URL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Close() })
	cc := client.(*redis.ClusterClient)
	calls := &nodeCalls{n: map[string]int{}}
	cc.OnNewNode(func(n *redis.Client) { n.AddHook(calls.hook(n.Options().Addr)) })
	r := cache.NewRedis(cache.RedisConfig{Client: client, Prefix: "lay:"})
	if !r.Cluster() {
		t.Fatal("a cluster URL gave a single-server client")
	}
	ctx := context.Background()

	for _, k := range []string{"lay:{gen}:list", "lay:page:list:d:/products?page=2", "lay:frag:{product-row}:d:7:v1", "x"} {
		want, err := cc.ClusterKeySlot(ctx, k).Result()
		if err != nil {
			t.Fatal(err)
		}
		if got := cache.Slot(k); int64(got) != want {
			t.Errorf("Slot(%q): got %d, want the server's %d", k, got, want)
		}
	}

	gens := []string{"list", "category:books", "product:7"}
	cur := make([]int64, len(gens))
	page := "page:list:d:/products?page=2"
	if _, _, err := r.GetVersioned(ctx, page, gens, cur); err != nil {
		t.Fatal(err)
	}
	if err := r.SetVersioned(ctx, page, cur, []byte("body"), time.Minute); err != nil {
		t.Fatal(err)
	}
	// Find a page key on another node than the generations, so the hit
	// needs both; then one on the generations' node.
	for _, tc := range []struct {
		name      string
		sameNode  bool
		wantNodes int
	}{{"page on another node", false, 2}, {"page on the generations' node", true, 1}} {
		t.Run(tc.name, func(t *testing.T) {
			key := pageKeyOnNode(t, ctx, cc, "lay:", tc.sameNode)
			_, _, _ = r.GetVersioned(ctx, key, gens, cur)
			if err := r.SetVersioned(ctx, key, cur, []byte("body"), time.Minute); err != nil {
				t.Fatal(err)
			}
			calls.reset()
			v, found, err := r.GetVersioned(ctx, key, gens, make([]int64, len(gens)))
			if err != nil || !found || string(v) != "body" {
				t.Fatalf("GetVersioned: got %q, %v, %v, want a hit", v, found, err)
			}
			if got := calls.snapshot(); len(got) != tc.wantNodes || anyAbove(got, 1) {
				t.Errorf("round trips per node for a hit: got %v, want one to each of %d nodes", got, tc.wantNodes)
			}
		})
	}

	rows := make([]string, 24)
	for i := range rows {
		rows[i] = fmt.Sprintf("frag:{product-row}:d:%d:v1", i+1)
		if err := r.Set(ctx, rows[i], []byte("row"), time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	calls.reset()
	vals, err := r.GetMulti(ctx, rows)
	if err != nil || len(vals) != len(rows) || vals[23] == nil {
		t.Fatalf("GetMulti of rows: got %d values, %v", len(vals), err)
	}
	if got := calls.snapshot(); len(got) != 1 || anyAbove(got, 1) {
		t.Errorf("round trips for a list's rows: got %v, want one MGET on one node", got)
	}

	// Keys without a shared tag still work: one command per slot.
	loose := []string{"a", "b", "c", "d", "e", "f"}
	for _, k := range loose {
		_ = r.Set(ctx, k, []byte(k), time.Minute)
	}
	if vals, err := r.GetMulti(ctx, loose); err != nil || string(vals[5]) != "f" {
		t.Errorf("GetMulti across slots: got %q, %v", vals, err)
	}
	if err := r.Delete(ctx, loose...); err != nil {
		t.Errorf("Delete across slots: %v", err)
	}
	if err := r.Apply(ctx, cache.Change{ID: 1, Names: gens}); err != nil {
		t.Errorf("Apply of three generations: %v", err)
	}

	nodes, err := r.NodesInfo(ctx, "keyspace")
	if err != nil || len(nodes) != testredis.ClusterSize {
		t.Fatalf("NodesInfo: got %d nodes, %v, want %d", len(nodes), err, testredis.ClusterSize)
	}
	for _, n := range nodes {
		if n.Role != "master" || len(n.Slots) == 0 || n.Err != nil {
			t.Errorf("node %s: got role %q, slots %v, err %v, want a master with slots", n.Addr, n.Role, n.Slots, n.Err)
		}
	}
}

// pageKeyOnNode finds a page key served by the generations' node, or by
// another one.
func pageKeyOnNode(t *testing.T, ctx context.Context, cc *redis.ClusterClient, prefix string, same bool) string {
	t.Helper()
	owner := map[int]string{}
	slots, err := cc.ClusterSlots(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	nodeOf := func(key string) string {
		s := cache.Slot(key)
		if a, ok := owner[s]; ok {
			return a
		}
		for _, r := range slots {
			if s >= r.Start && s <= r.End {
				owner[s] = r.Nodes[0].Addr
				return owner[s]
			}
		}
		return ""
	}
	genNode := nodeOf(prefix + "{gen}:list")
	for i := range 1000 {
		k := fmt.Sprintf("page:detail:d:/products/%d", i)
		if (nodeOf(prefix+k) == genNode) == same {
			return k
		}
	}
	t.Fatal("no page key found on the wanted node")
	return ""
}

// nodeCalls counts the commands and pipelines each node receives: one
// round trip each.
type nodeCalls struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *nodeCalls) hook(addr string) redis.Hook { return nodeHook{c, addr} }

func (c *nodeCalls) add(addr string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n[addr]++
}

func (c *nodeCalls) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n = map[string]int{}
}

func (c *nodeCalls) snapshot() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]int{}
	for k, v := range c.n {
		out[k] = v
	}
	return out
}

func anyAbove(m map[string]int, n int) bool {
	for _, v := range m {
		if v > n {
			return true
		}
	}
	return false
}

type nodeHook struct {
	c    *nodeCalls
	addr string
}

func (h nodeHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h nodeHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.c.add(h.addr)
		return next(ctx, cmd)
	}
}

func (h nodeHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.c.add(h.addr)
		return next(ctx, cmds)
	}
}

// TestLock: the stampede lock on every real-Redis kind. One holder at a
// time; a holder whose lock expired cannot release its successor's; an
// expired lock can be taken again.
func TestLock(t *testing.T) {
	for _, k := range testredis.Kinds() {
		t.Run(k.Name, func(t *testing.T) {
			srv := k.Start(t)
			a, b := newRedis(t, srv, "lk:"), newRedis(t, srv, "lk:") // two instances
			ctx := context.Background()
			la, ok, err := a.TryLock(ctx, "lock:page:x", 300*time.Millisecond)
			if err != nil || !ok {
				t.Fatalf("first TryLock: got %v, %v, want the lock", ok, err)
			}
			if _, ok, err := b.TryLock(ctx, "lock:page:x", time.Second); ok || err != nil {
				t.Fatalf("second TryLock while held: got %v, %v, want refused", ok, err)
			}
			var lb *cache.Lock
			deadline := time.Now().Add(3 * time.Second)
			for lb == nil {
				if time.Now().After(deadline) {
					t.Fatal("lock not free 3s after its 300ms TTL")
				}
				time.Sleep(50 * time.Millisecond)
				if lb, ok, err = b.TryLock(ctx, "lock:page:x", time.Minute); err != nil {
					t.Fatal(err)
				}
			}
			if err := la.Unlock(ctx); err != nil {
				t.Fatal(err)
			}
			if _, ok, _ := a.TryLock(ctx, "lock:page:x", time.Second); ok {
				t.Fatal("an expired holder's Unlock released its successor's lock")
			}
			if err := lb.Unlock(ctx); err != nil {
				t.Fatal(err)
			}
			if _, ok, err := a.TryLock(ctx, "lock:page:x", time.Second); !ok || err != nil {
				t.Errorf("TryLock after Unlock: got %v, %v, want the lock", ok, err)
			}
		})
	}
}
