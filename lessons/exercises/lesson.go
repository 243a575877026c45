// Package exercises is the workshop's path: fifteen exercises in order,
// each with a goal, steps that open the right page in the right mode, a
// prediction to make first, and a check computed from the learner's own
// requests that says done, or what is still missing and why.
//
// Learners are told apart by an anonymous cookie (handlers.LearnerCookie),
// given on their first visit to /exercises. The server reports each of
// their requests, summarised from its trace, to this lesson's Log, with
// what the lessons add (edits, lab runs, fault switches): see
// handlers/events.go. The log is bounded (DefaultLimits: 500 events per
// learner, 1,000 learners, 100,000 events in all; the oldest go first) and
// lives in memory only. Predictions and the strategy the learner writes
// stay in their browser (localStorage, static/exercises.js).
//
// Routes:
//
//	GET  /exercises         the exercises with this learner's checks
//	GET  /api/exercises     the same as JSON: id, title, done, reason
//	POST /exercises/reset   forget this learner's progress
//	GET  /exercises/class   how many learners did each exercise (with
//	POST /exercises/class   ADMIN_TOKEN set, only after posting it)
package exercises

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"

	"cacheworkshop/handlers"
)

// Lesson serves the exercises.
type Lesson struct {
	k   *handlers.Kit
	log *Log
}

// New returns the lesson with the default caps.
func New() *Lesson { return NewWithLimits(DefaultLimits) }

// NewWithLimits returns the lesson with its log bounded by lim.
func NewWithLimits(lim Limits) *Lesson { return &Lesson{log: NewLog(lim, All)} }

// Log is the lesson's event log.
func (l *Lesson) Log() *Log { return l.log }

// Register implements handlers.Lesson. It also makes the server report
// learners' requests to the lesson's log.
func (l *Lesson) Register(r chi.Router, k *handlers.Kit) {
	l.k = k
	k.RecordEventsTo(l.log)
	r.Get("/exercises", k.Handle(l.servePage))
	r.Get("/api/exercises", k.Handle(l.serveAPI))
	r.Post("/exercises/reset", k.Handle(l.serveReset))
	r.Get("/exercises/class", k.Handle(l.serveClass))
	r.With(k.RequireAdmin).Post("/exercises/class", k.Handle(l.serveClass))
}

// exerciseView is one exercise as the page shows it to one learner.
type exerciseView struct {
	N                         int
	ID, Title, Goal, Known    string
	Predict                   string
	Steps                     []Step
	Local                     bool
	Done                      bool
	Reason, Measured, DoneAgo string
}

// pageData is what templates/exercises.html shows.
type pageData struct {
	Exercises []exerciseView
	// Done counts the exercises the server checked as done; the strategy,
	// kept in the browser, is counted there.
	Done, Total int
	Checklist   []struct{ ID, Text string }
	Limits      limitsView
	// Label is the learner's anonymous name, as the class view shows it.
	Label string
}

func (l *Lesson) servePage(w http.ResponseWriter, r *http.Request) error {
	id := handlers.Learner(r)
	if id == "" {
		id = handlers.NewLearner(w)
	}
	l.log.Touch(id)
	res := l.log.Progress(id)
	d := pageData{Total: len(All), Checklist: designChecklist, Limits: viewLimits(l.log.lim), Label: label(id)}
	p := planFor(id)
	now := time.Now()
	for i, ex := range All {
		v := exerciseView{N: i + 1, ID: ex.ID, Title: ex.Title, Goal: ex.Goal, Known: ex.Known, Predict: ex.Predict,
			Steps: ex.Steps(p), Local: ex.Check == nil, Done: res[i].Done, Reason: res[i].Reason, Measured: res[i].Measured}
		if v.Done {
			d.Done++
			if !res[i].At.IsZero() {
				v.DoneAgo = handlers.Ago(now.Sub(res[i].At))
			}
		}
		d.Exercises = append(d.Exercises, v)
	}
	return l.k.Live(w, r, "exercises", "Exercises", "exercises", d)
}

// apiExercise is one exercise in /api/exercises.
type apiExercise struct {
	ID       string `json:"id"`
	Title    string `json:"title"`
	Done     bool   `json:"done"`
	Reason   string `json:"reason"`
	Measured string `json:"measured,omitempty"`
	// Local marks the exercise kept in the browser, which the server
	// cannot check.
	Local bool `json:"local,omitempty"`
}

