package invalidation

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"cacheworkshop/cache"
	"cacheworkshop/trace"
)

// labTTL is the lifetime of every lab entry but the TTL-only strategy's:
// long enough that "forget" visibly stays stale. labTTLText says it.
const (
	labTTL     = 10 * time.Minute
	labTTLText = "10 minutes"
)

// The TTL-only strategy's lifetime is the learner's, within these bounds.
const (
	defaultShortTTL = 15
	maxShortTTL     = 120
)

// strategy is one way of keeping the cache in step with an edit.
type strategy struct {
	Name, Title, Explain string
}

// The strategies, in the order the form lists them.
const (
	sForget       = "forget"
	sTTL          = "ttl"
	sDelete       = "delete"
	sPattern      = "pattern"
	sGenerations  = "generations"
	sTags         = "tags"
	sWriteThrough = "write-through"
)

var strategies = []strategy{
	{sForget, "Forget to invalidate", "The edit commits and nothing touches the cache: every view that shows the product keeps its old copy until it expires (" + labTTLText + " here)."},
	{sTTL, "TTL only", "Nothing is invalidated on purpose: entries live a short time (the TTL you choose), so a stale copy is served for at most that long. The page measures how long it really was."},
	{sDelete, "Delete the key", "The product's own key is deleted after the commit, like cache.delete(key). Its detail is fresh, but the list page and the category page that show it keep their copies, unless you tick the box and delete those keys too (you must know them all)."},
	{sPattern, "Delete by pattern", "Every key under the lab's prefix is deleted with SCAN + UNLINK, like django-redis delete_pattern: nothing stale survives, and neither does anything else. SCAN walks the whole keyspace; its cost grows with the number of keys, measured below."},
	{sGenerations, "Versioned keys (generations)", "What the workshop does. The edit commits, with a change record in the same transaction; then the generations of the product, the list and its category are raised to the change's id. Entries are stamped with the generations they were built under, so old ones simply stop matching: nothing is deleted, they age out."},
	{sTags, "Tags", "Every entry is added, when it is filled, to the set of each product it shows. The edit invalidates the tag product:N: every entry in that set goes at once, and nothing else. The price is paid on every fill (a set write per tag)."},
	{sWriteThrough, "Write-through", "The commit is followed at once by writing the new values into every view that shows the product: nothing is stale and nothing misses. But a reader that read the old row just before the write can store it just after: replayed below, step by step."},
}

func strategyNamed(name string) (strategy, bool) {
	for _, s := range strategies {
		if s.Name == name {
			return s, true
		}
	}
	return strategy{}, false
}

func strategyNames() string {
	names := make([]string, len(strategies))
	for i, s := range strategies {
		names[i] = s.Name
	}
	return strings.Join(names, ", ")
}

// edit is what the learner asked for: a new price for one product, kept
// in the cache by one strategy.
type edit struct {
	Strategy strategy
	ID       int64
	Price    int64
	// TTL is the lifetime of the entries the run fills.
	TTL time.Duration
	// AlsoPages makes "delete the key" delete the pages that show the
	// product as well.
	AlsoPages bool
}

// step is one measured part of a run: its duration and the Redis commands
// it sent (counted by the lab client's hook).
type step struct {
	Took  time.Duration
	Redis count
}

// Ms is the duration as the page shows it.
func (s step) Ms() string { return trace.Millis(s.Took) }

// touch is one key or generation the invalidation wrote or deleted (N
// keys when N is set: a pattern delete's), or, with Note set, something
// else it did that the page should explain.
type touch struct {
	Action, Key string
	N           int
	Note        bool
}

// viewRead is one view as a read found it: what the cache served beside
// what the database holds.
type viewRead struct {
	View    view
	Outcome string // HIT, MISS, or BYPASS in mode none
	// Served and DB are the edited product's row in this view, as served
	// and as in the database; nil when the view does not show it.
	Served, DB *row
	Stale      bool
	// TTLLeft is how long a stale entry has left, as the backend reports.
	TTLLeft time.Duration
}

