package cache

import (
	"context"
	"errors"
	"time"

	"cacheworkshop/trace"
)

// Tiered is the fourth mode's cache: this instance's memory in front of
// the shared Redis. A read looks in memory, then in Redis (filling memory
// from it), and only then does the caller build. A memory hit costs what
// a memory-mode hit costs; a Redis hit costs one round trip once per
// instance, after which that instance answers from memory.
//
// Coherence comes from generations, not from deletes: each tier checks an
// entry's stamp against its own copy of the generations, which every
// instance's Invalidator raises for every change (memory from the
// database's change log, Redis by relay). An entry filled into memory from
// Redis keeps the stamp Redis checked, so if this instance's memory
// generations are newer (or older) than Redis's, the copy is a miss until
// they agree; it can never be served after a change this instance knows.
//
// Plain keys (Get, Set, no generations) are filled into memory for at
// most the time Redis says they have left; a Delete reaches this
// instance's memory and Redis, but not other instances' memory, so
// anything invalidated by deleting keys belongs in versioned entries.
//
// Redis's server-assisted client-side caching (RESP3 CLIENT TRACKING)
// would push deletes to every instance instead; generations already make
// every tier of every instance coherent, work the same in a Redis Cluster
// and while Redis is down, and need no connection per instance that must
// never miss a message.
type Tiered struct {
	Front *Memory
	Back  Cache
}

var _ Cache = (*Tiered)(nil)

// Name implements Cache.
func (t *Tiered) Name() string { return "tiered" }

// tier records one tier's part of a lookup in the trace: with the Traced
// wrapper's own line for the whole lookup, the trace shows which tier
// answered.
func tier(ctx context.Context, backend, key string, found bool, err error, t0 time.Time) {
	o := trace.Miss
	switch {
	case err != nil:
		o = trace.Error
	case found:
		o = trace.Hit
	}
	trace.From(ctx).Cache(trace.Lookup{Layer: "tier", Backend: backend, Key: key, Outcome: o, Dur: time.Since(t0)})
}

// fill copies a value found in the back tier into memory, for at most
// what the back says the key has left: the copy must not outlive the
// original. When the back cannot say, the copy is not kept.
func (t *Tiered) fill(ctx context.Context, key string, set func(ttl time.Duration) error) {
	in, ok := t.Back.(Inspector)
	if !ok {
		return
	}
	left, found, err := in.TTL(ctx, key)
	if err != nil || !found || left == 0 {
		return
	}
	if left < 0 {
		left = 0 // no expiry: memory's default TTL
	}
	_ = set(left)
}

// Get implements Cache.
func (t *Tiered) Get(ctx context.Context, key string) ([]byte, bool, error) {
	t0 := time.Now()
	if v, found, err := t.Front.Get(ctx, key); found && err == nil {
		tier(ctx, "memory", key, true, nil, t0)
		return v, true, nil
	}
	tier(ctx, "memory", key, false, nil, t0)
	t0 = time.Now()
	v, found, err := t.Back.Get(ctx, key)
	tier(ctx, t.Back.Name(), key, found, err, t0)
	if found && err == nil {
		t.fill(ctx, key, func(ttl time.Duration) error { return t.Front.Set(ctx, key, v, ttl) })
	}
	return v, found, err
}

// GetMulti implements Cache: the keys memory lacks are fetched from the
// back tier in one round trip.
func (t *Tiered) GetMulti(ctx context.Context, keys []string) ([][]byte, error) {
	out, err := t.Front.GetMulti(ctx, keys)
	if err != nil {
		out = make([][]byte, len(keys))
	}
	var missing []string
	var at []int
	for i, v := range out {
		if v == nil {
			missing = append(missing, keys[i])
			at = append(at, i)
		}
	}
	if len(missing) == 0 {
		return out, nil
	}
	vals, err := t.Back.GetMulti(ctx, missing)
	if err != nil {
		return out, err
	}
	for j, v := range vals {
		if v == nil {
			continue
		}
		out[at[j]] = v
		k := missing[j]
		t.fill(ctx, k, func(ttl time.Duration) error { return t.Front.Set(ctx, k, v, ttl) })
	}
	return out, nil
}

// Set implements Cache: both tiers keep the value.
func (t *Tiered) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	err := t.Back.Set(ctx, key, value, ttl)
	_ = t.Front.Set(ctx, key, value, ttl)
	return err
}

// Delete implements Cache, in this instance's memory and the back tier.
func (t *Tiered) Delete(ctx context.Context, keys ...string) error {
	_ = t.Front.Delete(ctx, keys...)
	return t.Back.Delete(ctx, keys...)
}

// GetVersioned implements Cache. cur ends up holding the generations of
// the tier that answered, or of the back tier on a miss, which is what
// the caller's SetVersioned stamps both tiers with.
func (t *Tiered) GetVersioned(ctx context.Context, key string, gens []string, cur []int64) ([]byte, bool, error) {
	t0 := time.Now()
	v, found, err := t.Front.GetVersioned(ctx, key, gens, cur)
	tier(ctx, "memory", TraceKey(key, cur), found, err, t0)
	if found && err == nil {
		return v, true, nil
	}
	t0 = time.Now()
	v, found, err = t.Back.GetVersioned(ctx, key, gens, cur)
	tier(ctx, t.Back.Name(), TraceKey(key, cur), found, err, t0)
	if found && err == nil {
		t.fill(ctx, key, func(ttl time.Duration) error { return t.Front.SetVersioned(ctx, key, cur, v, ttl) })
	}
	return v, found, err
}

// SetVersioned implements Cache: both tiers keep the value with the same
// stamp.
func (t *Tiered) SetVersioned(ctx context.Context, key string, cur []int64, value []byte, ttl time.Duration) error {
	err := t.Back.SetVersioned(ctx, key, cur, value, ttl)
	if err == nil {
		// Only a value the back tier holds goes in front: with Redis
		// failing, the page engine serves from the database anyway.
		_ = t.Front.SetVersioned(ctx, key, cur, value, ttl)
	}
	return err
}

// Apply implements Cache, on both tiers. The Invalidator applies changes
// to memory and Redis itself; this is for callers that hold only the
// tiered cache.
func (t *Tiered) Apply(ctx context.Context, changes ...Change) error {
	return errors.Join(t.Front.Apply(ctx, changes...), t.Back.Apply(ctx, changes...))
}

// TryLock implements Locker with the back tier's lock, shared by every
// instance.
func (t *Tiered) TryLock(ctx context.Context, key string, ttl time.Duration) (*Lock, bool, error) {
	l, ok := t.Back.(Locker)
	if !ok {
		return nil, false, errors.New("tiered: the back tier has no lock")
	}
	return l.TryLock(ctx, key, ttl)
}

// Clear implements Clearer: both tiers, each only the workshop's entries.
func (t *Tiered) Clear(ctx context.Context) error {
	var errs []error
	for _, c := range []Cache{t.Front, t.Back} {
		if cl, ok := c.(Clearer); ok {
			errs = append(errs, cl.Clear(ctx))
		}
	}
	return errors.Join(errs...)
}
