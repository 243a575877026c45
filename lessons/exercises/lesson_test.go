package exercises_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"cacheworkshop/app"
	"cacheworkshop/internal/testapp"
)

// TestLearnerCookie: the cookie is made on the first visit to /exercises,
// random, HttpOnly, SameSite=Lax, for the whole site; it is reused after,
// replaced when malformed, and no other page sets it.
func TestLearnerCookie(t *testing.T) {
	a := testapp.New(t)
	first := a.Get("/exercises")
	c := learnerCookie(first)
	if c == nil {
		t.Fatal("no learner cookie on the first visit")
	}
	if !regexp.MustCompile(`^[A-Za-z0-9_-]{22}$`).MatchString(c.Value) {
		t.Errorf("cookie value %q: want 22 base64url characters (16 random bytes)", c.Value)
	}
	if !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/" || c.MaxAge <= 0 || c.Secure {
		t.Errorf("cookie attributes: got HttpOnly %v SameSite %v Path %q MaxAge %d, want HttpOnly, Lax, /, a max age",
			c.HttpOnly, c.SameSite, c.Path, c.MaxAge)
	}
	if got := first.Header.Get("Cache-Control"); got != "no-store" && !strings.HasPrefix(got, "private") {
		t.Errorf("Cache-Control of the response that sets the cookie: got %q, want no-store or private", got)
	}
	if again := learnerCookie(a.Get("/exercises")); again == nil || again.Value == c.Value {
		t.Errorf("a second browser: got cookie %v, want a new one", again)
	}
	tests := []struct {
		name, cookie string
		newCookie    bool
	}{
		{"reused", "learner=" + c.Value, false},
		{"malformed", "learner=not-a-learner", true},
		{"too long", "learner=" + c.Value + "x", true},
		{"other cookies only", "cache_mode=redis", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := a.Get("/exercises", "Cookie", tt.cookie)
			if r.Status != http.StatusOK {
				t.Fatalf("got %d, want 200", r.Status)
			}
			if got := learnerCookie(r) != nil; got != tt.newCookie {
				t.Errorf("new cookie set: got %v, want %v", got, tt.newCookie)
			}
		})
	}
	for _, path := range []string{"/", "/products", "/products/3", "/api/exercises", "/api/products", "/cache-stats", "/exercises/class"} {
		if r := a.Get(path); learnerCookie(r) != nil {
			t.Errorf("%s set a learner cookie; only /exercises may", path)
		}
	}
}

// barRE matches the request's own markup spliced into a page: the bar
// and the trace panel, which differ on every request.
var barRE = regexp.MustCompile(`(?s)<section class="reqbar.*?</details>`)

// TestCookieChangesNoCachedPage: a learner's request is served from the
// same entry as anyone's, and an entry built for a learner is the one
// everyone gets: same key, same bytes, same ETag.
func TestCookieChangesNoCachedPage(t *testing.T) {
	a := testapp.New(t)
	l := newLearner(t, a)
	paths := []string{"/products/11", "/products?page=6", "/api/products/12", "/api/products?page=7&per_page=5", "/", "/weather"}
	for _, mode := range []string{"memory", "redis"} {
		for i, path := range paths {
			sep := "?"
			if strings.Contains(path, "?") {
				sep = "&"
			}
			u := path + sep + "cache=" + mode
			t.Run(mode+" "+path, func(t *testing.T) {
				// Learner first on even rows, anonymous first on odd ones.
				first, second := func() *testapp.Resp { return l.get(u) }, func() *testapp.Resp { return a.Get(u) }
				if i%2 == 1 {
					first, second = second, first
				}
				r1, r2 := first(), second()
				if r1.Header.Get("X-Cache") != "MISS" || r2.Header.Get("X-Cache") != "HIT" {
					t.Fatalf("X-Cache: got %s then %s, want MISS then HIT (one entry for both)", r1.Header.Get("X-Cache"), r2.Header.Get("X-Cache"))
				}
				if e1, e2 := r1.Header.Get("ETag"), r2.Header.Get("ETag"); e1 != e2 {
					t.Errorf("ETag: got %q and %q, want the same", e1, e2)
				}
				if b1, b2 := barRE.ReplaceAllString(r1.Body, ""), barRE.ReplaceAllString(r2.Body, ""); b1 != b2 {
					t.Errorf("bodies outside the request bar differ (%d and %d bytes)", len(b1), len(b2))
				}
				if learnerCookie(r1) != nil || learnerCookie(r2) != nil {
					t.Error("a cached page set a learner cookie")
				}
			})
		}
	}
	// The learner's requests were recorded nonetheless.
	if got := l.progress()["first-hit"]; got.Reason == "You have not opened a product page yet." {
		t.Errorf("first-hit: got %q, want the learner's product pages seen", got.Reason)
	}
}

