package handlers

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"cacheworkshop/cache"
	"cacheworkshop/models"
	"cacheworkshop/seed"

	"gorm.io/gorm"
)

type editData struct {
	// AdminRequired shows the admin token field (EDIT_REQUIRES_ADMIN).
	AdminRequired bool
	P             models.Product
	In            models.ProductInput
	Errors        map[string]string
	Message       string
	Categories    []string
	Conflict      *conflictData
}

type conflictData struct {
	Yours, Current models.ProductInput
	Changed        []fieldDiff
}

type fieldDiff struct {
	Field, Current, Yours string
	Differs               bool
}

// serveEditForm always reads the database: editing a cached copy would
// start from a version that may already be gone.
func (s *Server) serveEditForm(w http.ResponseWriter, r *http.Request) error {
	_, id, err := productRequest(r, "edit", "/products/")
	if err != nil {
		return err
	}
	p, err := s.store.Get(r.Context(), id)
	if err != nil {
		return err
	}
	return s.serveForm(w, r, http.StatusOK, editData{P: p, In: models.InputFrom(p), Categories: models.Categories})
}

func (s *Server) serveForm(w http.ResponseWriter, r *http.Request, status int, d editData) error {
	d.AdminRequired = s.cfg.AdminToken != "" && s.cfg.EditRequiresAdmin
	return s.serveLive(w, r, status, "edit", "Edit "+d.P.Name, "products", d)
}

// editFields are the edit form's fields.
var editFields = []string{"name", "description", "category", "price", "stock", "version"}

func (s *Server) serveEdit(w http.ResponseWriter, r *http.Request) error {
	_, id, err := productRequest(r, "edit", "/products/")
	if err != nil {
		return err
	}
	if err := ParseForm(w, r); err != nil {
		return err
	}
	// A field sent twice with different values is ambiguous: refuse it
	// rather than silently obeying one of them.
	vals := make(map[string]string, len(editFields))
	for _, f := range editFields {
		v, _, err := FormValue(r, f)
		if err != nil {
			return err
		}
		vals[f] = v
	}
	cur, err := s.store.Get(r.Context(), id)
	if err != nil {
		return err
	}
	in := models.ProductInput{Name: vals["name"], Description: vals["description"], Category: vals["category"],
		Price: vals["price"], Stock: vals["stock"], Version: vals["version"]}
	ch, err := in.Validate()
	if err != nil {
		var me *models.Error
		if errors.As(err, &me) && me.Code == models.EUNPROC {
			return s.serveForm(w, r, http.StatusUnprocessableEntity, editData{P: cur, In: in, Errors: me.Fields,
				Message: me.Message, Categories: models.Categories})
		}
		return err
	}
	// The generations whose pages could show the old values are recorded
	// in the same transaction as the update (the outbox), so the
	// invalidation can never be lost, whatever fails next.
	updated, change, err := s.store.Update(r.Context(), id, ch, editGens)
	if current, ok := errConflict(err); ok {
		return s.serveConflict(w, r, in, current)
	}
	if err != nil {
		return err
	}
	s.categories.Store(id, updated.Category)
	f := flash{Message: fmt.Sprintf("Saved %q: version %d → %d.", updated.Name, cur.Version, updated.Version)}
	f.Details = s.invalidate(r.Context(), change)
	s.recordEdit(r, updated, change)
	setFlash(w, f)
	http.Redirect(w, r, "/products/"+strconv.FormatInt(id, 10), http.StatusSeeOther)
	return nil
}

func (s *Server) serveConflict(w http.ResponseWriter, r *http.Request, yours models.ProductInput, cur models.Product) error {
	curIn := models.InputFrom(cur)
	cd := &conflictData{Yours: yours, Current: curIn}
	for _, f := range []struct{ name, c, y string }{
		{"Name", curIn.Name, yours.Name}, {"Category", curIn.Category, yours.Category},
		{"Price", curIn.Price, yours.Price}, {"Stock", curIn.Stock, yours.Stock},
		{"Description", curIn.Description, yours.Description},
	} {
		cd.Changed = append(cd.Changed, fieldDiff{Field: f.name, Current: f.c, Yours: f.y,
			Differs: strings.TrimSpace(f.c) != strings.TrimSpace(f.y)})
	}
	// The form below starts from the user's values at the current
	// version, so resubmitting is a deliberate overwrite.
	in := yours
	in.Version = curIn.Version
	return s.serveForm(w, r, http.StatusConflict, editData{P: cur, In: in, Categories: models.Categories, Conflict: cd,
		Message: fmt.Sprintf("Someone saved this product (now version %d) after you opened the form at version %s. Nothing was changed.", cur.Version, yours.Version)})
}

// editGens names the generations an edit makes stale: the product's, the
// list's, and its category's before and after (a move changes both).
func editGens(before, after models.Product) []string {
	names := []string{genProduct(before.ID), genCategory(before.Category), genList}
	if after.Category != before.Category {
		names = append(names, genCategory(after.Category))
	}
	return names
}

// invalidate applies a committed change in every backend, whatever this
// request's mode, and says what each did, for the learner.
func (s *Server) invalidate(ctx context.Context, change models.Change) []string {
	var log []string
	for _, res := range s.cfg.Invalidator.Committed(ctx, cache.Change{ID: change.ID, Names: change.Names}) {
		label := s.label(res.Mode)
		if res.Err != nil {
			log = append(log, fmt.Sprintf("%s: could not apply change %d to %s yet (%s). It is recorded in the database, every instance relays it as soon as Redis answers, and until then Redis-mode pages are served from the database.",
				label, change.ID, strings.Join(res.Names, ", "), clip(res.Err.Error(), 160)))
		} else {
			log = append(log, fmt.Sprintf("%s: generations %s raised to change %d, so every cached copy of %s is now stale, with no key deleted: the next read of any of them is a MISS.",
				label, strings.Join(res.Names, ", "), change.ID, describeGens(res.Names)))
		}
	}
	return log
}

// serveReset restores the seeded catalogue and invalidates every page.
func (s *Server) serveReset(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	reseed := func(tx *gorm.DB) error {
		_, err := seed.Seed(ctx, tx)
		return err
	}
	every := func(maxID int64) []string {
		names := []string{genList}
		for _, c := range models.Categories {
			names = append(names, genCategory(c))
		}
		for id := int64(1); id <= max(maxID, seed.Count); id++ {
			names = append(names, genProduct(id))
		}
		return names
	}
	change, err := s.store.Reset(ctx, reseed, every)
	if err != nil {
		return err
	}
	s.categories.Clear()
	s.invalidate(ctx, change)
	setFlash(w, flash{Message: fmt.Sprintf("Catalogue reset to its %d seeded products, at versions above any they had; %d generations raised in every backend.",
		seed.Count, len(change.Names))})
	http.Redirect(w, r, "/products", http.StatusSeeOther)
	return nil
}
