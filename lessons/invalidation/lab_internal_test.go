package invalidation

import (
	"bufio"
	"context"
	"maps"
	"net"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"cacheworkshop/cache"
	"cacheworkshop/internal/testredis"
	"cacheworkshop/models"
)

// testLab is a lab over its own database and a real redis-server, with a
// client of the test's own to look at the server from outside.
type testLab struct {
	*Lesson
	rs   *testredis.Server
	peek *redis.Client
}

func newTestLab(t testing.TB) *testLab {
	t.Helper()
	rs := testredis.Start(t)
	store, err := models.Open(filepath.Join(t.TempDir(), "lab.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	client, err := cache.NewRedisClient(rs.URL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Close() })
	shared := cache.NewRedis(cache.RedisConfig{Client: client, Prefix: "cw:test:", Guard: cache.NewGuard()})
	l := &Lesson{data: data{db: store.DB()}, mem: newMemoryBackend(), redis: newRedisBackend(shared)}
	t.Cleanup(func() { _ = l.redis.client.Close() })
	if err := l.data.init(context.Background()); err != nil {
		t.Fatal(err)
	}
	return &testLab{Lesson: l, rs: rs, peek: rs.Client()}
}

// commandStats is what the server itself counted, by command, leaving out
// the test's own INFO and the handshake every new connection makes (which
// no caller sends).
func (tl *testLab) commandStats(t testing.TB) map[string]int {
	t.Helper()
	info, err := tl.peek.Info(context.Background(), "commandstats").Result()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for line := range strings.SplitSeq(info, "\n") {
		name, rest, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok || !strings.HasPrefix(name, "cmdstat_") {
			continue
		}
		name = strings.ToUpper(strings.TrimPrefix(name, "cmdstat_"))
		switch name {
		case "INFO", "HELLO", "CLIENT|SETINFO", "SELECT", "AUTH", "PING":
			continue
		}
		calls, _, _ := strings.Cut(strings.TrimPrefix(rest, "calls="), ",")
		out[name], _ = strconv.Atoi(calls)
	}
	return out
}

// monitor is the server's own log of the commands it runs (MONITOR), read
// on a connection of its own. Commands run inside a script ("[0 lua]")
// are left out: the client sent the EVAL, not them.
type monitor struct {
	lines chan string
	peek  *redis.Client
	marks int
}

func (tl *testLab) startMonitor(t testing.TB) *monitor {
	t.Helper()
	conn, err := net.Dial("tcp", tl.rs.Addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	if _, err := conn.Write([]byte("MONITOR\r\n")); err != nil {
		t.Fatal(err)
	}
	rd := bufio.NewReader(conn)
	if line, err := rd.ReadString('\n'); err != nil || !strings.HasPrefix(line, "+OK") {
		t.Fatalf("MONITOR: %q, %v", line, err)
	}
	m := &monitor{lines: make(chan string, 1<<16), peek: tl.peek}
	go func() {
		defer close(m.lines)
		for {
			line, err := rd.ReadString('\n')
			if err != nil {
				return
			}
			m.lines <- line
		}
	}()
	return m
}

// since sends a marker and returns the commands the server ran since the
// previous one, by name, without the connection handshakes (which no
// caller sends).
func (m *monitor) since(t testing.TB) map[string]int {
	t.Helper()
	m.marks++
	mark := "mark-" + strconv.Itoa(m.marks)
	if err := m.peek.Echo(context.Background(), mark).Err(); err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	timeout := time.After(10 * time.Second)
	for {
		select {
		case line, ok := <-m.lines:
			if !ok {
				t.Fatal("MONITOR connection closed")
			}
			_, rest, ok := strings.Cut(line, "] ")
			if !ok || strings.Contains(line, " lua]") {
				continue
			}
			name, _, _ := strings.Cut(strings.Trim(rest, "\r\n"), " ")
			name = strings.ToUpper(strings.Trim(name, `"`))
			if name == "ECHO" && strings.Contains(rest, `"`+mark+`"`) {
				return out
			}
			switch name {
			case "HELLO", "CLIENT", "ECHO", "INFO", "PING", "SELECT", "AUTH":
				continue
			}
			out[name]++
		case <-timeout:
			t.Fatalf("marker %s never came back through MONITOR", mark)
		}
	}
}

func byName(c count) map[string]int {
	m := map[string]int{}
	for _, nc := range c.ByName {
		m[nc.Name] = nc.N
	}
	return m
}

// runObserved runs an edit and returns, beside the run, the commands the
// server counted between the commit and the end of the invalidation.
func (tl *testLab) runObserved(t *testing.T, m *monitor, mode cache.Mode, e edit) (*run, map[string]int) {
	t.Helper()
	var seen map[string]int
	tl.onStep = func(stage string) {
		switch stage {
		case "committed":
			m.since(t)
		case "invalidated":
			seen = m.since(t)
		}
	}
	defer func() { tl.onStep = nil }()
	r := tl.execute(context.Background(), mode, e)
	if r.Err != "" {
		t.Fatalf("run: %s", r.Err)
	}
	return r, seen
}

func mustStrategy(name string) strategy {
	s, ok := strategyNamed(name)
	if !ok {
		panic(name)
	}
	return s
}

// entry reads a view's entry straight from the backend, bypassing the lab:
// the copy a reader would get.
func (tl *testLab) entry(t *testing.T, mode cache.Mode, v view) ([]row, bool) {
	t.Helper()
	var val []byte
	var found bool
	var err error
	if mode == cache.ModeRedis {
		val, err = tl.peek.Get(context.Background(), tl.redis.prefix+v.Key()).Bytes()
		found = err == nil
		if err == redis.Nil {
			err = nil
		}
	} else {
		val, found, err = tl.mem.Get(context.Background(), v.Key())
	}
	if err != nil {
		t.Fatal(err)
	}
	if !found {
		return nil, false
	}
	rows, err := decodeRows(val)
	if err != nil {
		t.Fatal(err)
	}
	return rows, true
}

var product3 = view{Kind: kindProduct, ID: 3}
var list1 = view{Kind: kindList, ID: 1}
var cocoa = view{Kind: kindCategory, Category: "cocoa"}

// TestStrategiesFiguresAreMeasured runs every strategy in memory and in a
// real Redis and checks each figure the page shows against what really
// happened: the entries as a reader finds them, the database, and the
// commands the Redis server itself counted during the invalidation.
func TestStrategiesFiguresAreMeasured(t *testing.T) {
	tl := newTestLab(t)
	mon := tl.startMonitor(t)
	ctx := context.Background()
	tests := []struct {
		strategy   string
		alsoPages  bool
		stale      []string       // the views left stale
		touched    int            // keys and generations written or deleted
		misses     int            // views rebuilt by the read after
		redis      map[string]int // commands of the invalidation, in Redis
		staleEntry bool           // product 3's own entry still holds the old row
	}{
		{sForget, false, []string{"Product 3", "List page 1", "Category cocoa"}, 0, 0, map[string]int{}, true},
		{sTTL, false, []string{"Product 3", "List page 1", "Category cocoa"}, 0, 0, map[string]int{}, true},
		{sDelete, false, []string{"List page 1", "Category cocoa"}, 1, 1, map[string]int{"UNLINK": 1}, false},
		{sDelete, true, nil, 3, 3, map[string]int{"UNLINK": 1}, false},
		{sPattern, false, nil, 15, 15, nil, false}, // SCAN and UNLINK counts checked below
		{sGenerations, false, nil, 3, 4, map[string]int{"EVAL": 1}, false},
		{sTags, false, nil, 4, 3, map[string]int{"SMEMBERS": 1, "UNLINK": 1}, false},
		{sWriteThrough, false, nil, 3, 0, map[string]int{"SET": 3}, false},
	}
	// Redis first: its generations then start level with the lab's
	// outbox, and the memory runs' changes, which only memory is sent,
	// come after (TestRedisCatchesUpLostGenerations covers a Redis that
	// lacks some).
	for _, mode := range []cache.Mode{cache.ModeRedis, cache.ModeMemory} {
		for _, tt := range tests {
			name := mode.String() + "/" + tt.strategy
			if tt.alsoPages {
				name += "+pages"
			}
			t.Run(name, func(t *testing.T) {
				before, err := tl.data.get(ctx, 3)
				if err != nil {
					t.Fatal(err)
				}
				e := edit{Strategy: mustStrategy(tt.strategy), ID: 3, Price: before.Price + 100, TTL: labTTL, AlsoPages: tt.alsoPages}
				if tt.strategy == sTTL {
					e.TTL = 30 * time.Second
				}
				r, seen := tl.runObserved(t, mon, mode, e)
				db, err := tl.data.get(ctx, 3)
				if err != nil {
					t.Fatal(err)
				}
				if db.Price != e.Price {
					t.Fatalf("database price: got %v, want %v", db.Price, e.Price)
				}
				if got := r.Right.StaleViews; !slices.Equal(got, tt.stale) {
					t.Errorf("stale views: got %v, want %v", got, tt.stale)
				}
				if got, want := r.Right.Stale, len(tt.stale); got != want {
					t.Errorf("stale reads: got %v, want %v", got, want)
				}
				if got := r.KeysTouched(); got != tt.touched {
					t.Errorf("keys touched: got %v (%v), want %v", got, r.Touched, tt.touched)
				}
				if got := r.Right.Misses; got != tt.misses {
					t.Errorf("misses after: got %v, want %v", got, tt.misses)
				}
				// Each stale view on the page is stale in the cache: its
				// entry, read from outside the lab, holds the old row.
				for _, vr := range r.Right.Views {
					if tt.strategy == sGenerations {
						break // stamped entries: TestGenerationsDeleteNothing
					}
					rows, found := tl.entry(t, mode, vr.View)
					if !found {
						t.Errorf("%s: no entry after the read that fills it", vr.View.Label())
						continue
					}
					want, _ := tl.data.query(ctx, vr.View)
					if stale := !slices.Equal(rows, want); stale != vr.Stale {
						t.Errorf("%s: entry stale %v, page says %v", vr.View.Label(), stale, vr.Stale)
					}
				}
				if tt.strategy != sGenerations {
					rows, _ := tl.entry(t, mode, product3)
					if old := len(rows) == 1 && rows[0].Version == r.Before.Version; old != tt.staleEntry {
						t.Errorf("product 3's entry holds the old row: got %v, want %v", old, tt.staleEntry)
					}
				}
				if mode == cache.ModeMemory {
					if r.Invalidate.Redis.Commands != 0 {
						t.Errorf("memory run counted %d Redis commands", r.Invalidate.Redis.Commands)
					}
					return
				}
				// The figures the page shows are the server's own log.
				if got := byName(r.Invalidate.Redis); !maps.Equal(got, seen) {
					t.Errorf("commands shown: got %v, the server ran %v", got, seen)
				}
				if tt.redis != nil && !maps.Equal(seen, tt.redis) {
					t.Errorf("commands: got %v, want %v", seen, tt.redis)
				}
				if tt.strategy == sPattern && (seen["SCAN"] < 1 || seen["UNLINK"] < 1 || seen["KEYS"] != 0) {
					t.Errorf("pattern delete: got %v, want SCAN and UNLINK, never KEYS", seen)
				}
				if r.Invalidate.Redis.RoundTrips < 1 && tt.strategy != sForget && tt.strategy != sTTL {
					t.Errorf("round trips: got %v", r.Invalidate.Redis.RoundTrips)
				}
			})
		}
	}
	if st := tl.commandStats(t); st["KEYS"] != 0 {
		t.Errorf("the lab sent KEYS %d times", st["KEYS"])
	}
}

// TestGenerationsDeleteNothing: after a generations run every entry is
// still there, the old detail included; it is a miss only because its
// stamp is older than the product's generation.
func TestGenerationsDeleteNothing(t *testing.T) {
	tl := newTestLab(t)
	for _, mode := range []cache.Mode{cache.ModeMemory, cache.ModeRedis} {
		t.Run(mode.String(), func(t *testing.T) {
			var keysAfterEdit int
			tl.onStep = func(stage string) {
				if stage == "invalidated" {
					keysAfterEdit = tl.countEntries(t, mode)
				}
			}
			defer func() { tl.onStep = nil }()
			r := tl.execute(context.Background(), mode, edit{Strategy: mustStrategy(sGenerations), ID: 3, Price: 999, TTL: labTTL})
			if r.Err != "" {
				t.Fatal(r.Err)
			}
			if keysAfterEdit != len(allViews()) {
				t.Errorf("entries right after the invalidation: got %v, want all %v (nothing deleted)", keysAfterEdit, len(allViews()))
			}
			if r.Right.Stale != 0 {
				t.Errorf("stale: got %v, want 0", r.Right.Stale)
			}
		})
	}
}

func (tl *testLab) countEntries(t *testing.T, mode cache.Mode) int {
	n := 0
	for _, v := range allViews() {
		if mode == cache.ModeRedis {
			ok, err := tl.peek.Exists(context.Background(), tl.redis.prefix+v.Key()).Result()
			if err != nil {
				t.Fatal(err)
			}
			n += int(ok)
		} else if _, found, _ := tl.mem.Get(context.Background(), v.Key()); found {
			n++
		}
	}
	return n
}

// TestTTLOnlyIsStaleUntilExpiry: a TTL-only run is stale right after the
// edit, for at most the TTL left on its entries, and fresh once they have
// expired; the staleness the page reports runs from the edit to that
// first fresh read.
func TestTTLOnlyIsStaleUntilExpiry(t *testing.T) {
	tl := newTestLab(t)
	ctx := context.Background()
	for _, mode := range []cache.Mode{cache.ModeMemory, cache.ModeRedis} {
		t.Run(mode.String(), func(t *testing.T) {
			e := edit{Strategy: mustStrategy(sTTL), ID: 7, Price: 123, TTL: time.Second}
			r := tl.execute(ctx, mode, e)
			if r.Err != "" {
				t.Fatal(r.Err)
			}
			if r.Right.Stale != 3 {
				t.Fatalf("stale right after: got %v, want 3", r.Right.Stale)
			}
			if r.MaxTTLLeft <= 0 || r.MaxTTLLeft > time.Second {
				t.Errorf("TTL left: got %v, want within (0, 1s]", r.MaxTTLLeft)
			}
			b := tl.backendFor(mode)
			for {
				rd, err := tl.readAll(ctx, b, e.Strategy, e.TTL, e.ID)
				if err != nil {
					t.Fatal(err)
				}
				if rd.Stale == 0 {
					if waited := rd.At.Sub(r.EditedAt); waited < r.MaxTTLLeft {
						t.Errorf("fresh after %v, before the %v the entries had left", waited, r.MaxTTLLeft)
					}
					break
				}
				if time.Since(r.EditedAt) > 10*time.Second {
					t.Fatal("still stale 10 s after a 1 s TTL")
				}
				time.Sleep(50 * time.Millisecond)
			}
		})
	}
}

// TestRaceReplays: the write-through race is reproduced every time, in
// both backends; raising the generations before the commit is just as
// wrong; the workshop's order serves the new row.
func TestRaceReplays(t *testing.T) {
	tl := newTestLab(t)
	ctx := context.Background()
	want := map[string]bool{raceWriteThrough: true, raceBumpThenCommit: true, raceCommitThenBump: false}
	for _, mode := range []cache.Mode{cache.ModeMemory, cache.ModeRedis} {
		for range 3 { // the same outcome every time
			t.Run(mode.String(), func(t *testing.T) {
				b := tl.backendFor(mode)
				if err := b.clear(ctx); err != nil {
					t.Fatal(err)
				}
				start, err := tl.data.get(ctx, 5)
				if err != nil {
					t.Fatal(err)
				}
				races, err := tl.replayRaces(ctx, b, 5, labTTL)
				if err != nil {
					t.Fatal(err)
				}
				if len(races) != 3 {
					t.Fatalf("replays: got %d, want 3", len(races))
				}
				for i, rc := range races {
					if rc.Stale != want[rc.Name] {
						t.Errorf("%s: stale %v, want %v (%+v)", rc.Name, rc.Stale, want[rc.Name], rc.Steps)
					}
					// Each replay is one real edit, one cent up.
					if got, want := rc.DB.Price, start.Price+int64(i)+1; got != want {
						t.Errorf("%s: database price %v, want %v", rc.Name, got, want)
					}
					if rc.Stale && rc.Served.Version != rc.DB.Version-1 {
						t.Errorf("%s: served v%d, want the reader's v%d", rc.Name, rc.Served.Version, rc.DB.Version-1)
					}
				}
				// The stale copy is really in the cache: read from outside.
				key := raceKey(raceWriteThrough, 5)
				var val []byte
				if mode == cache.ModeRedis {
					val, err = tl.peek.Get(ctx, tl.redis.prefix+key).Bytes()
				} else {
					val, _, err = tl.mem.Get(ctx, key)
				}
				if err != nil {
					t.Fatal(err)
				}
				rows, err := decodeRows(val)
				if err != nil || len(rows) != 1 || rows[0] != races[0].Served {
					t.Errorf("write-through entry: got %v (%v), want the served %v", rows, err, races[0].Served)
				}
			})
		}
	}
}

// TestRedisCatchesUpLostGenerations: when Redis loses the lab's
// generations (a restart), the next generations run sends it every
// change from the lab's outbox instead of failing, and is fresh.
func TestRedisCatchesUpLostGenerations(t *testing.T) {
	tl := newTestLab(t)
	ctx := context.Background()
	g := mustStrategy(sGenerations)
	for i := range 3 {
		if r := tl.execute(ctx, cache.ModeRedis, edit{Strategy: g, ID: 2, Price: int64(1000 + i), TTL: labTTL}); r.Err != "" {
			t.Fatal(r.Err)
		}
	}
	tl.rs.Restart()
	// The pool's connections died with the server.
	tl.redis.Guard().SetFail(false)
	var r *run
	deadline := time.Now().Add(5 * time.Second)
	for {
		r = tl.execute(ctx, cache.ModeRedis, edit{Strategy: g, ID: 2, Price: 2000, TTL: labTTL})
		if r.Err == "" || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if r.Err != "" {
		t.Fatal(r.Err)
	}
	if r.Right.Stale != 0 {
		t.Errorf("stale after the catch-up: got %v, want 0", r.Right.Stale)
	}
	applied, err := tl.redis.Applied(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var last int64
	if err := tl.data.db.Raw(`SELECT MAX(id) FROM ` + changesTable).Scan(&last).Error; err != nil {
		t.Fatal(err)
	}
	if applied != last {
		t.Errorf("Redis applied: got %v, want the outbox's last %v", applied, last)
	}
}

// TestPatternCost: the figures are the server's own count, the throwaway
// keys are all gone afterwards, and only the product's ten matched.
func TestPatternCost(t *testing.T) {
	tl := newTestLab(t)
	mon := tl.startMonitor(t)
	ctx := context.Background()
	for _, n := range []int{1000, 10000} {
		mon.since(t)
		res := tl.redis.cost(ctx, n)
		if res.Err != "" {
			t.Fatal(res.Err)
		}
		seen := mon.since(t)
		if res.Matched != viewsPerProduct || res.AllDeleted != n-viewsPerProduct {
			t.Errorf("%d keys: matched %v and then %v, want %v and %v", n, res.Matched, res.AllDeleted, viewsPerProduct, n-viewsPerProduct)
		}
		// Every SCAN and UNLINK the server saw is in the two figures.
		scans := res.Targeted.Redis.Of("SCAN") + res.All.Redis.Of("SCAN")
		unlinks := res.Targeted.Redis.Of("UNLINK") + res.All.Redis.Of("UNLINK")
		if seen["SCAN"] != scans || seen["UNLINK"] != unlinks {
			t.Errorf("%d keys: shown %d SCAN and %d UNLINK; the server ran %v", n, scans, unlinks, seen)
		}
		if seen["KEYS"] != 0 {
			t.Errorf("%d keys: KEYS sent %d times", n, seen["KEYS"])
		}
		// SCAN walks the database COUNT slots at a time: the whole of it.
		if min := res.Walked / scanCount; res.Scans() < min {
			t.Errorf("%d keys: %d SCANs for a %d-key database, want at least %d", n, res.Scans(), res.Walked, min)
		}
		left, err := tl.peek.DBSize(ctx).Result()
		if err != nil {
			t.Fatal(err)
		}
		if left > 5 { // the lab's generations, if any; never the throwaway keys
			t.Errorf("%d keys: %d keys left in the database afterwards", n, left)
		}
		m := costMemory(n)
		if m.Matched != viewsPerProduct || m.Walked != n || m.AllDeleted != n-viewsPerProduct {
			t.Errorf("memory %d: matched %v of %v walked, then %v", n, m.Matched, m.Walked, m.AllDeleted)
		}
	}
}

// BenchmarkPatternDelete times deleting one product's ten keys by pattern
// among n keys, in memory and in a real Redis:
//
//	go test -run '^$' -bench PatternDelete -benchtime 20x ./lessons/invalidation/
func BenchmarkPatternDelete(b *testing.B) {
	tl := newTestLab(b)
	ctx := context.Background()
	for _, n := range []int{1000, 100000} {
		b.Run("memory/"+strconv.Itoa(n), func(b *testing.B) {
			m := cache.NewMemory(cache.MemoryConfig{MaxBytes: 256 << 20})
			for i := range n {
				_ = m.Set(ctx, benchKey("bench:", i), []byte("x"), time.Hour)
			}
			for b.Loop() {
				if d, _ := m.DeletePrefix("bench:product:7:"); d != viewsPerProduct {
					b.Fatalf("deleted %d keys, want %d", d, viewsPerProduct)
				}
				b.StopTimer()
				for i := 70; i < 80; i++ {
					_ = m.Set(ctx, benchKey("bench:", i), []byte("x"), time.Hour)
				}
				b.StartTimer()
			}
		})
		b.Run("redis/"+strconv.Itoa(n), func(b *testing.B) {
			base := tl.redis.prefix + "bench:"
			fill := func(from, to int) {
				pipe := tl.peek.Pipeline()
				for i := from; i < to; i++ {
					pipe.Set(ctx, benchKey(base, i), "x", time.Hour)
					if pipe.Len() == 1000 {
						if _, err := pipe.Exec(ctx); err != nil {
							b.Fatal(err)
						}
					}
				}
				if _, err := pipe.Exec(ctx); err != nil {
					b.Fatal(err)
				}
			}
			fill(0, n)
			for b.Loop() {
				if _, err := scanUnlink(ctx, tl.redis.client, escapeGlob(base+"product:7:")+"*"); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				fill(70, 80)
				b.StartTimer()
			}
			b.StopTimer()
			if _, err := scanUnlink(ctx, tl.redis.client, escapeGlob(base)+"*"); err != nil {
				b.Fatal(err)
			}
		})
	}
}
