package handlers_test

import (
	"cacheworkshop/internal/testapp"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

const (
	killClients   = 8
	killAfter     = 1500 * time.Millisecond
	restartAfter  = 3 * time.Second
	killLoadFor   = 6 * time.Second
	killRecoverBy = 20 * time.Second
)

// killPhase names where in the run a request started.
type killPhase int

const (
	phaseBefore killPhase = iota
	phaseDown
	phaseAfter
	phases
)

var phaseNames = [phases]string{"before the kill", "while Redis was down", "after the restart"}

// killStats are one phase's figures.
type killStats struct {
	requests, server5xx, other, transport, notices, hits int
	lat                                                  []time.Duration
}

// TestRedisKilledUnderLoad kills a real redis-server while clients load
// Redis-mode pages, then restarts it: no request may fail, pages must say
// Redis is unavailable meanwhile, and hits must come back.
func TestRedisKilledUnderLoad(t *testing.T) {
	a := testapp.New(t)
	client := &http.Client{Timeout: 15 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: killClients}}
	paths := []string{}
	for id := 1; id <= 12; id++ {
		paths = append(paths, fmt.Sprintf("/products/%d?cache=redis", id), fmt.Sprintf("/api/products/%d?cache=redis", id))
	}
	for page := 1; page <= 4; page++ {
		paths = append(paths, fmt.Sprintf("/products?page=%d&cache=redis", page))
	}

	var (
		phase      atomic.Int32
		restarted  atomic.Int64 // unix nanos when the restarted server answered
		firstHit   atomic.Int64 // unix nanos of the first HIT that started after it
		stop       atomic.Bool
		mu         sync.Mutex
		stats      [phases]killStats
		firstError string
	)
	record := func(p killPhase, f func(s *killStats)) {
		mu.Lock()
		f(&stats[p])
		mu.Unlock()
	}
	var wg sync.WaitGroup
	start := time.Now()
	for c := range killClients {
		wg.Go(func() {
			for i := c; !stop.Load(); i++ {
				path := paths[(i*7)%len(paths)]
				p := killPhase(phase.Load())
				t0 := time.Now()
				res, err := client.Get(a.TS.URL + path)
				if err != nil {
					record(p, func(s *killStats) {
						s.requests++
						s.transport++
						if firstError == "" {
							firstError = path + ": " + err.Error()
						}
					})
					continue
				}
				body, _ := io.ReadAll(res.Body)
				res.Body.Close()
				d := time.Since(t0)
				hit := res.Header.Get("X-Cache") == "HIT"
				notice := strings.Contains(string(body), "Redis unavailable") || strings.Contains(res.Header.Get("X-Cache-Notice"), "Redis unavailable")
				if hit && p == phaseAfter && t0.UnixNano() >= restarted.Load() {
					firstHit.CompareAndSwap(0, time.Now().UnixNano())
				}
				record(p, func(s *killStats) {
					s.requests++
					s.lat = append(s.lat, d)
					switch {
					case res.StatusCode >= 500:
						s.server5xx++
						if firstError == "" {
							firstError = fmt.Sprintf("%s: %d %.200s", path, res.StatusCode, body)
						}
					case res.StatusCode != 200:
						s.other++
						if firstError == "" {
							firstError = fmt.Sprintf("%s: %d %.200s", path, res.StatusCode, body)
						}
					}
					if notice {
						s.notices++
					}
					if hit {
						s.hits++
					}
				})
			}
		})
	}

	time.Sleep(killAfter)
	a.RedisServer.Stop()
	phase.Store(int32(phaseDown))
	killedAt := time.Now()
	time.Sleep(restartAfter - killAfter)
	phase.Store(int32(phaseAfter))
	a.RedisServer.Restart()
	restartedAt := time.Now()
	restarted.Store(restartedAt.UnixNano())
	for time.Since(start) < killLoadFor || (firstHit.Load() == 0 && time.Since(restartedAt) < killRecoverBy) {
		time.Sleep(20 * time.Millisecond)
	}
	stop.Store(true)
	wg.Wait()

	total, fails := 0, 0
	for p := range phases {
		s := stats[p]
		total += s.requests
		fails += s.server5xx + s.other + s.transport
		slices.Sort(s.lat)
		t.Logf("%-22s %5d requests: %d HIT, %d with the Redis-unavailable notice, %d 5xx, %d other non-200, %d transport errors; latency p50 %v, p99 %v, max %v",
			phaseNames[p], s.requests, s.hits, s.notices, s.server5xx, s.other, s.transport,
			pct(s.lat, 0.5), pct(s.lat, 0.99), pct(s.lat, 1))
	}
	var recovery time.Duration
	if fh := firstHit.Load(); fh != 0 {
		recovery = time.Duration(fh - restartedAt.UnixNano())
	}
	t.Logf("Redis down for %v; %d requests served by %d clients; first Redis HIT %v after the restarted server answered",
		restartedAt.Sub(killedAt).Round(time.Millisecond), total, killClients, recovery.Round(time.Millisecond))

	if n := stats[phaseBefore].server5xx + stats[phaseDown].server5xx + stats[phaseAfter].server5xx; n != 0 {
		t.Errorf("5xx responses: got %d, want 0 (first: %s)", n, firstError)
	}
	if fails != 0 {
		t.Errorf("failed requests: got %d, want 0 (first: %s)", fails, firstError)
	}
	if stats[phaseDown].requests == 0 {
		t.Fatal("no request was made while Redis was down")
	}
	if stats[phaseDown].notices == 0 {
		t.Errorf("no response said \"Redis unavailable\" while Redis was down (%d requests)", stats[phaseDown].requests)
	}
	if stats[phaseBefore].hits == 0 {
		t.Errorf("no Redis HIT before the kill: the load did not exercise the cache")
	}
	if firstHit.Load() == 0 {
		t.Errorf("no Redis HIT within %v of the restart: the cache did not recover", killRecoverBy)
	}
}

