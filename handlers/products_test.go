package handlers_test

import (
	"context"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"cacheworkshop/app"
	"cacheworkshop/internal/testapp"
	"cacheworkshop/models"
)

var modes = []string{"none", "memory", "redis"}

// TestPagesPerMode checks that every data page reports its mode, a real
// MISS then HIT (BYPASS in none), and a Server-Timing breakdown.
func TestPagesPerMode(t *testing.T) {
	a := testapp.New(t)
	for _, path := range []string{"/", "/products", "/products?page=3&per_page=50", "/products/42"} {
		for _, mode := range modes {
			t.Run(mode+path, func(t *testing.T) {
				sep := "?"
				if strings.Contains(path, "?") {
					sep = "&"
				}
				for i, second := range []bool{false, true} {
					r := a.Get(path + sep + "cache=" + mode)
					if r.Status != 200 {
						t.Fatalf("request %d: status got %d, want 200", i, r.Status)
					}
					if got := r.Header.Get("X-Cache-Mode"); got != mode {
						t.Errorf("X-Cache-Mode: got %q, want %q", got, mode)
					}
					if got, want := r.Header.Get("X-Cache"), testapp.WantOutcome(mode, second); got != want {
						t.Errorf("request %d X-Cache: got %q, want %q", i, got, want)
					}
					st := r.Header.Get("Server-Timing")
					for _, part := range []string{"cache;desc=", "db;", "total;dur="} {
						if !strings.Contains(st, part) {
							t.Errorf("Server-Timing %q lacks %q", st, part)
						}
					}
					if want := `data-outcome="` + testapp.WantOutcome(mode, second) + `"`; !strings.Contains(r.Body, want) {
						t.Errorf("request %d: page does not show %s", i, want)
					}
				}
			})
		}
	}
}

func TestHitServesStoredBytesWithoutDatabase(t *testing.T) {
	a := testapp.New(t)
	for _, mode := range []string{"memory", "redis"} {
		a.Get("/products/5?cache=" + mode)
		r := a.Get("/products/5?cache=" + mode)
		if got := r.Header.Get("X-Cache"); got != "HIT" {
			t.Fatalf("%s: X-Cache got %q, want HIT", mode, got)
		}
		if st := r.Header.Get("Server-Timing"); !strings.Contains(st, `db;desc="0 queries"`) {
			t.Errorf("%s hit: Server-Timing %q, want 0 database queries", mode, st)
		}
	}
}

func TestModeCookie(t *testing.T) {
	a := testapp.New(t)
	r := a.Get("/products?cache=redis")
	var cookie string
	for _, c := range r.Header.Values("Set-Cookie") {
		if strings.HasPrefix(c, "cache_mode=redis") {
			cookie = "cache_mode=redis"
		}
	}
	if cookie == "" {
		t.Fatalf("no cache_mode cookie in %q", r.Header.Values("Set-Cookie"))
	}
	if got := a.Get("/products/3", "Cookie", cookie).Header.Get("X-Cache-Mode"); got != "redis" {
		t.Errorf("with cookie: X-Cache-Mode got %q, want redis", got)
	}
	if got := a.Get("/products/3").Header.Get("X-Cache-Mode"); got != "memory" {
		t.Errorf("without cookie: X-Cache-Mode got %q, want the default memory", got)
	}
	if got := a.Get("/products/3?cache=none", "Cookie", cookie).Header.Get("X-Cache-Mode"); got != "none" {
		t.Errorf("query over cookie: X-Cache-Mode got %q, want none", got)
	}
	// Aliases.
	for in, want := range map[string]string{"false": "none", "off": "none", "0": "none", "true": "memory", "on": "memory", "1": "memory"} {
		if got := a.Get("/products?cache=" + in).Header.Get("X-Cache-Mode"); got != want {
			t.Errorf("cache=%s: got %q, want %q", in, got, want)
		}
	}
	// Mode switch links keep the page's own query.
	body := a.Get("/products?page=4&cache=memory").Body
	if !strings.Contains(body, `href="/products?cache=redis&amp;page=4"`) {
		t.Errorf("mode switch does not keep page=4 when switching to redis")
	}
}

