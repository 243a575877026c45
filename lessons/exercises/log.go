package exercises

import (
	"container/list"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"cacheworkshop/handlers"
)

// Limits bound the event log, so that no number of learners or requests
// can make it grow without end.
type Limits struct {
	// PerLearner is how many events are kept for one learner; beyond it
	// the oldest are dropped, a fifth of them at a time.
	PerLearner int
	// Learners is how many learners are remembered; beyond it the one
	// idle longest is forgotten, progress and all.
	Learners int
	// Total is how many events are kept for all learners together;
	// beyond it the events of the learner idle longest are dropped (the
	// exercises they had done stay done).
	Total int
}

// DefaultLimits are the caps the exercises page states: 500 events per
// learner, 1,000 learners and 100,000 events in all. An event is a few
// hundred bytes, so the log stays within a few tens of megabytes.
var DefaultLimits = Limits{PerLearner: 500, Learners: 1000, Total: 100_000}

// Log is every learner's recent events, in memory. It is the server's
// handlers.EventSink. Before any event is dropped, the learner's checks
// run on the events about to go, and the exercises they pass stay done:
// a cap forgets old requests, not progress.
type Log struct {
	lim       Limits
	exercises []Exercise

	mu       sync.Mutex
	learners map[string]*learnerLog
	idle     list.List // of *learnerLog, idle longest at the front
	total    int
}

// learnerLog is one learner's events and the exercises they have done.
type learnerLog struct {
	id     string
	events []handlers.Event
	// done holds the result that first passed each exercise.
	done map[string]Result
	seen time.Time
	elem *list.Element
}

// NewLog returns an empty log with the given caps, checking exs before
// it drops events.
func NewLog(lim Limits, exs []Exercise) *Log {
	return &Log{lim: lim, exercises: exs, learners: map[string]*learnerLog{}}
}

// ownPaths are the exercises' own routes: the progress line asks
// /api/exercises on every page, and none of it is a step of an exercise.
var ownPaths = []string{"/exercises", "/api/exercises"}

func ownPath(p string) bool {
	for _, o := range ownPaths {
		if p == o || strings.HasPrefix(p, o+"/") {
			return true
		}
	}
	return false
}