// pct is the nearest-rank percentile of sorted durations.
func pct(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(p*float64(len(sorted))+0.999999) - 1
	return sorted[max(0, min(i, len(sorted)-1))].Round(100 * time.Microsecond)
}

// TestRedisFaultSwitches: added latency keeps answers correct; switched
// off, Redis-mode pages answer from the database and say so; switched
// back on, hits return.
func TestRedisFaultSwitches(t *testing.T) {
	a := testapp.New(t)
	g := a.Redis.Guard()
	if g == nil {
		t.Fatal("the Redis cache has no guard")
	}
	p := a.Product(21)
	paths := []string{"/products/21?cache=redis", "/api/products/21?cache=redis", "/products?page=2&cache=redis"}
	for _, path := range paths {
		a.Get(path)
	}

	g.SetLatency(200 * time.Millisecond)
	for _, path := range paths {
		for i := range 2 {
			r := a.Get(path)
			if r.Status != 200 || !strings.Contains(r.Body, p.Name) {
				t.Errorf("with 200 ms latency, %s #%d: status %d, name shown %v; want 200 with %q", path, i, r.Status, strings.Contains(r.Body, p.Name), p.Name)
			}
			if got := r.Header.Get("X-Cache"); got != "HIT" {
				t.Errorf("with 200 ms latency, %s #%d: X-Cache got %q, want HIT (slow is not broken)", path, i, got)
			}
		}
	}
	g.SetLatency(0)

	g.SetFail(true)
	for _, path := range paths {
		r := a.Get(path)
		if r.Status != 200 || !strings.Contains(r.Body, p.Name) {
			t.Errorf("Redis switched off, %s: status %d; want 200 with %q", path, r.Status, p.Name)
		}
		if got := r.Header.Get("X-Cache"); got != "ERROR" {
			t.Errorf("Redis switched off, %s: X-Cache got %q, want ERROR", path, got)
		}
		shown := r.Body
		if strings.HasPrefix(path, "/api/") {
			shown = r.Header.Get("X-Cache-Notice")
		}
		if !strings.Contains(shown, "Redis unavailable") {
			t.Errorf("Redis switched off, %s: no \"Redis unavailable\" notice", path)
		}
	}
	// Memory mode does not depend on Redis.
	if r := a.Get("/products/21?cache=memory"); r.Status != 200 || strings.Contains(r.Body, "Redis unavailable") {
		t.Errorf("memory mode with Redis switched off: status %d, notice shown %v; want 200 without it", r.Status, strings.Contains(r.Body, "Redis unavailable"))
	}
	g.SetFail(false)

	// Back on: the switch's failures opened the breaker, which waits out
	// its cooldown before trying Redis again; then the first read may
	// miss, and the next must hit.
	deadline := time.Now().Add(g.Cooldown + 3*time.Second)
	for a.Get(paths[0]).Header.Get("X-Cache") != "HIT" {
		if time.Now().After(deadline) {
			t.Fatalf("Redis switched back on: no HIT within the breaker's cooldown (%v) and 3 s", g.Cooldown)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestInvalidationDuringRedisFaultIsReplayed: an edit made while Redis is
// unreachable cannot bump its generations there; once Redis answers again
// the cached old page must not come back.
func TestInvalidationDuringRedisFaultIsReplayed(t *testing.T) {
	a := testapp.New(t)
	g := a.Redis.Guard()
	p := a.Product(33)
	for range 2 {
		a.Get("/products/33?cache=redis")
		a.Get("/api/products/33?cache=redis")
		a.Get("/products?page=2&cache=redis")
	}
	if got := a.Get("/products/33?cache=redis").Header.Get("X-Cache"); got != "HIT" {
		t.Fatalf("warm-up: X-Cache got %q, want HIT", got)
	}
	g.SetFail(true)
	r := a.Post("/products/33/edit", testapp.EditForm(p, map[string]string{"name": "Edited while Redis was off"}))
	if r.Status != http.StatusSeeOther {
		t.Fatalf("edit while Redis is off: got %d, want 303 (the database is the source of truth)", r.Status)
	}
	g.SetFail(false)
	for _, path := range []string{"/products/33?cache=redis", "/api/products/33?cache=redis", "/products?page=2&cache=redis"} {
		for i := range 2 {
			r := a.Get(path)
			if r.Status != 200 {
				t.Fatalf("%s: status %d", path, r.Status)
			}
			if strings.Contains(r.Body, p.Name) || !strings.Contains(r.Body, "Edited while Redis was off") {
				t.Errorf("%s read %d after Redis came back: shows the old name (X-Cache %s); want the edit", path, i, r.Header.Get("X-Cache"))
			}
		}
	}
}