func TestBadInput(t *testing.T) {
	a := testapp.New(t)
	tests := []struct {
		path   string
		status int
		want   string
	}{
		{"/products?cache=bogus", 400, "none, memory, redis"},
		{"/products?cache=memory&cache=redis", 400, "several different values"},
		{"/products?page=0", 400, "page must be"},
		{"/products?page=-1", 400, "page must be"},
		{"/products?page=abc", 400, "page must be"},
		{"/products?page=51", 400, "from 1 to 50"},
		{"/products?page=99999999999999999999", 400, "page must be"},
		{"/products?page=", 400, "page must be"},
		{"/products?per_page=0", 400, "per_page must be"},
		{"/products?per_page=101", 400, "per_page must be"},
		{"/products?per_page=1e2", 400, "per_page must be"},
		{"/products/0", 400, "positive whole number"},
		{"/products/-3", 400, "positive whole number"},
		{"/products/abc", 400, "positive whole number"},
		{"/products/9223372036854775808", 400, "positive whole number"},
		{"/products/99999999999999999999", 400, "positive whole number"},
		{"/products/1001", 404, "no product 1001"},
		{"/products/1001/edit", 404, "no product 1001"},
		{"/products/x/edit", 400, "positive whole number"},
		{"/nowhere", 404, "no page"},
	}
	for _, tt := range tests {
		for _, mode := range modes {
			r := a.Get(tt.path, "Cookie", "cache_mode="+mode)
			if r.Status != tt.status {
				t.Errorf("%s (%s): status got %d, want %d", tt.path, mode, r.Status, tt.status)
			}
			if !strings.Contains(r.Body, tt.want) {
				t.Errorf("%s (%s): body lacks %q", tt.path, mode, tt.want)
			}
			if !strings.Contains(r.Header.Get("Content-Type"), "text/html") {
				t.Errorf("%s: Content-Type got %q, want an HTML page", tt.path, r.Header.Get("Content-Type"))
			}
		}
	}
	// Unknown parameters are ignored.
	if r := a.Get("/products?page=2&utm_source=x"); r.Status != 200 {
		t.Errorf("unknown parameter: status got %d, want 200", r.Status)
	}
}

func TestListPage(t *testing.T) {
	a := testapp.New(t)
	r := a.Get("/products?page=2&per_page=10")
	for _, want := range []string{"1000 products", "page 2 of 100", `href="/products/11"`, `href="/products/20"`,
		`href="/products?page=1&amp;per_page=10"`, `href="/products?page=3&amp;per_page=10"`} {
		if !strings.Contains(r.Body, want) {
			t.Errorf("list page lacks %q", want)
		}
	}
	if strings.Contains(r.Body, `href="/products/21"`) {
		t.Error("page 2 of 10 shows product 21")
	}
	if n := strings.Count(r.Body, "<tr><td class=\"num\">"); n != 10 {
		t.Errorf("rows: got %d, want 10", n)
	}
}

// TestEditInvalidatesEveryMode warms every mode, edits in one mode, and
// checks the first read in every mode shows the new values: for each mode
// the edit is made in.
func TestEditInvalidatesEveryMode(t *testing.T) {
	a := testapp.New(t)
	for i, editMode := range modes {
		t.Run("edit in "+editMode, func(t *testing.T) {
			id := int64(10 + i)
			page := "/products?page=1"
			for _, m := range modes {
				a.Get(fmt.Sprintf("/products/%d?cache=%s", id, m))
				a.Get(fmt.Sprintf("/products/%d?cache=%s", id, m))
				a.Get(page + "&cache=" + m)
			}
			p := a.Product(id)
			newName := fmt.Sprintf("Renamed in %s mode", editMode)
			r := a.Post(fmt.Sprintf("/products/%d/edit?cache=%s", id, editMode), testapp.EditForm(p, map[string]string{"name": newName, "price": "12.34"}))
			if r.Status != 303 || r.Header.Get("Location") != fmt.Sprintf("/products/%d", id) {
				t.Fatalf("edit: got %d to %q, want 303 to the detail page; body %s", r.Status, r.Header.Get("Location"), r.Body)
			}
			for _, m := range modes {
				d := a.Get(fmt.Sprintf("/products/%d?cache=%s", id, m))
				if !strings.Contains(d.Body, newName) || !strings.Contains(d.Body, "$12.34") {
					t.Errorf("detail in %s after edit in %s: new values missing (X-Cache %s)", m, editMode, d.Header.Get("X-Cache"))
				}
				if m != "none" && d.Header.Get("X-Cache") != "MISS" {
					t.Errorf("detail in %s after edit: X-Cache got %q, want MISS", m, d.Header.Get("X-Cache"))
				}
				l := a.Get(page + "&cache=" + m)
				if !strings.Contains(l.Body, newName) {
					t.Errorf("list in %s after edit in %s: new name missing", m, editMode)
				}
			}
			got := a.Product(id)
			if got.Version != p.Version+1 || got.Name != newName || got.Price != 1234 {
				t.Errorf("stored: got %q v%d %d, want %q v%d 1234", got.Name, got.Version, got.Price, newName, p.Version+1)
			}
		})
	}
}

