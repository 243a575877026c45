package invalidation

import (
	"context"
	"fmt"
	"strconv"
	"time"
)

// The race every cache that is written from the database has: a reader
// misses, reads the row, and is slow to store it; meanwhile a writer
// commits a new row and updates the cache; then the reader stores the row
// it read, which is now old, over it. Nothing will correct that entry
// before it expires.
//
// Under real load it happens one time in many thousands, so the replays
// here make it happen every time: the reader runs on a goroutine of its
// own, but each of its steps runs only when the replay says so, between
// the writer's steps. The interleaving is fixed; the reads, writes and
// outcomes are real.

// actor runs a participant's steps on its own goroutine, one at a time,
// each when told: do returns when the step is done.
type actor struct {
	work chan func()
	done chan struct{}
}

func newActor() *actor {
	a := &actor{work: make(chan func()), done: make(chan struct{})}
	go func() {
		for f := range a.work {
			f()
			a.done <- struct{}{}
		}
	}()
	return a
}

func (a *actor) do(f func()) {
	a.work <- f
	<-a.done
}

func (a *actor) stop() { close(a.work) }

// raceStep is one step of a replay, as it happened.
type raceStep struct{ Actor, Did string }

// raceResult is one replay: its steps and what a read finds at the end.
type raceResult struct {
	Name, Title, Explain string
	Steps                []raceStep
	// Outcome is the final read's (HIT or MISS); Served what it returned
	// and DB the row in the database.
	Outcome    string
	Served, DB row
	Stale      bool
}

// The replays, in the order the page shows them.
const (
	raceWriteThrough   = "write-through"
	raceBumpThenCommit = "bump-then-commit"
	raceCommitThenBump = "commit-then-bump"
)

// replayRaces replays the race three ways on product id, each with an edit
// of its own (one cent more than the row the reader read).
func (l *Lesson) replayRaces(ctx context.Context, b backend, id int64, ttl time.Duration) ([]raceResult, error) {
	var out []raceResult
	for _, replay := range []func(context.Context, backend, int64, time.Duration) (raceResult, error){
		l.raceWriteThrough, l.raceBumpThenCommit, l.raceCommitThenBump,
	} {
		r, err := replay(ctx, b, id, ttl)
		if err != nil {
			return out, err
		}
		out = append(out, r)
	}
	return out, nil
}

func raceKey(name string, id int64) string {
	return racePrefix + name + ":product:" + strconv.FormatInt(id, 10)
}

func rowText(r row) string { return fmt.Sprintf("v%d (%s)", r.Version, r.PriceText()) }

// raceWriteThrough: the writer updates the cache with the new row, and the
// reader's old row lands on top of it.
func (l *Lesson) raceWriteThrough(ctx context.Context, b backend, id int64, ttl time.Duration) (raceResult, error) {
	res := raceResult{Name: raceWriteThrough, Title: "Write-through",
		Explain: "The writer writes the new row into the cache right after its commit. The reader read the old row just before, and stores it just after."}
	key := raceKey(raceWriteThrough, id)
	reader := newActor()
	defer reader.stop()
	var old row
	var err error
	reader.do(func() {
		var found bool
		if _, found, err = b.Get(ctx, key); err != nil || found {
			return
		}
		old, err = l.data.get(ctx, id)
	})
	if err != nil {
		return res, err
	}
	res.Steps = append(res.Steps, raceStep{"reader", "misses " + key + " and reads " + rowText(old) + " from the database"})

	_, after, _, err := l.data.setPrice(ctx, id, old.Price+1, nil)
	if err != nil {
		return res, err
	}
	if err := b.Set(ctx, key, encodeRows([]row{after}), ttl); err != nil {
		return res, err
	}
	res.Steps = append(res.Steps, raceStep{"writer", "commits " + rowText(after) + " and writes it into the cache"})

	reader.do(func() { err = b.Set(ctx, key, encodeRows([]row{old}), ttl) })
	if err != nil {
		return res, err
	}
	res.Steps = append(res.Steps, raceStep{"reader", "stores the " + rowText(old) + " it read, over the writer's"})
	return l.finishPlain(ctx, b, res, key, id)
}

// finishPlain is the next reader of a plain entry: whatever it finds is
// served.
func (l *Lesson) finishPlain(ctx context.Context, b backend, res raceResult, key string, id int64) (raceResult, error) {
	val, found, err := b.Get(ctx, key)
	if err != nil {
		return res, err
	}
	if !found {
		return res, fmt.Errorf("the race entry %s vanished", key)
	}
	rows, err := decodeRows(val)
	if err != nil || len(rows) != 1 {
		return res, fmt.Errorf("the race entry %s: %v", key, err)
	}
	return l.verdict(ctx, res, "HIT", "", rows[0], id)
}

// verdict compares what the final read served with the database.
func (l *Lesson) verdict(ctx context.Context, res raceResult, outcome, why string, served row, id int64) (raceResult, error) {
	db, err := l.data.get(ctx, id)
	if err != nil {
		return res, err
	}
	res.Outcome, res.Served, res.DB, res.Stale = outcome, served, db, served != db
	did := outcome + why + ": serves " + rowText(served)
	if res.Stale {
		did += " while the database has " + rowText(db) + ": stale until the entry expires"
	} else {
		did += ", the database's row: fresh"
	}
	res.Steps = append(res.Steps, raceStep{"next reader", did})
	return res, nil
}

