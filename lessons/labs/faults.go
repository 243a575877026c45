package labs

import (
	"net/http"
	"time"

	"cacheworkshop/cache"
	"cacheworkshop/handlers"
)

// addedLatency is what the latency switch adds before every Redis call:
// enough to make a Redis hit visibly slower than a memory hit, well under
// the client's timeouts.
const addedLatency = 200 * time.Millisecond

// faultsData is the faults page's content.
type faultsData struct {
	Guard     cache.GuardState
	LatencyMS int64
	// Pending counts the invalidations that wait for Redis to come back.
	Pending    int
	AdminToken bool
}

// serveFaults shows the switches and the breaker's state now.
func (l *Lesson) serveFaults(w http.ResponseWriter, r *http.Request) error {
	g := l.redis.Guard()
	if g == nil {
		return handlers.NotFound("Fault switches need the Redis guard, which this server was started without.")
	}
	st := g.State()
	return l.kit.Live(w, r, "faults", "Redis faults", "faults", faultsData{Guard: st,
		LatencyMS: st.Latency.Milliseconds(), Pending: int(l.kit.Invalidator.Pending()), AdminToken: l.kit.AdminToken != ""})
}

// serveFaultsPost flips one switch and goes back to the page, which shows
// the new state.
func (l *Lesson) serveFaultsPost(w http.ResponseWriter, r *http.Request) error {
	g := l.redis.Guard()
	if g == nil {
		return handlers.NotFound("Fault switches need the Redis guard, which this server was started without.")
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
