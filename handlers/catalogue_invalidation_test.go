package handlers_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"cacheworkshop/internal/testapp"
	"cacheworkshop/models"
)

// A cataloguePage is one page a write must refresh, with what it must
// show afterwards. status is the status it must answer then (200 unless
// set).
type cataloguePage struct {
	path   string
	status int
	shows  func(body string) bool
	what   string
}

// warm caches every page in every mode: it reads each until it is a HIT,
// so that the write under test has cached copies to make stale.
func warm(t *testing.T, a *testapp.App, paths ...string) {
	t.Helper()
	for _, mode := range modes {
		for _, p := range paths {
			for i := 0; ; i++ {
				r := a.Get(inMode(p, mode))
				if r.Status != 200 {
					t.Fatalf("warm-up %s in %s: status %d", p, mode, r.Status)
				}
				if mode == "none" || r.Header.Get("X-Cache") == "HIT" {
					break
				}
				if i == 3 {
					t.Fatalf("warm-up %s in %s: no HIT after %d reads (X-Cache %s)", p, mode, i+1, r.Header.Get("X-Cache"))
				}
			}
		}
	}
}

// checkFresh reads every page once in every mode right after a write: each
// must show the write, and in memory and Redis mode be a MISS, since it
// was a HIT before and the write made its entry stale.
func checkFresh(t *testing.T, a *testapp.App, pages []cataloguePage) {
	t.Helper()
	for _, mode := range modes {
		// The first read of a canonical URL rebuilds it; page 1 given
		// twice ("?page=1" is the bare path's key) is a HIT the second
		// time.
		read := map[string]bool{}
		for _, p := range pages {
			canon := strings.TrimSuffix(p.path, "?page=1")
			first := !read[canon]
			read[canon] = true
			r := a.Get(inMode(p.path, mode))
			want := p.status
			if want == 0 {
				want = 200
			}
			if r.Status != want {
				t.Errorf("%s in %s: status got %d, want %d", p.path, mode, r.Status, want)
				continue
			}
			if want == 200 && first && mode != "none" && r.Header.Get("X-Cache") != "MISS" {
				t.Errorf("%s in %s: X-Cache got %q, want MISS (its cached copy was not made stale)", p.path, mode, r.Header.Get("X-Cache"))
			}
			if p.shows != nil && !p.shows(r.Body) {
				t.Errorf("%s in %s (X-Cache %s): does not show %s", p.path, mode, r.Header.Get("X-Cache"), p.what)
			}
		}
	}
}

func contains(subs ...string) func(string) bool {
	return func(body string) bool {
		for _, s := range subs {
			if !strings.Contains(body, s) {
				return false
			}
		}
		return true
	}
}

func lacks(sub string, then func(string) bool) func(string) bool {
	return func(body string) bool { return !strings.Contains(body, sub) && (then == nil || then(body)) }
}

func catPath(c string) string { return "/categories/" + models.CategorySlug(c) }

func homeCount(c string, n int64) string {
	return fmt.Sprintf(`<td>%s</td><td class="num">%d</td>`, templateEscape(c), n)
}

func countLine(c string, n int64) string {
	return fmt.Sprintf(`<strong class="category-count">%d</strong> products in %s`, n, templateEscape(c))
}

// anotherIn is a product of category c other than not.
func anotherIn(t *testing.T, a *testapp.App, c string, not int64) int64 {
	t.Helper()
	ps, err := a.Store.ListCategory(context.Background(), c, 0, 2)
	if err != nil || len(ps) < 2 {
		t.Fatalf("products of %s: %v, %v", c, ps, err)
	}
	if ps[0].ID != not {
		return ps[0].ID
	}
	return ps[1].ID
}

func pageOf(pos int64) int64 { return pos/20 + 1 }

