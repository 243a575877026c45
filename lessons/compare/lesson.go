// Package compare is the cache comparison lesson (GET /products/compare):
// it fetches one list page through the real handler stack in every cache
// mode, many times, and shows the median and p95 of each, so a learner
// sees what a memory hit, a Redis hit and no cache at all cost, and why a
// cache pays off only when building a response costs more than fetching it.
package compare

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"

	"cacheworkshop/handlers"
)

// perPage is the list page's default page size: the comparison samples the
// pages a learner browses, /products?page=N.
const perPage = 20

// Lesson serves the comparison page.
type Lesson struct {
	k *handlers.Kit
}

// New returns the lesson; it is ready once registered.
func New() *Lesson { return &Lesson{} }

// Register implements handlers.Lesson.
func (l *Lesson) Register(r chi.Router, k *handlers.Kit) {
	l.k = k
	r.Get("/products/compare", k.Handle(l.serve))
}

// pageData is what templates/compare.html shows.
type pageData struct {
	Page     int
	LastPage int
	PrevURL  string
	NextURL  string
	ListURL  string
	Warmup   int
	Samples  int
	Rows     []modeRow
	Took     time.Duration
	// Speedup is how many times faster the fastest cache was than no
	// cache, by median; empty when no cache won.
	Speedup string
}

func compareURL(page int) string { return "/products/compare?page=" + strconv.Itoa(page) }

func listURL(page int) string { return "/products?page=" + strconv.Itoa(page) }

func (l *Lesson) serve(w http.ResponseWriter, r *http.Request) error {
	page, err := handlers.IntParam(r, "page", 1, 1, 1_000_000)
	if err != nil {
		return err
	}
	total, err := l.k.Store.Count(r.Context())
	if err != nil {
		return err
	}
	last := max(int((total+perPage-1)/perPage), 1)
	if page > last {
		return handlers.BadRequest(fmt.Sprintf("page must be from 1 to %d (got %d).", last, page))
	}
	d := pageData{Page: page, LastPage: last, ListURL: listURL(page), Warmup: warmup, Samples: samples}
	if page > 1 {
		d.PrevURL = compareURL(page - 1)
	}
	if page < last {
		d.NextURL = compareURL(page + 1)
	}
	t0 := time.Now()
	rows, err := l.measure(r, listURL(page))
	if err != nil {
		return err
	}
	d.Took = time.Since(t0)
	d.Rows = rows
	fast := -1
	for i := range rows {
		if len(rows[i].Samples) > 0 && (fast < 0 || rows[i].Median < rows[fast].Median) {
			fast = i
		}
	}
	if fast >= 0 {
		rows[fast].Fastest = true
	}
	// rows[0] is mode none: the baseline the caches are compared with.
	if fast > 0 && rows[0].Median > 0 && rows[fast].Median > 0 {
		d.Speedup = strconv.FormatFloat(float64(rows[0].Median)/float64(rows[fast].Median), 'f', 1, 64)
	}
	// A measurement is this request's own: it is never cached, whatever
	// the mode, and Live says so in the bar.
	return l.k.Live(w, r, "compare", fmt.Sprintf("Cache comparison, page %d", page), "compare", d)
}