// TTLLeftMs is TTLLeft for the page.
func (v viewRead) TTLLeftMs() string { return trace.Millis(v.TTLLeft) }

// reading is one pass over every view.
type reading struct {
	At         time.Time
	Step       step
	Views      []viewRead
	Stale      int
	Misses     int
	StaleViews []string
}

// run is one edit under one strategy, as measured.
type run struct {
	edit
	Mode      cache.Mode
	ModeLabel string
	Before    row
	After     row
	EditedAt  time.Time
	// Warm fills every view before the edit; DBWrite is the commit;
	// Invalidate is the strategy's own work after it; After is the read
	// of every view that follows.
	Warm, DBWrite, Invalidate step
	Touched                   []touch
	Right                     reading
	Races                     []raceResult
	// Err says where the run stopped, when a backend failed.
	Err string
	// MaxTTLLeft is how long the longest-lived stale entry had left right
	// after the edit: the most a TTL-only cache can stay stale.
	MaxTTLLeft time.Duration
	// FreshAt is when a read first found every view fresh again (TTL
	// only): the staleness the learner saw, measured.
	FreshAt time.Time
}

// KeysTouched counts the keys and generations the invalidation wrote or
// deleted.
func (r *run) KeysTouched() int {
	n := 0
	for _, t := range r.Touched {
		switch {
		case t.Note:
		case t.N > 0:
			n += t.N
		default:
			n++
		}
	}
	return n
}

// StaleFor is the measured staleness window of a TTL-only run, or "".
func (r *run) StaleFor() string {
	if r.FreshAt.IsZero() {
		return ""
	}
	return trace.Millis(r.FreshAt.Sub(r.EditedAt))
}

// MaxTTLLeftMs is MaxTTLLeft for the page.
func (r *run) MaxTTLLeftMs() string { return trace.Millis(r.MaxTTLLeft) }

// backendFor returns the lab's backend of a mode, or nil in mode none (or
// for Redis when the workshop has none).
func (l *Lesson) backendFor(m cache.Mode) backend {
	switch m {
	case cache.ModeMemory:
		return l.mem
	case cache.ModeRedis:
		if l.redis != nil {
			return l.redis
		}
	}
	return nil
}

// readView reads one view through the cache the way strategy s does, and
// fills it on a miss.
func (l *Lesson) readView(ctx context.Context, b backend, s strategy, v view, ttl time.Duration) ([]row, string, error) {
	if b == nil {
		rows, err := l.data.query(ctx, v)
		return rows, "BYPASS", err
	}
	if s.Name == sGenerations {
		// The generations are read before the database, in the same
		// round trip as the entry: a row read after them is at least as
		// new as they are.
		cur := make([]int64, len(v.gens()))
		val, found, err := b.GetVersioned(ctx, v.Key(), v.gens(), cur)
		if err != nil {
			return nil, "", err
		}
		if found {
			if rows, err := decodeRows(val); err == nil {
				return rows, "HIT", nil
			}
		}
		rows, err := l.data.query(ctx, v)
		if err != nil {
			return nil, "", err
		}
		return rows, "MISS", b.SetVersioned(ctx, v.Key(), cur, encodeRows(rows), ttl)
	}
	val, found, err := b.Get(ctx, v.Key())
	if err != nil {
		return nil, "", err
	}
	if found {
		if rows, err := decodeRows(val); err == nil {
			return rows, "HIT", nil
		}
	}
	rows, err := l.data.query(ctx, v)
	if err != nil {
		return nil, "", err
	}
	if err := b.Set(ctx, v.Key(), encodeRows(rows), ttl); err != nil {
		return nil, "", err
	}
	if s.Name == sTags {
		err = b.tag(ctx, v.Key(), v.tags(rows), ttl)
	}
	return rows, "MISS", err
}

