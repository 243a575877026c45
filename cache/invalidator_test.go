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

func newInstance(t *testing.T, ctx context.Context, srv *testredis.Server, log *fakeLog, id string) *instance {
	client, err := cache.NewRedisClient(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Close() })
	in := &instance{mem: cache.NewMemory(cache.MemoryConfig{}), rc: cache.NewRedis(cache.RedisConfig{Client: client, Prefix: "inv:"})}
	in.inv = &cache.Invalidator{Memory: in.mem, Redis: in.rc, Log: &logView{fakeLog: log}, Channel: "inv:invalidate", ID: id,
		PollEvery: 20 * time.Millisecond, RetryEvery: 50 * time.Millisecond}
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

// TestInvalidatorRedisDown: instance A commits a change while Redis is
// down. B's memory copy goes stale within a poll, though no message can
// reach it; B's Redis reads are refused rather than served old; and once
// Redis answers again, B's relay applies the change and the old Redis
// entry is never served.
func TestInvalidatorRedisDown(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv := testredis.Start(t)
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
func TestInvalidatorBehind(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv := testredis.Start(t)
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
func TestApplyInOrder(t *testing.T) {
	srv := testredis.Start(t)
	r := cache.NewRedis(cache.RedisConfig{Client: srv.Client(), Prefix: "ord:"})
	ctx := context.Background()
	if err := r.Apply(ctx, cache.Change{ID: 2, Names: []string{"x"}}); !errors.Is(err, cache.ErrGap) {
		t.Fatalf("change 2 before change 1: got %v, want ErrGap", err)
	}
	if err := r.Apply(ctx, cache.Change{ID: 1, Names: []string{"x"}}, cache.Change{ID: 2, Names: []string{"y"}}); err != nil {
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
func TestInvalidatorRedisEmptied(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	srv := testredis.Start(t)
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
