package handlers

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"cacheworkshop/models"
)

// Creating and deleting products. Both are writes like an edit: the form
// is parsed strictly (ParseForm, FormValue), validated by the same rules,
// guarded by the same middleware (editGuard, cross-origin protection), and
// the generations the write makes stale are recorded in the write's own
// transaction, then applied in every backend by invalidate.

type newData struct {
	// AdminRequired shows the admin token field (EDIT_REQUIRES_ADMIN).
	AdminRequired bool
	In            models.ProductInput
	Errors        map[string]string
	Message       string
	Categories    []string
}

// newFields are the new-product form's fields: the edit form's, without
// the version, which a new product does not have yet.
var newFields = []string{"name", "description", "category", "price", "stock"}

// serveNewForm is the empty form; like the edit form it is never cached.
func (s *Server) serveNewForm(w http.ResponseWriter, r *http.Request) error {
	return s.serveNew(w, r, http.StatusOK, newData{In: models.ProductInput{Stock: "0"}})
}

func (s *Server) serveNew(w http.ResponseWriter, r *http.Request, status int, d newData) error {
	d.AdminRequired = s.cfg.AdminToken != "" && s.cfg.EditRequiresAdmin
	d.Categories = models.Categories
	return s.serveLive(w, r, status, "product-new", "New product", "products", d)
}

func (s *Server) serveCreate(w http.ResponseWriter, r *http.Request) error {
	if err := ParseForm(w, r); err != nil {
		return err
	}
	vals := make(map[string]string, len(newFields))
	for _, f := range newFields {
		v, _, err := FormValue(r, f)
		if err != nil {
			return err
		}
		vals[f] = v
	}
	in := models.ProductInput{Name: vals["name"], Description: vals["description"], Category: vals["category"],
		Price: vals["price"], Stock: vals["stock"]}
	ch, err := in.ValidateNew()
	if err != nil {
		var me *models.Error
		if errors.As(err, &me) && me.Code == models.EUNPROC {
			return s.serveNew(w, r, http.StatusUnprocessableEntity, newData{In: in, Errors: me.Fields, Message: me.Message})
		}
		return err
	}
	p, change, err := s.store.Create(r.Context(), ch, createGens)
	if err != nil {
		return err
	}
	s.categories.Store(p.ID, p.Category)
	f := flash{Message: fmt.Sprintf("Created #%d %q in %s, at version 1.", p.ID, p.Name, p.Category)}
	f.Details = s.invalidate(r.Context(), change)
	f.Details = append(f.Details, s.whereCreated(r.Context(), p)...)
	setFlash(w, f)
	http.Redirect(w, r, "/products/"+strconv.FormatInt(p.ID, 10), http.StatusSeeOther)
	return nil
}

// createGens names the generations a new product makes stale: every list
// page (the total changes, and the last page gains a row), its category's
// pages (their count, and the detail pages' price ranks), and its own,
// which nothing can have been cached under yet, since ids are never
// reused, but which keeps the rule simple: a write raises the product's
// generation.
func createGens(p models.Product) []string {
	return []string{genList, genCategory(p.Category), genProduct(p.ID)}
}

// whereCreated tells the creator which pages now show the product. It
// reads the database after the commit; if that fails, the note is left
// out: the product is saved either way.
func (s *Server) whereCreated(ctx context.Context, p models.Product) []string {
	total, err := s.store.Count(ctx)
	if err != nil {
		return nil
	}
	inCat, err := s.store.CategoryCount(ctx, p.Category)
	if err != nil {
		return nil
	}
	listPage := (total + defaultPerPage - 1) / defaultPerPage
	catPage := (inCat + defaultPerPage - 1) / defaultPerPage
	return []string{fmt.Sprintf("New ids come after every id the catalogue has used, so #%d is last in id order: it is on list page %d (%s) and on page %d of %s (%s), which now counts %d products.",
		p.ID, listPage, pageURL("/products", int(listPage), defaultPerPage),
		catPage, p.Category, pageURL(categoryURLs[p.Category], int(catPage), defaultPerPage), inCat)}
}

// serveDelete deletes a product at the version its form was opened at.
//
// Deleting product 5 moves every later product up one place in the list:
// the first row of page 2 becomes the last of page 1, and so on to the
// last page, whatever per_page a visitor chose. Deleting each of those
// cached pages by key would mean knowing every key ever built (one per
// page and per_page value) and deleting them all, in every backend and
// every instance, without a reader storing one back in between. Instead
// every list page carries the value of one generation, "list", stamped in
// its entry when it was built; the delete raises that generation once per
// backend (the change's id), and every list page built under the older
// value is a miss on its next read and is rebuilt with the shifted rows.
// No key is touched: the old entries are simply never served again and
// age out by TTL or eviction. The rows of the other products are cached
// as fragments under their id and version, which the delete did not
// change, so the rebuilt pages reuse them. The category's pages shift the
// same way under the category's generation.
func (s *Server) serveDelete(w http.ResponseWriter, r *http.Request) error {
	_, id, err := productRequest(r, "delete", "/products/")
	if err != nil {
		return err
	}
	if err := ParseForm(w, r); err != nil {
		return err
	}
	v, _, err := FormValue(r, "version")
	if err != nil {
		return err
	}
	version, err := strconv.ParseInt(v, 10, 64)
	if err != nil || version < 1 || strings.TrimLeft(v, "0123456789") != "" {
		return BadRequest("The form is missing the version it was opened at; reload the edit page.")
	}
	p, change, err := s.store.Delete(r.Context(), id, version, deleteGens)
	if cur, ok := errConflict(err); ok {
		return &Error{Status: http.StatusConflict, Msg: fmt.Sprintf(
			"Product %d was saved again (now version %d) after you opened it at version %d. Nothing was deleted: review the current version, then delete it from its edit page.",
			id, cur.Version, version)}
	}
	if err != nil {
		return err
	}
	s.categories.Delete(id)
	f := flash{Message: fmt.Sprintf("Deleted #%d %q from %s. /products/%d is a 404 now, in every mode.", p.ID, p.Name, p.Category, p.ID)}
	f.Details = s.invalidate(r.Context(), change)
	shift, listPage := s.deleteShift(r.Context(), p)
	f.Details = append(f.Details, shift...)
	setFlash(w, f)
	http.Redirect(w, r, pageURL("/products", listPage, defaultPerPage), http.StatusSeeOther)
	return nil
}

