package handlers_test

import (
	"cacheworkshop/internal/testapp"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// apiProduct mirrors the JSON fields the tests read.
type apiProduct struct {
	ID              int64  `json:"id"`
	Name            string `json:"name"`
	Category        string `json:"category"`
	PriceCents      int64  `json:"price_cents"`
	Version         int64  `json:"version"`
	URL             string `json:"url"`
	BuiltAt         string `json:"built_at"`
	PriceInCategory *struct {
		Rank int64 `json:"rank"`
		Of   int64 `json:"of"`
	} `json:"price_in_category"`
}

type apiListBody struct {
	Products []apiProduct `json:"products"`
	Page     int          `json:"page"`
	PerPage  int          `json:"per_page"`
	Total    int64        `json:"total"`
	LastPage int          `json:"last_page"`
	Prev     string       `json:"prev"`
	Next     string       `json:"next"`
	BuiltAt  string       `json:"built_at"`
}

type apiErrorBody struct {
	Error  string `json:"error"`
	Status int    `json:"status"`
}

func TestAPIProductsPerMode(t *testing.T) {
	a := testapp.New(t)
	for _, mode := range []string{"none", "memory", "redis"} {
		t.Run(mode, func(t *testing.T) {
			var first string
			for i, second := range []bool{false, true} {
				r := a.Get("/api/products?page=2&per_page=10&cache=" + mode)
				if r.Status != http.StatusOK {
					t.Fatalf("request %d: got %d, want 200: %s", i, r.Status, r.Body)
				}
				testapp.CheckTiming(t, r, mode, testapp.WantOutcome(mode, second))
				var b apiListBody
				testapp.DecodeJSON(t, r, &b)
				if got, want := len(b.Products), 10; got != want {
					t.Fatalf("products: got %d, want %d", got, want)
				}
				if got, want := b.Products[0].ID, int64(11); got != want {
					t.Errorf("first id: got %d, want %d", got, want)
				}
				if b.Page != 2 || b.PerPage != 10 || b.Total != 1000 || b.LastPage != 100 {
					t.Errorf("paging: got page %d per_page %d total %d last %d, want 2 10 1000 100", b.Page, b.PerPage, b.Total, b.LastPage)
				}
				if got, want := b.Prev, "/api/products?page=1&per_page=10"; got != want {
					t.Errorf("prev: got %q, want %q", got, want)
				}
				if got, want := b.Next, "/api/products?page=3&per_page=10"; got != want {
					t.Errorf("next: got %q, want %q", got, want)
				}
				// A HIT is the stored body: same build time. In mode
				// none every body is built anew.
				if second && mode != "none" && b.BuiltAt != first {
					t.Errorf("HIT built_at: got %q, want the MISS's %q", b.BuiltAt, first)
				}
				first = b.BuiltAt
			}
		})
	}
}

func TestAPIProductPerMode(t *testing.T) {
	a := testapp.New(t)
	for _, mode := range []string{"none", "memory", "redis"} {
		t.Run(mode, func(t *testing.T) {
			for i, second := range []bool{false, true} {
				r := a.Get("/api/products/7?cache=" + mode)
				if r.Status != http.StatusOK {
					t.Fatalf("request %d: got %d, want 200: %s", i, r.Status, r.Body)
				}
				testapp.CheckTiming(t, r, mode, testapp.WantOutcome(mode, second))
				var p apiProduct
				testapp.DecodeJSON(t, r, &p)
				want := a.Product(7)
				if p.ID != 7 || p.Name != want.Name || p.Version != want.Version || p.PriceCents != want.Price {
					t.Errorf("got %+v, want the database row %+v", p, want)
				}
				if p.PriceInCategory == nil || p.PriceInCategory.Rank < 1 || p.PriceInCategory.Of < p.PriceInCategory.Rank {
					t.Errorf("price_in_category: got %+v, want a rank within the category", p.PriceInCategory)
				}
				// The body shows category figures that other products'
				// edits change, so the validator is a digest of the body and
				// no single row's updated_at is offered as Last-Modified.
				if r.Header.Get("ETag") == "" || r.Header.Get("Last-Modified") != "" {
					t.Errorf("validators: got ETag %q Last-Modified %q, want an ETag only", r.Header.Get("ETag"), r.Header.Get("Last-Modified"))
				}
			}
		})
	}
}

func TestAPIData(t *testing.T) {
	a := testapp.New(t)
	for _, mode := range []string{"none", "memory", "redis"} {
		t.Run(mode, func(t *testing.T) {
			var first string
			for i, second := range []bool{false, true} {
				r := a.Get("/api/data?cache=" + mode)
				if r.Status != http.StatusOK {
					t.Fatalf("request %d: got %d, want 200: %s", i, r.Status, r.Body)
				}
				testapp.CheckTiming(t, r, mode, testapp.WantOutcome(mode, second))
				var d struct {
					GeneratedAt string `json:"generated_at"`
					TTL         int    `json:"ttl_s"`
					Products    int64  `json:"products"`
					Categories  []struct {
						Category string `json:"category"`
						Count    int64  `json:"count"`
					} `json:"categories"`
				}
				testapp.DecodeJSON(t, r, &d)
				if d.GeneratedAt == "" || d.TTL <= 0 || d.Products != 1000 || len(d.Categories) == 0 {
					t.Errorf("payload: got %+v, want a timestamp, a TTL, 1000 products and categories", d)
				}
				if second && mode != "none" && d.GeneratedAt != first {
					t.Errorf("HIT generated_at: got %q, want the MISS's %q", d.GeneratedAt, first)
				}
				first = d.GeneratedAt
			}
		})
	}
}

func TestAPIErrors(t *testing.T) {
	a := testapp.New(t)
	cases := []struct {
		path   string
		status int
		want   string
	}{
		{"/api/products?page=0", 400, "page must be a whole number"},
		{"/api/products?page=abc", 400, "page must be a whole number"},
		{"/api/products?page=-1", 400, "page must be a whole number"},
		{"/api/products?per_page=101", 400, "per_page must be a whole number from 1 to 100"},
		{"/api/products?per_page=0", 400, "per_page"},
		{"/api/products?page=51", 400, "page must be from 1 to 50"},
		{"/api/products?page=1&page=2", 400, "several different values"},
		{"/api/products?cache=bogus", 400, "unknown cache mode"},
		{"/api/products/abc", 400, "positive whole number"},
		{"/api/products/0", 400, "positive whole number"},
		{"/api/products/99999999999999999999", 400, "positive whole number"},
		{"/api/products/5000", 404, "There is no product 5000"},
		{"/api/nope", 404, "There is no page"},
	}
	for _, mode := range []string{"none", "memory", "redis"} {
		for _, c := range cases {
			t.Run(mode+c.path, func(t *testing.T) {
				// Twice: an error must never be cached as an answer.
				for range 2 {
					r := a.Get(c.path, "Cookie", "cache_mode="+mode)
					if r.Status != c.status {
						t.Fatalf("got %d, want %d: %s", r.Status, c.status, r.Body)
					}
					var e apiErrorBody
					testapp.DecodeJSON(t, r, &e)
					if e.Status != c.status || !strings.Contains(e.Error, c.want) {
						t.Errorf("got %+v, want status %d and an error containing %q", e, c.status, c.want)
					}
				}
			})
		}
	}
}

// TestAPIProductConditional checks ETag/304 on the JSON product and that an
// edit changes the ETag in every mode.
func TestAPIProductConditional(t *testing.T) {
	a := testapp.New(t)
	for i, mode := range []string{"none", "memory", "redis"} {
		t.Run(mode, func(t *testing.T) {
			id := int64(21 + i)
			path := "/api/products/" + itoa(id) + "?cache=" + mode
			listPath := "/api/products?page=2&cache=" + mode
			a.Get(listPath) // cached before the edit, so the edit must invalidate it
			r := a.Get(path)
			etag := r.Header.Get("ETag")
			if etag == "" {
				t.Fatal("no ETag")
			}
			nm := a.Get(path, "If-None-Match", etag)
			if nm.Status != http.StatusNotModified || nm.Body != "" {
				t.Fatalf("If-None-Match: got %d with %d bytes, want 304 with none", nm.Status, len(nm.Body))
			}
			testapp.CheckTiming(t, nm, mode, testapp.WantOutcome(mode, true))
			if got := nm.Header.Get("ETag"); got != etag {
				t.Errorf("304 ETag: got %q, want %q", got, etag)
			}
			p := a.Product(id)
			if e := a.Post("/products/"+itoa(id)+"/edit", testapp.EditForm(p, map[string]string{"name": "Renamed for the API"})); e.Status != http.StatusSeeOther {
				t.Fatalf("edit: got %d, want 303: %s", e.Status, e.Body)
			}
			after := a.Get(path, "If-None-Match", etag)
			if after.Status != http.StatusOK {
				t.Fatalf("after edit: got %d, want 200", after.Status)
			}
			if got := after.Header.Get("ETag"); got == etag || got == "" {
				t.Errorf("ETag after edit: got %q, want a new one (old %q)", got, etag)
			}
			var q apiProduct
			testapp.DecodeJSON(t, after, &q)
			if q.Name != "Renamed for the API" || q.Version != p.Version+1 {
				t.Errorf("after edit: got name %q version %d, want %q version %d", q.Name, q.Version, "Renamed for the API", p.Version+1)
			}
			// The list API is invalidated by the same edit.
			var l apiListBody
			testapp.DecodeJSON(t, a.Get(listPath), &l)
			if got := l.Products[id-21].Name; got != "Renamed for the API" {
				t.Errorf("list after edit: got %q, want the new name", got)
			}
		})
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// TestAPIRedisDown checks the API answers from the database when Redis is
// down, and says so in a header since a cached body cannot.
func TestAPIRedisDown(t *testing.T) {
	a := testapp.New(t)
	a.RedisServer.Stop()
	for _, path := range []string{"/api/products?cache=redis", "/api/products/3?cache=redis", "/api/data?cache=redis"} {
		t.Run(path, func(t *testing.T) {
			r := a.Get(path)
			if r.Status != http.StatusOK {
				t.Fatalf("got %d, want 200: %s", r.Status, r.Body)
			}
			if got := r.Header.Get("X-Cache"); got != "ERROR" {
				t.Errorf("X-Cache: got %q, want ERROR (the lookup failed; the body came from the database)", got)
			}
			// The failed lookup (generations and entry, read together) is
			// in the timing as such.
			if st := r.Header.Get("Server-Timing"); !strings.Contains(st, `cache;desc="redis error`) || !strings.Contains(st, "db;") {
				t.Errorf("Server-Timing %q: want the failed lookup and the database", st)
			}
			if got := r.Header.Get("X-Cache-Notice"); !strings.Contains(got, "Redis unavailable") {
				t.Errorf("X-Cache-Notice: got %q, want it to say Redis is unavailable", got)
			}
			var v map[string]any
			testapp.DecodeJSON(t, r, &v)
		})
	}
}