// readAll reads every view through the cache and compares each with the
// database: a view is stale when what it served differs from what the
// database holds now. id is the edited product, whose row the page shows.
func (l *Lesson) readAll(ctx context.Context, b backend, s strategy, ttl time.Duration, id int64) (reading, error) {
	rd := reading{At: time.Now()}
	t := &tally{}
	tctx := withTally(ctx, t)
	t0 := time.Now()
	type served struct {
		rows    []row
		outcome string
	}
	views := allViews()
	got := make([]served, len(views))
	for i, v := range views {
		rows, outcome, err := l.readView(tctx, b, s, v, ttl)
		if err != nil {
			return rd, err
		}
		got[i] = served{rows, outcome}
	}
	rd.Step = step{Took: time.Since(t0), Redis: t.count()}
	for i, v := range views {
		db, err := l.data.query(ctx, v)
		if err != nil {
			return rd, err
		}
		vr := viewRead{View: v, Outcome: got[i].outcome, Stale: !slices.Equal(got[i].rows, db),
			Served: find(got[i].rows, id), DB: find(db, id)}
		if vr.Outcome == "MISS" {
			rd.Misses++
		}
		if vr.Stale {
			rd.Stale++
			rd.StaleViews = append(rd.StaleViews, v.Label())
			if b != nil {
				if left, ok, err := b.ttl(ctx, v.Key()); err == nil && ok {
					vr.TTLLeft = left
				}
			}
		}
		rd.Views = append(rd.Views, vr)
	}
	return rd, nil
}

func find(rows []row, id int64) *row {
	for i := range rows {
		if rows[i].ID == id {
			return &rows[i]
		}
	}
	return nil
}

// execute runs one edit: every view is filled, the edit commits, the
// strategy does its work, and every view is read again and compared with
// the database. Every figure on the result is measured here.
func (l *Lesson) execute(ctx context.Context, mode cache.Mode, e edit) *run {
	r := &run{edit: e, Mode: mode}
	b := l.backendFor(mode)
	fail := func(where string, err error) *run {
		r.Err = where + ": " + errText(err)
		return r
	}
	// A clean start, not measured: the previous run's entries, stale or
	// not, would blur this one's figures.
	if b != nil {
		if err := b.clear(ctx); err != nil {
			return fail("Clearing the lab's entries before the edit failed, so nothing was edited", err)
		}
	}
	// Write-through's race is replayed first: each replay is an edit of
	// its own, and made before the learner's, the product ends at the
	// learner's price and the views are filled after them.
	if e.Strategy.Name == sWriteThrough && b != nil {
		var err error
		if r.Races, err = l.replayRaces(ctx, b, e.ID, e.TTL); err != nil {
			return fail("Replaying the race failed", err)
		}
	}
	warm, err := l.readAll(ctx, b, e.Strategy, e.TTL, e.ID)
	if err != nil {
		return fail("Filling the views before the edit failed, so nothing was edited", err)
	}
	r.Warm = warm.Step
	l.stage("filled")

	var gens []string
	if e.Strategy.Name == sGenerations && b != nil {
		before, err := l.data.get(ctx, e.ID)
		if err != nil {
			return fail("Reading the product failed", err)
		}
		gens = editGens(before)
	}
	t0 := time.Now()
	before, after, change, err := l.data.setPrice(ctx, e.ID, e.Price, gens)
	r.DBWrite = step{Took: time.Since(t0)}
	if err != nil {
		return fail("The edit did not commit", err)
	}
	r.Before, r.After, r.EditedAt = before, after, time.Now()
	l.stage("committed")

	if b != nil {
		t := &tally{}
		tctx := withTally(ctx, t)
		t0 = time.Now()
		r.Touched, err = l.invalidate(tctx, b, e, after, change)
		r.Invalidate = step{Took: time.Since(t0), Redis: t.count()}
		if err != nil {
			// The edit has committed: what the cache now serves is
			// exactly what a failed invalidation leaves behind.
			r.Err = "The edit committed but its invalidation failed: " + errText(err)
		}
	}
	l.stage("invalidated")
	if r.Right, err = l.readAll(ctx, b, e.Strategy, e.TTL, e.ID); err != nil {
		return fail("Reading the views after the edit failed", err)
	}
	l.stage("read")
	for _, v := range r.Right.Views {
		r.MaxTTLLeft = max(r.MaxTTLLeft, v.TTLLeft)
	}
	if e.Strategy.Name == sTTL && r.Right.Stale == 0 {
		r.FreshAt = r.Right.At
	}
	return r
}

