package cache

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// ErrCircuitOpen is returned without contacting Redis while the breaker is
// open: after repeated failures the workshop stops paying a timeout on
// every call and serves from the database straight away.
var ErrCircuitOpen = errors.New("redis circuit open: recent calls failed, not trying for a moment")

// ErrFaultInjected is what calls return while the learner has switched
// Redis "off" on the faults page. Such a call counts as a failure for the
// breaker, as a call to a dead Redis would, so the switch opens it.
var ErrFaultInjected = errors.New("redis switched off on the faults page")

// Guard is a go-redis hook that wraps every command, pipeline and dial of a
// client with a circuit breaker and with learner-controlled fault
// injection. Being a hook, it covers every user of the client: page cache,
// generations, fragments, memoisation and stats alike.
type Guard struct {
	// Threshold consecutive failures open the breaker for Cooldown.
	Threshold int
	Cooldown  time.Duration

	// failures and openUntil (unix nanoseconds) are read on every call
	// without a lock; mu orders the rare updates made after a failure.
	mu        sync.Mutex
	failures  atomic.Int64
	openUntil atomic.Int64

	lastErr atomic.Value // string

	failAll atomic.Bool
	latency atomic.Int64

	opens, shortCircuits, failed atomic.Uint64

	// events are the latest changes of state, oldest first, guarded by
	// mu. Half-open begins when the cooldown ends, with no call to mark
	// it, so it is recorded with the trial call that ends it, dated when
	// it began: a page reading the history never misses a state that
	// lasted a moment.
	events []BreakerEvent
}

// maxEvents is how many changes of state a Guard remembers.
const maxEvents = 12

// BreakerEvent is one change of the breaker's state.
type BreakerEvent struct {
	At    time.Time `json:"at"`
	State string    `json:"state"` // BreakerClosed, BreakerOpen or BreakerHalfOpen
	Why   string    `json:"why"`
}

var _ redis.Hook = (*Guard)(nil)

// NewGuard returns a guard that opens after 3 consecutive failures for 2 s.
func NewGuard() *Guard { return &Guard{Threshold: 3, Cooldown: 2 * time.Second} }

// Breaker states, as GuardState.Breaker names them.
const (
	// BreakerClosed: calls go to Redis.
	BreakerClosed = "closed"
	// BreakerOpen: Threshold calls in a row failed; calls fail at once,
	// without trying Redis, until the cooldown is over.
	BreakerOpen = "open"
	// BreakerHalfOpen: the cooldown is over and calls go through again on
	// trial: the first success closes the breaker, the first failure opens
	// it again.
	BreakerHalfOpen = "half-open"
)

// GuardState is a snapshot for stats pages.
type GuardState struct {
	// Breaker is BreakerClosed, BreakerOpen or BreakerHalfOpen; Open is
	// Breaker == BreakerOpen, and RetryIn how long until it half-opens.
	Breaker       string        `json:"breaker"`
	Open          bool          `json:"open"`
	RetryIn       time.Duration `json:"retry_in_ns"`
	Threshold     int           `json:"threshold"`
	Cooldown      time.Duration `json:"cooldown_ns"`
	Failures      int           `json:"consecutive_failures"`
	Opens         uint64        `json:"opens"`
	ShortCircuits uint64        `json:"short_circuits"`
	Failed        uint64        `json:"failed_calls"`
	FailAll       bool          `json:"fault_fail"`
	Latency       time.Duration `json:"fault_latency_ns"`
	LastError     string        `json:"last_error,omitempty"`
	// Events are the latest changes of state, oldest first.
	Events []BreakerEvent `json:"events"`
}

// State reports the breaker and fault switches.
func (g *Guard) State() GuardState {
	now, until := time.Now().UnixNano(), g.openUntil.Load()
	f := int(g.failures.Load())
	st := GuardState{Breaker: BreakerClosed, Threshold: g.Threshold, Cooldown: g.Cooldown, Failures: f,
		Opens: g.opens.Load(), ShortCircuits: g.shortCircuits.Load(),
		Failed: g.failed.Load(), FailAll: g.failAll.Load(), Latency: time.Duration(g.latency.Load())}
	switch {
	case f >= g.Threshold && now < until:
		st.Breaker, st.Open, st.RetryIn = BreakerOpen, true, time.Duration(until-now)
	case f >= g.Threshold:
		st.Breaker = BreakerHalfOpen
	}
	if e, ok := g.lastErr.Load().(string); ok {
		st.LastError = e
	}
	g.mu.Lock()
	st.Events = append([]BreakerEvent{}, g.events...)
	g.mu.Unlock()
	return st
}

