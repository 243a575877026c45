package eviction

// This file is the pure part of the lesson: a seeded, skewed workload over
// the catalogue's pages, and its replay against two eviction policies at a
// byte budget. Nothing here reads the clock or the network, so the same
// seed gives the same trace and, for the LRU, the same hit count.

import (
	"context"
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/maypok86/otter/v2"

	"cacheworkshop/cache"
)

// memOverhead is what cache.Memory adds to the key and value of every
// entry for its bookkeeping (its entryOverhead). The W-TinyLFU cache is
// charged the same, so both policies share one notion of a byte budget;
// TestCostMatchesMemory checks the figure against the real cache.
const memOverhead = 96

// Page is one cacheable page of the workload: its key and the bytes its
// value takes.
type Page struct {
	Key   string
	Bytes int
}

// cost is what the page takes out of a budget.
func (p Page) cost() int64 { return int64(len(p.Key)+p.Bytes) + memOverhead }

// Workload is a trace of lookups over pages, drawn from a Zipf
// distribution: the page of popularity rank r is asked for with weight
// 1/r^Skew. Which page has which rank is itself drawn from the seed, so
// the hot pages are not simply the first ones.
type Workload struct {
	Pages   []Page
	Lookups []int32 // indices into Pages
	Skew    float64
	Seed    uint64
}

// NewWorkload draws n lookups over pages with the given skew and seed.
// The same arguments always give the same trace.
func NewWorkload(pages []Page, n int, skew float64, seed uint64) *Workload {
	rng := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	rank := make([]int32, len(pages)) // rank[r] is the page of rank r+1
	for i := range rank {
		rank[i] = int32(i)
	}
	rng.Shuffle(len(rank), func(i, j int) { rank[i], rank[j] = rank[j], rank[i] })
	// cum[r] is the total weight of ranks 1..r+1: a uniform draw below
	// the total falls in rank r with probability weight(r)/total.
	cum := make([]float64, len(pages))
	total := 0.0
	for r := range cum {
		total += 1 / math.Pow(float64(r+1), skew)
		cum[r] = total
	}
	w := &Workload{Pages: pages, Lookups: make([]int32, n), Skew: skew, Seed: seed}
	for i := range w.Lookups {
		r, _ := slices.BinarySearch(cum, rng.Float64()*total)
		w.Lookups[i] = rank[min(r, len(rank)-1)]
	}
	return w
}

// TotalCost is what every page of the workload takes at once: the budget
// at which nothing is ever evicted.
func (w *Workload) TotalCost() int64 {
	var n int64
	for _, p := range w.Pages {
		n += p.cost()
	}
	return n
}

// Distinct is how many different pages the trace asks for: each costs one
// miss whatever the budget (a compulsory miss), so 1 − Distinct/lookups is
// the best hit ratio any policy can reach.
func (w *Workload) Distinct() int {
	seen := make([]bool, len(w.Pages))
	n := 0
	for _, i := range w.Lookups {
		if !seen[i] {
			seen[i], n = true, n+1
		}
	}
	return n
}

// Result is one replay: a policy at a budget.
type Result struct {
	Budget    int64
	Hits      int
	Lookups   int
	Evictions uint64
	Took      time.Duration
}

// HitRatio is hits over lookups.
func (r Result) HitRatio() float64 {
	if r.Lookups == 0 {
		return 0
	}
	return float64(r.Hits) / float64(r.Lookups)
}

// values returns one shared backing array long enough for the largest
// page: a replay stores slices of it, so it costs no allocation per entry
// and the policies are charged each page's real length.
func (w *Workload) values() []byte {
	n := 0
	for _, p := range w.Pages {
		n = max(n, p.Bytes)
	}
	return make([]byte, n)
}

// ReplayLRU replays the trace against the workshop's own memory cache,
// cache.Memory itself (not a model of it), with the byte budget: a lookup
// that misses stores the page, as a page cache does. Its clock is frozen,
// so nothing expires and only the budget evicts.
func ReplayLRU(w *Workload, budget int64) Result {
	t0 := time.Now()
	frozen := time.Now()
	m := cache.NewMemory(cache.MemoryConfig{MaxBytes: budget, DefaultTTL: time.Hour, Now: func() time.Time { return frozen }})
	ctx := context.Background()
	vals := w.values()
	res := Result{Budget: budget, Lookups: len(w.Lookups)}
	for _, i := range w.Lookups {
		p := w.Pages[i]
		if _, ok, _ := m.Get(ctx, p.Key); ok {
			res.Hits++
			continue
		}
		_ = m.Set(ctx, p.Key, vals[:p.Bytes], 0)
	}
	res.Evictions = m.Stats().Evictions
	res.Took = time.Since(t0)
	return res
}

// ReplayTinyLFU replays the trace against otter's W-TinyLFU cache with the
// same budget, each entry weighed as cache.Memory counts it. Maintenance
// (admission and eviction) runs on the caller's goroutine, so the cache
// has settled after every write, as the LRU has. Otter seeds its hashes
// and its admission's tie-break at random (a defence against crafted
// keys), so this ratio may differ by a hair between two replays of one
// trace; the LRU's never does.
func ReplayTinyLFU(w *Workload, budget int64) Result {
	t0 := time.Now()
	c := otter.Must(&otter.Options[int32, []byte]{
		MaximumWeight: uint64(budget),
		Weigher: func(i int32, v []byte) uint32 {
			return uint32(int64(len(w.Pages[i].Key)+len(v)) + memOverhead)
		},
		Executor:        func(fn func()) { fn() },
		InitialCapacity: len(w.Pages),
	})
	vals := w.values()
	res := Result{Budget: budget, Lookups: len(w.Lookups)}
	var sets int
	for _, i := range w.Lookups {
		if _, ok := c.GetIfPresent(i); ok {
			res.Hits++
			continue
		}
		c.Set(i, vals[:w.Pages[i].Bytes])
		sets++
	}
	c.CleanUp()
	// Every page stored and not there now was evicted or refused (W-TinyLFU
	// may turn a newcomer away rather than evict a more popular entry).
	res.Evictions = uint64(max(0, sets-c.EstimatedSize()))
	res.Took = time.Since(t0)
	return res
}
