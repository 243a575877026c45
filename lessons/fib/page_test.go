package fib_test

import (
	"context"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"cacheworkshop/internal/testapp"
	"cacheworkshop/lessons/fib"
)

// Known Fibonacci numbers (OEIS A000045).
var fibKnown = []struct {
	n    int
	want string
}{
	{1, "1"},
	{2, "1"},
	{10, "55"},
	{25, "75025"},
	{30, "832040"},
	{37, "24157817"},
	{90, "2880067194370816120"},
	{92, "7540113804746346429"},
	{300, "222232244629420445529739893461909967206666939096499764990979600"},
}

func TestBenchmarkComputesExactValues(t *testing.T) {
	a := testapp.New(t)
	for _, mode := range []string{"none", "memory", "redis"} {
		for _, tt := range fibKnown {
			if tt.n > 30 && mode != "redis" {
				continue // the large values need checking once
			}
			r := a.Get("/benchmark?cache=" + mode + "&n=" + strconv.Itoa(tt.n))
			if r.Status != http.StatusOK {
				t.Fatalf("%s n=%d: status %v, want %v: %s", mode, tt.n, r.Status, http.StatusOK, r.Body)
			}
			if want := `<span class="fib-value">` + tt.want + `</span>`; !strings.Contains(r.Body, want) {
				t.Errorf("%s n=%d: body lacks %v", mode, tt.n, want)
			}
			// Every way ran and agreed, except naive beyond its bound.
			naiveSkipped := strings.Contains(r.Body, `class="row-skipped" data-way="naive"`)
			if got, want := naiveSkipped, tt.n > fib.NaiveMax; got != want {
				t.Errorf("%s n=%d: naive skipped = %v, want %v", mode, tt.n, got, want)
			}
			for _, way := range []string{"memory", "redis", "result"} {
				if !strings.Contains(r.Body, `data-way="`+way+`" data-name=`) {
					t.Errorf("%s n=%d: way %v did not run", mode, tt.n, way)
				}
			}
		}
	}
}

func TestBenchmarkNaiveCallCount(t *testing.T) {
	a := testapp.New(t)
	r := a.Get("/benchmark?cache=none&n=25")
	// fib(25) naive makes 2·fib(26)−1 = 242785 calls; the memo 2n−1 = 49.
	for _, want := range []string{"242\u202f785", `<td class="num">49</td>`, "Naive recursion", "× faster"} {
		if !strings.Contains(r.Body, want) {
			t.Errorf("body lacks %q", want)
		}
	}
}

func TestBenchmarkDefaultN(t *testing.T) {
	a := testapp.New(t)
	r := a.Get("/benchmark")
	if r.Status != http.StatusOK {
		t.Fatalf("status %v, want %v", r.Status, http.StatusOK)
	}
	if want := "fib(30) = "; !strings.Contains(r.Body, want) {
		t.Errorf("body lacks %v", want)
	}
}

func TestBenchmarkRejectsBadN(t *testing.T) {
	a := testapp.New(t)
	for _, q := range []string{"n=0", "n=301", "n=-1", "n=abc", "n=1.5", "n=", "n=1e3", "n=99999999999", "n=3&n=4",
		// Digits only: no sign, space, exponent, base prefix or other
		// script's digits, and one value when given twice.
		"n=%2B5", "n=+5", "n=%205", "n=5%20", "n=5e2", "n=0x10", "n=%EF%BC%95", "n=5&n=500", "n=5&n=5&n=6"} {
		r := a.Get("/benchmark?cache=memory&" + q)
		if r.Status != http.StatusBadRequest {
			t.Errorf("%s: status %v, want %v", q, r.Status, http.StatusBadRequest)
			continue
		}
		if !strings.Contains(r.Header.Get("Content-Type"), "text/html") {
			t.Errorf("%s: Content-Type %v, want an HTML page", q, r.Header.Get("Content-Type"))
		}
		want := "from 1 to 300"
		if strings.Count(q, "n=") > 1 {
			want = "several different values"
		}
		if !strings.Contains(r.Body, want) {
			t.Errorf("%s: body lacks %q", q, want)
		}
	}
	// A rejected request stores nothing.
	if keys, err := a.RedisServer.Client().Keys(context.Background(), a.Redis.Prefix()+"fib:*").Result(); err != nil || len(keys) != 0 {
		t.Errorf("redis fib keys after bad requests = %v (%v), want none", keys, err)
	}
}

// barSays is a phrase of the benchmark's request bar for each outcome.
var barSays = map[string]string{
	"HIT":    "came from the <strong>",
	"MISS":   "was not in the <strong>",
	"BYPASS": "No cache: the whole result was computed again",
}

