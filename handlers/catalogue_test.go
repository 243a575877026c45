package handlers_test

import (
	"context"
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"cacheworkshop/app"
	"cacheworkshop/internal/testapp"
	"cacheworkshop/models"
)

// newForm is a valid new-product form with changes applied.
func newForm(changes map[string]string) url.Values {
	v := url.Values{"name": {"Workshop Test Lamp"}, "description": {"A lamp made in a test."}, "category": {"Books"},
		"price": {"12.34"}, "stock": {"5"}}
	for k, val := range changes {
		v.Set(k, val)
	}
	return v
}

// deleteForm is the delete form of p as the edit page renders it.
func deleteForm(p models.Product) url.Values {
	return url.Values{"version": {strconv.FormatInt(p.Version, 10)}}
}

// count reads the number of products, or of one category's, from the
// database.
func count(a *testapp.App, category string) int64 {
	a.T.Helper()
	var n int64
	var err error
	if category == "" {
		n, err = a.Store.Count(context.Background())
	} else {
		n, err = a.Store.CategoryCount(context.Background(), category)
	}
	if err != nil {
		a.T.Fatal(err)
	}
	return n
}

// inMode is path with ?cache=mode added.
func inMode(path, mode string) string {
	if strings.Contains(path, "?") {
		return path + "&cache=" + mode
	}
	return path + "?cache=" + mode
}

// flashOf is the flash cookie a response sets, ready to send back.
func flashOf(r *testapp.Resp) string {
	for _, c := range r.Header.Values("Set-Cookie") {
		if strings.HasPrefix(c, "flash=") {
			return strings.SplitN(c, ";", 2)[0]
		}
	}
	return ""
}

func TestNewProductForm(t *testing.T) {
	a := testapp.New(t)
	for _, mode := range modes {
		r := a.Get("/products/new?cache=" + mode)
		if r.Status != 200 {
			t.Fatalf("%s: status got %d, want 200", mode, r.Status)
		}
		testapp.CheckTiming(t, r, mode, "BYPASS")
		for _, want := range []string{`action="/products/new"`, `name="name"`, `name="price"`, `name="stock"`,
			`name="category"`, `name="description"`, "<option>Home &amp; Kitchen</option>", "Pick a category"} {
			if !strings.Contains(r.Body, want) {
				t.Errorf("%s: the form lacks %q", mode, want)
			}
		}
		if strings.Contains(r.Body, `name="version"`) || strings.Contains(r.Body, `name="admin_token"`) {
			t.Errorf("%s: a new product's form has a version or an admin token field", mode)
		}
		if got := r.Header.Get("Cache-Control"); got != "no-store" {
			t.Errorf("%s: Cache-Control got %q, want no-store", mode, got)
		}
	}
	if body := a.Get("/products").Body; !strings.Contains(body, `href="/products/new"`) {
		t.Error("the list page has no New product link")
	}
}

func TestCreateProduct(t *testing.T) {
	a := testapp.New(t)
	r := a.Post("/products/new", newForm(map[string]string{"name": "  Created lamp  ", "category": "Home & Kitchen", "price": "$1,234.5"}))
	if r.Status != 303 || r.Header.Get("Location") != "/products/1001" {
		t.Fatalf("create: got %d to %q, want 303 to /products/1001; body %.300s", r.Status, r.Header.Get("Location"), r.Body)
	}
	p := a.Product(1001)
	if p.Name != "Created lamp" || p.Category != "Home & Kitchen" || p.Price != 123450 || p.Stock != 5 || p.Version != 1 {
		t.Errorf("stored: got %+v, want Created lamp, Home & Kitchen, 123450, stock 5, version 1", p)
	}
	if n := count(a, ""); n != 1001 {
		t.Errorf("count after a create: got %d, want 1001", n)
	}
	fl := flashOf(r)
	if fl == "" {
		t.Fatal("no flash after a create")
	}
	d := a.Get("/products/1001", "Cookie", fl)
	for _, want := range []string{"Created #1001", "raised to change", "list page 51", "/categories/home-kitchen"} {
		if !strings.Contains(d.Body, want) {
			t.Errorf("the creator's next page lacks %q", want)
		}
	}
	for _, mode := range modes {
		if r := a.Get("/products/1001?cache=" + mode); r.Status != 200 || !strings.Contains(r.Body, "<h1>Created lamp</h1>") {
			t.Errorf("%s: detail of the new product: got %d", mode, r.Status)
		}
		if r := a.Get("/products?page=51&cache=" + mode); r.Status != 200 || !strings.Contains(r.Body, `href="/products/1001"`) {
			t.Errorf("%s: list page 51 does not show the new product (status %d)", mode, r.Status)
		}
	}
}