// TestCreateInvalidatesEveryMode creates a product in each mode and checks
// that the first read of every page it changes, in every mode, shows it:
// the list's total and last page, the JSON list, the home page's and the
// category page's counts, the category's page that gains the row, and the
// price ranks of the category's other products.
func TestCreateInvalidatesEveryMode(t *testing.T) {
	a := testapp.New(t)
	for i, writeMode := range modes {
		t.Run("create in "+writeMode, func(t *testing.T) {
			cat := models.Categories[i]
			n, total := count(a, cat), count(a, "")
			lastList := (total + 19) / 20
			gainPage := (n + 1 + 19) / 20
			other := anotherIn(t, a, cat, 0)
			listPath := fmt.Sprintf("/products?page=%d", lastList)
			apiPath := fmt.Sprintf("/api/products?page=%d", lastList)
			gainPath := fmt.Sprintf("%s?page=%d", catPath(cat), gainPage)
			detail := fmt.Sprintf("/products/%d", other)
			paths := []string{"/", listPath, apiPath, "/api/data", catPath(cat), detail}
			if gainPage == (n+19)/20 {
				paths = append(paths, gainPath)
			}
			warm(t, a, paths...)

			name := "Created in " + writeMode + " mode"
			r := a.Post("/products/new?cache="+writeMode, newForm(map[string]string{"name": name, "category": cat}))
			if r.Status != 303 {
				t.Fatalf("create: got %d, want 303: %.300s", r.Status, r.Body)
			}
			id := strings.TrimPrefix(r.Header.Get("Location"), "/products/")
			checkFresh(t, a, []cataloguePage{
				{path: "/", shows: contains(homeCount(cat, n+1)), what: fmt.Sprintf("%s with %d products", cat, n+1)},
				{path: listPath, shows: contains(fmt.Sprintf("%d products · page %d of", total+1, lastList)), what: fmt.Sprintf("the total %d", total+1)},
				{path: apiPath, shows: contains(fmt.Sprintf(`"total":%d`, total+1)), what: "the new total"},
				{path: "/api/data", shows: contains(fmt.Sprintf(`"products":%d`, total+1)), what: "the new total"},
				{path: catPath(cat), shows: contains(countLine(cat, n+1)), what: "the new count"},
				{path: gainPath, shows: contains(`href="/products/`+id+`"`, ">"+name+"</a>"), what: "the new product's row"},
				{path: detail, shows: contains(fmt.Sprintf(" of %d in ", n+1)), what: "the rank among one more product"},
			})
		})
	}
}

// TestDeleteInvalidatesEveryMode deletes a product of list page 2 in each
// mode: its pages are 404s in every mode at once, and every page it
// shifted shows the shift on its first read: the next product moves up
// from page 3 to page 2, the category's count and rows drop it, the home
// page's count and the category's ranks follow.
func TestDeleteInvalidatesEveryMode(t *testing.T) {
	a := testapp.New(t)
	for i, writeMode := range modes {
		t.Run("delete in "+writeMode, func(t *testing.T) {
			id := int64(25 + 3*i)
			p := a.Product(id)
			n := count(a, p.Category)
			catPos, err := a.Store.Position(context.Background(), id, p.Category)
			if err != nil {
				t.Fatal(err)
			}
			catPage := fmt.Sprintf("%s?page=%d", catPath(p.Category), pageOf(catPos))
			other := anotherIn(t, a, p.Category, id)
			detail := fmt.Sprintf("/products/%d", other)
			self := fmt.Sprintf("/products/%d", id)
			apiSelf := fmt.Sprintf("/api/products/%d", id)
			warm(t, a, self, apiSelf, "/products?page=2", "/products?page=3", "/", catPath(p.Category), catPage, detail)
			// The first row of page 3 moves up to page 2.
			third, err := a.Store.List(context.Background(), 40, 1)
			if err != nil {
				t.Fatal(err)
			}
			moved := `href="/products/` + strconv.FormatInt(third[0].ID, 10) + `"`

			r := a.Post("/products/"+strconv.FormatInt(id, 10)+"/delete?cache="+writeMode, deleteForm(p))
			if r.Status != 303 {
				t.Fatalf("delete: got %d, want 303: %.300s", r.Status, r.Body)
			}
			gone := `href="/products/` + strconv.FormatInt(id, 10) + `"`
			checkFresh(t, a, []cataloguePage{
				{path: self, status: 404},
				{path: apiSelf, status: 404},
				{path: self + "/edit", status: 404},
				{path: "/products?page=2", shows: lacks(gone, contains(moved)), what: "no deleted row, and the row moved up from page 3"},
				{path: "/products?page=3", shows: lacks(moved, nil), what: "page 3 without the row that moved up"},
				{path: "/", shows: contains(homeCount(p.Category, n-1)), what: "the new count"},
				{path: catPath(p.Category), shows: lacks(gone, contains(countLine(p.Category, n-1))), what: "the new count, without the deleted row"},
				{path: catPage, shows: lacks(gone, nil), what: "the category page without the deleted row"},
				{path: detail, shows: contains(fmt.Sprintf(" of %d in ", n-1)), what: "the rank among one product fewer"},
			})
		})
	}
}

