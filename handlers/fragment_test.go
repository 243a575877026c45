package handlers_test

import (
	"cacheworkshop/app"
	"cacheworkshop/internal/testapp"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// lookup is one cache entry of a Server-Timing header.
type lookup struct {
	name, backend, outcome, key string
}

var stEntry = regexp.MustCompile(`(\w[\w-]*);desc="([^"]*)";dur=[\d.]+`)

// lookups parses the cache entries of a Server-Timing header.
func lookups(st string) []lookup {
	var out []lookup
	for _, m := range stEntry.FindAllStringSubmatch(st, -1) {
		f := strings.SplitN(m[2], " ", 3)
		if len(f) < 2 {
			continue
		}
		l := lookup{name: m[1], backend: f[0], outcome: strings.ToUpper(f[1])}
		if len(f) == 3 {
			l.key = f[2]
		}
		out = append(out, l)
	}
	return out
}

// frags maps fragment name and caller key ("product-row:7:v1") to outcome.
func frags(st string) map[string]string {
	out := map[string]string{}
	for _, l := range lookups(st) {
		if l.name != "frag" {
			continue
		}
		p := strings.SplitN(l.key, ":", 4) // frag, {name}, digest, key
		if len(p) == 4 {
			out[strings.Trim(p[1], "{}")+":"+p[3]] = l.outcome
		}
	}
	return out
}

// TestRussianDoll checks the trace against reality: after an edit the page
// and the table holding the edited row miss, the edited row misses, every
// other row hits, and a table that does not hold it hits whole.
func TestRussianDoll(t *testing.T) {
	for _, mode := range []string{"memory", "redis"} {
		t.Run(mode, func(t *testing.T) {
			a := testapp.New(t)
			page1 := "/products?page=1&cache=" + mode
			page2 := "/products?page=2&cache=" + mode
			first := a.Get(page1)
			fr := frags(first.Header.Get("Server-Timing"))
			if len(fr) < 21 {
				t.Fatalf("cold page: got %d fragment lookups, want a table and 20 rows: %v", len(fr), fr)
			}
			for k, o := range fr {
				if strings.HasPrefix(k, "product-") && o != "MISS" {
					t.Errorf("cold page: %s got %s, want MISS", k, o)
				}
			}
			a.Get(page2)
			second := a.Get(page1)
			if second.Header.Get("X-Cache") != "HIT" {
				t.Fatalf("second identical request: X-Cache got %q, want HIT", second.Header.Get("X-Cache"))
			}
			if n := len(frags(second.Header.Get("Server-Timing"))); n != 0 {
				t.Errorf("page hit looked up %d fragments, want 0 (stored bytes only)", n)
			}

			p := a.Product(7)
			if r := a.Post("/products/7/edit", testapp.EditForm(p, map[string]string{"stock": "5"})); r.Status != 303 {
				t.Fatalf("edit: got %d", r.Status)
			}
			after := a.Get(page1)
			if got := after.Header.Get("X-Cache"); got != "MISS" {
				t.Errorf("page 1 after edit: X-Cache got %q, want MISS", got)
			}
			fr = frags(after.Header.Get("Server-Timing"))
			rows, hits := 0, 0
			for k, o := range fr {
				switch {
				case strings.HasPrefix(k, "product-table:"):
					if o != "MISS" {
						t.Errorf("table holding the edited row: got %s, want MISS", o)
					}
				case strings.HasPrefix(k, "product-row:7:"):
					rows++
					if o != "MISS" || k != fmt.Sprintf("product-row:7:v%d", p.Version+1) {
						t.Errorf("edited row: got %s %s, want MISS under version %d", k, o, p.Version+1)
					}
				case strings.HasPrefix(k, "product-row:"):
					rows++
					if o == "HIT" {
						hits++
					} else {
						t.Errorf("unchanged row %s: got %s, want HIT", k, o)
					}
				}
			}
			if rows != 20 || hits != 19 {
				t.Errorf("rows after edit: got %d looked up, %d hits, want 20 and 19", rows, hits)
			}
			other := a.Get(page2)
			fr = frags(other.Header.Get("Server-Timing"))
			for k, o := range fr {
				if strings.HasPrefix(k, "product-table:") && o != "HIT" {
					t.Errorf("page 2's table (edited row not in it): got %s, want HIT", o)
				}
				if strings.HasPrefix(k, "product-row:") {
					t.Errorf("page 2 looked up row %s although its table hit", k)
				}
			}
		})
	}
}

// TestFragmentsShared: rows are shared by every table that shows them.
func TestFragmentsShared(t *testing.T) {
	a := testapp.New(t)
	a.Get("/products?page=1&per_page=10&cache=memory")
	fr := frags(a.Get("/products?page=1&per_page=20&cache=memory").Header.Get("Server-Timing"))
	for id := 1; id <= 20; id++ {
		want := "MISS"
		if id <= 10 {
			want = "HIT"
		}
		if got := fr[fmt.Sprintf("product-row:%d:v1", id)]; got != want {
			t.Errorf("row %d: got %q, want %s", id, got, want)
		}
	}
}

// TestModeNoneRendersFragments: mode none bypasses every fragment.
func TestModeNoneRendersFragments(t *testing.T) {
	a := testapp.New(t)
	for i := range 2 {
		for _, l := range lookups(a.Get("/products?cache=none").Header.Get("Server-Timing")) {
			if (l.name == "cache" || l.name == "frag") && l.outcome != "BYPASS" {
				t.Errorf("request %d: %s %s got %s, want BYPASS", i, l.name, l.key, l.outcome)
			}
		}
	}
}

// TestFragmentDigest: changing one fragment's template changes its keys,
// so new markup shows at once, while other fragments keep hitting.
func TestFragmentDigest(t *testing.T) {
	dir := t.TempDir()
	src, err := filepath.Glob("../templates/*.html")
	if err != nil || len(src) == 0 {
		t.Fatalf("templates: %v", err)
	}
	for _, f := range src {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(f)), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	a := testapp.New(t, func(c *app.Config) {
		c.Dev, c.TemplateDir, c.StaticDir = true, dir, "../static"
	})
	a.Get("/products/3?cache=memory")
	// Edit the product card's markup only.
	path := filepath.Join(dir, "fragments.html")
	b, _ := os.ReadFile(path)
	changed := strings.Replace(string(b), `<p class="price">`, `<p class="price" data-new-markup="yes">`, 1)
	if changed == string(b) {
		t.Fatal("product card markup not found in fragments.html")
	}
	if err := os.WriteFile(path, []byte(changed), 0o644); err != nil {
		t.Fatal(err)
	}
	r := a.Get("/products/3?cache=memory")
	if !strings.Contains(r.Body, `data-new-markup="yes"`) {
		t.Fatal("changed fragment template: old markup served")
	}
	fr := frags(r.Header.Get("Server-Timing"))
	if fr["product-card:3:v1"] != "MISS" {
		t.Errorf("changed fragment: got %q, want MISS", fr["product-card:3:v1"])
	}
	if fr["category-stats:all"] != "HIT" {
		t.Errorf("unchanged fragment: got %q, want HIT", fr["category-stats:all"])
	}
}

// TestNoRequestDataInCache: nothing per-request (the timing bar, the
// trace, a saved message) is ever stored, in a page or a fragment.
func TestNoRequestDataInCache(t *testing.T) {
	a := testapp.New(t)
	p := a.Product(4)
	r := a.Post("/products/4/edit", testapp.EditForm(p, map[string]string{"name": "Per-request probe"}))
	var flash string
	for _, c := range r.Header.Values("Set-Cookie") {
		if strings.HasPrefix(c, "flash=") {
			flash = strings.SplitN(c, ";", 2)[0]
		}
	}
	for _, mode := range []string{"memory", "redis"} {
		for _, path := range []string{"/products/4", "/products?page=1", "/"} {
			sep := "?"
			if strings.Contains(path, "?") {
				sep = "&"
			}
			a.Get(path+sep+"cache="+mode, "Cookie", flash)
		}
	}
	ctx := context.Background()
	check := func(backend, key string, v []byte) {
		for _, bad := range []string{"reqbar", `class="trace"`, "Saved", `class="flash`, "data-outcome"} {
			if strings.Contains(string(v), bad) {
				t.Errorf("%s %s holds per-request content %q", backend, key, bad)
			}
		}
	}
	var keys []string
	it := a.RedisServer.Client().Scan(ctx, 0, a.Redis.Prefix()+"*", 1000).Iterator()
	for it.Next(ctx) {
		keys = append(keys, it.Val())
	}
	if err := it.Err(); err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, k := range keys {
		if strings.HasPrefix(k, a.Redis.GenPrefix()) {
			continue
		}
		v, err := a.RedisServer.Client().Get(ctx, k).Bytes()
		if err == nil {
			check("redis", k, v)
			checked++
		}
		if mv, found, _ := a.Memory.Get(ctx, strings.TrimPrefix(k, a.Redis.Prefix())); found {
			check("memory", k, mv)
		}
	}
	if checked < 5 {
		t.Errorf("inspected %d cached entries, want pages and fragments", checked)
	}
}

func TestCacheKeyExplainer(t *testing.T) {
	a := testapp.New(t)
	r := a.Get("/products/9?cache=memory")
	var key string
	for _, l := range lookups(r.Header.Get("Server-Timing")) {
		if l.name == "cache" {
			key = l.key
		}
	}
	if key == "" {
		t.Fatal("no page lookup in Server-Timing")
	}
	if !strings.Contains(r.Body, `data-server-timing="cache;desc=&#34;memory miss page:detail:`) {
		t.Error("trace panel lacks this response's Server-Timing for the browser to draw")
	}
	res := a.Get("/api/cache-key?key=" + url.QueryEscape(key))
	var rep struct {
		Parts    []struct{ Name, Value string }
		In       map[string]map[string]any
		Outcomes map[string]string
	}
	if err := json.Unmarshal([]byte(res.Body), &rep); err != nil {
		t.Fatalf("%v: %s", err, res.Body)
	}
	names := []string{}
	for _, p := range rep.Parts {
		names = append(names, p.Name)
	}
	if got, want := strings.Join(names, ","), "kind,page,digest,request,generations"; got != want {
		t.Errorf("parts: got %s, want %s", got, want)
	}
	if !strings.Contains(rep.Outcomes["MISS"], "older generations") {
		t.Errorf("outcome reasons: got %v", rep.Outcomes)
	}
	if rep.In["memory"]["present"] != true {
		t.Errorf("memory presence: got %v, want true", rep.In["memory"])
	}
	if res := a.Get("/api/cache-key?key="); res.Status != 400 || !strings.Contains(res.Header.Get("Content-Type"), "json") {
		t.Errorf("empty key: got %d %s, want a 400 JSON error", res.Status, res.Header.Get("Content-Type"))
	}
}

// TestModesRenderSameMarkup: a page is the same markup however it was
// obtained (built with no cache, built from fragments, stored whole in
// either backend, rebuilt from cached fragments); only the per-request bar
// and trace and the mode-specific parts of the layout differ.
func TestModesRenderSameMarkup(t *testing.T) {
	a := testapp.New(t)
	frag := testapp.New(t, func(c *app.Config) { c.NoPageCache = true })
	perRequest := regexp.MustCompile(`(?s)<section class="reqbar.*?</details>`)
	// What depends on the mode by design: the body class, the current
	// link of the mode switch, the footer's mode name.
	// The catalogue sidebar says when it was computed: two renders may
	// straddle a second.
	modeParts := regexp.MustCompile(`<body class="mode-\w+">|<strong class="mode-name">[^<]*</strong>|computed \d\d:\d\d:\d\d UTC`)
	norm := func(body string) string {
		body = strings.ReplaceAll(perRequest.ReplaceAllString(body, ""), ` aria-current="true"`, "")
		return modeParts.ReplaceAllString(body, "MODE")
	}
	for _, path := range []string{"/products?page=3", "/products?page=50&per_page=20", "/products/17", "/"} {
		var want, wantFrom string
		check := func(from, body string) {
			t.Helper()
			got := norm(body)
			if want == "" {
				want, wantFrom = got, from
				return
			}
			if got != want {
				t.Errorf("GET %s: the markup %s differs from %s:\n%s", path, from, wantFrom, firstDiff(got, want))
			}
		}
		for _, mode := range []string{"none", "memory", "redis"} {
			for i := range 2 { // a miss, then a hit
				r := a.Get(path, "Cookie", "cache_mode="+mode)
				if r.Status != 200 {
					t.Fatalf("GET %s (%s): status %d", path, mode, r.Status)
				}
				check(mode+" "+r.Header.Get("X-Cache")+" #"+strconv.Itoa(i+1), r.Body)
			}
			for range 2 { // fragments cold, then hot
				r := frag.Get(path, "Cookie", "cache_mode="+mode)
				check(mode+" page cache off", r.Body)
			}
		}
	}
}

// firstDiff shows where two strings start to differ.
func firstDiff(a, b string) string {
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	lo := max(i-80, 0)
	return "got  …" + a[lo:min(i+80, len(a))] + "…\nwant …" + b[lo:min(i+80, len(b))] + "…"
}