func TestCreateValidation(t *testing.T) {
	a := testapp.New(t)
	tests := []struct {
		name    string
		changes map[string]string
		message string
	}{
		{"empty name", map[string]string{"name": " "}, "Name is required"},
		{"long name", map[string]string{"name": strings.Repeat("n", 201)}, "at most 200"},
		{"control characters", map[string]string{"name": "a\x00b"}, "control characters"},
		{"invisible character", map[string]string{"name": "Lamp\u202egpj"}, "right-to-left override"},
		{"no price", map[string]string{"price": ""}, "Price is required"},
		{"negative price", map[string]string{"price": "-1"}, "Price must be a number"},
		{"three decimals", map[string]string{"price": "1.234"}, "at most two decimals"},
		{"stock words", map[string]string{"stock": "ten"}, "Stock must be a whole number"},
		{"no category", map[string]string{"category": ""}, "Pick one of the listed categories"},
		{"unknown category", map[string]string{"category": "Weapons"}, "Pick one of the listed categories"},
		{"long description", map[string]string{"description": strings.Repeat("d", 5001)}, "at most 5,000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := a.Post("/products/new", newForm(tt.changes))
			if r.Status != 422 {
				t.Fatalf("status got %d, want 422", r.Status)
			}
			if !strings.Contains(r.Body, tt.message) {
				t.Errorf("body lacks %q", tt.message)
			}
			for k, v := range tt.changes {
				if k != "category" && len(v) < 300 && !strings.ContainsAny(v, "\x00\u202e") && !strings.Contains(r.Body, v) {
					t.Errorf("the form lost the %s the user typed, %q", k, v)
				}
			}
			if n := count(a, ""); n != 1000 {
				t.Errorf("a refused create changed the count to %d", n)
			}
		})
	}
}

func TestDeleteProduct(t *testing.T) {
	a := testapp.New(t)
	p := a.Product(5)
	for _, mode := range modes {
		for range 2 {
			for _, path := range []string{"/products/5", "/api/products/5", "/products?page=1"} {
				a.Get(inMode(path, mode))
			}
		}
	}
	edit := a.Get("/products/5/edit")
	for _, want := range []string{`action="/products/5/delete"`, `name="version" value="1"`, "Yes, delete #5"} {
		if !strings.Contains(edit.Body, want) {
			t.Errorf("the edit page's delete form lacks %q", want)
		}
	}
	r := a.Post("/products/5/delete", deleteForm(p))
	if r.Status != 303 || r.Header.Get("Location") != "/products?page=1" {
		t.Fatalf("delete: got %d to %q, want 303 to /products?page=1; body %.300s", r.Status, r.Header.Get("Location"), r.Body)
	}
	// Browsers drop a cookie over 4096 bytes, and the message with it.
	if n := len(flashOf(r)); n > 4000 {
		t.Errorf("the flash cookie is %d bytes, over what a browser keeps", n)
	}
	t.Logf("flash cookie after a delete: %d bytes", len(flashOf(r)))
	next := a.Get("/products?page=1", "Cookie", flashOf(r))
	for _, want := range []string{"Deleted #5", "raised to change", "No cache key was deleted", "pages 1 to 50 all show different rows",
		"#21 moved up from page 2 to the end of page 1", "999 products on 50 pages"} {
		if !strings.Contains(next.Body, want) {
			t.Errorf("the deleter's next page lacks %q", want)
		}
	}
	for _, mode := range modes {
		for _, path := range []string{"/products/5", "/api/products/5", "/products/5/edit"} {
			if got := a.Get(path + "?cache=" + mode); got.Status != 404 {
				t.Errorf("%s %s after the delete: status got %d, want 404", mode, path, got.Status)
			}
		}
		l := a.Get("/products?page=1&cache=" + mode)
		if strings.Contains(l.Body, `href="/products/5"`) || !strings.Contains(l.Body, `href="/products/21"`) {
			t.Errorf("%s: list page 1 still shows #5 or lacks #21 (X-Cache %s)", mode, l.Header.Get("X-Cache"))
		}
	}
	if r := a.Post("/products/5/delete", deleteForm(p)); r.Status != 404 {
		t.Errorf("deleting it again: got %d, want 404", r.Status)
	}
	if r := a.Post("/products/5/edit", testapp.EditForm(p, nil)); r.Status != 404 {
		t.Errorf("editing it: got %d, want 404", r.Status)
	}
	if n := count(a, ""); n != 999 {
		t.Errorf("count: got %d, want 999", n)
	}
}