// TestEditChangesOtherProductsRank: another product's detail page shows its
// rank in the category, which an edit of this product can change.
func TestEditChangesOtherProductsRank(t *testing.T) {
	a := testapp.New(t)
	p := a.Product(1)
	var other models.Product
	for id := int64(2); id < 1000; id++ {
		if o := a.Product(id); o.Category == p.Category && o.Price < models.MaxPriceCents {
			other = o
			break
		}
	}
	rank := regexp.MustCompile(`Ranked <strong>#(\d+)</strong>`)
	path := fmt.Sprintf("/products/%d?cache=memory", other.ID)
	before := rank.FindStringSubmatch(a.Get(path).Body)
	// Make product 1 the most expensive in the category: the other
	// product must drop one place if it was above product 1.
	a.Post("/products/1/edit", testapp.EditForm(p, map[string]string{"price": "1000000.00"}))
	after := rank.FindStringSubmatch(a.Get(path).Body)
	if before == nil || after == nil {
		t.Fatal("rank not shown on the detail page")
	}
	if p.Price < other.Price && after[1] == before[1] {
		t.Errorf("rank of product %d after product 1 became the most expensive: got #%s, want it to change from #%s", other.ID, after[1], before[1])
	}
}

func TestEditValidation(t *testing.T) {
	a := testapp.New(t)
	p := a.Product(7)
	tests := []struct {
		name    string
		changes map[string]string
		field   string
	}{
		{"empty name", map[string]string{"name": "   "}, "Name is required"},
		{"long name", map[string]string{"name": strings.Repeat("n", 201)}, "at most 200"},
		{"control chars", map[string]string{"name": "bad\x00name"}, "control characters"},
		{"invalid utf8", map[string]string{"name": "bad\xffname"}, "valid UTF-8"},
		{"negative price", map[string]string{"price": "-1"}, "Price must be a number"},
		{"three decimals", map[string]string{"price": "1.234"}, "at most two decimals"},
		{"huge price", map[string]string{"price": "1000000.01"}, "between 0.00 and 1,000,000.00"},
		{"price words", map[string]string{"price": "ten"}, "Price must be a number"},
		{"long description", map[string]string{"description": strings.Repeat("d", 5001)}, "at most 5,000"},
		{"unknown category", map[string]string{"category": "Weapons"}, "Pick one of the listed categories"},
		{"stock negative", map[string]string{"stock": "-5"}, "Stock must be a whole number"},
		{"stock huge", map[string]string{"stock": "99999999999999999999"}, "Stock must be a whole number"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			form := testapp.EditForm(p, tt.changes)
			r := a.Post("/products/7/edit", form)
			if r.Status != 422 {
				t.Fatalf("status got %d, want 422", r.Status)
			}
			if !strings.Contains(r.Body, tt.field) {
				t.Errorf("body lacks message %q", tt.field)
			}
			for k, v := range tt.changes {
				if k == "category" || strings.ContainsAny(v, "\x00\xff") {
					continue // a select cannot show an unknown value
				}
				if len(v) < 300 && !strings.Contains(r.Body, v) {
					t.Errorf("form lost the user's %s %q", k, v)
				}
			}
			if got := a.Product(7); got.Version != p.Version || got.Name != p.Name {
				t.Errorf("invalid edit changed the product: got v%d %q", got.Version, got.Name)
			}
		})
	}
	if r := a.Post("/products/7/edit", testapp.EditForm(p, map[string]string{"version": ""})); r.Status != 400 {
		t.Errorf("missing version: got %d, want 400", r.Status)
	}
}

