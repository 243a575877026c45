package snippets_test

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"cacheworkshop/internal/testapp"
)

// lessonPages is every lesson page: its template name (the snippet
// directory) and a URL that renders it. A new lesson page adds a line
// here and a directory lessons/snippets/<page>/.
var lessonPages = []struct{ page, url string }{
	{"list", "/products?page=2"},
	{"detail", "/products/7"},
	{"edit", "/products/7/edit"},
	{"compare", "/products/compare"},
	{"benchmark", "/benchmark?n=20"},
	{"weather", "/weather"},
	{"static-content", "/static-content"},
	{"dynamic-content", "/dynamic-content"},
	{"conditional-content", "/conditional-content"},
	{"stats", "/cache-stats"},
	{"stampede", "/stampede"},
	{"faults", "/faults"},
	{"teacher", "/teacher"},
	{"instances", "/instances"},
	{"proxy-cache", "/proxy-cache"},
	{"invalidation", "/invalidation"},
	{"product-new", "/products/new"},
	{"category", "/categories/books"},
	{"account", "/account"},
	{"eviction", "/eviction"},
	{"loadtest", "/loadtest"},
}

// notLessons are the templates that are not lesson pages, so have no panel.
var notLessons = []string{"home", "error", "exercises", "exercises-class"}

// TestEveryLessonPageHasAPanel loads every lesson page in the memory and
// Redis modes, twice: the panel is there, the right one, on the miss and
// on the hit (it is part of the cached page, the same for everyone).
func TestEveryLessonPageHasAPanel(t *testing.T) {
	all := panels(t)
	a := testapp.New(t)
	for _, lp := range lessonPages {
		t.Run(lp.page, func(t *testing.T) {
			if all[lp.page] == nil {
				t.Fatalf("no lessons/snippets/%s/: every lesson page needs its Flask / Django panel", lp.page)
			}
			for _, mode := range []string{"memory", "redis"} {
				for i := range 2 {
					r := a.Get(lp.url+sep(lp.url)+"cache="+mode, "Accept", "text/html")
					if r.Status != http.StatusOK {
						t.Fatalf("%s load %d: got %d", mode, i+1, r.Status)
					}
					if n := strings.Count(r.Body, `<details class="code-panel" data-code-panel="`); n != 1 {
						t.Fatalf("%s load %d: %d panels, want 1", mode, i+1, n)
					}
					if !strings.Contains(r.Body, `data-code-panel="`+lp.page+`"`) {
						t.Errorf("%s load %d (%s): the panel is not %s's", mode, i+1, r.Header.Get("X-Cache"), lp.page)
					}
					if !strings.Contains(r.Body, "The same in Flask / in Django") || !strings.Contains(r.Body, "<code>"+all[lp.page].Go[0].Func+"</code>") {
						t.Errorf("%s load %d: the panel lacks its title or its Go functions", mode, i+1)
					}
				}
			}
		})
	}
	// Pages that are not lessons show none.
	if r := a.Get("/"); strings.Contains(r.Body, "code-panel") {
		t.Error("the home page shows a code panel")
	}
	if r := a.Get("/no-such-page"); r.Status != http.StatusNotFound || strings.Contains(r.Body, "code-panel") {
		t.Errorf("the 404 page: got %d, panel shown %v", r.Status, strings.Contains(r.Body, "code-panel"))
	}
}

// TestEveryTemplateIsListed: each page template is in lessonPages or
// notLessons, and each snippet directory names a page template, so a new
// page cannot go without a panel, nor a misnamed directory go unseen.
func TestEveryTemplateIsListed(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(repoRoot, "templates", "*.html"))
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]bool{}
	for _, lp := range lessonPages {
		listed[lp.page] = true
	}
	for _, n := range notLessons {
		listed[n] = true
	}
	pages := map[string]bool{}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".html")
		if name == "layout" || name == "fragments" {
			continue
		}
		pages[name] = true
		if !listed[name] {
			t.Errorf("templates/%s.html is neither in lessonPages nor in notLessons (pages_test.go): add it, with lessons/snippets/%s/", name, name)
		}
	}
	for name := range panels(t) {
		if !pages[name] {
			t.Errorf("lessons/snippets/%s/ names no template: directories are named after templates/<page>.html", name)
		}
	}
	if _, err := os.Stat(filepath.Join(repoRoot, "templates", "layout.html")); err != nil {
		t.Fatalf("the templates are not at %s: %v", repoRoot, err)
	}
}

func sep(u string) string {
	if strings.Contains(u, "?") {
		return "&"
	}
	return "?"
}
