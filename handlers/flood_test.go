package handlers_test

import (
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"testing"
	"time"

	"cacheworkshop/app"
	"cacheworkshop/cache"
	"cacheworkshop/internal/testapp"
)

// TestCacheKeyIgnoresUnknownParams: tracking parameters and parameter
// order must not split one page into several entries.
func TestCacheKeyIgnoresUnknownParams(t *testing.T) {
	a := testapp.New(t)
	tests := []struct{ first, second string }{
		{"/products?page=1&x=1", "/products?x=2&page=1"},
		{"/products?page=2&per_page=10", "/products?per_page=10&utm_source=news&page=2"},
		{"/products/5?ref=a", "/products/5?fbclid=b&ref=c"},
		{"/api/products?page=3&x=1", "/api/products?gclid=1&page=3"},
		{"/api/products/8?x=1", "/api/products/8?y=2"},
		{"/?utm_campaign=a", "/?utm_campaign=b"},
	}
	for _, mode := range []string{"memory", "redis"} {
		for _, tt := range tests {
			r1 := a.Get(tt.first, "Cookie", "cache_mode="+mode)
			r2 := a.Get(tt.second, "Cookie", "cache_mode="+mode)
			if r1.Status != 200 || r2.Status != 200 {
				t.Fatalf("%s then %s (%s): status got %d, %d, want 200, 200", tt.first, tt.second, mode, r1.Status, r2.Status)
			}
			if got := r1.Header.Get("X-Cache"); got != "MISS" {
				t.Errorf("%s (%s): X-Cache got %q, want MISS", tt.first, mode, got)
			}
			if got := r2.Header.Get("X-Cache"); got != "HIT" {
				t.Errorf("%s after %s (%s): X-Cache got %q, want HIT: both must share one entry", tt.second, tt.first, mode, got)
			}
		}
	}
}

// floodCount is how many unknown-parameter URLs TestURLFlood sends, sized
// to stay within about 20 s: 200,000 in a plain run, fewer under the race
// detector (which makes each request several times slower) or -short.
// CW_FLOOD_URLS=1000000 runs the full million (about two minutes on a busy machine).
func floodCount(t *testing.T) int {
	if v := os.Getenv("CW_FLOOD_URLS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("CW_FLOOD_URLS: %q is not a positive count", v)
		}
		return n
	}
	if testing.Short() {
		return 20_000
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "-race" && s.Value == "true" {
				return 30_000
			}
		}
	}
	return 200_000
}

// floodPeak tracks the memory cache's size and the process heap.
type floodPeak struct {
	m            *cache.Memory
	bytes, heap  int64
	entries      int
	over         int
	firstOverval int64
}

func (p *floodPeak) check() {
	st := p.m.Stats()
	if st.Bytes > p.bytes {
		p.bytes = st.Bytes
	}
	if st.Entries > p.entries {
		p.entries = st.Entries
	}
	if st.Bytes > st.MaxBytes {
		if p.over == 0 {
			p.firstOverval = st.Bytes
		}
		p.over++
	}
}

func (p *floodPeak) sampleHeap() {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	if int64(ms.HeapInuse) > p.heap {
		p.heap = int64(ms.HeapInuse)
	}
}

