package handlers_test

import (
	"html"
	"net/http"
	"strings"
	"testing"

	"cacheworkshop/internal/testapp"
)

// TestEditRefusesInvisibleCharacters: a name or description with a
// bidirectional override or a zero-width character is a 422 whose form
// names the field and the character, shows the input as typed, and
// changes nothing: not the product, not its cached pages.
func TestEditRefusesInvisibleCharacters(t *testing.T) {
	a := testapp.New(t)
	const id = 9
	before := a.Product(id)
	// A cached detail page: a refused edit must bump no generation, so
	// it stays a HIT.
	a.Get("/products/9?cache=memory")
	if got := a.Get("/products/9?cache=memory").Header.Get("X-Cache"); got != "HIT" {
		t.Fatalf("detail page before the edit: X-Cache %v, want HIT", got)
	}
	tests := []struct {
		field, value, want string
	}{
		{"name", "Lamp\u202egpj.exe", "Name must not contain the invisible character U+202E (right-to-left override) at position 5."},
		{"name", "Desk\u200blamp", "Name must not contain the invisible character U+200B (zero width space) at position 5."},
		{"name", "\u2066Lamp\u2069", "Name must not contain the invisible character U+2066 (left-to-right isolate) at position 1."},
		{"description", "Bright and\ufeff warm.", "Description must not contain the invisible character U+FEFF (zero width no-break space) at position 11."},
		{"description", "Safe\u202d text", "Description must not contain the invisible character U+202D (left-to-right override) at position 5."},
	}
	for _, tt := range tests {
		t.Run(tt.field+" "+strings.ToValidUTF8(tt.value, "?"), func(t *testing.T) {
			r := a.Post("/products/9/edit", testapp.EditForm(before, map[string]string{tt.field: tt.value}))
			if got, want := r.Status, http.StatusUnprocessableEntity; got != want {
				t.Fatalf("status got %v, want %v", got, want)
			}
			body := html.UnescapeString(r.Body)
			if !strings.Contains(body, `id="`+tt.field+`-error">`+tt.want+`</p>`) {
				t.Errorf("the %s field does not show %q", tt.field, tt.want)
			}
			if !strings.Contains(body, tt.value) {
				t.Errorf("the form lost the %s as typed, %q", tt.field, tt.value)
			}
			if sc := r.Header.Values("Set-Cookie"); len(sc) != 0 {
				t.Errorf("Set-Cookie %v on a refused edit, want none (no saved message)", sc)
			}
			after := a.Product(id)
			if after.Version != before.Version || after.Name != before.Name || after.Description != before.Description ||
				!after.UpdatedAt.Equal(before.UpdatedAt) {
				t.Errorf("refused edit changed the product: got v%d %q, want v%d %q", after.Version, after.Name, before.Version, before.Name)
			}
			if got := a.Get("/products/9?cache=memory").Header.Get("X-Cache"); got != "HIT" {
				t.Errorf("detail page after the refused edit: X-Cache %v, want HIT (no generation bumped)", got)
			}
		})
	}
}
