package fib_test

import (
	"context"
	"math/big"
	"testing"
	"time"

	"cacheworkshop/cache"
	"cacheworkshop/lessons/fib"
)

// known values, from OEIS A000045.
var known = map[int]string{
	0: "0", 1: "1", 2: "1", 10: "55", 30: "832040", 35: "9227465",
	50: "12586269025", 90: "2880067194370816120", 92: "7540113804746346429",
	100: "354224848179261915075",
}

func TestNaive(t *testing.T) {
	for _, n := range []int{0, 1, 2, 10, 30} {
		v, calls, err := fib.Naive(n)
		if err != nil {
			t.Fatalf("Naive(%d): %v", n, err)
		}
		if got, want := new(big.Int).SetUint64(v).String(), known[n]; got != want {
			t.Errorf("Naive(%d) = %v, want %v", n, got, want)
		}
		// fib(n) makes 2·fib(n+1)−1 calls.
		next, _, _ := fib.Naive(n + 1)
		if want := 2*next - 1; calls != want {
			t.Errorf("Naive(%d) calls = %v, want %v", n, calls, want)
		}
	}
	for _, n := range []int{-1, fib.NaiveMax + 1} {
		if _, _, err := fib.Naive(n); err == nil {
			t.Errorf("Naive(%d): got no error, want one", n)
		}
	}
}

func TestMemoized(t *testing.T) {
	mem := cache.NewMemory(cache.MemoryConfig{})
	for n, want := range known {
		memos := map[string]fib.Memo{
			"map":   fib.MapMemo{},
			"cache": &fib.CacheMemo{Cache: mem, Prefix: "fib:t" + want + ":", TTL: time.Minute},
		}
		for name, m := range memos {
			v, st, err := fib.Memoized(context.Background(), n, m)
			if err != nil {
				t.Fatalf("%s: Memoized(%d): %v", name, n, err)
			}
			if got := v.String(); got != want {
				t.Errorf("%s: Memoized(%d) = %v, want %v", name, n, got, want)
			}
			wantCalls := 1
			if n >= 2 {
				wantCalls = 2*n - 1
			}
			if st.Calls != wantCalls {
				t.Errorf("%s: Memoized(%d) calls = %v, want %v", name, n, st.Calls, wantCalls)
			}
			if n >= 2 && (st.Misses != n-1 || st.Sets != n-1) {
				t.Errorf("%s: Memoized(%d) misses, sets = %v, %v, want %v, %v", name, n, st.Misses, st.Sets, n-1, n-1)
			}
		}
	}
}

func TestCacheMemoRecordsKeysAndReuses(t *testing.T) {
	mem := cache.NewMemory(cache.MemoryConfig{})
	m := &fib.CacheMemo{Cache: mem, Prefix: "fib:r:", TTL: time.Minute}
	if _, _, err := fib.Memoized(context.Background(), 20, m); err != nil {
		t.Fatal(err)
	}
	if got, want := len(m.Keys), 19; got != want {
		t.Fatalf("keys written = %v, want %v", got, want)
	}
	// A second run over the same memo answers from its first lookup.
	v, st, err := fib.Memoized(context.Background(), 20, m)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := v.String(), "6765"; got != want {
		t.Errorf("fib(20) = %v, want %v", got, want)
	}
	if st.Hits != 1 || st.Misses != 0 || st.Calls != 1 {
		t.Errorf("second run stats = %+v, want 1 call, 1 hit, 0 misses", st)
	}
	// A corrupted entry is recomputed, never trusted.
	_ = mem.Set(context.Background(), "fib:r:20", []byte("not a number"), time.Minute)
	v, _, err = fib.Memoized(context.Background(), 20, m)
	if err != nil || v.String() != "6765" {
		t.Errorf("after corruption: got %v, %v, want 6765, nil", v, err)
	}
}