// apiProgress is /api/exercises.
type apiProgress struct {
	// Learner says whether the request carried a learner cookie; without
	// one nothing is recorded, and every exercise is "not yet".
	Learner   bool          `json:"learner"`
	Done      int           `json:"done"`
	Total     int           `json:"total"`
	Exercises []apiExercise `json:"exercises"`
}

func (l *Lesson) serveAPI(w http.ResponseWriter, r *http.Request) error {
	id := handlers.Learner(r)
	out := apiProgress{Learner: id != "", Total: len(All)}
	var res []Result
	if id != "" {
		res = l.log.Progress(id)
	} else {
		res = make([]Result, len(All))
		for i := range res {
			res[i].Reason = "No learner cookie: open /exercises first, and your requests from then on are checked."
		}
	}
	for i, ex := range All {
		out.Exercises = append(out.Exercises, apiExercise{ID: ex.ID, Title: ex.Title, Done: res[i].Done,
			Reason: res[i].Reason, Measured: res[i].Measured, Local: ex.Check == nil})
		if res[i].Done {
			out.Done++
		}
	}
	l.k.JSON(w, r, http.StatusOK, out)
	return nil
}

func (l *Lesson) serveReset(w http.ResponseWriter, r *http.Request) error {
	if err := handlers.ParseForm(w, r); err != nil {
		return err
	}
	id := handlers.Learner(r)
	if id == "" {
		return handlers.BadRequest("There is no progress to reset: this browser has no learner cookie yet. Open /exercises first.")
	}
	l.log.Reset(id)
	l.k.Flash(w, "Your progress was reset: every exercise says not yet again. Your predictions and notes stay in this browser.")
	http.Redirect(w, r, "/exercises", http.StatusSeeOther)
	return nil
}

// classData is what templates/exercises-class.html shows.
type classData struct {
	// Locked: ADMIN_TOKEN is set and was not posted, so only the form
	// is shown.
	Locked      bool
	Learners    int
	Events      int
	Exercises   []classRow
	People      []personRow
	Limits      limitsView
	GeneratedAt time.Time
}

type classRow struct {
	Title string
	Done  int
	Pct   int
	Local bool
}

type personRow struct {
	Label  string
	Done   int
	Events int
	Seen   string
}

// serveClass shows how many learners did each exercise. The learners are
// shown by an anonymous label derived from their cookie, never by the
// cookie itself, which would let the reader act as them.
func (l *Lesson) serveClass(w http.ResponseWriter, r *http.Request) error {
	d := classData{Locked: l.k.AdminToken != "" && r.Method != http.MethodPost, Limits: viewLimits(l.log.lim), GeneratedAt: time.Now().UTC()}
	if !d.Locked {
		people := l.log.summaries()
		d.Learners, d.Events = l.log.Size()
		counts := make([]int, len(All))
		now := time.Now()
		for i := len(people) - 1; i >= 0; i-- { // most recently active first
			p := people[i]
			row := personRow{Label: label(p.ID), Events: p.Events, Seen: handlers.Ago(now.Sub(p.Seen))}
			for j, res := range p.Results {
				if res.Done {
					counts[j]++
					row.Done++
				}
			}
			d.People = append(d.People, row)
		}
		for i, ex := range All {
			row := classRow{Title: ex.Title, Done: counts[i], Local: ex.Check == nil}
			if d.Learners > 0 {
				row.Pct = counts[i] * 100 / d.Learners
			}
			d.Exercises = append(d.Exercises, row)
		}
	}
	return l.k.Live(w, r, "exercises-class", "Class progress", "exercises", d)
}

// label is a learner's anonymous name: a digest of the id, so that it
// can be shown without revealing the cookie.
func label(id string) string {
	sum := sha256.Sum256([]byte("learner:" + id))
	return "learner " + hex.EncodeToString(sum[:3])
}

// limitsView is the log's caps as the pages write them: "100,000".
type limitsView struct{ PerLearner, Learners, Total string }

func viewLimits(l Limits) limitsView {
	return limitsView{PerLearner: thousands(l.PerLearner), Learners: thousands(l.Learners), Total: thousands(l.Total)}
}

// thousands writes n with a comma between groups of three digits.
func thousands(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
