package cache_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"cacheworkshop/cache"
	"cacheworkshop/internal/testredis"
)

// TestGuardFailSwitchTripsBreaker walks the breaker through its states
// with the faults page's fail switch alone: the switch's failures count
// as a dead Redis's would, so it opens; after the cooldown it half-opens;
// a failed trial opens it again, a good one closes it.
func TestGuardFailSwitchTripsBreaker(t *testing.T) {
	srv := testredis.Start(t)
	client, err := cache.NewRedisClient(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	g := cache.NewGuard()
	g.Cooldown = 200 * time.Millisecond
	r := cache.NewRedis(cache.RedisConfig{Client: client, Guard: g})
	ctx := context.Background()
	get := func() error { _, _, err := r.Get(ctx, "k"); return err }
	breaker := func(want string) {
		t.Helper()
		if got := g.State().Breaker; got != want {
			t.Fatalf("breaker: got %v, want %v", got, want)
		}
	}

	breaker(cache.BreakerClosed)
	g.SetFail(true)
	for i := range g.Threshold {
		breaker(cache.BreakerClosed)
		if err := get(); !errors.Is(err, cache.ErrFaultInjected) {
			t.Fatalf("call %d with the fail switch: got %v, want ErrFaultInjected", i+1, err)
		}
	}
	breaker(cache.BreakerOpen)
	st := g.State()
	if st.Opens != 1 || st.Failed != uint64(g.Threshold) || st.RetryIn <= 0 || st.RetryIn > g.Cooldown {
		t.Errorf("open: got %d opens, %d failed calls, retry in %v; want 1, %d, within %v", st.Opens, st.Failed, st.RetryIn, g.Threshold, g.Cooldown)
	}
	// Open: calls are skipped, whatever the switch says.
	if err := get(); !errors.Is(err, cache.ErrCircuitOpen) {
		t.Errorf("open breaker: got %v, want ErrCircuitOpen", err)
	}
	if got := g.State().ShortCircuits; got != 1 {
		t.Errorf("short circuits: got %d, want 1", got)
	}

	time.Sleep(g.Cooldown + 50*time.Millisecond)
	breaker(cache.BreakerHalfOpen)
	// A trial call with the switch still on fails and opens it again.
	if err := get(); !errors.Is(err, cache.ErrFaultInjected) {
		t.Errorf("half-open trial with the switch on: got %v, want ErrFaultInjected", err)
	}
	breaker(cache.BreakerOpen)
	if got := g.State().Opens; got != 2 {
		t.Errorf("opens after a failed trial: got %d, want 2", got)
	}

	g.SetFail(false)
	// Switching the fault off does not close the breaker: it still waits
	// out its cooldown, then a good call closes it.
	if err := get(); !errors.Is(err, cache.ErrCircuitOpen) {
		t.Errorf("open breaker after the switch went off: got %v, want ErrCircuitOpen", err)
	}
	time.Sleep(g.Cooldown + 50*time.Millisecond)
	breaker(cache.BreakerHalfOpen)
	if err := get(); err != nil {
		t.Errorf("half-open trial with Redis answering: got %v, want nil", err)
	}
	breaker(cache.BreakerClosed)

	// The history has every state, half-open included, though nothing
	// looked while it lasted, in order and each dated.
	var states []string
	var last time.Time
	for _, e := range g.State().Events {
		states = append(states, e.State)
		if e.At.Before(last) || e.Why == "" {
			t.Errorf("event %+v: out of order or without a reason", e)
		}
		last = e.At
	}
	want := []string{cache.BreakerOpen, cache.BreakerHalfOpen, cache.BreakerOpen, cache.BreakerHalfOpen, cache.BreakerClosed}
	if !slices.Equal(states, want) {
		t.Errorf("events: got %v, want %v", states, want)
	}
}