// TestDeleteConflict: a delete at a version someone has saved over deletes
// nothing, like a stale edit.
func TestDeleteConflict(t *testing.T) {
	a := testapp.New(t)
	p := a.Product(6)
	if r := a.Post("/products/6/edit", testapp.EditForm(p, map[string]string{"name": "Saved meanwhile"})); r.Status != 303 {
		t.Fatalf("edit: got %d", r.Status)
	}
	r := a.Post("/products/6/delete", deleteForm(p))
	if r.Status != 409 {
		t.Fatalf("stale delete: got %d, want 409", r.Status)
	}
	if !strings.Contains(r.Body, "now version 2") || !strings.Contains(r.Body, "Nothing was deleted") {
		t.Errorf("409 page does not explain the conflict: %.400s", r.Body)
	}
	if got := a.Product(6); got.Name != "Saved meanwhile" {
		t.Errorf("after a stale delete: got %q", got.Name)
	}
}

// TestIDsNeverReused: a new product never takes the id of a deleted one,
// the newest included, so no fragment cached under "id:v1" can come back
// with another product's content.
func TestIDsNeverReused(t *testing.T) {
	a := testapp.New(t)
	create := func(name string) string {
		t.Helper()
		r := a.Post("/products/new", newForm(map[string]string{"name": name}))
		if r.Status != 303 {
			t.Fatalf("create %s: got %d", name, r.Status)
		}
		return r.Header.Get("Location")
	}
	if got := create("First"); got != "/products/1001" {
		t.Fatalf("first create: got %s, want /products/1001", got)
	}
	for _, mode := range modes {
		a.Get("/products?page=51&cache=" + mode)
	}
	r := a.Post("/products/1001/delete", deleteForm(a.Product(1001)))
	if r.Status != 303 || r.Header.Get("Location") != "/products?page=50" {
		t.Fatalf("delete 1001: got %d to %q, want 303 to the new last page, /products?page=50", r.Status, r.Header.Get("Location"))
	}
	if body := a.Get("/products?page=50", "Cookie", flashOf(r)).Body; !strings.Contains(body, "alone on list page 51, which is gone now") {
		t.Error("the flash does not say the deleted product was alone on the last page")
	}
	if r := a.Post("/products/1000/delete", deleteForm(a.Product(1000))); r.Status != 303 {
		t.Fatalf("delete 1000: got %d", r.Status)
	}
	if got := create("Second"); got != "/products/1002" {
		t.Errorf("create after deleting the newest: got %s, want /products/1002", got)
	}
	for _, mode := range modes {
		r := a.Get("/products?page=50&cache=" + mode)
		if strings.Contains(r.Body, ">First</a>") || !strings.Contains(r.Body, ">Second</a>") {
			t.Errorf("%s: the last list page shows a deleted product's row, or not the new one", mode)
		}
	}
}

