// Package eviction is the lesson on size limits (GET /eviction): with a
// bounded budget, which entries survive?
//
// It replays a skewed workload (100,000 lookups over the catalogue's
// pages, Zipf-distributed, from a seed) against the workshop's own memory
// cache (cache.Memory: an LRU with a byte budget, replayed for real, not
// modelled) and against otter's W-TinyLFU at the same budgets, and plots
// hit ratio against budget for each. It also reads Redis's own limit and
// policy (CONFIG GET maxmemory, maxmemory-policy) and explains what
// happens to the workshop's pages when Redis evicts one of their keys.
//
// replay.go is the pure part: the trace and the two replays.
package eviction

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"

	"cacheworkshop/handlers"
)

// Lookups is how many lookups a replayed trace holds, unless
// Lesson.Lookups says otherwise.
const Lookups = 100_000

// defaultLookups is the length New gives a lesson's traces (see race.go).
var defaultLookups = Lookups

// budgetPercents are the budgets replayed, as parts of the whole
// catalogue's cost: from a few dozen pages to all of them.
var budgetPercents = []float64{1, 2, 5, 10, 20, 35, 50, 100}

// skews are the Zipf exponents offered: 0.6 is a flat workload, 1.2 one
// where a few pages take most of the traffic.
var skews = []string{"0.6", "0.8", "1.0", "1.2"}

const (
	defaultSkew = "0.8"
	maxSeed     = 1_000_000
	// memoSize bounds the replays kept: a replay is a pure function of
	// its seed and skew, so asking again is answered from memory.
	memoSize = 8
	// redisTimeout bounds the Redis reads of one page.
	redisTimeout = 500 * time.Millisecond
)

// Lesson serves /eviction.
type Lesson struct {
	// Lookups is the length of the replayed traces: Lookups unless set
	// before Register (the page's tests use shorter ones, as the race
	// detector makes every lookup many times slower).
	Lookups int

	kit *handlers.Kit
	// sem lets one replay run at a time: each is a few seconds of CPU.
	sem chan struct{}
	// pages is the catalogue's pages with their measured sizes, filled
	// on first use; memo holds the latest replays, oldest first. Both
	// are guarded by sem.
	pages []Page
	memo  []*replay
}

// New returns the lesson; it is ready once registered.
func New() *Lesson { return &Lesson{Lookups: defaultLookups, sem: make(chan struct{}, 1)} }

// Register implements handlers.Lesson.
func (l *Lesson) Register(r chi.Router, k *handlers.Kit) {
	l.kit = k
	r.Get("/eviction", k.Handle(l.serve))
}

// replay is one workload replayed at every budget by both policies.
type replay struct {
	Seed      uint64
	Skew      string
	Pages     int
	Lookups   int
	Distinct  int
	TotalCost int64
	LRU       []Result
	TinyLFU   []Result
	Took      time.Duration
	At        time.Time
}