func TestBenchmarkWholeResultCache(t *testing.T) {
	tests := []struct {
		mode        string
		first, then string
	}{
		{"none", "BYPASS", "BYPASS"},
		{"memory", "MISS", "HIT"},
		{"redis", "MISS", "HIT"},
	}
	for _, tt := range tests {
		t.Run(tt.mode, func(t *testing.T) {
			a := testapp.New(t)
			for i, want := range []string{tt.first, tt.then, tt.then} {
				r := a.Get("/benchmark?n=27&cache=" + tt.mode)
				if r.Status != http.StatusOK {
					t.Fatalf("request %d: status %v, want %v", i, r.Status, http.StatusOK)
				}
				if got := r.Header.Get("X-Cache"); got != want {
					t.Errorf("request %d: X-Cache %v, want %v", i, got, want)
				}
				if got := r.Header.Get("X-Cache-Mode"); got != tt.mode {
					t.Errorf("request %d: X-Cache-Mode %v, want %v", i, got, tt.mode)
				}
				if want := `data-outcome="` + want + `"`; !strings.Contains(r.Body, want) {
					t.Errorf("request %d: body lacks %v", i, want)
				}
				// The lesson's own bar (its template) says what happened.
				if say := barSays[want]; !strings.Contains(r.Body, say) {
					t.Errorf("request %d: the %s bar lacks %q", i, want, say)
				}
				st := r.Header.Get("Server-Timing")
				for _, part := range []string{"cache;desc=", "fib:result:27", "memo;desc=\"memory", "memo;desc=\"redis", "db;", "total;dur="} {
					if !strings.Contains(st, part) {
						t.Errorf("request %d: Server-Timing %q lacks %q", i, st, part)
					}
				}
				if got := r.Header.Get("Cache-Control"); got != "no-store" {
					t.Errorf("request %d: Cache-Control %v, want no-store", i, got)
				}
			}
			// The Redis memo cleans up after itself; only the whole result
			// (in redis mode) stays.
			keys, err := a.RedisServer.Client().Keys(context.Background(), a.Redis.Prefix()+"fib:*").Result()
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			if tt.mode == "redis" {
				want = []string{a.Redis.Prefix() + "fib:result:27"}
			}
			if !slices.Equal(keys, want) {
				t.Errorf("redis fib keys after the runs = %v, want %v", keys, want)
			}
			_, found, _ := a.Memory.Get(context.Background(), "fib:result:27")
			if got, want := found, tt.mode == "memory"; got != want {
				t.Errorf("memory holds fib:result:27 = %v, want %v", got, want)
			}
		})
	}
}

func TestBenchmarkSurvivesRedisDown(t *testing.T) {
	a := testapp.New(t)
	a.RedisServer.Stop()
	for _, mode := range []string{"memory", "redis"} {
		r := a.Get("/benchmark?n=20&cache=" + mode)
		if r.Status != http.StatusOK {
			t.Fatalf("%s: status %v, want %v", mode, r.Status, http.StatusOK)
		}
		if want := "6765"; !strings.Contains(r.Body, want) {
			t.Errorf("%s: body lacks the value %v", mode, want)
		}
		if want := "failed: Redis unavailable"; !strings.Contains(r.Body, want) {
			t.Errorf("%s: body lacks %q", mode, want)
		}
		wantCache := "MISS"
		if got := r.Header.Get("X-Cache"); got != wantCache {
			t.Errorf("%s: X-Cache %v, want %v", mode, got, wantCache)
		}
		if mode == "redis" && !strings.Contains(r.Body, `class="notice notice-warn"`) {
			t.Errorf("%s: no notice that the cache could not be read", mode)
		}
	}
}

