package stats_test

import (
	"context"
	"encoding/json"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"cacheworkshop/internal/testapp"
	lesson "cacheworkshop/lessons/stats"
)

// keyCountBody is the key count's part of /api/cache-stats.
type keyCountBody struct {
	Redis struct {
		Available        bool       `json:"available"`
		Entries          int        `json:"entries"`
		EntriesEstimate  bool       `json:"entries_estimate"`
		EntriesCountedAt *time.Time `json:"entries_counted_at"`
		EntriesAgeS      *int64     `json:"entries_age_s"`
		EntriesNote      string     `json:"entries_note"`
		Server           struct {
			DBKeys uint64 `json:"db_keys"`
		} `json:"server"`
	} `json:"redis"`
}

// scanCalls is how many SCAN commands the test's redis-server has run
// since its statistics were last reset: what a refresh cost, as Redis
// itself saw it.
func scanCalls(t *testing.T, a *testapp.App) int {
	t.Helper()
	info, err := a.RedisServer.Client().Info(context.Background(), "commandstats").Result()
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`cmdstat_scan:calls=(\d+)`).FindStringSubmatch(info)
	if m == nil {
		return 0
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// fill adds n keys under cw:filler:<from>… in one pipeline.
func fill(t *testing.T, a *testapp.App, from, n int) {
	t.Helper()
	ctx := context.Background()
	pipe := a.RedisServer.Client().Pipeline()
	for i := from; i < from+n; i++ {
		pipe.Set(ctx, a.Redis.Prefix()+"filler:"+strconv.Itoa(i), "x", 0)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatal(err)
	}
}

// others counts the workshop's keys that fill did not write, with a SCAN
// of its own (testapp's instance does not announce itself, so nothing
// writes keys in the background), so the counts under test are fill's
// plus these.
func others(t *testing.T, a *testapp.App) int {
	t.Helper()
	ctx := context.Background()
	rdb := a.RedisServer.Client()
	n := 0
	iter := rdb.Scan(ctx, 0, a.Redis.Prefix()+"*", 1000).Iterator()
	for iter.Next(ctx) {
		if !strings.HasPrefix(iter.Val(), a.Redis.Prefix()+"filler:") {
			n++
		}
	}
	if err := iter.Err(); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestStatsKeyCountIsIncremental: with 20,000 keys under the prefix, one
// refresh makes at most lesson.ScanStepsPerRefresh SCAN calls (counted by
// the Redis server), the count says it is an estimate until a full pass
// ends, and then it is the exact number, dated; keys added later show up
// once the next pass ends, and the old count is shown with its age until
// then.
func TestStatsKeyCountIsIncremental(t *testing.T) {
	a := testapp.New(t)
	ctx := context.Background()
	rdb := a.RedisServer.Client()
	a.Get("/products?cache=redis") // some of the workshop's own keys too
	fill(t, a, 0, 20_000)
	exact := func() int {
		keys, err := rdb.Keys(ctx, a.Redis.Prefix()+"*").Result()
		if err != nil {
			t.Fatal(err)
		}
		return len(keys)
	}
	want := exact()
	if err := rdb.ConfigResetStat(ctx).Err(); err != nil {
		t.Fatal(err)
	}

	refresh := func() keyCountBody {
		t.Helper()
		before := scanCalls(t, a)
		r := a.Get("/api/cache-stats")
		if r.Status != http.StatusOK {
			t.Fatalf("/api/cache-stats: status %v: %s", r.Status, r.Body)
		}
		var b keyCountBody
		if err := json.Unmarshal([]byte(r.Body), &b); err != nil {
			t.Fatal(err)
		}
		if !b.Redis.Available {
			t.Fatalf("redis unavailable: %s", r.Body)
		}
		if n := scanCalls(t, a) - before; n > lesson.ScanStepsPerRefresh || n < 1 {
			t.Fatalf("one refresh made %d SCAN calls, want 1 to %d", n, lesson.ScanStepsPerRefresh)
		}
		return b
	}

	// The first pass: an estimate that grows, below the real count.
	first := refresh()
	if !first.Redis.EntriesEstimate || first.Redis.EntriesCountedAt != nil {
		t.Errorf("first refresh: estimate %v, counted at %v; want an estimate, undated", first.Redis.EntriesEstimate, first.Redis.EntriesCountedAt)
	}
	if first.Redis.Entries <= 0 || first.Redis.Entries >= want {
		t.Errorf("first refresh: %d keys, want a partial count in (0, %d)", first.Redis.Entries, want)
	}
	if !strings.Contains(first.Redis.EntriesNote, "counting") {
		t.Errorf("first refresh: note %q does not say the count is under way", first.Redis.EntriesNote)
	}
	if first.Redis.Server.DBKeys != uint64(want) {
		t.Errorf("db_keys %d, want %d (this Redis holds only the workshop's keys)", first.Redis.Server.DBKeys, want)
	}
	converge := func(want int) (keyCountBody, int) {
		t.Helper()
		for i := 1; i <= 20; i++ {
			b := refresh()
			if !b.Redis.EntriesEstimate && b.Redis.Entries == want && b.Redis.EntriesAgeS != nil && *b.Redis.EntriesAgeS == 0 {
				return b, i
			}
		}
		t.Fatalf("the count did not reach %d within 20 refreshes", want)
		return keyCountBody{}, 0
	}
	b, n := converge(want)
	t.Logf("%d keys counted exactly after %d more refreshes", want, n)
	if b.Redis.EntriesCountedAt == nil || !strings.Contains(b.Redis.EntriesNote, "exact") {
		t.Errorf("converged: counted at %v, note %q; want a date and \"exact\"", b.Redis.EntriesCountedAt, b.Redis.EntriesNote)
	}

	// More keys: the next refresh starts a new pass and still shows the
	// last full count, dated, not an estimate; then the new total.
	fill(t, a, 20_000, 500)
	time.Sleep(1100 * time.Millisecond) // so that the old count has an age
	next := refresh()
	if next.Redis.EntriesEstimate || next.Redis.Entries != want || next.Redis.EntriesAgeS == nil || *next.Redis.EntriesAgeS < 1 {
		t.Errorf("during the second pass: %d keys, estimate %v, age %v; want the last full count %d, dated", next.Redis.Entries,
			next.Redis.EntriesEstimate, next.Redis.EntriesAgeS, want)
	}
	if !strings.Contains(next.Redis.EntriesNote, "s ago") {
		t.Errorf("during the second pass: note %q does not give the count's age", next.Redis.EntriesNote)
	}
	converge(want + 500)
}

// TestStatsKeyCountSmallIsExact: a database one refresh can scan whole is
// counted exactly on every refresh, and a clear's effect shows at once.
func TestStatsKeyCountSmallIsExact(t *testing.T) {
	a := testapp.New(t)
	extra := others(t, a)
	fill(t, a, 0, 300)
	var b keyCountBody
	for i, want := range []int{300 + extra, 350 + extra} {
		if i == 1 {
			fill(t, a, 300, 50)
		}
		r := a.Get("/api/cache-stats")
		if err := json.Unmarshal([]byte(r.Body), &b); err != nil {
			t.Fatal(err)
		}
		if b.Redis.Entries != want || b.Redis.EntriesEstimate {
			t.Errorf("refresh %d: %d keys, estimate %v; want exactly %d", i, b.Redis.Entries, b.Redis.EntriesEstimate, want)
		}
	}
	page := a.Get("/cache-stats")
	if !strings.Contains(page.Body, `data-stat="redis.entries" data-format="count">`+strconv.Itoa(350+extra)+`<`) ||
		!strings.Contains(page.Body, "exact: counted by a full SCAN pass just now.") {
		t.Errorf("the page does not show the exact count 350 and say it is exact")
	}
}