// TestAPIWithoutLearner: no cookie, no progress, no cookie given.
func TestAPIWithoutLearner(t *testing.T) {
	a := testapp.New(t)
	for _, cookie := range []string{"", "learner=bad"} {
		r := a.Get("/api/exercises", "Cookie", cookie)
		var p apiProgress
		testapp.DecodeJSON(t, r, &p)
		if p.Learner || p.Done != 0 || p.Total != len(p.Exercises) || p.Total < 12 {
			t.Errorf("cookie %q: got learner %v, %d of %d done over %d exercises; want no learner, 0 done", cookie, p.Learner, p.Done, p.Total, len(p.Exercises))
		}
		if learnerCookie(r) != nil {
			t.Errorf("cookie %q: /api/exercises set a learner cookie", cookie)
		}
		if got := r.Header.Get("Cache-Control"); got != "no-store" {
			t.Errorf("Cache-Control: got %q, want no-store", got)
		}
		for _, e := range p.Exercises {
			if e.ID == "" || e.Title == "" || e.Reason == "" {
				t.Errorf("exercise %+v: want an id, a title and a reason", e)
			}
		}
	}
}

// TestReset: a learner resets their own progress only; a reset without a
// cookie, across sites, or with a body that is not a form changes nothing.
func TestReset(t *testing.T) {
	a := testapp.New(t)
	me, other := newLearner(t, a), newLearner(t, a)
	for i, l := range []*learner{me, other} {
		p := "/products/" + itoa(int64(80+i)) + "?cache=memory"
		l.get(p)
		l.get(p)
	}
	if !me.progress()["first-hit"].Done || !other.progress()["first-hit"].Done {
		t.Fatal("first-hit: want done for both learners before the reset")
	}
	refused := []struct {
		name   string
		send   func() *testapp.Resp
		status int
	}{
		{"no cookie", func() *testapp.Resp { return a.Post("/exercises/reset", url.Values{}) }, http.StatusBadRequest},
		{"cross-site", func() *testapp.Resp {
			return a.Post("/exercises/reset", url.Values{}, "Cookie", me.cookie, "Sec-Fetch-Site", "cross-site")
		}, http.StatusForbidden},
		{"JSON body", func() *testapp.Resp {
			req, _ := http.NewRequest(http.MethodPost, a.TS.URL+"/exercises/reset", strings.NewReader(`{}`))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Cookie", me.cookie)
			return a.Do(req)
		}, http.StatusUnsupportedMediaType},
		{"GET", func() *testapp.Resp { return me.get("/exercises/reset") }, http.StatusMethodNotAllowed},
	}
	for _, tt := range refused {
		r := tt.send()
		if r.Status != tt.status {
			t.Errorf("%s: got %d, want %d", tt.name, r.Status, tt.status)
		}
		if !strings.HasPrefix(r.Header.Get("Content-Type"), "text/html") {
			t.Errorf("%s: got %q, want an HTML error page", tt.name, r.Header.Get("Content-Type"))
		}
		if !me.progress()["first-hit"].Done {
			t.Fatalf("%s: a refused reset reset the progress", tt.name)
		}
	}
	r := me.post("/exercises/reset", url.Values{})
	if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/exercises" {
		t.Fatalf("reset: got %d to %q, want 303 to /exercises", r.Status, r.Header.Get("Location"))
	}
	if me.progress()["first-hit"].Done {
		t.Error("first-hit after my reset: still done")
	}
	if !other.progress()["first-hit"].Done {
		t.Error("the other learner's first-hit after my reset: want still done")
	}
}

