package handlers

import (
	"context"
	"fmt"
	"net/http"
	"strconv"

	"github.com/go-chi/chi/v5"

	"cacheworkshop/cache/fragment"
	"cacheworkshop/cache/page"
	"cacheworkshop/models"
)

// categoryGens are each category page's generations: its category's
// alone, made once. Every change that can alter a category page raises it:
// an edit of one of its products (both categories' when the product
// moves), a create or a delete in it, and a reset. Other categories'
// changes leave its pages cached.
var categoryGens = func() map[string][]string {
	m := make(map[string][]string, len(models.Categories))
	for _, c := range models.Categories {
		m[c] = []string{genCategory(c)}
	}
	return m
}()

type categoryData struct {
	Req *fragment.Render
	// Name is the category; Gen its generation, shown to the learner.
	Name, Gen string
	// Count is how many products the category has; the table shows
	// First to Last of them.
	Count       int64
	First, Last int64
	TableKey    string
	Products    []productRow
	Page        int
	PerPage     int
	LastPage    int
	Pager       []pagerLink
	PrevURL     string
	NextURL     string
	Categories  []categoryLink
}

func (d *categoryData) useRender(fr *fragment.Render) { d.Req = fr }

// serveCategory is a category's products, paginated like the list and
// cached like it: the whole page under its canonical URL, stamped with the
// category's generation, and each row a fragment under the product's id
// and version, the same fragments the list pages use.
func (s *Server) serveCategory(w http.ResponseWriter, r *http.Request) error {
	slug := chi.URLParam(r, "slug")
	cat, ok := models.CategoryBySlug(slug)
	if !ok {
		return NotFound(fmt.Sprintf("There is no category %q.", clip(slug, 40)))
	}
	pageNo, perPage, params, err := pagination(r)
	if err != nil {
		return err
	}
	path := categoryURLs[cat]
	req := page.NewRequest("category", path, modeOf(r), params...)
	return s.serveCached(w, r, page.Spec{
		Request: req,
		Gens:    categoryGens[cat],
		Build: func(ctx context.Context, req page.Request) (*page.Entry, error) {
			total, err := s.store.CategoryCount(ctx, cat)
			if err != nil {
				return nil, err
			}
			last := max(int((total+int64(perPage)-1)/int64(perPage)), 1)
			if pageNo > last {
				return nil, BadRequest(fmt.Sprintf("page must be from 1 to %d with per_page=%d (got %d).", last, perPage, pageNo))
			}
			ps, err := s.store.ListCategory(ctx, cat, (pageNo-1)*perPage, perPage)
			if err != nil {
				return nil, err
			}
			d := &categoryData{Name: cat, Gen: genCategory(cat), Count: total, Page: pageNo, PerPage: perPage, LastPage: last,
				Categories: categoryLinks(cat)}
			d.Products, d.TableKey = tableRows("c="+models.CategorySlug(cat)+":p="+strconv.Itoa(pageNo)+":pp="+strconv.Itoa(perPage), ps)
			if len(ps) > 0 {
				d.First, d.Last = int64((pageNo-1)*perPage+1), int64((pageNo-1)*perPage+len(ps))
			}
			d.Pager = pager(path, pageNo, last, perPage)
			if pageNo > 1 {
				d.PrevURL = pageURL(path, pageNo-1, perPage)
			}
			if pageNo < last {
				d.NextURL = pageURL(path, pageNo+1, perPage)
			}
			return s.renderPage(ctx, req, fmt.Sprintf("%s, page %d of %d", cat, pageNo, last), "products", d)
		},
	})
}
