package handlers

import (
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"time"

	"cacheworkshop/cache"
	"cacheworkshop/models"
	"cacheworkshop/trace"
)

// This file tells the exercises what each learner did. A learner is an
// anonymous cookie; what they did is what the app already knows about
// each of their requests: the page, the mode, the page lookup's key and
// outcome, the fragments looked up, the status (a 304 included) and the
// timings, all read from the request's trace once the handler is done.
// Lessons add what only they know (an edit's generations, a lab run's
// figures, a fault switch) with Kit.Record.
//
// Reading the cookie changes nothing about the response: page keys are
// made from the page.Request alone, so a learner's pages are the same
// cached bytes as everyone's, and nothing is recorded into any cache.

// LearnerCookie names the anonymous cookie that tells learners apart. Its
// value is random and means nothing beyond "the same browser as before".
const LearnerCookie = "learner"

// learnerIDLen is the length of a learner id: 16 random bytes in
// unpadded base64url.
const learnerIDLen = 22

// learnerMaxAge keeps a learner's cookie through a workshop of several
// days; the progress itself lives in the server's memory only.
const learnerMaxAge = 30 * 24 * time.Hour

// Event kinds.
const (
	// EventRequest is one request, recorded by the server itself.
	EventRequest = "request"
	// EventEdit is a saved product edit (Product, Version, Change, Gens).
	EventEdit = "edit"
	// EventLab is a lab run with its measured figures (Lab, Setting,
	// Figures).
	EventLab = "lab"
	// EventFault is a fault switch flipped on the faults page (Setting
	// is the action).
	EventFault = "fault"
)

// Event is one thing a learner did, as the exercises check it. It is a
// summary, not the trace itself: a list page has two dozen lookups, and a
// learner's log holds hundreds of events.
type Event struct {
	At time.Time
	// Count is how many identical requests in a row this event stands
	// for (a reload loop, a page polling its JSON): they are kept once.
	Count int
	Kind  string

	// Requests (EventRequest).
	Method string
	Path   string // the URL path as sent, clipped
	Query  string // the raw query as sent, clipped
	Status int
	Mode   string // none, memory or redis
	// Outcome is the X-Cache the response carried: HIT, MISS, BYPASS or
	// ERROR (empty for responses without one).
	Outcome string
	// Key is the page lookup's key as the trace shows it, with the
	// generations it was read under ("page:detail:…:/products/7 @g2k.9");
	// KeyDur is how long that lookup took.
	Key    string
	KeyDur time.Duration
	// Errors counts the lookups that failed.
	Errors int
	// Frags sums the fragment lookups by fragment name.
	Frags     []FragStat
	Total     time.Duration
	Simulated time.Duration

	// Edits (EventEdit): the product, its new version, the change id
	// that raised the generations, and their names.
	Product, Version, Change int64
	Gens                     []string

	// Lab runs and fault switches (EventLab, EventFault).
	Lab, Setting string
	Figures      map[string]float64
}

// FragStat is one fragment's lookups in a request.
type FragStat struct {
	Name                           string
	Hits, Misses, Errors, Bypassed int
	// Dur is the lookups' time in all: for a batch read (fragmentEach's
	// one MGET) the round trip, shared out between its keys.
	Dur time.Duration
	// Missed are the item keys of the first misses ("25:v3"), so a check
	// can say which row was rendered again.
	Missed []string
}

// maxMissed bounds FragStat.Missed.
const maxMissed = 5

// EventSink receives learners' events. Record is called on the request's
// own goroutine once its response is written, so it must be quick.
type EventSink interface {
	Record(learner string, ev Event)
}

// RecordEventsTo reports every request that carries a learner cookie to
// sink, and the events lessons record. Without a sink (no exercises
// lesson) nothing is read or recorded at all.
func (k *Kit) RecordEventsTo(sink EventSink) { k.s.events = sink }

// Record adds ev to the log of the request's learner, if it has one: what
// a lesson knows that the trace does not (an edit's generations, a lab's
// figures).
func (k *Kit) Record(r *http.Request, ev Event) { k.s.record(r, ev) }

// RecordLab records a lab run: which lab, its setting ("lock", "n=10")
// and its measured figures.
func (k *Kit) RecordLab(r *http.Request, lab, setting string, figures map[string]float64) {
	k.s.record(r, Event{Kind: EventLab, Lab: lab, Setting: setting, Figures: figures})
}

func (s *Server) record(r *http.Request, ev Event) {
	if s.events == nil {
		return
	}
	id := Learner(r)
	if id == "" {
		return
	}
	if ev.At.IsZero() {
		ev.At = time.Now()
	}
	ev.Count = max(ev.Count, 1)
	s.events.Record(id, ev)
}