// TestClassView: counts by exercise and anonymous labels only; with
// ADMIN_TOKEN set, only after posting the token.
func TestClassView(t *testing.T) {
	t.Run("open", func(t *testing.T) {
		a := testapp.New(t)
		l := newLearner(t, a)
		l.get("/products/9?cache=memory")
		l.get("/products/9?cache=memory")
		newLearner(t, a)
		r := a.Get("/exercises/class")
		if r.Status != http.StatusOK {
			t.Fatalf("got %d, want 200", r.Status)
		}
		if !strings.Contains(r.Body, "Learners known to this server: <strong>2</strong>") {
			t.Error("the class view does not count 2 learners")
		}
		if !regexp.MustCompile(`<td>Cache a slow product page</td><td class="num">1</td>`).MatchString(r.Body) {
			t.Error("the class view does not show 1 learner done with the first hit")
		}
		if id := strings.TrimPrefix(l.cookie, "learner="); strings.Contains(r.Body, id) {
			t.Error("the class view shows a learner's cookie value")
		}
		if got := r.Header.Get("Cache-Control"); got != "no-store" {
			t.Errorf("Cache-Control: got %q, want no-store", got)
		}
	})
	t.Run("admin token", func(t *testing.T) {
		a := testapp.New(t, func(c *app.Config) { c.AdminToken = "s3cret" })
		newLearner(t, a)
		get := a.Get("/exercises/class")
		if get.Status != http.StatusOK || !strings.Contains(get.Body, `name="admin_token"`) || strings.Contains(get.Body, "Learners known") {
			t.Errorf("GET with a token set: got %d; want the token form and no figures", get.Status)
		}
		for _, tok := range []string{"", "wrong"} {
			if r := a.Post("/exercises/class", url.Values{"admin_token": {tok}}); r.Status != http.StatusForbidden || strings.Contains(r.Body, "Learners known") {
				t.Errorf("token %q: got %d, want 403 without figures", tok, r.Status)
			}
		}
		r := a.Post("/exercises/class", url.Values{"admin_token": {"s3cret"}})
		if r.Status != http.StatusOK || !strings.Contains(r.Body, "Learners known to this server: <strong>1</strong>") {
			t.Errorf("with the token: got %d, figures shown %v", r.Status, strings.Contains(r.Body, "Learners known"))
		}
	})
}

// TestBadInput: every refusal is a clear 4xx of the right kind.
func TestBadInput(t *testing.T) {
	a := testapp.New(t)
	tests := []struct {
		method, path string
		status       int
		json         bool
	}{
		{http.MethodGet, "/exercises?cache=bogus", http.StatusBadRequest, false},
		{http.MethodGet, "/api/exercises?cache=bogus", http.StatusBadRequest, true},
		{http.MethodGet, "/exercises?cache=memory&cache=redis", http.StatusBadRequest, false},
		{http.MethodDelete, "/exercises", http.StatusMethodNotAllowed, false},
		{http.MethodPost, "/api/exercises", http.StatusMethodNotAllowed, true},
		{http.MethodGet, "/exercises/nothing", http.StatusNotFound, false},
	}
	for _, tt := range tests {
		req, _ := http.NewRequest(tt.method, a.TS.URL+tt.path, nil)
		r := a.Do(req)
		if r.Status != tt.status {
			t.Errorf("%s %s: got %d, want %d", tt.method, tt.path, r.Status, tt.status)
		}
		if got := strings.HasPrefix(r.Header.Get("Content-Type"), "application/json"); got != tt.json {
			t.Errorf("%s %s: JSON %v, want %v", tt.method, tt.path, got, tt.json)
		}
	}
}

// TestHomeLeadsWithThePath: the home page starts the path at the first
// exercise, and links every page and JSON endpoint of the workshop, each
// of which answers.
func TestHomeLeadsWithThePath(t *testing.T) {
	a := testapp.New(t)
	home := a.Get("/")
	if home.Status != http.StatusOK {
		t.Fatalf("GET /: got %d", home.Status)
	}
	if !strings.Contains(home.Body, `href="/exercises#ex-find-slow">Start here`) {
		t.Error("the home page has no start-here link into the first exercise")
	}
	var links []string
	for _, m := range regexp.MustCompile(`href="(/[^"]*)"`).FindAllStringSubmatch(home.Body, -1) {
		links = append(links, strings.ReplaceAll(m[1], "&amp;", "&"))
	}
	for _, want := range []string{"/products", "/products/7", "/products/compare", "/products?page=2", "/products?page=9&per_page=50&cache=redis", "/weather", "/api/weather?city=Paris",
		"/api/products?page=2&per_page=5", "/api/products/7", "/api/data", "/benchmark", "/static-content", "/dynamic-content",
		"/conditional-content", "/products/1/edit", "/stampede", "/faults", "/cache-stats", "/api/cache-stats", "/exercises", "/exercises/class"} {
		if !contains(links, want) {
			t.Errorf("the home page does not link %s", want)
		}
	}
	for _, l := range links {
		if strings.HasPrefix(l, "/static/") {
			continue
		}
		if r := a.Get(l); r.Status != http.StatusOK {
			t.Errorf("home link %s: got %d, want 200", l, r.Status)
		}
	}
	// The groups follow the exercises: each group's first number is the
	// exercise that uses it first.
	heads := regexp.MustCompile(`<h2 id="g-[a-z]+">(\d+)`).FindAllStringSubmatch(home.Body, -1)
	prev := 0
	for _, h := range heads {
		n, _ := strconv.Atoi(h[1])
		if n <= prev {
			t.Errorf("group headings out of the exercises' order: %v", heads)
		}
		prev = n
	}
	if len(heads) < 6 {
		t.Errorf("groups: got %d, want the path's groups", len(heads))
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
