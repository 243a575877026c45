package handlers_test

import (
	"testing"

	"cacheworkshop/internal/testapp"
)

// TestETagCoversCategory: /api/products/8 shows its category's figures, so
// an edit of another product of the category that changes them must change
// its ETag, and the old ETag must no longer get a 304.
func TestETagCoversCategory(t *testing.T) {
	a := testapp.New(t)
	for _, path := range []string{"/api/products/8", "/products/8"} {
		for _, mode := range []string{"none", "memory", "redis"} {
			url := path + "?cache=" + mode
			first := a.Get(url)
			etag := first.Header.Get("ETag")
			if etag == "" {
				t.Fatalf("%s: no ETag", url)
			}
			if r := a.Get(url, "If-None-Match", etag); r.Status != 304 {
				t.Fatalf("%s with its own ETag: got %d, want 304", url, r.Status)
			}
			// Another product of the same category, made the most
			// expensive, moves the category's maximum and product 8's rank.
			p8 := a.Product(8)
			var other int64
			for id := int64(1); id <= 1000; id++ {
				if id != 8 && a.Product(id).Category == p8.Category {
					other = id
					break
				}
			}
			o := a.Product(other)
			price := "999999.00"
			if o.Price == 99999900 {
				price = "999998.00"
			}
			if r := a.Post("/products/"+itoa(other)+"/edit", testapp.EditForm(o, map[string]string{"price": price})); r.Status != 303 {
				t.Fatalf("edit of product %d: got %d", other, r.Status)
			}
			r := a.Get(url, "If-None-Match", etag)
			if r.Status == 304 {
				t.Errorf("%s: the old ETag still gets a 304 after another product of its category changed its figures", url)
			}
			if r.Header.Get("ETag") == etag {
				t.Errorf("%s: ETag unchanged after the category's figures changed", url)
			}
		}
	}
}
