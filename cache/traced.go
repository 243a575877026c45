package cache

import (
	"context"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"cacheworkshop/trace"
)

// Traced wraps a Cache so that every read is recorded once in the request's
// trace (layer, backend, key, outcome, duration) and every failure is
// reported to Failures. The page and fragment engines and the lessons read
// through it instead of timing and classifying each lookup by hand.
// Writes and deletes pass through; a failed write is recorded as an ERROR
// for its key, since the next request will miss because of it.
type Traced struct {
	Cache
	// Layer names what is cached, for the trace: "page", "frag", "data".
	Layer string
	// Failures, when set, logs backend failures once per outage.
	Failures *FailureLog
}

var _ Cache = Traced{}

// Get implements Cache.
func (t Traced) Get(ctx context.Context, key string) ([]byte, bool, error) {
	t0 := time.Now()
	v, found, err := t.Cache.Get(ctx, key)
	t.record(ctx, key, found, err, time.Since(t0))
	return v, found, err
}

// GetMulti implements Cache. The batch's time is shared evenly between its
// keys, so the trace's lookups add up to the round trip.
func (t Traced) GetMulti(ctx context.Context, keys []string) ([][]byte, error) {
	t0 := time.Now()
	vals, err := t.Cache.GetMulti(ctx, keys)
	per := time.Since(t0) / time.Duration(max(len(keys), 1))
	for i, k := range keys {
		t.record(ctx, k, err == nil && vals[i] != nil, err, per)
	}
	return vals, err
}

// GetVersioned implements Cache. The trace shows the key with the
// generation values it was read under (TraceKey).
func (t Traced) GetVersioned(ctx context.Context, key string, gens []string, cur []int64) ([]byte, bool, error) {
	t0 := time.Now()
	v, found, err := t.Cache.GetVersioned(ctx, key, gens, cur)
	t.record(ctx, TraceKey(key, cur), found, err, time.Since(t0))
	return v, found, err
}

// Set implements Cache.
func (t Traced) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	return t.wrote(ctx, key, t.Cache.Set(ctx, key, value, ttl))
}

// SetVersioned implements Cache.
func (t Traced) SetVersioned(ctx context.Context, key string, cur []int64, value []byte, ttl time.Duration) error {
	return t.wrote(ctx, TraceKey(key, cur), t.Cache.SetVersioned(ctx, key, cur, value, ttl))
}

func (t Traced) record(ctx context.Context, key string, found bool, err error, d time.Duration) {
	l := trace.Lookup{Layer: t.Layer, Backend: t.Name(), Key: key, Outcome: trace.Miss, Dur: d}
	switch {
	case err != nil:
		l.Outcome = trace.Error
		t.Failures.Failed(t.Name(), key, err)
	case found:
		l.Outcome = trace.Hit
	}
	if err == nil {
		t.Failures.OK(t.Name())
	}
	trace.From(ctx).Cache(l)
}

func (t Traced) wrote(ctx context.Context, key string, err error) error {
	if err != nil {
		t.Failures.Failed(t.Name(), key, err)
		trace.From(ctx).Cache(trace.Lookup{Layer: t.Layer, Backend: t.Name(), Key: key + " (store failed)", Outcome: trace.Error})
	}
	return err
}

// TraceKey shows a key with the generation values it was read under, as
// the trace and the key explainer present it ("…@g1b.7", base 36).
func TraceKey(key string, gens []int64) string {
	if len(gens) == 0 {
		return key
	}
	b := make([]byte, 0, len(key)+4+12*len(gens))
	b = append(b, key...)
	b = append(b, " @g"...)
	for i, g := range gens {
		if i > 0 {
			b = append(b, '.')
		}
		b = strconv.AppendInt(b, g, 36)
	}
	return string(b)
}

// FailureLog logs a backend's failures once per outage instead of once per
// request: the first failure is logged with its error, and when the
// backend answers again one line says how many calls failed meanwhile.
// A nil *FailureLog logs nothing.
type FailureLog struct {
	Log *slog.Logger

	// failing is non-zero while any backend is in an outage, so that the
	// success path of every read costs one atomic load.
	failing atomic.Int32
	mu      sync.Mutex
	counts  map[string]int
	since   map[string]time.Time
}

// Failed records a failed call of backend.
func (f *FailureLog) Failed(backend, key string, err error) {
	if f == nil || f.Log == nil {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.counts == nil {
		f.counts, f.since = map[string]int{}, map[string]time.Time{}
	}
	if f.counts[backend] == 0 {
		f.failing.Add(1)
		f.since[backend] = time.Now()
		f.Log.Warn("cache backend failing; serving from the database until it answers", "backend", backend, "key", key, "err", err)
	}
	f.counts[backend]++
}

// OK records a successful call of backend, ending its outage if any.
func (f *FailureLog) OK(backend string) {
	if f == nil || f.failing.Load() == 0 {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	n := f.counts[backend]
	if n == 0 {
		return
	}
	f.Log.Info("cache backend answering again", "backend", backend, "failed_calls", n,
		"outage", time.Since(f.since[backend]).Round(time.Millisecond))
	delete(f.counts, backend)
	f.failing.Add(-1)
}
