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
	// Detail is set when the page compared is a product's detail page
	// (?product=), which pays the simulated slow query on every uncached
	// load; otherwise it is a list page (?page=).
	Detail  bool
	Product int
	Page    int
	// LastPage is the list's last page, or the highest product id.
	LastPage int
	PrevURL  string
	NextURL  string
	// TargetURL is the page measured; OtherURL the comparison of the
	// other kind of page.
	TargetURL string
	OtherURL  string
	Warmup    int
	Samples   int
	// RunN is the browser run's default request count per mode.
	RunN int
	Rows []modeRow
	Took time.Duration
	// Speedup is how many times faster the fastest cache was than no
	// cache, by median; empty when no cache won.
	Speedup string
}

func compareURL(page int) string { return "/products/compare?page=" + strconv.Itoa(page) }

func compareProductURL(id int64) string {
	return "/products/compare?product=" + strconv.FormatInt(id, 10)
}

func listURL(page int) string { return "/products?page=" + strconv.Itoa(page) }

func detailURL(id int64) string { return "/products/" + strconv.FormatInt(id, 10) }

// serve measures the page the query names: ?page=N (the list, the
// default) or ?product=ID (a detail page); not both.
func (l *Lesson) serve(w http.ResponseWriter, r *http.Request) error {
	_, pageGiven, err := handlers.Param(r, "page")
	if err != nil {
		return err
	}
	_, productGiven, err := handlers.Param(r, "product")
	if err != nil {
		return err
	}
	if pageGiven && productGiven {
		return handlers.BadRequest("Compare either a list page (?page=) or a product's detail page (?product=), not both.")
	}
	total, err := l.k.Store.Count(r.Context())
	if err != nil {
		return err
	}
	var d pageData
	if productGiven {
		d, err = l.detailPage(r, total)
	} else {
		d, err = l.listPage(r, total)
	}
	if err != nil {
		return err
	}
	d.Warmup = warmup
	t0 := time.Now()
	rows, err := l.measure(r, d.TargetURL, d.Samples)
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
	title := fmt.Sprintf("Cache comparison, page %d", d.Page)
	if d.Detail {
		title = fmt.Sprintf("Cache comparison, product %d", d.Product)
	}
	// A measurement is this request's own: it is never cached, whatever
	// the mode, and Live says so in the bar.
	return l.k.Live(w, r, "compare", title, "compare", d)
}

// listPage is the comparison of /products?page=N.
func (l *Lesson) listPage(r *http.Request, total int64) (pageData, error) {
	page, err := handlers.IntParam(r, "page", 1, 1, 1_000_000)
	if err != nil {
		return pageData{}, err
	}
	last := max(int((total+perPage-1)/perPage), 1)
	if page > last {
		return pageData{}, handlers.BadRequest(fmt.Sprintf("page must be from 1 to %d (got %d).", last, page))
	}
	d := pageData{Page: page, LastPage: last, TargetURL: listURL(page), OtherURL: compareProductURL(1),
		Samples: samples, RunN: 30}
	if page > 1 {
		d.PrevURL = compareURL(page - 1)
	}
	if page < last {
		d.NextURL = compareURL(page + 1)
	}
	return d, nil
}

// detailPage is the comparison of /products/ID. Every uncached load of it
// waits for the simulated slow query, so it takes fewer samples: enough
// for a median, without making the learner wait long for mode none.
func (l *Lesson) detailPage(r *http.Request, total int64) (pageData, error) {
	id, err := handlers.IntParam(r, "product", 1, 1, 1_000_000_000)
	if err != nil {
		return pageData{}, err
	}
	if _, err := l.k.Store.Get(r.Context(), int64(id)); err != nil {
		return pageData{}, err
	}
	d := pageData{Detail: true, Product: id, LastPage: int(total), TargetURL: detailURL(int64(id)),
		OtherURL: compareURL(1), Samples: detailSamples, RunN: 10}
	if id > 1 {
		d.PrevURL = compareProductURL(int64(id - 1))
	}
	if int64(id) < total {
		d.NextURL = compareProductURL(int64(id + 1))
	}
	return d, nil
}