func (l *Lesson) stage(name string) {
	if l.onStep != nil {
		l.onStep(name)
	}
}

// invalidate is the strategy's own work, after the commit. It returns the
// keys and generations it wrote or deleted.
func (l *Lesson) invalidate(ctx context.Context, b backend, e edit, after row, change cache.Change) ([]touch, error) {
	var touched []touch
	switch e.Strategy.Name {
	case sForget, sTTL:
		return nil, nil
	case sDelete:
		views := showing(after)
		if !e.AlsoPages {
			views = views[:1]
		}
		keys := make([]string, len(views))
		for i, v := range views {
			keys[i] = v.Key()
			touched = append(touched, touch{Action: "deleted", Key: v.Key()})
		}
		return touched, b.Delete(ctx, keys...)
	case sPattern:
		n, err := b.deletePrefix(ctx, entryPrefix)
		touched = append(touched, touch{Action: "deleted", Key: strconv.Itoa(n) + " keys matching " + entryPrefix + "*", N: n})
		return touched, err
	case sGenerations:
		caughtUp, err := l.apply(ctx, b, change)
		if err != nil {
			return nil, err
		}
		for _, n := range change.Names {
			touched = append(touched, touch{Action: "raised", Key: "generation " + n + " to " + strconv.FormatInt(change.ID, 10)})
		}
		if caughtUp > 0 {
			// Not keys this edit touched, but commands it sent: say why.
			touched = append(touched, touch{Action: "also sent", Key: strconv.Itoa(caughtUp) + " earlier lab changes Redis lacked (from the lab's outbox), before this one", Note: true})
		}
		return touched, nil
	case sTags:
		keys, err := b.invalidateTag(ctx, genProduct(after.ID))
		slices.Sort(keys)
		for _, k := range keys {
			touched = append(touched, touch{Action: "deleted", Key: k})
		}
		touched = append(touched, touch{Action: "deleted", Key: "the set of tag " + genProduct(after.ID)})
		return touched, err
	case sWriteThrough:
		for _, v := range showing(after) {
			rows, err := l.data.query(ctx, v)
			if err != nil {
				return touched, err
			}
			if err := b.Set(ctx, v.Key(), encodeRows(rows), e.TTL); err != nil {
				return touched, err
			}
			touched = append(touched, touch{Action: "wrote", Key: v.Key()})
		}
		return touched, nil
	}
	return nil, fmt.Errorf("unknown strategy %q", e.Strategy.Name)
}

// apply raises the generations of change in b. A Redis that lacks earlier
// lab changes (restarted, cleared from the statistics page, or simply not
// sent the changes of runs in memory mode) is sent every change since the
// last it has, from the lab's outbox, as the workshop's invalidator does.
// caughtUp is how many earlier changes that took.
func (l *Lesson) apply(ctx context.Context, b backend, change cache.Change) (caughtUp int, err error) {
	err = b.Apply(ctx, change)
	rb, ok := b.(*redisBackend)
	if !ok || !errors.Is(err, cache.ErrGap) {
		return 0, err
	}
	applied, err := rb.Applied(ctx)
	if err != nil {
		return 0, err
	}
	missing, err := l.data.changesSince(ctx, applied)
	if err != nil || len(missing) == 0 {
		return 0, err
	}
	return len(missing) - 1, rb.Apply(ctx, missing...)
}

// errText is an error as the page shows it.
func errText(err error) string {
	s := err.Error()
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}