func TestEditConflict(t *testing.T) {
	a := testapp.New(t)
	p := a.Product(8)
	if r := a.Post("/products/8/edit", testapp.EditForm(p, map[string]string{"name": "First editor"})); r.Status != 303 {
		t.Fatalf("first edit: got %d", r.Status)
	}
	r := a.Post("/products/8/edit", testapp.EditForm(p, map[string]string{"name": "Second editor", "stock": "3"}))
	if r.Status != 409 {
		t.Fatalf("stale edit: status got %d, want 409", r.Status)
	}
	for _, want := range []string{"First editor", "Second editor", "What changed", "differs"} {
		if !strings.Contains(r.Body, want) {
			t.Errorf("409 page lacks %q", want)
		}
	}
	if got := a.Product(8); got.Name != "First editor" || got.Version != p.Version+1 {
		t.Errorf("after the stale edit: got %q v%d, want First editor v%d", got.Name, got.Version, p.Version+1)
	}
}

func TestEditCrossSiteRefused(t *testing.T) {
	a := testapp.New(t)
	p := a.Product(9)
	for _, hdr := range [][]string{
		{"Sec-Fetch-Site", "cross-site"},
		{"Origin", "https://evil.example"},
	} {
		r := a.Post("/products/9/edit", testapp.EditForm(p, map[string]string{"name": "Hijacked"}), hdr...)
		if r.Status != 403 {
			t.Errorf("%s: status got %d, want 403", hdr, r.Status)
		}
	}
	if r := a.Post("/products/9/edit", testapp.EditForm(p, map[string]string{"name": "Same site"}), "Sec-Fetch-Site", "same-origin"); r.Status != 303 {
		t.Errorf("same-origin: status got %d, want 303", r.Status)
	}
	if got := a.Product(9).Name; got != "Same site" {
		t.Errorf("name got %q, want Same site", got)
	}
}

func TestMarkupShownAsText(t *testing.T) {
	a := testapp.New(t)
	p := a.Product(11)
	evil := `<script>alert(1)</script><img src=x onerror=alert(2)>`
	a.Post("/products/11/edit", testapp.EditForm(p, map[string]string{"name": evil, "description": evil}))
	for _, mode := range modes {
		for _, path := range []string{"/products/11", "/products?page=1", "/products/11/edit"} {
			sep := "?"
			if strings.Contains(path, "?") {
				sep = "&"
			}
			body := a.Get(path + sep + "cache=" + mode).Body
			if strings.Contains(body, "<script>alert") || strings.Contains(body, "<img src=x") {
				t.Errorf("%s (%s): markup from a product name reached the page unescaped", path, mode)
			}
			if !strings.Contains(body, "&lt;script&gt;alert(1)&lt;/script&gt;") {
				t.Errorf("%s (%s): escaped name not shown", path, mode)
			}
		}
	}
}

// TestFlashNotCached: the "saved" message is for the editor's next page
// only; it must never reach another request through a cached page.
func TestFlashNotCached(t *testing.T) {
	a := testapp.New(t)
	p := a.Product(12)
	r := a.Post("/products/12/edit?cache=memory", testapp.EditForm(p, map[string]string{"stock": "77"}))
	var flash string
	for _, c := range r.Header.Values("Set-Cookie") {
		if strings.HasPrefix(c, "flash=") {
			flash = strings.SplitN(c, ";", 2)[0]
		}
	}
	if flash == "" {
		t.Fatal("no flash cookie after a successful edit")
	}
	for _, mode := range modes {
		withFlash := a.Get("/products/12?cache="+mode, "Cookie", flash)
		if !strings.Contains(withFlash.Body, "Saved") || !strings.Contains(withFlash.Body, "raised to change") {
			t.Errorf("%s: the editor's next page lacks the saved message and invalidation log", mode)
		}
		other := a.Get("/products/12?cache=" + mode)
		if strings.Contains(other.Body, "Saved") {
			t.Errorf("%s: another request saw the saved message (X-Cache %s)", mode, other.Header.Get("X-Cache"))
		}
	}
}