// serve is GET /eviction?seed=&skew=: the replay's results (run now, or
// kept from an earlier identical request) and Redis's settings.
func (l *Lesson) serve(w http.ResponseWriter, r *http.Request) error {
	seed, err := handlers.IntParam(r, "seed", 1, 1, maxSeed)
	if err != nil {
		return err
	}
	skew, given, err := handlers.Param(r, "skew")
	if err != nil {
		return err
	}
	if !given {
		skew = defaultSkew
	}
	if !validSkew(skew) {
		return handlers.BadRequest("The parameter skew must be one of 0.6, 0.8, 1.0 or 1.2 (got " + strconv.Quote(clip(skew)) + ").")
	}
	ctx := r.Context()
	select {
	case l.sem <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	rep, fresh, err := l.replayFor(ctx, uint64(seed), skew)
	<-l.sem
	if err != nil {
		return err
	}
	rctx, cancel := context.WithTimeout(ctx, redisTimeout)
	defer cancel()
	d := l.pageData(rep, fresh, l.redisMemory(rctx))
	return l.kit.Live(w, r, "eviction", "Eviction and sizing", "eviction", d)
}

func validSkew(s string) bool {
	for _, v := range skews {
		if v == s {
			return true
		}
	}
	return false
}

func clip(s string) string {
	if r := []rune(s); len(r) > 16 {
		return string(r[:16]) + "…"
	}
	return s
}

// replayFor returns the replay of (seed, skew), running it when it is not
// among the latest ones; fresh says it ran on this request. The caller
// holds sem.
func (l *Lesson) replayFor(ctx context.Context, seed uint64, skew string) (*replay, bool, error) {
	for _, m := range l.memo {
		if m.Seed == seed && m.Skew == skew {
			return m, false, nil
		}
	}
	if l.pages == nil {
		pages, err := l.measurePages(ctx)
		if err != nil {
			return nil, false, err
		}
		l.pages = pages
	}
	s, _ := strconv.ParseFloat(skew, 64)
	t0 := time.Now()
	wl := NewWorkload(l.pages, l.Lookups, s, seed)
	rep := &replay{Seed: seed, Skew: skew, Pages: len(l.pages), Lookups: l.Lookups, Distinct: wl.Distinct(), TotalCost: wl.TotalCost(), At: t0,
		LRU: make([]Result, len(budgetPercents)), TinyLFU: make([]Result, len(budgetPercents))}
	// Every replay has a cache of its own and only reads the trace, so
	// they run side by side, two at a time: the budget a machine's CPUs
	// can spare a page without starving the others.
	jobs := make(chan func(), 2*len(budgetPercents))
	for i, pct := range budgetPercents {
		b := int64(pct / 100 * float64(rep.TotalCost))
		jobs <- func() { rep.LRU[i] = ReplayLRU(wl, b) }
		jobs <- func() { rep.TinyLFU[i] = ReplayTinyLFU(wl, b) }
	}
	close(jobs)
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			for job := range jobs {
				if ctx.Err() == nil {
					job()
				}
			}
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, false, err
	}
	rep.Took = time.Since(t0)
	l.memo = append(l.memo, rep)
	if len(l.memo) > memoSize {
		l.memo = l.memo[1:]
	}
	return rep, true, nil
}

// measurePages lists the catalogue's pages, the home page, every list
// page and every product page, with the size each is served at: a list
// page, a product page and the home page are fetched once through the
// real handler in mode none, and every page of a kind is charged its
// kind's size.
func (l *Lesson) measurePages(ctx context.Context) ([]Page, error) {
	products, err := l.kit.Store.List(ctx, 0, 1<<20)
	if err != nil {
		return nil, err
	}
	if len(products) == 0 {
		return nil, handlers.NotFound("The catalogue is empty: there is nothing to replay.")
	}
	// The measuring requests are new requests, not parts of this one:
	// they share none of its context values (its trace, its connection).
	mctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	defer context.AfterFunc(ctx, cancel)()
	size := func(path string) (int, error) {
		req := httptest.NewRequestWithContext(mctx, http.MethodGet, path, nil)
		rec := httptest.NewRecorder()
		l.kit.Handler().ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			return 0, &handlers.Error{Status: http.StatusServiceUnavailable, Msg: "Could not measure the size of " + path + " (status " + strconv.Itoa(rec.Code) + ")."}
		}
		return rec.Body.Len(), nil
	}
	home, err := size("/?cache=none")
	if err != nil {
		return nil, err
	}
	list, err := size("/products?cache=none")
	if err != nil {
		return nil, err
	}
	detail, err := size("/products/" + strconv.FormatInt(products[0].ID, 10) + "?cache=none")
	if err != nil {
		return nil, err
	}
	const perPage = 20
	pages := []Page{{Key: "/", Bytes: home}}
	for p := 1; p <= (len(products)+perPage-1)/perPage; p++ {
		pages = append(pages, Page{Key: "/products?page=" + strconv.Itoa(p), Bytes: list})
	}
	for _, p := range products {
		pages = append(pages, Page{Key: "/products/" + strconv.FormatInt(p.ID, 10), Bytes: detail})
	}
	return pages, nil
}
