package e2e_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestCatalogueBrowser walks a product's life as a learner does, through
// the pages' own links and forms in one real server: create it from the
// list's "New product" link, find it on its category's page, move it to
// another category from its edit page, and delete it there. After each
// write, every cached copy of the pages it changed is checked in every
// mode on its very next load.
func TestCatalogueBrowser(t *testing.T) {
	chromiumPath(t)
	srv := startServer(t)
	br := startBrowser(t, srv.URL)
	tb := br.newTab(t)
	const name = "Browser Test Kite"

	for _, m := range modes {
		warm(t, tb.base, "/categories/toys", m)
		warm(t, tb.base, "/categories/garden", m)
	}
	toysBefore := countOn(t, tb, "/categories/toys?cache=none")
	gardenBefore := countOn(t, tb, "/categories/garden?cache=none")

	// A bad form first: the 422 keeps what was typed and creates nothing.
	tb.open("/products?cache=memory", http.StatusOK)
	tb.click(`a[href="/products/new"]`, http.StatusOK)
	if got := tb.path(); got != "/products/new" {
		t.Fatalf("New product link: got %s, want /products/new", got)
	}
	tb.allow("status of 422")
	tb.typeInto("#name", name)
	tb.typeInto("#price", "twelve")
	tb.click(`form.form button[type="submit"]`, http.StatusUnprocessableEntity)
	if !tb.has("#price-error") || !tb.has("#category-error") {
		t.Errorf("the refused form does not mark the price and the category")
	}
	if got := tb.value("#name"); got != name {
		t.Errorf("the refused form lost the name: got %q", got)
	}

	// Create.
	tb.typeInto("#price", "24.50")
	tb.typeInto("#stock", "12")
	tb.do("pick Toys", chromedp.SetValue(chromedp.CSS("#category"), "Toys"))
	tb.click(`form.form button[type="submit"]`, http.StatusOK)
	id := strings.TrimPrefix(tb.path(), "/products/")
	if id != "1001" {
		t.Fatalf("after creating: got URL %s, want /products/1001", tb.path())
	}
	if got := tb.text(".flash"); !strings.Contains(got, "Created #1001") || !strings.Contains(got, "raised to change") {
		t.Errorf("flash after creating: got %q", got)
	}
	if got := tb.text("h1"); got != name {
		t.Errorf("detail of the new product: got %q, want %q", got, name)
	}
	tb.shot("product-created")
	tb.click(`nav.crumbs a[href="/categories/toys"]`, http.StatusOK)
	showsProduct(t, tb, "toys", id, name, toysBefore+1, true)
	for _, m := range modes {
		tb.open("/categories/toys?cache="+m, http.StatusOK)
		if got, want := tb.outcome(), map[string]string{"none": "BYPASS", "memory": "MISS", "redis": "MISS", "tiered": "MISS"}[m]; got != want && !(m == "memory" && got == "HIT") {
			// The crumb's click loaded Toys in memory mode already.
			t.Errorf("Toys in %s after the create: got %s, want %s", m, got, want)
		}
		showsProduct(t, tb, "toys", id, name, toysBefore+1, true)
	}
	tb.shot("category-toys")
	for _, m := range modes {
		warm(t, tb.base, "/categories/toys", m)
	}

	// Move it to Garden from its edit page.
	tb.open("/products/"+id+"?cache=memory", http.StatusOK)
	tb.click(`a[href="/products/`+id+`/edit"]`, http.StatusOK)
	tb.do("pick Garden", chromedp.SetValue(chromedp.CSS("#category"), "Garden"))
	tb.click(`form.form button[type="submit"]`, http.StatusOK)
	if got := tb.text(".flash"); !strings.Contains(got, "category:toys") || !strings.Contains(got, "category:garden") {
		t.Errorf("flash after the move does not name both categories' generations: %q", got)
	}
	for _, m := range modes {
		tb.open("/categories/garden?cache="+m, http.StatusOK)
		if got := tb.outcome(); m != "none" && got != "MISS" {
			t.Errorf("Garden in %s after the move: got %s, want MISS", m, got)
		}
		showsProduct(t, tb, "garden", id, name, gardenBefore+1, true)
		tb.open("/categories/toys?cache="+m, http.StatusOK)
		if got := tb.outcome(); m != "none" && got != "MISS" {
			t.Errorf("Toys in %s after the move: got %s, want MISS", m, got)
		}
		showsProduct(t, tb, "toys", id, name, toysBefore, false)
	}
	for _, m := range modes {
		warm(t, tb.base, "/products/"+id, m)
		warm(t, tb.base, "/categories/garden", m)
	}

	// Delete it, confirming on the edit page.
	tb.open("/products/"+id+"/edit", http.StatusOK)
	if tb.has(`details.delete[open]`) {
		t.Error("the delete confirmation is open before the learner asks for it")
	}
	tb.do("open the delete confirmation", chromedp.Click(chromedp.CSS("details.delete > summary"), chromedp.NodeVisible))
	tb.click(`details.delete button[type="submit"]`, http.StatusOK)
	if got := tb.path(); !strings.HasPrefix(got, "/products?page=") {
		t.Errorf("after deleting: got URL %s, want a list page", got)
	}
	flash := tb.text(".flash")
	for _, want := range []string{"Deleted #" + id, "No cache key was deleted", "generation list"} {
		if !strings.Contains(flash, want) {
			t.Errorf("flash after deleting lacks %q: %q", want, flash)
		}
	}
	tb.shot("product-deleted")
	tb.allow("status of 404")
	for _, m := range modes {
		tb.open("/products/"+id+"?cache="+m, http.StatusNotFound)
		if got := tb.text("main"); !strings.Contains(got, "There is no product "+id) {
			t.Errorf("deleted product in %s: got %q", m, got)
		}
		tb.open("/categories/garden?cache="+m, http.StatusOK)
		showsProduct(t, tb, "garden", id, name, gardenBefore, false)
	}

	// The new pages fit a phone.
	tb.do("phone viewport", chromedp.EmulateViewport(390, 844))
	for _, path := range []string{"/products/new", "/categories/home-kitchen?cache=memory", "/products/7/edit"} {
		tb.open(path, http.StatusOK)
		if w := eval[int](tb, `document.documentElement.scrollWidth - window.innerWidth`); w > 1 {
			t.Errorf("%s at 390 px: the page is %d px wider than the screen", path, w)
		}
	}
}