func TestCategoryPage(t *testing.T) {
	a := testapp.New(t)
	n := count(a, "Home & Kitchen")
	for _, mode := range modes {
		for i, second := range []bool{false, true} {
			r := a.Get("/categories/home-kitchen?cache=" + mode)
			if r.Status != 200 {
				t.Fatalf("%s: status got %d, want 200", mode, r.Status)
			}
			testapp.CheckTiming(t, r, mode, testapp.WantOutcome(mode, second))
			if want := fmt.Sprintf(`<strong class="category-count">%d</strong> products in Home &amp; Kitchen`, n); !strings.Contains(r.Body, want) {
				t.Errorf("%s request %d: page lacks the count %q", mode, i, want)
			}
		}
	}
	body := a.Get("/categories/home-kitchen").Body
	ids := regexp.MustCompile(`<tr><td class="num">(\d+)</td>`).FindAllStringSubmatch(body, -1)
	if len(ids) != 20 {
		t.Fatalf("rows on page 1: got %d, want 20", len(ids))
	}
	for _, m := range ids {
		id, _ := strconv.ParseInt(m[1], 10, 64)
		if c := a.Product(id).Category; c != "Home & Kitchen" {
			t.Errorf("row #%d is in %s", id, c)
		}
	}
	last := (n + 19) / 20
	for _, want := range []string{fmt.Sprintf(`href="/categories/home-kitchen?page=%d"`, last), `href="/categories/home-kitchen?page=2"`,
		`href="/categories/books"`, `<a href="/categories/home-kitchen" aria-current="page">`} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	lastPage := a.Get(fmt.Sprintf("/categories/home-kitchen?page=%d", last))
	if got := strings.Count(lastPage.Body, `<tr><td class="num">`); int64(got) != n-(last-1)*20 {
		t.Errorf("rows on the last page: got %d, want %d", got, n-(last-1)*20)
	}
	pp := a.Get("/categories/home-kitchen?per_page=100")
	if got := strings.Count(pp.Body, `<tr><td class="num">`); int64(got) != min(n, 100) {
		t.Errorf("rows with per_page=100: got %d, want %d", got, min(n, 100))
	}
	tests := []struct {
		path   string
		status int
		want   string
	}{
		{"/categories/nothing", 404, "no category"},
		{"/categories/Books", 404, "no category"},
		{"/categories/home%20&%20kitchen", 404, "no category"},
		{"/categories/books?page=0", 400, "page must be"},
		{"/categories/books?page=abc", 400, "page must be"},
		{"/categories/books?page=1&page=2", 400, "several different values"},
		{fmt.Sprintf("/categories/books?page=%d", (count(a, "Books")+19)/20+1), 400, "page must be from 1 to"},
	}
	for _, tt := range tests {
		for _, mode := range modes {
			r := a.Get(tt.path, "Cookie", "cache_mode="+mode)
			if r.Status != tt.status || !strings.Contains(r.Body, tt.want) {
				t.Errorf("%s (%s): got %d, want %d with %q", tt.path, mode, r.Status, tt.status, tt.want)
			}
		}
	}
	// A category without products still has its page 1.
	if err := a.Store.DB().Exec(`DELETE FROM products WHERE category = 'Music'`).Error; err != nil {
		t.Fatal(err)
	}
	empty := a.Get("/categories/music?cache=none")
	if empty.Status != 200 || !strings.Contains(empty.Body, countLine("Music", 0)) || !strings.Contains(empty.Body, "Music has no products") {
		t.Errorf("an empty category: got %d, want its page 1 saying it has no products", empty.Status)
	}
	if r := a.Get("/categories/music?page=2&cache=none"); r.Status != 400 {
		t.Errorf("page 2 of an empty category: got %d, want 400", r.Status)
	}
	// Detail pages and list rows link to their category.
	p := a.Product(3)
	slug := models.CategorySlug(p.Category)
	if body := a.Get("/products/3").Body; strings.Count(body, `href="/categories/`+slug+`"`) < 2 {
		t.Errorf("the detail page of #3 does not link to /categories/%s", slug)
	}
	if body := a.Get("/products").Body; !strings.Contains(body, `<a href="/categories/`+slug+`">`+templateEscape(p.Category)+`</a></td>`) {
		t.Errorf("the list rows do not link to their category")
	}
}

func templateEscape(s string) string { return strings.ReplaceAll(s, "&", "&amp;") }

