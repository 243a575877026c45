package fib

// This file is the pure part of the lesson: Fibonacci numbers computed the
// ways the benchmark compares, naive recursion and top-down memoisation
// over a pluggable memo (a Go map or a cache backend), counting the work
// each way does. Nothing here knows about HTTP.

import (
	"context"
	"fmt"
	"math/big"
	"strconv"
	"time"

	"cacheworkshop/cache"
)

// NaiveMax bounds naive recursion: fib(n) makes 2·fib(n+1)−1 calls, so each
// step up multiplies the time by about 1.6. n=36 (48 million calls) takes
// about 0.1 s on an idle laptop core and still well under a second on a
// machine loaded three or four times over; n=38 measured 0.66 s on a busy
// one, too close to the limit.
const NaiveMax = 36

// Naive returns fib(n) by plain recursion and how many calls it made.
// n must be at most NaiveMax; larger n is refused rather than left to run
// for minutes (and fib(93) would overflow uint64 anyway).
func Naive(n int) (uint64, uint64, error) {
	if n < 0 || n > NaiveMax {
		return 0, 0, fmt.Errorf("naive recursion runs for n from 0 to %d, not %d", NaiveMax, n)
	}
	var calls uint64
	var rec func(int) uint64
	rec = func(k int) uint64 {
		calls++
		if k < 2 {
			return uint64(k)
		}
		return rec(k-1) + rec(k-2)
	}
	v := rec(n)
	return v, calls, nil
}

// Memo stores computed subproblems. Get reports found=false on a miss and
// an error only when the store itself fails.
type Memo interface {
	Get(ctx context.Context, k int) (v *big.Int, found bool, err error)
	Set(ctx context.Context, k int, v *big.Int) error
}

// Stats counts the work of one memoised computation.
type Stats struct {
	// Calls is how many times the recursive function ran.
	Calls int
	// Hits and Misses count memo lookups; fib(0) and fib(1) need none.
	Hits, Misses int
	// Sets counts values written to the memo.
	Sets int
}

// Lookups is every memo operation: for a remote memo each is a round trip.
func (s Stats) Lookups() int { return s.Hits + s.Misses + s.Sets }

// Memoized returns fib(n) computed top-down: each fib(k) is looked up in m
// before being computed, and stored after. It is exact for any n (big.Int)
// and recurses n deep, so callers bound n.
func Memoized(ctx context.Context, n int, m Memo) (*big.Int, Stats, error) {
	var st Stats
	if n < 0 {
		return nil, st, fmt.Errorf("n must not be negative, got %d", n)
	}
	var rec func(int) (*big.Int, error)
	rec = func(k int) (*big.Int, error) {
		st.Calls++
		if k < 2 {
			return big.NewInt(int64(k)), nil
		}
		v, found, err := m.Get(ctx, k)
		if err != nil {
			return nil, err
		}
		if found {
			st.Hits++
			return v, nil
		}
		st.Misses++
		a, err := rec(k - 1)
		if err != nil {
			return nil, err
		}
		b, err := rec(k - 2)
		if err != nil {
			return nil, err
		}
		v = new(big.Int).Add(a, b)
		if err := m.Set(ctx, k, v); err != nil {
			return nil, err
		}
		st.Sets++
		return v, nil
	}
	v, err := rec(n)
	return v, st, err
}

// MapMemo is a memo in process memory: a lookup is a map access.
type MapMemo map[int]*big.Int

// Get implements Memo.
func (m MapMemo) Get(_ context.Context, k int) (*big.Int, bool, error) {
	v, ok := m[k]
	return v, ok, nil
}

// Set implements Memo.
func (m MapMemo) Set(_ context.Context, k int, v *big.Int) error {
	m[k] = v
	return nil
}

// CacheMemo keeps subproblems in a cache backend under Prefix+k, so with
// the Redis backend every lookup is a real network round trip. Keys lists
// what was written, so the caller can remove the run's keys afterwards.
type CacheMemo struct {
	Cache  cache.Cache
	Prefix string
	TTL    time.Duration
	Keys   []string
}

// Get implements Memo.
func (m *CacheMemo) Get(ctx context.Context, k int) (*big.Int, bool, error) {
	b, found, err := m.Cache.Get(ctx, m.Prefix+strconv.Itoa(k))
	if err != nil || !found {
		return nil, false, err
	}
	v, ok := new(big.Int).SetString(string(b), 10)
	if !ok {
		// Not ours or corrupted: recomputing is always correct.
		return nil, false, nil
	}
	return v, true, nil
}

// Set implements Memo.
func (m *CacheMemo) Set(ctx context.Context, k int, v *big.Int) error {
	key := m.Prefix + strconv.Itoa(k)
	if err := m.Cache.Set(ctx, key, []byte(v.String()), m.TTL); err != nil {
		return err
	}
	m.Keys = append(m.Keys, key)
	return nil
}
