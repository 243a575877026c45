package cache_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"cacheworkshop/cache"
	"cacheworkshop/internal/testredis"
)

// fakeLog is a change log shared by several instances, as the database's
// outbox is; each instance reads it through its own view.
type fakeLog struct {
	mu      sync.Mutex
	changes []cache.Change
}

func (l *fakeLog) add(names ...string) cache.Change {
	l.mu.Lock()
	defer l.mu.Unlock()
	c := cache.Change{ID: int64(len(l.changes) + 1), Names: names}
	l.changes = append(l.changes, c)
	return c
}

type logView struct {
	*fakeLog
	seen int
}

func (v *logView) Last(context.Context) (int64, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	return int64(len(v.changes)), nil
}

func (v *logView) Since(_ context.Context, after int64, limit int) ([]cache.Change, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	var out []cache.Change
	for _, c := range v.changes {
		if c.ID > after && len(out) < limit {
			out = append(out, c)
		}
	}
	return out, nil
}

func (v *logView) Changed(context.Context) (bool, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	changed := len(v.changes) != v.seen
	v.seen = len(v.changes)
	return changed, nil
}

type instance struct {
	mem *cache.Memory
	rc  *cache.Redis
	inv *cache.Invalidator
}

func newInstance(t *testing.T, ctx context.Context, srv testredis.Instance, log *fakeLog, id string) *instance {
	return newInstancePolling(t, ctx, srv, log, id, 20*time.Millisecond)
}

// newInstancePolling is newInstance with its own interval between checks
// of the change log.
func newInstancePolling(t *testing.T, ctx context.Context, srv testredis.Instance, log *fakeLog, id string, poll time.Duration) *instance {
	client, err := cache.NewRedisClient(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Close() })
	in := &instance{mem: cache.NewMemory(cache.MemoryConfig{}), rc: cache.NewRedis(cache.RedisConfig{Client: client, Prefix: "inv:"})}
	in.inv = &cache.Invalidator{Memory: in.mem, Redis: in.rc, Log: &logView{fakeLog: log}, Channel: "inv:invalidate", ID: id,
		PollEvery: poll, RetryEvery: 50 * time.Millisecond}
	if err := in.inv.Start(ctx); err != nil {
		t.Fatal(err)
	}
	go in.inv.Run(ctx)
	return in
}

// read is a versioned read of "page" under the product generation.
func read(ctx context.Context, c cache.Cache) (string, error) {
	v, found, err := c.GetVersioned(ctx, "page", []string{"product:7"}, make([]int64, 1))
	if !found {
		return "", err
	}
	return string(v), err
}

func store(t *testing.T, ctx context.Context, c cache.Cache, body string) {
	cur := make([]int64, 1)
	if _, _, err := c.GetVersioned(ctx, "page", []string{"product:7"}, cur); err != nil {
		t.Fatal(err)
	}
	if err := c.SetVersioned(ctx, "page", cur, []byte(body), time.Minute); err != nil {
		t.Fatal(err)
	}
}

// eventually polls cond for up to bound.
func eventually(t *testing.T, bound time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	t0 := time.Now()
	for !cond() {
		if time.Since(t0) > bound {
			t.Fatalf("%s: not within %v", what, bound)
		}
		time.Sleep(5 * time.Millisecond)
	}
	return time.Since(t0)
}

// forEachRedis runs test against every real-Redis kind: a single server
// and a Redis Cluster.
func forEachRedis(t *testing.T, test func(t *testing.T, srv testredis.Instance)) {
	for _, k := range testredis.Kinds() {
		t.Run(k.Name, func(t *testing.T) { test(t, k.Start(t)) })
	}
}

// TestInvalidatorRedisDown: instance A commits a change while Redis is
// down. B's memory copy goes stale within a poll, though no message can
// reach it; B's Redis reads are refused rather than served old; and once
// Redis answers again, B's relay applies the change and the old Redis
// entry is never served.
func TestInvalidatorRedisDown(t *testing.T) { forEachRedis(t, testInvalidatorRedisDown) }

func testInvalidatorRedisDown(t *testing.T, srv testredis.Instance) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	log := &fakeLog{}
	a := newInstance(t, ctx, srv, log, "a")
	b := newInstance(t, ctx, srv, log, "b")
	store(t, ctx, b.mem, "old")
	store(t, ctx, b.rc, "old")
	if got, _ := read(ctx, b.mem); got != "old" {
		t.Fatalf("memory before the change: got %q, want old", got)
	}

	srv.Stop()
	res := a.inv.Committed(ctx, log.add("product:7"))
	if len(res) != 2 || res[1].Err == nil {
		t.Fatalf("Committed with Redis down: got %+v, want a Redis error", res)
	}
	d := eventually(t, time.Second, "B's memory copy invalidated without Redis", func() bool {
		got, _ := read(ctx, b.mem)
		return got == ""
	})
	t.Logf("B's memory saw the change after %v with Redis down", d)

	srv.Restart()
	d = eventually(t, 5*time.Second, "B's Redis reads trusted again", func() bool {
		_, err := read(ctx, b.rc)
		return err == nil
	})
	t.Logf("Redis trusted again %v after it restarted", d)
	if got, err := read(ctx, b.rc); got == "old" || err != nil {
		t.Errorf("B's Redis read after recovery: got %q, %v, want a miss", got, err)
	}
	if p := b.inv.Pending(); p != 0 {
		t.Errorf("B pending after recovery: got %d, want 0", p)
	}
}