// TestCatalogueAdminToken: with EDIT_REQUIRES_ADMIN, creating and deleting
// need the token as edits do, and refused writes change nothing.
func TestCatalogueAdminToken(t *testing.T) {
	a := testapp.New(t, func(c *app.Config) { c.AdminToken, c.EditAdmin = "s3cret", true })
	for _, path := range []string{"/products/new", "/products/4/edit"} {
		if body := a.Get(path).Body; !strings.Contains(body, `name="admin_token"`) {
			t.Errorf("%s lacks the admin token field", path)
		}
	}
	for _, tok := range []string{"", "wrong"} {
		f := newForm(nil)
		d := deleteForm(a.Product(4))
		if tok != "" {
			f.Set("admin_token", tok)
			d.Set("admin_token", tok)
		}
		if r := a.Post("/products/new", f); r.Status != 403 {
			t.Errorf("create with token %q: got %d, want 403", tok, r.Status)
		}
		if r := a.Post("/products/4/delete", d); r.Status != 403 {
			t.Errorf("delete with token %q: got %d, want 403", tok, r.Status)
		}
	}
	if n := count(a, ""); n != 1000 {
		t.Fatalf("refused writes changed the count to %d", n)
	}
	f := newForm(nil)
	f.Set("admin_token", "s3cret")
	if r := a.Post("/products/new", f); r.Status != 303 {
		t.Errorf("create with the token: got %d, want 303", r.Status)
	}
	d := deleteForm(a.Product(4))
	d.Set("admin_token", "s3cret")
	if r := a.Post("/products/4/delete", d); r.Status != 303 {
		t.Errorf("delete with the token: got %d, want 303", r.Status)
	}
	// ADMIN_TOKEN alone guards the admin routes, not the catalogue.
	b := testapp.New(t, func(c *app.Config) { c.AdminToken = "s3cret" })
	if r := b.Post("/products/new", newForm(nil)); r.Status != 303 {
		t.Errorf("create with ADMIN_TOKEN but not EDIT_REQUIRES_ADMIN: got %d, want 303", r.Status)
	}
}

// TestResetRestoresCatalogue: after creates, deletes and edits, a reset
// brings back exactly the seeded catalogue: deleted products return above
// every version they had, created ones are gone, and new ids stay new.
func TestResetRestoresCatalogue(t *testing.T) {
	a := testapp.New(t)
	seeded := a.Product(7)
	if r := a.Post("/products/7/edit", testapp.EditForm(seeded, map[string]string{"name": "Edited then deleted"})); r.Status != 303 {
		t.Fatalf("edit: got %d", r.Status)
	}
	edited := a.Product(7)
	for _, mode := range modes {
		a.Get("/products?page=1&cache=" + mode)
		a.Get("/products?page=1&cache=" + mode)
	}
	if r := a.Post("/products/7/delete", deleteForm(edited)); r.Status != 303 {
		t.Fatalf("delete: got %d", r.Status)
	}
	if r := a.Post("/products/new", newForm(map[string]string{"name": "Created before reset"})); r.Status != 303 {
		t.Fatalf("create: got %d", r.Status)
	}
	if r := a.Post("/reset", url.Values{}); r.Status != 303 {
		t.Fatalf("reset: got %d", r.Status)
	}
	if n := count(a, ""); n != 1000 {
		t.Errorf("count after the reset: got %d, want 1000", n)
	}
	back := a.Product(7)
	if back.Name != seeded.Name || back.Version <= edited.Version {
		t.Errorf("#7 after the reset: got %q v%d, want %q above v%d", back.Name, back.Version, seeded.Name, edited.Version)
	}
	for _, mode := range modes {
		if r := a.Get("/products/1001?cache=" + mode); r.Status != 404 {
			t.Errorf("%s: the created product after the reset: got %d, want 404", mode, r.Status)
		}
		l := a.Get("/products?page=1&cache=" + mode)
		if !strings.Contains(l.Body, `href="/products/7"`) || strings.Contains(l.Body, "Edited then deleted") {
			t.Errorf("%s: list page 1 after the reset does not show the seeded #7", mode)
		}
	}
	if r := a.Post("/products/new", newForm(nil)); r.Header.Get("Location") != "/products/1002" {
		t.Errorf("the first create after the reset went to %q, want /products/1002", r.Header.Get("Location"))
	}
}
