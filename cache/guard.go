package cache

import (
	"context"
	"errors"
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
// Redis "off" on the faults page.
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
}

var _ redis.Hook = (*Guard)(nil)

// NewGuard returns a guard that opens after 3 consecutive failures for 2 s.
func NewGuard() *Guard { return &Guard{Threshold: 3, Cooldown: 2 * time.Second} }

// GuardState is a snapshot for stats pages.
type GuardState struct {
	Open          bool          `json:"open"`
	Failures      int           `json:"consecutive_failures"`
	Opens         uint64        `json:"opens"`
	ShortCircuits uint64        `json:"short_circuits"`
	Failed        uint64        `json:"failed_calls"`
	FailAll       bool          `json:"fault_fail"`
	Latency       time.Duration `json:"fault_latency_ns"`
	LastError     string        `json:"last_error,omitempty"`
}

// State reports the breaker and fault switches.
func (g *Guard) State() GuardState {
	open := time.Now().UnixNano() < g.openUntil.Load()
	f := int(g.failures.Load())
	st := GuardState{Open: open, Failures: f, Opens: g.opens.Load(), ShortCircuits: g.shortCircuits.Load(),
		Failed: g.failed.Load(), FailAll: g.failAll.Load(), Latency: time.Duration(g.latency.Load())}
	if e, ok := g.lastErr.Load().(string); ok {
		st.LastError = e
	}
	return st
}

// SetFail makes every call fail (true) or behave normally (false).
func (g *Guard) SetFail(on bool) { g.failAll.Store(on) }

// SetLatency adds d before every call (0 to stop).
func (g *Guard) SetLatency(d time.Duration) { g.latency.Store(int64(d)) }

// before decides whether a call may go to Redis.
func (g *Guard) before(ctx context.Context) error {
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
		g.failed.Add(1)
		return ErrFaultInjected
	}
	// Once the cooldown has passed, calls go through again (half-open):
	// the first failure re-opens the breaker, the first success closes
	// it. Letting every call through rather than a single probe matters:
	// a new connection's handshake is itself a nested command.
	if g.failures.Load() >= int64(g.Threshold) && time.Now().UnixNano() < g.openUntil.Load() {
		g.shortCircuits.Add(1)
		return ErrCircuitOpen
	}
	return nil
}

// after records a call's outcome. Replies from a working server (a miss,
// a wrong-type error) are successes: only transport failures count.
func (g *Guard) after(err error) {
	if errors.Is(err, ErrCircuitOpen) || errors.Is(err, ErrFaultInjected) {
		return // decided here, not by Redis
	}
	failed := err != nil && !errors.Is(err, redis.Nil) && isTransportError(err)
	if !failed {
		// The usual case writes nothing shared.
		if g.failures.Load() != 0 {
			g.failures.Store(0)
		}
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.failed.Add(1)
	g.lastErr.Store(err.Error())
	if g.failures.Add(1) >= int64(g.Threshold) {
		now := time.Now()
		if now.UnixNano() >= g.openUntil.Load() {
			g.opens.Add(1)
		}
		g.openUntil.Store(now.Add(g.Cooldown).UnixNano())
	}
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