// TestMoveInvalidatesBothCategories moves a product to another category
// by an edit in each mode: both categories' pages and counts are fresh in
// every mode at once, and a third category's pages stay cached.
func TestMoveInvalidatesBothCategories(t *testing.T) {
	a := testapp.New(t)
	for i, writeMode := range modes {
		t.Run("move in "+writeMode, func(t *testing.T) {
			from, to, untouched := models.Categories[i], models.Categories[i+3], models.Categories[7]
			first, err := a.Store.ListCategory(context.Background(), from, 0, 1)
			if err != nil {
				t.Fatal(err)
			}
			p := first[0]
			nFrom, nTo, nUntouched := count(a, from), count(a, to), count(a, untouched)
			pos, err := a.Store.Position(context.Background(), p.ID, to)
			if err != nil {
				t.Fatal(err)
			}
			toPage := fmt.Sprintf("%s?page=%d", catPath(to), pageOf(pos))
			self := fmt.Sprintf("/products/%d", p.ID)
			warm(t, a, catPath(from), catPath(to), toPage, catPath(untouched), "/", self)

			r := a.Post(self+"/edit?cache="+writeMode, testapp.EditForm(p, map[string]string{"category": to}))
			if r.Status != 303 {
				t.Fatalf("move: got %d, want 303: %.300s", r.Status, r.Body)
			}
			row := `href="/products/` + strconv.FormatInt(p.ID, 10) + `"`
			checkFresh(t, a, []cataloguePage{
				{path: catPath(from), shows: lacks(row, contains(countLine(from, nFrom-1))), what: "one product fewer, without the moved row"},
				{path: catPath(to), shows: contains(countLine(to, nTo+1)), what: "one product more"},
				{path: toPage, shows: contains(row, countLine(to, nTo+1)), what: "the moved row"},
				{path: "/", shows: contains(homeCount(from, nFrom-1), homeCount(to, nTo+1)), what: "both new counts"},
				{path: self, shows: contains(`<a href="` + catPath(to) + `">` + templateEscape(to) + `</a>`), what: "the link to its new category"},
			})
			for _, mode := range []string{"memory", "redis"} {
				r := a.Get(inMode(catPath(untouched), mode))
				if got := r.Header.Get("X-Cache"); got != "HIT" {
					t.Errorf("%s in %s after a move between two other categories: X-Cache got %q, want HIT", catPath(untouched), mode, got)
				}
				if !strings.Contains(r.Body, countLine(untouched, nUntouched)) {
					t.Errorf("%s in %s: the count changed", catPath(untouched), mode)
				}
			}
		})
	}
}

// TestDeleteWhileRedisDown: a delete made while redis-server is down
// succeeds, Redis-mode pages answer from the database meanwhile, and once
// Redis is back (restarted empty) and has been sent every change, Redis
// mode caches again and never shows the deleted product.
func TestDeleteWhileRedisDown(t *testing.T) {
	a := testapp.New(t)
	warm(t, a, "/products/9", "/products?page=1")
	a.RedisServer.Stop()
	r := a.Post("/products/9/delete?cache=redis", deleteForm(a.Product(9)))
	if r.Status != 303 {
		t.Fatalf("delete with Redis down: got %d, want 303", r.Status)
	}
	if body := a.Get("/products?page=1", "Cookie", flashOf(r)).Body; !strings.Contains(body, "could not apply change") {
		t.Error("the flash does not say Redis has not applied the change yet")
	}
	if r := a.Get("/products?page=1&cache=redis"); r.Status != 200 || strings.Contains(r.Body, `href="/products/9"`) {
		t.Errorf("list in Redis mode with Redis down: got %d, or it still shows #9", r.Status)
	}
	a.RedisServer.Restart()
	deadline := time.Now().Add(5 * time.Second)
	for {
		l := a.Get("/products?page=1&cache=redis")
		d := a.Get("/products/9?cache=redis")
		if strings.Contains(l.Body, `href="/products/9"`) || d.Status != 404 {
			t.Fatalf("after Redis returned: list shows #9 or detail answers %d (X-Cache %s)", d.Status, l.Header.Get("X-Cache"))
		}
		if l.Header.Get("X-Cache") == "HIT" || l.Header.Get("X-Cache") == "MISS" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Redis-mode pages did not use Redis again within 5 s (X-Cache %s)", l.Header.Get("X-Cache"))
		}
		time.Sleep(100 * time.Millisecond)
	}
}