// countOn opens a category page and reads the count it shows.
func countOn(t *testing.T, tb *tab, path string) int {
	t.Helper()
	tb.open(path, http.StatusOK)
	n := eval[int](tb, `Number(document.querySelector(".category-count").textContent)`)
	if n < 1 {
		t.Fatalf("%s shows no count", path)
	}
	return n
}

// showsProduct checks the open category page: its count, and whether the
// product's row is there (the product is among its first 20 by id, or
// last, so page 1 or the last page shows it).
func showsProduct(t *testing.T, tb *tab, slug, id, name string, count int, want bool) {
	t.Helper()
	if got := eval[int](tb, `Number(document.querySelector(".category-count").textContent)`); got != count {
		t.Errorf("/categories/%s (%s): got count %d, want %d", slug, tb.path(), got, count)
	}
	last := eval[string](tb, `(() => { const a = [...document.querySelectorAll("nav.pager[aria-label=Pages] ol a")].pop(); return a ? a.getAttribute("href") : ""; })()`)
	if last != "" && !strings.Contains(tb.path(), "page=") {
		tb.open(last, http.StatusOK)
	}
	row := tb.listRow(id)
	if row.OK != want || (want && row.Name != name) {
		t.Errorf("/categories/%s: got row %+v for #%s, want present=%v named %q", slug, row, id, want, name)
	}
}