// SetFail makes every call fail (true) or behave normally (false).
func (g *Guard) SetFail(on bool) { g.failAll.Store(on) }

// SetLatency adds d before every call (0 to stop).
func (g *Guard) SetLatency(d time.Duration) { g.latency.Store(int64(d)) }

// before decides whether a call may go to Redis. An open breaker decides
// first: no call is made, so no switch applies and no latency is added.
func (g *Guard) before(ctx context.Context) error {
	// Once the cooldown has passed, calls go through again (half-open):
	// the first failure re-opens the breaker, the first success closes
	// it. Letting every call through rather than a single probe matters:
	// a new connection's handshake is itself a nested command.
	if g.failures.Load() >= int64(g.Threshold) && time.Now().UnixNano() < g.openUntil.Load() {
		g.shortCircuits.Add(1)
		return ErrCircuitOpen
	}
	if d := time.Duration(g.latency.Load()); d > 0 {
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
	if g.failAll.Load() {
		// The switch stands for a Redis that stopped answering, and the
		// breaker counts it so: a learner can watch it open.
		g.failure(ErrFaultInjected)
		return ErrFaultInjected
	}
	return nil
}

// after records a call's outcome. Replies from a working server (a miss,
// a wrong-type error) are successes: only transport failures count.
func (g *Guard) after(err error) {
	if errors.Is(err, ErrCircuitOpen) || errors.Is(err, ErrFaultInjected) {
		return // decided, and counted, in before
	}
	if err == nil || errors.Is(err, redis.Nil) || !isTransportError(err) {
		// The usual case writes nothing shared.
		switch f := g.failures.Load(); {
		case f >= int64(g.Threshold):
			g.success()
		case f != 0:
			g.failures.Store(0)
		}
		return
	}
	g.failure(err)
}

// success closes a breaker that was open: a trial call after the
// cooldown, or a call already under way when it opened, went through.
func (g *Guard) success() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.failures.Load() < int64(g.Threshold) {
		return // another call closed it first
	}
	now, until := time.Now(), g.openUntil.Load()
	if now.UnixNano() >= until {
		g.event(time.Unix(0, until), BreakerHalfOpen, "the cooldown ended: calls go through on trial")
	}
	g.event(now, BreakerClosed, "a call to Redis succeeded")
	g.failures.Store(0)
}

// failure counts a failed call, opening the breaker at Threshold in a
// row (again, when it was half-open).
func (g *Guard) failure(err error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.failed.Add(1)
	g.lastErr.Store(err.Error())
	n := g.failures.Add(1)
	if n < int64(g.Threshold) {
		return
	}
	now, until := time.Now(), g.openUntil.Load()
	switch {
	case n == int64(g.Threshold):
		g.event(now, BreakerOpen, strconv.Itoa(g.Threshold)+" calls in a row failed (the last: "+err.Error()+")")
	case now.UnixNano() >= until:
		g.event(time.Unix(0, until), BreakerHalfOpen, "the cooldown ended: calls go through on trial")
		g.event(now, BreakerOpen, "a trial call failed: "+err.Error())
	}
	if now.UnixNano() >= until {
		g.opens.Add(1)
	}
	g.openUntil.Store(now.Add(g.Cooldown).UnixNano())
}

// event records a change of state; g.mu is held.
func (g *Guard) event(at time.Time, state, why string) {
	if len(g.events) == maxEvents {
		g.events = append(g.events[:0], g.events[1:]...)
	}
	g.events = append(g.events, BreakerEvent{At: at.UTC(), State: state, Why: why})
}

// isTransportError tells a failing connection from a reply: an error
// reply (WRONGTYPE, NOSCRIPT…) means the server is up.
func isTransportError(err error) bool {
	var re redis.Error
	return !errors.As(err, &re)
}

// DialHook implements redis.Hook. Dials are not gated: a dial happens
// inside a command that has already been let through (possibly as the
// half-open probe), and its failure fails that command.
func (g *Guard) DialHook(next redis.DialHook) redis.DialHook { return next }

// ProcessHook implements redis.Hook.
func (g *Guard) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if err := g.before(ctx); err != nil {
			cmd.SetErr(err)
			return err
		}
		err := next(ctx, cmd)
		g.after(err)
		return err
	}
}

// ProcessPipelineHook implements redis.Hook.
func (g *Guard) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if err := g.before(ctx); err != nil {
			for _, c := range cmds {
				c.SetErr(err)
			}
			return err
		}
		err := next(ctx, cmds)
		g.after(err)
		return err
	}
}
