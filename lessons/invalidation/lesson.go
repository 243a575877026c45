// Package invalidation is the invalidation lab (/invalidation): the
// catalogue's edit form only ever shows the right way to keep a cache in
// step with the database, and here the learner tries the wrong ways too,
// side by side, without ever touching the catalogue.
//
// The lab has its own ten products in their own table, and caches fifteen
// views of them (each product's detail, two list pages, three category
// pages) in the learner's mode, in a memory cache and a Redis namespace
// of its own. The learner edits a price under one of seven strategies
// (forget, TTL only, delete the key, delete by pattern, generations, tags,
// write-through) and the lab measures what happened: stale reads, keys
// touched, Redis commands sent (counted by a hook on the lab's own Redis
// client), time taken. Write-through's race with a concurrent reader is
// replayed with a fixed interleaving, beside the workshop's own order
// (commit, then raise the generations), which the same interleaving
// cannot fool. The cost of a pattern delete is measured at 1k, 10k and
// 100k throwaway keys.
package invalidation

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-chi/chi/v5"

	"cacheworkshop/cache"
	"cacheworkshop/handlers"
	"cacheworkshop/models"
)

// Lesson serves /invalidation.
type Lesson struct {
	kit   *handlers.Kit
	data  data
	mem   *memoryBackend
	redis *redisBackend // nil when the workshop has no Redis
	// initErr is set when the lab's tables could not be made: its pages
	// then say so instead of failing later.
	initErr error

	// mu makes the lab's state one per process: a run (fill, edit,
	// invalidate, read again) and the page's own read of the views take
	// turns, so neither blurs the other's figures.
	mu   sync.Mutex
	last *run
	// history keeps the latest run of each strategy in each mode, for the
	// side-by-side table.
	history []summary

	// costRunning admits one pattern-cost measurement at a time: it
	// writes up to 100,000 keys, and two at once would time each other.
	costRunning atomic.Bool
	costMu      sync.Mutex
	costs       []costResult

	// onStep, when set, is told as a run passes each stage ("filled",
	// "committed", "invalidated", "read"): tests compare what the Redis
	// server counted between two stages with the figures the run shows.
	onStep func(stage string)
}

// New returns the lesson; it takes what it needs from the Kit in Register.
func New() *Lesson { return &Lesson{} }