// deleteGens names the generations a delete makes stale: every list page
// (all the rows after the product shift), its category's pages, and the
// product's own, so that no cached copy of its pages is served again.
func deleteGens(p models.Product) []string {
	return []string{genList, genCategory(p.Category), genProduct(p.ID)}
}

// deleteShift describes, from the database after the commit, how the
// delete shifted the list and the category pages, and returns the list
// page the product was on (clamped to the last one), for the redirect. If
// a read fails the description is left out.
func (s *Server) deleteShift(ctx context.Context, p models.Product) ([]string, int) {
	pos, err := s.store.Position(ctx, p.ID, "")
	if err != nil {
		return nil, 1
	}
	total, err := s.store.Count(ctx)
	if err != nil {
		return nil, 1
	}
	catPos, err := s.store.Position(ctx, p.ID, p.Category)
	if err != nil {
		return nil, 1
	}
	inCat, err := s.store.CategoryCount(ctx, p.Category)
	if err != nil {
		return nil, 1
	}
	pages := int(max((total+defaultPerPage-1)/defaultPerPage, 1))
	// wasOn is the list page the product was on; when it was alone on
	// the last page, that page is gone and the redirect goes to the new
	// last one.
	wasOn := int(pos/defaultPerPage) + 1
	catPages := int(max((inCat+defaultPerPage-1)/defaultPerPage, 1))
	catPage := min(int(catPos/defaultPerPage)+1, catPages)

	var out []string
	switch {
	case pos >= total && wasOn > pages:
		out = append(out, fmt.Sprintf("#%d was the last product, alone on list page %d, which is gone now: no other row moved, but the total on every list page changed.", p.ID, wasOn))
	case pos >= total:
		out = append(out, fmt.Sprintf("#%d was the last product, on list page %d: no other row moved, but the total on every list page changed.", p.ID, wasOn))
	default:
		changed := fmt.Sprintf("pages %d to %d all show different rows now", wasOn, pages)
		if wasOn == pages {
			changed = fmt.Sprintf("page %d shows different rows now", wasOn)
		}
		// The product now last on its page was first on the next one.
		if next, err := s.store.List(ctx, wasOn*defaultPerPage-1, 1); err == nil && len(next) == 1 {
			changed += fmt.Sprintf(" (#%d moved up from page %d to the end of page %d)", next[0].ID, wasOn+1, wasOn)
		}
		out = append(out, fmt.Sprintf("#%d was on list page %d (%d per page). Every product after it moved up one place, so %s, and the catalogue has %d products on %d pages.",
			p.ID, wasOn, defaultPerPage, changed, total, pages))
	}
	out = append(out, fmt.Sprintf("No cache key was deleted for that: every list page's entry carries the value of generation %s it was built under, and raising it once made all of them, for every per_page too, misses on their next read. Pages before page %d did not change but are rebuilt too: the price of one generation for all list pages. The other products' rows are fragments keyed by id and version, unchanged, so the rebuilt pages reuse them.",
		genList, wasOn))
	out = append(out, fmt.Sprintf("%s now counts %d products; its pages from page %d on (%s) shifted the same way, under generation %s.",
		p.Category, inCat, catPage, pageURL(categoryURLs[p.Category], catPage, defaultPerPage), genCategory(p.Category)))
	return out, min(wasOn, pages)
}

// describeGens says, for the learner, which pages a change's generations
// make stale.
func describeGens(names []string) string {
	var products, cats []string
	list := false
	for _, n := range names {
		switch {
		case n == genList:
			list = true
		case strings.HasPrefix(n, "product:"):
			products = append(products, strings.TrimPrefix(n, "product:"))
		case strings.HasPrefix(n, "category:"):
			slug := strings.TrimPrefix(n, "category:")
			if c, ok := models.CategoryBySlug(slug); ok {
				cats = append(cats, c+" ("+categoryURLs[c]+")")
			}
		}
	}
	var parts []string
	switch {
	case len(products) == 1:
		parts = append(parts, "the pages of product "+products[0])
	case len(products) > 1:
		parts = append(parts, "the pages of "+strconv.Itoa(len(products))+" products")
	}
	if len(cats) > 0 {
		parts = append(parts, "the category pages of "+strings.Join(cats, " and ")+" with their counts (and their products' price ranks)")
	}
	if list {
		parts = append(parts, "every list page")
	}
	if len(parts) > 1 {
		return strings.Join(parts[:len(parts)-1], ", ") + " and " + parts[len(parts)-1]
	}
	return strings.Join(parts, "")
}