// raceBumpThenCommit: generations, but raised before the commit. The
// reader reads the new generation and then the old row, and stamps the
// old row with the new generation: a HIT for ever after.
func (l *Lesson) raceBumpThenCommit(ctx context.Context, b backend, id int64, ttl time.Duration) (raceResult, error) {
	res := raceResult{Name: raceBumpThenCommit, Title: "Generations, raised before the commit",
		Explain: "The writer raises the generation first and commits after. A reader in between reads the new generation but the old row."}
	key, gens := raceKey(raceBumpThenCommit, id), []string{genProduct(id)}
	reader := newActor()
	defer reader.stop()

	change, err := l.data.recordChange(ctx, gens)
	if err != nil {
		return res, err
	}
	if _, err := l.apply(ctx, b, change); err != nil {
		return res, err
	}
	res.Steps = append(res.Steps, raceStep{"writer", fmt.Sprintf("raises generation %s to %d, before committing", gens[0], change.ID)})

	cur := make([]int64, 1)
	var old row
	reader.do(func() {
		var found bool
		if _, found, err = b.GetVersioned(ctx, key, gens, cur); err != nil || found {
			return
		}
		old, err = l.data.get(ctx, id)
	})
	if err != nil {
		return res, err
	}
	res.Steps = append(res.Steps, raceStep{"reader", fmt.Sprintf("misses under generation %d and reads %s from the database", cur[0], rowText(old))})

	_, after, _, err := l.data.setPrice(ctx, id, old.Price+1, nil)
	if err != nil {
		return res, err
	}
	res.Steps = append(res.Steps, raceStep{"writer", "commits " + rowText(after)})

	reader.do(func() { err = b.SetVersioned(ctx, key, cur, encodeRows([]row{old}), ttl) })
	if err != nil {
		return res, err
	}
	res.Steps = append(res.Steps, raceStep{"reader", fmt.Sprintf("stores %s stamped with generation %d", rowText(old), cur[0])})
	return l.finishVersioned(ctx, b, res, key, gens, id, ttl)
}

// raceCommitThenBump: the workshop's order. The reader stamps the old row
// with the generation it read before the database, and the writer raises
// the generation after its commit, so that stamp is already obsolete.
func (l *Lesson) raceCommitThenBump(ctx context.Context, b backend, id int64, ttl time.Duration) (raceResult, error) {
	res := raceResult{Name: raceCommitThenBump, Title: "Generations, raised after the commit (the workshop's order)",
		Explain: "The writer commits, with its change record in the same transaction, and raises the generation after. The reader read the generation before the row, so the old row it stores carries an old stamp."}
	key, gens := raceKey(raceCommitThenBump, id), []string{genProduct(id)}
	reader := newActor()
	defer reader.stop()

	cur := make([]int64, 1)
	var old row
	var err error
	reader.do(func() {
		var found bool
		if _, found, err = b.GetVersioned(ctx, key, gens, cur); err != nil || found {
			return
		}
		old, err = l.data.get(ctx, id)
	})
	if err != nil {
		return res, err
	}
	res.Steps = append(res.Steps, raceStep{"reader", fmt.Sprintf("misses under generation %d and reads %s from the database", cur[0], rowText(old))})

	_, after, change, err := l.data.setPrice(ctx, id, old.Price+1, gens)
	if err != nil {
		return res, err
	}
	if _, err := l.apply(ctx, b, change); err != nil {
		return res, err
	}
	res.Steps = append(res.Steps, raceStep{"writer", fmt.Sprintf("commits %s with change %d, then raises generation %s to %d", rowText(after), change.ID, gens[0], change.ID)})

	reader.do(func() { err = b.SetVersioned(ctx, key, cur, encodeRows([]row{old}), ttl) })
	if err != nil {
		return res, err
	}
	res.Steps = append(res.Steps, raceStep{"reader", fmt.Sprintf("stores %s stamped with generation %d", rowText(old), cur[0])})
	return l.finishVersioned(ctx, b, res, key, gens, id, ttl)
}

// finishVersioned is the next reader of a versioned entry: an entry whose
// stamp differs from the current generations is a miss, rebuilt from the
// database.
func (l *Lesson) finishVersioned(ctx context.Context, b backend, res raceResult, key string, gens []string, id int64, ttl time.Duration) (raceResult, error) {
	cur := make([]int64, len(gens))
	val, found, err := b.GetVersioned(ctx, key, gens, cur)
	if err != nil {
		return res, err
	}
	if found {
		rows, err := decodeRows(val)
		if err != nil || len(rows) != 1 {
			return res, fmt.Errorf("the race entry %s: %v", key, err)
		}
		return l.verdict(ctx, res, "HIT", fmt.Sprintf(" (the stamp matches generation %d)", cur[0]), rows[0], id)
	}
	fresh, err := l.data.get(ctx, id)
	if err != nil {
		return res, err
	}
	if err := b.SetVersioned(ctx, key, cur, encodeRows([]row{fresh}), ttl); err != nil {
		return res, err
	}
	return l.verdict(ctx, res, "MISS", fmt.Sprintf(" (the stamp no longer matches generation %d), rebuilt from the database", cur[0]), fresh, id)
}