// Record implements handlers.EventSink.
func (l *Log) Record(id string, ev handlers.Event) {
	if ev.Kind == handlers.EventRequest && ownPath(ev.Path) {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	lg := l.learnerLocked(id)
	if n := len(lg.events); n > 0 && sameRequest(lg.events[n-1], ev) {
		last := &lg.events[n-1]
		last.Count += ev.Count
		last.At, last.Total, last.Simulated, last.KeyDur = ev.At, ev.Total, ev.Simulated, ev.KeyDur
		return
	}
	lg.events = append(lg.events, ev)
	l.total++
	if len(lg.events) > l.lim.PerLearner {
		l.dropLocked(lg, max(l.lim.PerLearner/5, 1))
	}
	// Over the total: the idlest learners' events go first, then, if
	// that is not enough, this learner's oldest.
	for e := l.idle.Front(); l.total > l.lim.Total && e != nil && e != lg.elem; e = e.Next() {
		other := e.Value.(*learnerLog)
		l.dropLocked(other, len(other.events))
	}
	if l.total > l.lim.Total {
		l.dropLocked(lg, l.total-l.lim.Total)
	}
}

// Touch makes sure the learner is known, as when they open the exercises.
func (l *Log) Touch(id string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.learnerLocked(id)
}

// learnerLocked returns the learner's log, creating it (and forgetting
// the idlest learner if that makes too many), and marks it active now.
func (l *Log) learnerLocked(id string) *learnerLog {
	lg, ok := l.learners[id]
	if ok {
		lg.seen = time.Now()
		l.idle.MoveToBack(lg.elem)
		return lg
	}
	for len(l.learners) >= l.lim.Learners && l.idle.Len() > 0 {
		old := l.idle.Remove(l.idle.Front()).(*learnerLog)
		l.total -= len(old.events)
		delete(l.learners, old.id)
	}
	lg = &learnerLog{id: id, done: map[string]Result{}, seen: time.Now()}
	lg.elem = l.idle.PushBack(lg)
	l.learners[id] = lg
	return lg
}

// dropLocked drops a learner's n oldest events, first keeping what they
// prove.
func (l *Log) dropLocked(lg *learnerLog, n int) {
	if n <= 0 {
		return
	}
	l.latchLocked(lg, evaluate(l.exercises, lg.events, lg.done))
	n = min(n, len(lg.events))
	lg.events = append(lg.events[:0:0], lg.events[n:]...)
	l.total -= n
}

// latchLocked keeps the results that pass.
func (l *Log) latchLocked(lg *learnerLog, res []Result) {
	for i, r := range res {
		id := l.exercises[i].ID
		if _, ok := lg.done[id]; r.Done && !ok {
			r.At = time.Now()
			lg.done[id] = r
		}
	}
}

// Progress checks every exercise against the learner's events; an
// exercise once done stays done until Reset. An unknown learner has done
// nothing.
func (l *Log) Progress(id string) []Result {
	l.mu.Lock()
	lg, ok := l.learners[id]
	var evs []handlers.Event
	done := map[string]Result{}
	if ok {
		evs = append(evs, lg.events...)
		maps.Copy(done, lg.done)
	}
	l.mu.Unlock()
	// The checks run outside the lock, on this call's own copies.
	res := evaluate(l.exercises, evs, done)
	if !ok {
		return res
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if lg, ok = l.learners[id]; ok {
		l.latchLocked(lg, res)
		for i, ex := range l.exercises {
			if d, ok := lg.done[ex.ID]; ok {
				res[i] = d
			}
		}
	}
	return res
}

// Reset forgets the learner's events and progress.
func (l *Log) Reset(id string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if lg, ok := l.learners[id]; ok {
		l.total -= len(lg.events)
		lg.events = nil
		lg.done = map[string]Result{}
	}
}

// Events returns a copy of the learner's events, oldest first.
func (l *Log) Events(id string) []handlers.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	if lg, ok := l.learners[id]; ok {
		return append([]handlers.Event(nil), lg.events...)
	}
	return nil
}

// Size reports how many learners and events the log holds.
func (l *Log) Size() (learners, events int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.learners), l.total
}

// learnerSummary is one learner as the class view shows them.
type learnerSummary struct {
	ID      string
	Seen    time.Time
	Events  int
	Results []Result
}

// summaries checks every learner, idle longest first.
func (l *Log) summaries() []learnerSummary {
	l.mu.Lock()
	ids := make([]string, 0, len(l.learners))
	for e := l.idle.Front(); e != nil; e = e.Next() {
		ids = append(ids, e.Value.(*learnerLog).id)
	}
	l.mu.Unlock()
	out := make([]learnerSummary, 0, len(ids))
	for _, id := range ids {
		res := l.Progress(id)
		l.mu.Lock()
		lg, ok := l.learners[id]
		var s learnerSummary
		if ok {
			s = learnerSummary{ID: id, Seen: lg.seen, Events: len(lg.events), Results: res}
		}
		l.mu.Unlock()
		if ok {
			out = append(out, s)
		}
	}
	return out
}

// sameRequest reports whether b repeats a, the learner's previous event,
// so closely that keeping both would say nothing more: a page reloaded
// with the same outcome under the same generations, a JSON endpoint
// polled. Timings may differ; b's replace a's.
func sameRequest(a, b handlers.Event) bool {
	return a.Kind == handlers.EventRequest && b.Kind == handlers.EventRequest &&
		a.Method == b.Method && a.Path == b.Path && a.Query == b.Query && a.Status == b.Status &&
		a.Mode == b.Mode && a.Outcome == b.Outcome && a.Key == b.Key && a.Errors == b.Errors &&
		sameFrags(a.Frags, b.Frags)
}

// sameFrags compares fragment lookups by their outcomes, not their times.
func sameFrags(a, b []handlers.FragStat) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := a[i], b[i]
		if x.Name != y.Name || x.Hits != y.Hits || x.Misses != y.Misses || x.Errors != y.Errors ||
			x.Bypassed != y.Bypassed || !slices.Equal(x.Missed, y.Missed) {
			return false
		}
	}
	return true
}