// TestURLFlood hammers the in-process handler with distinct URLs: unknown
// parameters must create no entry at all, and distinct valid keys must
// keep the memory cache within its byte budget.
func TestURLFlood(t *testing.T) {
	const budget = 2 << 20
	// Pages live an hour so a long flood sees no expiry: any miss below
	// would then be a new key. (A fragment with a shorter TTL may still be
	// stored again; that replaces an entry, it does not add one.)
	a := testapp.New(t, func(c *app.Config) { c.MemoryBytes = budget; c.DefaultMode = cache.ModeMemory; c.TTL = time.Hour })
	mem := a.Memory
	peak := &floodPeak{m: mem}
	serve := func(path string) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		a.Server.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		return rec
	}
	runtime.GC()
	peak.sampleHeap()
	heapBefore := peak.heap

	// 1. Unknown parameters: after one warm-up per page, not one more
	// entry may appear, and every request is a hit.
	pages := []string{"/products?page=1", "/products/7", "/api/products/7", "/api/products?page=2"}
	for _, p := range pages {
		serve(p)
	}
	base := mem.Stats()
	n := floodCount(t)
	t0 := time.Now()
	misses, maxEntries := 0, base.Entries
	for i := range n {
		var path string
		is := strconv.Itoa(i)
		switch i % 4 {
		case 0:
			path = pages[0] + "&utm=" + is
		case 1:
			path = pages[1] + "?" + is + "=x"
		case 2:
			path = pages[2] + "?fbclid=" + is + "&_=" + is
		default:
			path = "/api/products?utm_source=" + is + "&page=2"
		}
		rec := serve(path)
		if rec.Code != 200 {
			t.Fatalf("%s: status got %d, want 200", path, rec.Code)
		}
		if rec.Header().Get("X-Cache") != "HIT" {
			misses++
		}
		if i%1000 == 0 {
			peak.check()
			maxEntries = max(maxEntries, mem.Stats().Entries)
		}
		if i%20000 == 0 {
			peak.sampleHeap()
		}
	}
	took := time.Since(t0)
	peak.check()
	peak.sampleHeap()
	after := mem.Stats()
	maxEntries = max(maxEntries, after.Entries)
	if maxEntries != base.Entries {
		t.Errorf("unknown parameters created entries: got up to %d entries, want the %d of the warm-up", maxEntries, base.Entries)
	}
	if misses != 0 {
		t.Errorf("unknown-parameter requests that were not a HIT: got %d, want 0", misses)
	}
	t.Logf("unknown-parameter flood: %d distinct URLs in %v (%.0f req/s), %d not a HIT, entries at most %d (%d bytes at the end); heap in use peak %.1f MiB (%.1f MiB before)",
		n, took.Round(time.Millisecond), float64(n)/took.Seconds(), misses, maxEntries, after.Bytes,
		float64(peak.heap)/(1<<20), float64(heapBefore)/(1<<20))

	// 2. Distinct valid keys: every per_page with several pages each,
	// list pages of the API and detail pages, far more than the budget
	// holds. The byte count must never exceed it.
	t0 = time.Now()
	valid := 0
	for pp := 1; pp <= 100; pp++ {
		last := (1000 + pp - 1) / pp
		for _, page := range []int{1, last / 2, last} {
			if page < 1 {
				continue
			}
			q := "?page=" + strconv.Itoa(page) + "&per_page=" + strconv.Itoa(pp)
			for _, p := range []string{"/products" + q, "/api/products" + q} {
				if rec := serve(p); rec.Code != 200 {
					t.Fatalf("%s: status got %d, want 200", p, rec.Code)
				}
				valid++
				peak.check()
			}
		}
		for id := 1 + 10*(pp-1); id <= 10*pp; id += 2 {
			p := "/products/" + strconv.Itoa(id)
			if rec := serve(p); rec.Code != 200 {
				t.Fatalf("%s: status got %d, want 200", p, rec.Code)
			}
			valid++
			peak.check()
		}
		peak.sampleHeap()
	}
	st := mem.Stats()
	if peak.over > 0 {
		t.Errorf("the memory cache exceeded its budget %d times (first at %d bytes, budget %d)", peak.over, peak.firstOverval, budget)
	}
	if st.Evictions == 0 {
		t.Errorf("no evictions after %d distinct pages: the flood did not reach the %d-byte budget, so it proved nothing", valid, budget)
	}
	t.Logf("distinct valid keys: %d requests in %v; memory cache peak %d bytes (%.1f%% of the %d budget), %d entries at most, %d evictions; heap in use peak %.1f MiB",
		valid, time.Since(t0).Round(time.Millisecond), peak.bytes, float64(peak.bytes)*100/budget, budget, peak.entries, st.Evictions,
		float64(peak.heap)/(1<<20))
}
