package e2e_test

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"cacheworkshop/models"
)

// pageProbes are probes that path, in every mode on every instance given,
// answers status and, for a 200, shows what check accepts.
func pageProbes(ins []*instance, path string, status int, what string, check func(body string) bool) []probe {
	var ps []probe
	for _, in := range ins {
		for _, m := range modes {
			v := view{in: in, path: path, mode: m}
			ps = append(ps, probe{name: v.String() + " " + what, read: func() (bool, string, error) {
				r, err := in.do(http.MethodGet, v.url(), nil)
				if err != nil {
					return false, "", err
				}
				saw := fmt.Sprintf("status %d, X-Cache %s", r.Status, r.Header.Get("X-Cache"))
				// Before the change arrives a page answers as it did (200,
				// or 404 for a product not created yet); anything else is
				// a failure, not staleness.
				if r.Status != http.StatusOK && r.Status != http.StatusNotFound {
					return false, saw, fmt.Errorf("%s: status %d, want %d", v, r.Status, status)
				}
				return r.Status == status && (check == nil || check(r.Body)), saw, nil
			}})
		}
	}
	return ps
}

// warmPaths caches every path in every mode on every instance.
func warmPaths(t *testing.T, ins []*instance, paths ...string) {
	t.Helper()
	for _, in := range ins {
		for _, p := range paths {
			warmViews(t, []view{{in: in, path: p, mode: "memory", shows: anyBody}, {in: in, path: p, mode: "redis", shows: anyBody}}, "")
		}
	}
}

func anyBody(string, string) bool { return true }

var categoryCount = regexp.MustCompile(`<strong class="category-count">(\d+)</strong>`)

// countOf reads a category page's count, from the database (mode none).
func countOf(t *testing.T, in *instance, slug string) int {
	t.Helper()
	m := categoryCount.FindStringSubmatch(in.get(t, "/categories/"+slug+"?cache=none").Body)
	if m == nil {
		t.Fatalf("/categories/%s shows no count", slug)
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

func showsCount(n int) func(string) bool {
	return func(body string) bool {
		return strings.Contains(body, `<strong class="category-count">`+strconv.Itoa(n)+`</strong>`)
	}
}

// TestInstancesCatalogueChanges: a create, a delete and a move made
// through instance A are seen by instance B, a second process sharing the
// database and Redis, in every mode within freshBound, although B had
// every page they change cached in memory and in Redis.
func TestInstancesCatalogueChanges(t *testing.T) {
	t.Parallel()
	c := newCluster(t)
	a, b := c.start(t, "A"), c.start(t, "B")
	ins := []*instance{a, b}
	toys, garden := countOf(t, a, "toys"), countOf(t, a, "garden")
	warmPaths(t, ins, "/categories/toys", "/categories/garden", "/products?page=50", "/api/products?page=50", "/")

	// Create a product in Toys through A.
	name := nm("created", 1)
	r, err := a.do(http.MethodPost, "/products/new", url.Values{"name": {name}, "description": {""}, "category": {"Toys"},
		"price": {"9.99"}, "stock": {"3"}})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Now()
	if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/products/1001" {
		t.Fatalf("create on A: got %d to %q, want 303 to /products/1001", r.Status, r.Header.Get("Location"))
	}
	var ps []probe
	ps = append(ps, pageProbes(ins, "/categories/toys", 200, "counts one more", showsCount(toys+1))...)
	ps = append(ps, pageProbes(ins, "/products?page=50", 200, "shows 1001 products", func(body string) bool {
		return strings.Contains(body, "1001 products · page 50 of 51")
	})...)
	ps = append(ps, pageProbes(ins, "/api/products?page=50", 200, "totals 1001", func(body string) bool {
		return strings.Contains(body, `"total":1001`)
	})...)
	ps = append(ps, pageProbes(ins, "/", 200, "counts one more toy", func(body string) bool {
		return strings.Contains(body, fmt.Sprintf(`<td>Toys</td><td class="num">%d</td>`, toys+1))
	})...)
	ps = append(ps, pageProbes(ins, "/products/1001", 200, "shows the new product", func(body string) bool { return showsHTMLCard(body, name) })...)
	f := await(t, "after a create on A", ps, at, freshBound, 200*time.Millisecond)
	t.Logf("create: every view on both instances fresh within %v", f.max.Round(time.Millisecond))

	// Delete product 5 through A, with its pages cached everywhere.
	p5 := a.product(t, 5)
	slug5 := models.CategorySlug(p5.Category)
	n5 := countOf(t, a, slug5)
	warmPaths(t, ins, "/products/5", "/api/products/5", "/products?page=1", "/products?page=2", "/categories/"+slug5)
	moved, err := a.do(http.MethodGet, "/api/products?page=2&cache=none", nil)
	if err != nil {
		t.Fatal(err)
	}
	first := regexp.MustCompile(`"id":(\d+)`).FindStringSubmatch(moved.Body)[1] // page 2's first row moves up to page 1
	r, err = a.do(http.MethodPost, "/products/5/delete", url.Values{"version": {strconv.FormatInt(p5.Version, 10)}})
	if err != nil {
		t.Fatal(err)
	}
	at = time.Now()
	if r.Status != http.StatusSeeOther {
		t.Fatalf("delete on A: got %d, want 303: %.300s", r.Status, r.Body)
	}
	ps = nil
	ps = append(ps, pageProbes(ins, "/products/5", 404, "is a 404", nil)...)
	ps = append(ps, pageProbes(ins, "/api/products/5", 404, "is a 404", nil)...)
	ps = append(ps, pageProbes(ins, "/products?page=1", 200, "drops #5 and gains #"+first, func(body string) bool {
		return !strings.Contains(body, `href="/products/5"`) && strings.Contains(body, `href="/products/`+first+`"`)
	})...)
	ps = append(ps, pageProbes(ins, "/products?page=2", 200, "lost #"+first+" to page 1", func(body string) bool {
		return !strings.Contains(body, `href="/products/`+first+`"`)
	})...)
	ps = append(ps, pageProbes(ins, "/categories/"+slug5, 200, "counts one fewer, without #5", func(body string) bool {
		return showsCount(n5-1)(body) && !strings.Contains(body, `href="/products/5"`)
	})...)
	f = await(t, "after a delete on A", ps, at, freshBound, 200*time.Millisecond)
	t.Logf("delete: every view on both instances fresh within %v", f.max.Round(time.Millisecond))

	// Move the new product from Toys to Garden through A.
	toys, garden = countOf(t, a, "toys"), countOf(t, a, "garden")
	warmPaths(t, ins, "/categories/toys", "/categories/garden")
	at = a.edit(t, 1001, map[string]string{"category": "Garden"})
	ps = nil
	ps = append(ps, pageProbes(ins, "/categories/toys", 200, "counts one fewer", showsCount(toys-1))...)
	ps = append(ps, pageProbes(ins, "/categories/garden", 200, "counts one more", showsCount(garden+1))...)
	ps = append(ps, pageProbes(ins, "/products/1001", 200, "links to Garden", func(body string) bool {
		return strings.Contains(body, `<dd><a href="/categories/garden">Garden</a></dd>`)
	})...)
	f = await(t, "after a move on A", ps, at, freshBound, 200*time.Millisecond)
	t.Logf("move: every view on both instances fresh within %v", f.max.Round(time.Millisecond))
}
