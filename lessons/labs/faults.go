package labs

import (
	"net/http"
	"slices"
	"strconv"
	"time"

	"cacheworkshop/cache"
	"cacheworkshop/handlers"
	"cacheworkshop/trace"
)

// addedLatency is what the latency switch adds before every Redis call:
// enough to make a Redis hit visibly slower than a memory hit, well under
// the client's timeouts.
const addedLatency = 200 * time.Millisecond

// faultsState is the switches and the circuit breaker now: the faults
// page shows it, and GET /api/faults sends it as JSON for the page to
// follow live.
type faultsState struct {
	// Breaker is closed, open or half-open (cache.BreakerClosed...);
	// RetryInMS is how long an open breaker waits before its trial calls.
	Breaker    string `json:"breaker"`
	RetryInMS  int64  `json:"retry_in_ms"`
	Threshold  int    `json:"threshold"`
	CooldownMS int64  `json:"cooldown_ms"`
	Failures   int    `json:"consecutive_failures"`
	Opens      uint64 `json:"opens"`
	// ShortCircuits counts the calls an open breaker answered without
	// trying Redis; Failed, the calls that were tried and failed.
	ShortCircuits uint64 `json:"short_circuits"`
	Failed        uint64 `json:"failed_calls"`
	// Fail and LatencyMS are the switches.
	Fail      bool  `json:"fail"`
	LatencyMS int64 `json:"latency_ms"`
	// Pending counts the invalidations that wait for Redis to come back.
	Pending   int       `json:"pending_invalidations"`
	LastError string    `json:"last_error,omitempty"`
	At        time.Time `json:"at"`
	// History is the breaker's latest changes of state, newest first.
	History []cache.BreakerEvent `json:"history"`
}

// faultsData is the faults page's content.
type faultsData struct {
	faultsState
	// Cooldown is the breaker's, as people write it ("2 s").
	Cooldown   string
	AdminToken bool
}

// state reads the guard's state now.
func (l *Lesson) state(g *cache.Guard) faultsState {
	st := g.State()
	fs := faultsState{Breaker: st.Breaker, RetryInMS: st.RetryIn.Milliseconds(), Threshold: st.Threshold,
		CooldownMS: st.Cooldown.Milliseconds(), Failures: st.Failures, Opens: st.Opens,
		ShortCircuits: st.ShortCircuits, Failed: st.Failed, Fail: st.FailAll, LatencyMS: st.Latency.Milliseconds(),
		Pending: int(l.kit.Invalidator.Pending()), LastError: st.LastError, At: time.Now().UTC(),
		History: st.Events}
	slices.Reverse(fs.History)
	return fs
}

// guard is the Redis cache's guard, which holds the switches and the
// breaker.
func (l *Lesson) guard() (*cache.Guard, error) {
	g := l.redis.Guard()
	if g == nil {
		return nil, handlers.NotFound("Fault switches need the Redis guard, which this server was started without.")
	}
	return g, nil
}

// serveFaults shows the switches and the breaker's state now.
func (l *Lesson) serveFaults(w http.ResponseWriter, r *http.Request) error {
	g, err := l.guard()
	if err != nil {
		return err
	}
	st := l.state(g)
	cooldown := strconv.FormatFloat(float64(st.CooldownMS)/1000, 'f', -1, 64) + " s"
	return l.kit.Live(w, r, "faults", "Redis faults", "faults", faultsData{faultsState: st, Cooldown: cooldown,
		AdminToken: l.kit.AdminToken != ""})
}

// serveFaultsJSON is what faults.js polls to follow the breaker. Reading
// the state makes no Redis call, so watching never serves as the
// half-open breaker's trial.
func (l *Lesson) serveFaultsJSON(w http.ResponseWriter, r *http.Request) error {
	g, err := l.guard()
	if err != nil {
		return err
	}
	trace.From(r.Context()).Cache(trace.Lookup{Layer: "page", Backend: "none", Key: "api-faults", Outcome: trace.Bypass})
	l.kit.JSON(w, r, http.StatusOK, l.state(g))
	return nil
}

// serveFaultsPost flips one switch and goes back to the page, which shows
// the new state.
func (l *Lesson) serveFaultsPost(w http.ResponseWriter, r *http.Request) error {
	g, err := l.guard()
	if err != nil {
		return err
	}
	if err := handlers.ParseForm(w, r); err != nil {
		return err
	}
	action, _, err := handlers.FormValue(r, "action")
	if err != nil {
		return err
	}
	switch action {
	case "fail-on":
		g.SetFail(true)
	case "fail-off":
		g.SetFail(false)
	case "latency-on":
		g.SetLatency(addedLatency)
	case "latency-off":
		g.SetLatency(0)
	case "reset":
		g.SetFail(false)
		g.SetLatency(0)
	default:
		return handlers.BadRequest("action must be one of fail-on, fail-off, latency-on, latency-off, reset.")
	}
	l.kit.Log.Info("fault switch", "action", action)
	l.kit.Record(r, handlers.Event{Kind: handlers.EventFault, Setting: action})
	http.Redirect(w, r, "/faults", http.StatusSeeOther)
	return nil
}