// Register implements handlers.Lesson. The page is open; what it posts
// needs the admin token when ADMIN_TOKEN is set, as every lab's does.
func (l *Lesson) Register(r chi.Router, k *handlers.Kit) {
	l.kit = k
	l.data = data{db: k.Store.DB()}
	l.mem = newMemoryBackend()
	if k.Redis != nil {
		l.redis = newRedisBackend(k.Redis)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if l.initErr = l.data.init(ctx); l.initErr != nil {
		k.Log.Error("invalidation lab unavailable", "err", l.initErr)
	}
	r.Get("/invalidation", k.Handle(l.servePage))
	r.With(k.RequireAdmin).Post("/invalidation/edit", k.Handle(l.serveEdit))
	r.With(k.RequireAdmin).Post("/invalidation/reset", k.Handle(l.serveReset))
	r.With(k.RequireAdmin).Post("/invalidation/pattern-cost", k.Handle(l.servePatternCost))
}

// summary is one row of the side-by-side table.
type summary struct {
	Strategy   strategy
	Mode       cache.Mode
	ModeLabel  string
	AlsoPages  bool
	Stale      int
	StaleViews []string
	Touched    int
	Redis      count
	Invalidate string
	Misses     int
	Err        bool
}

func summarize(r *run) summary {
	return summary{Strategy: r.Strategy, Mode: r.Mode, ModeLabel: r.ModeLabel, AlsoPages: r.AlsoPages,
		Stale: r.Right.Stale, StaleViews: r.Right.StaleViews, Touched: r.KeysTouched(), Redis: r.Invalidate.Redis,
		Invalidate: r.Invalidate.Ms(), Misses: r.Right.Misses, Err: r.Err != ""}
}

// record keeps r as the last run and in the history, replacing the
// previous run of the same strategy, variant and mode.
func (l *Lesson) record(r *run) {
	l.last = r
	s := summarize(r)
	for i, h := range l.history {
		if h.Strategy.Name == s.Strategy.Name && h.Mode == s.Mode && h.AlsoPages == s.AlsoPages {
			l.history[i] = s
			return
		}
	}
	l.history = append(l.history, s)
	// In the form's order of strategies, then by mode.
	rank := func(s summary) int {
		i := slices.IndexFunc(strategies, func(st strategy) bool { return st.Name == s.Strategy.Name })
		r := i*10 + int(s.Mode)*2
		if s.AlsoPages {
			r++
		}
		return r
	}
	slices.SortStableFunc(l.history, func(a, b summary) int { return rank(a) - rank(b) })
}

// pageData is the page's content.
type pageData struct {
	Mode         cache.Mode
	ModeLabel    string
	ModeNone     bool
	RedisMissing bool
	Strategies   []strategyOption
	Products     []row
	Form         formData
	Run          *run
	// Now is this page load's own read of every view, in the last run's
	// mode; NowErr says why there is none.
	Now     *reading
	NowErr  string
	Watch   bool
	History []summary
	Costs   []costResult
	// CostSizes are the pattern-cost form's choices.
	CostSizes  []int
	ScanCount  int
	Views      int
	LabTTL     string
	MaxTTL     int
	AdminToken bool
	Action     string
	Busy       bool
}

type strategyOption struct {
	strategy
	Checked bool
}

type formData struct {
	ID        int64
	Price     string
	TTL       int
	AlsoPages bool
}

// servePage shows the lab: the form, the last run's measured figures, a
// fresh read of every view, the side-by-side table and the pattern costs.
// It is computed on every request and never cached (Kit.Live).
func (l *Lesson) servePage(w http.ResponseWriter, r *http.Request) error {
	if l.initErr != nil {
		return &handlers.Error{Status: http.StatusServiceUnavailable, Msg: "The invalidation lab's tables could not be created; the error was logged.", Cause: l.initErr}
	}
	ctx := r.Context()
	mode := l.kit.Mode(r)
	d := pageData{Mode: mode, ModeLabel: l.kit.Label(mode), ModeNone: mode == cache.ModeNone,
		RedisMissing: l.redis == nil, CostSizes: costSizes, ScanCount: scanCount, Views: len(allViews()),
		LabTTL: labTTLText, MaxTTL: maxShortTTL, AdminToken: l.kit.AdminToken != "",
		Action: "?cache=" + mode.String(), Busy: l.costRunning.Load(),
		Form: formData{ID: 3, TTL: defaultShortTTL}}
	for _, s := range strategies {
		d.Strategies = append(d.Strategies, strategyOption{strategy: s, Checked: s.Name == sDelete})
	}

	l.mu.Lock()
	if last := l.last; last != nil {
		d.Form = formData{ID: last.ID, TTL: int(last.TTL / time.Second), AlsoPages: last.AlsoPages}
		if last.Strategy.Name != sTTL {
			d.Form.TTL = defaultShortTTL
		}
		for i := range d.Strategies {
			d.Strategies[i].Checked = d.Strategies[i].Name == last.Strategy.Name
		}
		if last.Err == "" {
			now, err := l.readAll(ctx, l.backendFor(last.Mode), last.Strategy, last.TTL, last.ID)
			if err != nil {
				d.NowErr = errText(err)
			} else {
				d.Now = &now
				if last.Strategy.Name == sTTL && now.Stale == 0 && last.FreshAt.IsZero() {
					last.FreshAt = now.At
				}
				d.Watch = last.Strategy.Name == sTTL && last.FreshAt.IsZero()
			}
		}
		// A copy: the page renders after the lock is released, while a
		// later read may record FreshAt on the shared run.
		cp := *last
		d.Run = &cp
	}
	d.History = append([]summary(nil), l.history...)
	l.mu.Unlock()

	l.costMu.Lock()
	d.Costs = append([]costResult(nil), l.costs...)
	l.costMu.Unlock()

	var err error
	if d.Products, err = l.data.all(ctx); err != nil {
		return err
	}
	for _, p := range d.Products {
		if p.ID == d.Form.ID {
			d.Form.Price = models.PriceString(p.Price + 100)
		}
	}
	return l.kit.Live(w, r, "invalidation", "Invalidation strategies", "invalidation", d)
}

// parseEdit reads the edit form strictly: every field is checked before
// anything changes, and a refused form changes nothing.
func parseEdit(w http.ResponseWriter, r *http.Request) (edit, error) {
	var e edit
	if err := handlers.ParseForm(w, r); err != nil {
		return e, err
	}
	name, _, err := handlers.FormValue(r, "strategy")
	if err != nil {
		return e, err
	}
	var ok bool
	if e.Strategy, ok = strategyNamed(name); !ok {
		return e, handlers.BadRequest(fmt.Sprintf("The field strategy must be one of %s (got %q).", strategyNames(), clip(name)))
	}
	id, err := handlers.FormInt(r, "product", 1, len(seedRows))
	if err != nil {
		return e, err
	}
	e.ID = int64(id)
	price, _, err := handlers.FormValue(r, "price")
	if err != nil {
		return e, err
	}
	if e.Price, err = models.ParsePrice(price); err != nil {
		return e, handlers.BadRequest("The field price: " + models.ErrorMessage(err))
	}
	e.TTL = labTTL
	if _, given, _ := handlers.FormValue(r, "ttl"); given || e.Strategy.Name == sTTL {
		secs, err := handlers.FormInt(r, "ttl", 1, maxShortTTL)
		if err != nil {
			return e, err
		}
		if e.Strategy.Name == sTTL {
			e.TTL = time.Duration(secs) * time.Second
		}
	}
	also, given, err := handlers.FormValue(r, "also")
	if err != nil {
		return e, err
	}
	if given && also != "pages" {
		return e, handlers.BadRequest(fmt.Sprintf("The field also may only be \"pages\" (got %q).", clip(also)))
	}
	e.AlsoPages = given && e.Strategy.Name == sDelete
	return e, nil
}

func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

// serveEdit runs one edit under one strategy in the request's mode, then
// shows the page with its figures.
func (l *Lesson) serveEdit(w http.ResponseWriter, r *http.Request) error {
	if l.initErr != nil {
		return &handlers.Error{Status: http.StatusServiceUnavailable, Msg: "The invalidation lab's tables could not be created; the error was logged.", Cause: l.initErr}
	}
	e, err := parseEdit(w, r)
	if err != nil {
		return err
	}
	mode := l.kit.Mode(r)
	if mode == cache.ModeRedis && l.redis == nil {
		return &handlers.Error{Status: http.StatusConflict, Msg: "This server has no Redis, so the lab cannot run in Redis mode: pick memory."}
	}
	l.mu.Lock()
	res := l.execute(r.Context(), mode, e)
	res.ModeLabel = l.kit.Label(mode)
	l.record(res)
	l.mu.Unlock()
	l.kit.Log.Info("invalidation lab run", "strategy", e.Strategy.Name, "mode", mode.String(), "product", e.ID, "err", res.Err)
	http.Redirect(w, r, "/invalidation#lab-run", http.StatusSeeOther)
	return nil
}

// serveReset restores the ten products and empties the lab's entries in
// both backends.
func (l *Lesson) serveReset(w http.ResponseWriter, r *http.Request) error {
	if l.initErr != nil {
		return &handlers.Error{Status: http.StatusServiceUnavailable, Msg: "The invalidation lab's tables could not be created; the error was logged.", Cause: l.initErr}
	}
	if err := handlers.ParseForm(w, r); err != nil {
		return err
	}
	ctx := r.Context()
	l.mu.Lock()
	defer l.mu.Unlock()
	change, err := l.data.reset(ctx)
	if err != nil {
		return err
	}
	var notes []string
	for _, b := range []backend{l.mem, l.backendFor(cache.ModeRedis)} {
		if b == nil {
			continue
		}
		if err := b.clear(ctx); err != nil {
			notes = append(notes, b.Name()+": "+errText(err))
		}
		if _, err := l.apply(ctx, b, change); err != nil {
			notes = append(notes, b.Name()+": "+errText(err))
		}
	}
	l.last, l.history = nil, nil
	msg := "The lab's ten products are back to their seeded prices, and its cached views are gone."
	if len(notes) > 0 {
		msg += " Some backends could not be cleared (" + strings.Join(notes, "; ") + "); the next run clears them first."
	}
	l.kit.Flash(w, msg)
	http.Redirect(w, r, "/invalidation", http.StatusSeeOther)
	return nil
}

// servePatternCost measures a pattern delete at one of costSizes, in
// memory and, when there is one, in Redis.
func (l *Lesson) servePatternCost(w http.ResponseWriter, r *http.Request) error {
	if err := handlers.ParseForm(w, r); err != nil {
		return err
	}
	n, err := handlers.FormInt(r, "keys", 1, costSizes[len(costSizes)-1])
	if err != nil {
		return err
	}
	allowed := false
	for _, s := range costSizes {
		allowed = allowed || s == n
	}
	if !allowed {
		return handlers.BadRequest(fmt.Sprintf("The field keys must be one of %v (got %d).", costSizes, n))
	}
	if !l.costRunning.CompareAndSwap(false, true) {
		w.Header().Set("Retry-After", "5")
		return &handlers.Error{Status: http.StatusTooManyRequests,
			Msg: "A pattern-delete measurement is already under way on this server, and one runs at a time: they would time each other. Try again in a few seconds."}
	}
	defer l.costRunning.Store(false)
	results := []costResult{costMemory(n)}
	if l.redis != nil {
		res := l.redis.cost(r.Context(), n)
		res.Backend = l.kit.Label(cache.ModeRedis)
		results = append(results, res)
	}
	results[0].Backend = l.kit.Label(cache.ModeMemory)
	l.costMu.Lock()
	for _, res := range results {
		l.costs = slicesReplace(l.costs, res)
	}
	l.costMu.Unlock()
	http.Redirect(w, r, "/invalidation#pattern-cost", http.StatusSeeOther)
	return nil
}

// slicesReplace puts res in place of the measurement of the same backend
// and size, keeping them ordered by size then backend.
func slicesReplace(costs []costResult, res costResult) []costResult {
	for i, c := range costs {
		if c.Kind == res.Kind && c.Keys == res.Keys {
			costs[i] = res
			return costs
		}
	}
	costs = append(costs, res)
	for i := len(costs) - 1; i > 0 && (costs[i].Keys < costs[i-1].Keys ||
		costs[i].Keys == costs[i-1].Keys && costs[i].Kind < costs[i-1].Kind); i-- {
		costs[i], costs[i-1] = costs[i-1], costs[i]
	}
	return costs
}
