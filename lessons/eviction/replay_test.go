package eviction

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"cacheworkshop/cache"
)

// catalogue is a stand-in for the workshop's pages: the home page, 50
// list pages and 1000 product pages, each kind of one size, as the lesson
// measures them.
func catalogue() []Page {
	pages := []Page{{Key: "/", Bytes: 12_000}}
	for p := 1; p <= 50; p++ {
		pages = append(pages, Page{Key: fmt.Sprintf("/products?page=%d", p), Bytes: 14_000})
	}
	for id := 1; id <= 1000; id++ {
		pages = append(pages, Page{Key: fmt.Sprintf("/products/%d", id), Bytes: 9_000})
	}
	return pages
}

// TestWorkloadIsDeterministic: the same seed and skew draw the same trace,
// and another seed another one.
func TestWorkloadIsDeterministic(t *testing.T) {
	a, b := NewWorkload(catalogue(), Lookups, 0.8, 7), NewWorkload(catalogue(), Lookups, 0.8, 7)
	if !slices.Equal(a.Lookups, b.Lookups) {
		t.Error("two traces of seed 7 differ")
	}
	if c := NewWorkload(catalogue(), Lookups, 0.8, 8); slices.Equal(a.Lookups, c.Lookups) {
		t.Error("seeds 7 and 8 drew the same trace")
	}
	if got := len(a.Lookups); got != Lookups {
		t.Errorf("lookups: got %v, want %v", got, Lookups)
	}
}

// TestWorkloadIsSkewed: a higher exponent concentrates the traffic on
// fewer pages.
func TestWorkloadIsSkewed(t *testing.T) {
	top := func(skew float64) int {
		counts := make([]int, len(catalogue()))
		for _, i := range NewWorkload(catalogue(), Lookups, skew, 1).Lookups {
			counts[i]++
		}
		return slices.Max(counts)
	}
	flat, steep := top(0.6), top(1.2)
	// The top page's share is 1/H(N,s): about 1.5 % of the lookups at 0.6
	// and 28 % at 1.2 over 1051 pages.
	if flat > Lookups/25 || steep < Lookups/5 {
		t.Errorf("busiest page: got %d lookups at skew 0.6 and %d at 1.2, want under %d and over %d", flat, steep, Lookups/25, Lookups/5)
	}
}

// TestLRUNeverFallsAsBudgetGrows: on one seeded trace, the memory cache's
// hit ratio never falls as the budget grows (an LRU with a byte budget
// holds the longest run of most recently used pages that fits, so a larger
// one holds all a smaller one does), and replaying again gives exactly the
// same figures.
func TestLRUNeverFallsAsBudgetGrows(t *testing.T) {
	w := NewWorkload(catalogue(), Lookups, 0.8, 42)
	total := w.TotalCost()
	const steps = 12
	prev := Result{}
	for step := 1; step <= steps; step++ {
		budget := total * int64(step) / steps
		got := ReplayLRU(w, budget)
		if got.Hits < prev.Hits {
			t.Errorf("%d hits at %d bytes, fewer than %d at %d bytes", got.Hits, budget, prev.Hits, prev.Budget)
		}
		if step%4 == 1 {
			if again := ReplayLRU(w, budget); again.Hits != got.Hits || again.Evictions != got.Evictions {
				t.Errorf("%d bytes: got %d hits %d evictions, then %d and %d", budget, got.Hits, got.Evictions, again.Hits, again.Evictions)
			}
		}
		prev = got
	}
	if want := Lookups - w.Distinct(); prev.Hits != want || prev.Evictions != 0 {
		t.Errorf("whole catalogue: got %d hits %d evictions, want %d (every first lookup misses) and 0", prev.Hits, prev.Evictions, want)
	}
}

// TestTinyLFU: with room for everything, W-TinyLFU misses only the first
// lookups too; with a tight budget on a skewed trace it keeps the popular
// pages better than the LRU, which is what the lesson's plot shows.
func TestTinyLFU(t *testing.T) {
	w := NewWorkload(catalogue(), Lookups, 0.8, 1)
	full := ReplayTinyLFU(w, w.TotalCost())
	if want := Lookups - w.Distinct(); full.Hits != want {
		t.Errorf("whole catalogue: got %d hits, want %d", full.Hits, want)
	}
	tight := w.TotalCost() / 20
	lru, tl := ReplayLRU(w, tight), ReplayTinyLFU(w, tight)
	t.Logf("5%% budget: LRU %.3f, W-TinyLFU %.3f", lru.HitRatio(), tl.HitRatio())
	if tl.HitRatio() < lru.HitRatio()+0.05 {
		t.Errorf("5%% budget: got W-TinyLFU %.3f, want at least 5 points above the LRU's %.3f", tl.HitRatio(), lru.HitRatio())
	}
}

// TestCostMatchesMemory: a page costs what cache.Memory charges for it,
// so both policies share one budget.
func TestCostMatchesMemory(t *testing.T) {
	m := cache.NewMemory(cache.MemoryConfig{})
	p := Page{Key: "/products/7", Bytes: 1234}
	_ = m.Set(context.Background(), p.Key, make([]byte, p.Bytes), 0)
	if got, want := m.Stats().Bytes, p.cost(); got != want {
		t.Errorf("memory charges %v bytes, want %v", got, want)
	}
}