// TestInvalidatorBehind: a Redis that has not applied a change an instance
// knows of is not trusted (ErrBehind), and the relay catches it up.
func TestInvalidatorBehind(t *testing.T) { forEachRedis(t, testInvalidatorBehind) }

func testInvalidatorBehind(t *testing.T, srv testredis.Instance) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	log := &fakeLog{}
	b := newInstance(t, ctx, srv, log, "b")
	store(t, ctx, b.rc, "old")
	// A change committed by an instance that died before telling Redis:
	// only the log has it.
	log.add("product:7")
	eventually(t, time.Second, "B learns of the change from the log", func() bool { return b.inv.Known() == 1 })
	eventually(t, time.Second, "B's relay applies it to Redis", func() bool {
		got, err := read(ctx, b.rc)
		return err == nil && got == ""
	})
	if _, err := read(ctx, b.rc); errors.Is(err, cache.ErrBehind) {
		t.Error("still behind after the relay")
	}
}

// TestApplyInOrder: Redis refuses a change while it lacks an earlier one.
// A change naming several generations is one script over several keys:
// on a cluster they are in one slot, or it would fail with CROSSSLOT.
func TestApplyInOrder(t *testing.T) { forEachRedis(t, testApplyInOrder) }

func testApplyInOrder(t *testing.T, srv testredis.Instance) {
	r := newRedis(t, srv, "ord:")
	ctx := context.Background()
	if err := r.Apply(ctx, cache.Change{ID: 2, Names: []string{"x"}}); !errors.Is(err, cache.ErrGap) {
		t.Fatalf("change 2 before change 1: got %v, want ErrGap", err)
	}
	if err := r.Apply(ctx, cache.Change{ID: 1, Names: []string{"x"}}, cache.Change{ID: 2, Names: []string{"y", "list", "product:7"}}); err != nil {
		t.Fatal(err)
	}
	// Applying again is harmless.
	if err := r.Apply(ctx, cache.Change{ID: 1, Names: []string{"x"}}); err != nil {
		t.Fatalf("re-applying change 1: %v", err)
	}
	if n, err := r.Applied(ctx); err != nil || n != 2 {
		t.Errorf("applied: got %d, %v, want 2", n, err)
	}
}

// TestInvalidatorRedisEmptied: a Redis that restarts empty while nobody
// edits must be caught up by the next read that finds it behind, not only
// by the next edit.
func TestInvalidatorRedisEmptied(t *testing.T) { forEachRedis(t, testInvalidatorRedisEmptied) }

func testInvalidatorRedisEmptied(t *testing.T, srv testredis.Instance) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	log := &fakeLog{}
	b := newInstance(t, ctx, srv, log, "b")
	b.inv.Committed(ctx, log.add("product:7"))
	if _, err := read(ctx, b.rc); err != nil {
		t.Fatalf("read before the restart: %v", err)
	}
	srv.Restart() // an empty server: it has applied nothing
	eventually(t, 3*time.Second, "Redis trusted again without an edit", func() bool {
		_, err := read(ctx, b.rc)
		return err == nil
	})
}

// TestInvalidatorPubSub: with the change log's polling out of the way, an
// instance hears another's change over Redis pub/sub alone, on a single
// server and on a cluster (where a message published on one node reaches
// subscribers on every node).
func TestInvalidatorPubSub(t *testing.T) { forEachRedis(t, testInvalidatorPubSub) }

func testInvalidatorPubSub(t *testing.T, srv testredis.Instance) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	log := &fakeLog{}
	a := newInstancePolling(t, ctx, srv, log, "a", time.Hour)
	b := newInstancePolling(t, ctx, srv, log, "b", time.Hour)
	store(t, ctx, b.mem, "old")
	// B subscribes in the background: a change announced before that is
	// lost to pub/sub (the poll would bring it), so A keeps committing
	// until B has heard one.
	t0 := time.Now()
	for {
		a.inv.Committed(ctx, log.add("product:7"))
		time.Sleep(50 * time.Millisecond)
		if got, _ := read(ctx, b.mem); got == "" {
			break
		}
		if time.Since(t0) > 5*time.Second {
			t.Fatal("B's memory copy still served 5s after A's announcements")
		}
	}
	if b.inv.Known() == 0 {
		t.Error("B knows of no change, yet its copy went: not through pub/sub")
	}
	t.Logf("B heard of a change over pub/sub %v after A's first", time.Since(t0).Round(time.Millisecond))
}