// recordEdit records a saved edit and the generations it raised.
func (s *Server) recordEdit(r *http.Request, p models.Product, change models.Change) {
	s.record(r, Event{Kind: EventEdit, Product: p.ID, Version: p.Version, Change: change.ID, Gens: change.Names})
}

// Learner is the request's learner id, or "" when it carries no learner
// cookie or one that is not of the form NewLearner makes.
func Learner(r *http.Request) string {
	c, err := r.Cookie(LearnerCookie)
	if err != nil || !validLearnerID(c.Value) {
		return ""
	}
	return c.Value
}

// NewLearner gives the browser a new learner cookie and returns its id.
// The response that carries it is private (privateCookies), and the
// pages that set it are never cached anyway.
func NewLearner(w http.ResponseWriter) string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	id := base64.RawURLEncoding.EncodeToString(b)
	http.SetCookie(w, &http.Cookie{Name: LearnerCookie, Value: id, Path: "/", MaxAge: int(learnerMaxAge / time.Second),
		HttpOnly: true, SameSite: http.SameSiteLaxMode})
	return id
}

func validLearnerID(v string) bool {
	if len(v) != learnerIDLen {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// withEvents records, after the handler, one event for every request
// that carries a learner cookie. Requests without one pay a cookie lookup
// and nothing else.
func (s *Server) withEvents(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.events == nil {
			next.ServeHTTP(w, r)
			return
		}
		id := Learner(r)
		if id == "" {
			next.ServeHTTP(w, r)
			return
		}
		sw := &StatusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		s.events.Record(id, requestEvent(r, sw.Status(), w.Header().Get("X-Cache"), trace.From(r.Context()).Snapshot()))
	})
}

// requestEvent summarises a finished request from its trace.
func requestEvent(r *http.Request, status int, outcome string, snap trace.Snapshot) Event {
	ev := Event{At: time.Now(), Count: 1, Kind: EventRequest, Method: r.Method, Path: clip(r.URL.Path, 200),
		Query: clip(r.URL.RawQuery, 200), Status: status, Mode: cache.ModeFrom(r.Context()).String(),
		Outcome: outcome, Total: snap.Total, Simulated: snap.Simulated}
	if ev.Status == 0 {
		ev.Status = http.StatusOK
	}
	for _, l := range snap.Lookups {
		if l.Outcome == trace.Error {
			ev.Errors++
		}
		switch l.Layer {
		case "page":
			if ev.Key == "" {
				ev.Key, ev.KeyDur = clip(l.Key, 300), l.Dur
			}
		case "frag":
			ev.addFrag(l)
		}
	}
	return ev
}

// addFrag counts one fragment lookup. Keys are "frag:{name}:digest:item"
// (the braces are the name's Redis Cluster hash tag);
// mode none records "name xN" once per fragment, as BYPASS.
func (ev *Event) addFrag(l trace.Lookup) {
	name, item, n := l.Key, "", 1
	if rest, ok := strings.CutPrefix(l.Key, "frag:"); ok {
		parts := strings.SplitN(rest, ":", 3)
		name = strings.TrimSuffix(strings.TrimPrefix(parts[0], "{"), "}")
		if len(parts) == 3 {
			item = parts[2]
		}
	} else if i := strings.LastIndex(l.Key, " x"); i > 0 {
		name = l.Key[:i]
		if c, err := strconv.Atoi(l.Key[i+2:]); err == nil {
			n = c
		}
	}
	var f *FragStat
	for i := range ev.Frags {
		if ev.Frags[i].Name == name {
			f = &ev.Frags[i]
		}
	}
	if f == nil {
		ev.Frags = append(ev.Frags, FragStat{Name: clip(name, 60)})
		f = &ev.Frags[len(ev.Frags)-1]
	}
	f.Dur += l.Dur
	switch l.Outcome {
	case trace.Hit:
		f.Hits++
	case trace.Miss:
		f.Misses++
		if len(f.Missed) < maxMissed {
			f.Missed = append(f.Missed, clip(item, 60))
		}
	case trace.Bypass:
		f.Bypassed += n
	default:
		f.Errors++
	}
}

// StatusWriter remembers the status a handler sent, for middleware that
// reports it after the handler (the exercises' events, the metrics). 1xx
// responses are not the final status, and a body or a flush without
// WriteHeader is a 200, as net/http sends it.
type StatusWriter struct {
	http.ResponseWriter
	status int
}

// Status is the status sent so far, or 0 when nothing was written (net/http
// then sends a 200).
func (w *StatusWriter) Status() int { return w.status }

// WriteHeader implements http.ResponseWriter.
func (w *StatusWriter) WriteHeader(code int) {
	if w.status == 0 && code >= 200 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

// Write implements http.ResponseWriter.
func (w *StatusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Flush implements http.Flusher, for streamed responses (server-sent
// events).
func (w *StatusWriter) Flush() {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (w *StatusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