// The Redis memo's round trips, as the page reports them, are the GETs
// and SETs the Redis server actually received.
func TestBenchmarkRedisRoundTripsAreReal(t *testing.T) {
	a := testapp.New(t)
	ctx := context.Background()
	rdb := a.RedisServer.Client()
	if err := rdb.ConfigResetStat(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	// Mode none: the whole result and the fragments touch no cache, so
	// every GET and SET is the memo's.
	r := a.Get("/benchmark?cache=none&n=27")
	if r.Status != http.StatusOK {
		t.Fatalf("status %v, want %v", r.Status, http.StatusOK)
	}
	m := regexp.MustCompile(`(\d+) round trips \((\d+) hits\) per run`).FindStringSubmatch(r.Body)
	if m == nil {
		t.Fatalf("body does not report the Redis memo's round trips")
	}
	rm := regexp.MustCompile(`data-way="redis" [^>]*data-runs="(\d+)"`).FindStringSubmatch(r.Body)
	if rm == nil {
		t.Fatal("body does not say how many times the Redis memo ran")
	}
	runs, _ := strconv.Atoi(rm[1])
	perRun, _ := strconv.Atoi(m[1])
	// fib(27) top-down: 26 misses and 26 stores, and a hit for each
	// fib(k−2) with k−2 ≥ 2, 24 of them.
	if m[1] != "76" || m[2] != "24" {
		t.Errorf("reported %s round trips (%s hits), want 76 (24)", m[1], m[2])
	}
	info, err := rdb.Info(ctx, "commandstats").Result()
	if err != nil {
		t.Fatal(err)
	}
	sent := 0
	for _, cmd := range []string{"get", "set"} {
		c := regexp.MustCompile(`cmdstat_` + cmd + `:calls=(\d+)`).FindStringSubmatch(info)
		if c == nil {
			t.Fatalf("redis received no %s; commandstats:\n%s", cmd, info)
		}
		n, _ := strconv.Atoi(c[1])
		sent += n
	}
	if want := runs * perRun; sent != want || runs < 1 {
		t.Errorf("redis received %v GETs and SETs, the page reports %d runs of %d round trips", sent, runs, perRun)
	}
}

// A whole result that cannot be read is recomputed and replaced, and the
// page says why it missed although the cache answered.
func TestBenchmarkUnreadableResult(t *testing.T) {
	a := testapp.New(t)
	if err := a.Memory.Set(context.Background(), "fib:result:20", []byte("not json"), time.Minute); err != nil {
		t.Fatal(err)
	}
	r := a.Get("/benchmark?cache=memory&n=20")
	if got, want := r.Header.Get("X-Cache"), "MISS"; got != want {
		t.Errorf("X-Cache %v, want %v", got, want)
	}
	if want := `<span class="fib-value">6765</span>`; !strings.Contains(r.Body, want) {
		t.Errorf("body lacks %v", want)
	}
	if want := "could not be read; it was computed again"; !strings.Contains(r.Body, want) {
		t.Errorf("body lacks the notice %q", want)
	}
	if got, want := a.Get("/benchmark?cache=memory&n=20").Header.Get("X-Cache"), "HIT"; got != want {
		t.Errorf("after the recomputation: X-Cache %v, want %v", got, want)
	}
}

// TestBenchmarkNaiveOneAtATime fires 8 simultaneous requests whose naive
// run takes tens of milliseconds (fib(35): 30 million calls). At most one
// may run naive recursion at a time: the page reports each run's
// duration, and runs that never overlap fit, end to end, within the
// burst's wall time, whereas 8 overlapping runs on any number of cores add
// up to several times it. Four of them (one running, three waiting) get a
// turn; the others are a 429 with a Retry-After header, never a 5xx.
func TestBenchmarkNaiveOneAtATime(t *testing.T) {
	a := testapp.New(t)
	const parallel, n = 8, 35
	type result struct {
		status     int
		retryAfter string
		body       string
	}
	results := make([]result, parallel)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range results {
		wg.Go(func() {
			<-start
			res, err := http.Get(a.TS.URL + "/benchmark?cache=none&n=" + strconv.Itoa(n))
			if err != nil {
				t.Error(err)
				return
			}
			defer res.Body.Close()
			b, _ := io.ReadAll(res.Body)
			results[i] = result{res.StatusCode, res.Header.Get("Retry-After"), string(b)}
		})
	}
	t0 := time.Now()
	close(start)
	wg.Wait()
	wall := time.Since(t0)

	// Every run of every request: data-total-ns adds up a request's runs.
	naiveNS := regexp.MustCompile(`data-way="naive" data-name="[^"]*" data-ns="\d+" data-total-ns="(\d+)"`)
	var ran, busy int
	var total time.Duration
	for i, r := range results {
		switch r.status {
		case http.StatusOK:
			m := naiveNS.FindStringSubmatch(r.body)
			if m == nil {
				t.Errorf("request %d: 200 without a naive run", i)
				continue
			}
			ns, _ := strconv.ParseInt(m[1], 10, 64)
			total += time.Duration(ns)
			ran++
		case http.StatusTooManyRequests:
			busy++
			if r.retryAfter != "2" {
				t.Errorf("request %d: 429 with Retry-After %q, want %q", i, r.retryAfter, "2")
			}
			for _, want := range []string{"Naive recursion is busy", "one request at a time", "Try again in 2 seconds"} {
				if !strings.Contains(r.body, want) {
					t.Errorf("request %d: the 429 page lacks %q", i, want)
				}
			}
		default:
			t.Errorf("request %d: status %v, want 200 or 429: %.300s", i, r.status, r.body)
		}
	}
	if ran < 1 || busy < 1 || ran > 4 {
		t.Errorf("got %d runs and %d 429s, want 1 to 4 runs (one at a time, three waiting) and the rest 429", ran, busy)
	}
	if total > wall {
		t.Errorf("the %d naive runs took %v in all, more than the %v the burst lasted: they overlapped", ran, total, wall)
	}
	t.Logf("%d runs of fib(%d) taking %v in all within %v; %d told to retry", ran, n, total, wall, busy)
	// The slot is free again: a lone request runs at once, without waiting.
	r := a.Get("/benchmark?cache=none&n=" + strconv.Itoa(n))
	if r.Status != http.StatusOK || strings.Contains(r.Body, "data-waited-ns") {
		t.Errorf("after the burst: status %v, waited %v; want 200 without waiting", r.Status, strings.Contains(r.Body, "data-waited-ns"))
	}
}

// TestBenchmarkCheapNaiveRunsAtOnce: below naiveSlotN naive recursion is
// too cheap to take turns, so a burst of small n is never refused.
func TestBenchmarkCheapNaiveRunsAtOnce(t *testing.T) {
	a := testapp.New(t)
	statuses := a.GetParallel(16, "/benchmark?cache=none&n=20")
	for i, st := range statuses {
		if st != http.StatusOK {
			t.Errorf("request %d: status %v, want %v", i, st, http.StatusOK)
		}
	}
}
