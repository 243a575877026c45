package handlers_test

import (
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"cacheworkshop/internal/testapp"
	"cacheworkshop/models"
)

// TestEditNameLimitAgrees checks that the edit form's name field, the rule
// the form states and the model's Validate all allow the same length.
func TestEditNameLimitAgrees(t *testing.T) {
	a := testapp.New(t)
	r := a.Get("/products/4/edit")
	if r.Status != http.StatusOK {
		t.Fatalf("edit form: status %v, want %v", r.Status, http.StatusOK)
	}
	m := regexp.MustCompile(`<input id="name"[^>]*maxlength="(\d+)"`).FindStringSubmatch(r.Body)
	if m == nil {
		t.Fatalf("the name field has no maxlength: %.300s", r.Body)
	}
	if got, want := m[1], strconv.Itoa(models.MaxNameLen); got != want {
		t.Errorf("name maxlength: got %v, want %v", got, want)
	}
	if stated := "Name 1–" + strconv.Itoa(models.MaxNameLen) + " characters"; !strings.Contains(r.Body, stated) {
		t.Errorf("the form does not state %q", stated)
	}

	tests := []struct {
		runes int
		want  int
	}{
		{models.MaxNameLen, http.StatusSeeOther},
		{models.MaxNameLen + 1, http.StatusUnprocessableEntity},
	}
	for _, tt := range tests {
		p := a.Product(4)
		// "é" is one character but two bytes: the limit counts characters.
		name := strings.Repeat("é", tt.runes)
		res := a.Post("/products/4/edit", testapp.EditForm(p, map[string]string{"name": name}))
		if res.Status != tt.want {
			t.Errorf("name of %d characters: got %v, want %v", tt.runes, res.Status, tt.want)
		}
	}
}

// TestModeNoneTraceWording checks that mode none's pages count no cache
// lookups (their page and fragments are built, not looked up) and that the
// catalogue sidebar claims to be cached only where it is.
func TestModeNoneTraceWording(t *testing.T) {
	a := testapp.New(t)
	summary := regexp.MustCompile(`<summary>Trace: ([^<]*)</summary>`)
	tests := []struct {
		path        string
		wantSummary string // the start of the trace summary, a regular expression
		cached      bool   // the sidebar says it is cached as a fragment
	}{
		{"/products?cache=none", "^no cache lookups, 5 parts built without a cache, ", false},
		{"/products/3?cache=none", "^no cache lookups, 5 parts built without a cache, ", false},
		{"/products/3?cache=memory", `^\d+ cache lookups, \d+ database`, true},
		{"/products/3?cache=redis", `^\d+ cache lookups, \d+ database`, true},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			r := a.Get(tt.path)
			if r.Status != http.StatusOK {
				t.Fatalf("status: got %v, want %v", r.Status, http.StatusOK)
			}
			m := summary.FindStringSubmatch(r.Body)
			if m == nil {
				t.Fatalf("no trace summary in %.300s", r.Body)
			}
			if !regexp.MustCompile(tt.wantSummary).MatchString(m[1]) {
				t.Errorf("trace summary: got %q, want it to start with %q", m[1], tt.wantSummary)
			}
			if !strings.Contains(tt.path, "/products/3") {
				return
			}
			if got := strings.Contains(r.Body, "Cached as a fragment for"); got != tt.cached {
				t.Errorf("sidebar says \"Cached as a fragment\": got %v, want %v", got, tt.cached)
			}
		})
	}
}