func TestEditWrongContentTypeAndSize(t *testing.T) {
	a := testapp.New(t)
	p := a.Product(13)
	form := testapp.EditForm(p, map[string]string{"name": "x"})
	r := a.Post("/products/13/edit", form, "Content-Type", "application/json")
	if r.Status != 415 {
		t.Errorf("JSON body: status got %d, want 415", r.Status)
	}
	big := testapp.EditForm(p, map[string]string{"description": strings.Repeat("x", 200_000)})
	if r := a.Post("/products/13/edit", big); r.Status != 413 {
		t.Errorf("oversized body: status got %d, want 413", r.Status)
	}
	if got := a.Product(13); got.Version != p.Version {
		t.Errorf("rejected edits changed the product to v%d", got.Version)
	}
}

// TestRedisDownServesFromDatabase kills the redis-server: Redis-mode pages
// still answer 200 from the database with a visible notice, quickly.
func TestRedisDownServesFromDatabase(t *testing.T) {
	a := testapp.New(t)
	a.Get("/products/20?cache=redis")
	a.RedisServer.Stop()
	for _, path := range []string{"/products/20", "/products?page=2", "/"} {
		start := time.Now()
		r := a.Get(path + map[bool]string{true: "&", false: "?"}[strings.Contains(path, "?")] + "cache=redis")
		if r.Status != 200 {
			t.Fatalf("%s with Redis down: status got %d, want 200", path, r.Status)
		}
		if !strings.Contains(r.Body, "Redis unavailable") {
			t.Errorf("%s with Redis down: no 'Redis unavailable' notice", path)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("%s with Redis down took %v", path, d)
		}
	}
	// An edit while Redis is down succeeds and is applied once it returns.
	p := a.Product(20)
	if r := a.Post("/products/20/edit?cache=redis", testapp.EditForm(p, map[string]string{"name": "Edited during outage"})); r.Status != 303 {
		t.Fatalf("edit with Redis down: got %d", r.Status)
	}
	a.RedisServer.Restart()
	deadline := time.Now().Add(5 * time.Second)
	for {
		r := a.Get("/products/20?cache=redis")
		if !strings.Contains(r.Body, "Redis unavailable") {
			if !strings.Contains(r.Body, "Edited during outage") {
				t.Fatalf("after Redis returned: stale page (X-Cache %s)", r.Header.Get("X-Cache"))
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("Redis-mode pages did not recover within 5 s of Redis returning")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestEmbeddedLabel(t *testing.T) {
	// Nothing answers on port 1: the app starts its embedded server.
	a := testapp.New(t, func(c *app.Config) { c.RedisURL, c.NoEmbedded = "redis://127.0.0.1:1/0", false })
	if !a.Embedded {
		t.Fatal("the app did not fall back to the embedded server")
	}
	body := a.Get("/products?cache=redis").Body
	if !strings.Contains(body, "Redis (embedded)") {
		t.Error("embedded Redis is not labelled on the page")
	}
	if r := a.Get("/products?cache=redis"); r.Header.Get("X-Cache") != "HIT" {
		t.Errorf("second load from the embedded server: X-Cache %q, want HIT", r.Header.Get("X-Cache"))
	}
}

func TestSimulatedLatencyLabelled(t *testing.T) {
	a := testapp.New(t, func(c *app.Config) { c.SlowQuery = 30 * time.Millisecond })
	r := a.Get("/products/30?cache=none")
	if !strings.Contains(r.Header.Get("Server-Timing"), `sim;desc="simulated latency"`) {
		t.Errorf("Server-Timing %q lacks the simulated entry", r.Header.Get("Server-Timing"))
	}
	if !strings.Contains(r.Body, "simulated") {
		t.Error("page does not label the simulated latency")
	}
	a.Get("/products/30?cache=memory")
	if st := a.Get("/products/30?cache=memory").Header.Get("Server-Timing"); strings.Contains(st, "sim;") {
		t.Errorf("a hit paid simulated latency: %q", st)
	}
}

func TestSeedIdempotent(t *testing.T) {
	a := testapp.New(t)
	n, err := a.Store.Count(context.Background())
	if err != nil || n != 1000 {
		t.Fatalf("count got %d, %v, want 1000", n, err)
	}
	_ = url.Values{}
}
