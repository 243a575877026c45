package account_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"cacheworkshop/app"
	"cacheworkshop/internal/testapp"
	"cacheworkshop/lessons/account"
)

// signIn posts the sign-in form as name and returns the Cookie header a
// browser would send afterwards.
func signIn(t *testing.T, a *testapp.App, name string) string {
	t.Helper()
	r := a.Post("/account/sign-in", url.Values{"name": {name}})
	if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/account" {
		t.Fatalf("sign in as %q: got %d to %q, want 303 to /account", name, r.Status, r.Header.Get("Location"))
	}
	for _, c := range (&http.Response{Header: r.Header}).Cookies() {
		if c.Name == "account" {
			return c.Name + "=" + c.Value
		}
	}
	t.Fatalf("sign in as %q set no account cookie (Set-Cookie %q)", name, r.Header.Values("Set-Cookie"))
	return ""
}

// The modes the tests load pages in: every cache mode, and none.
var (
	cachedModes = []string{"memory", "redis", "tiered"}
	allModes    = append([]string{"none"}, cachedModes...)
)

// setVariant moves the lesson's switch.
func setVariant(t *testing.T, a *testapp.App, v string) {
	t.Helper()
	if r := a.Post("/account/variant", url.Values{"variant": {v}}); r.Status != http.StatusSeeOther {
		t.Fatalf("variant %s: got %d, want 303", v, r.Status)
	}
}

// visit is one client's load of the account page: the greeting the page
// holds, whether the page flagged a leak, and X-Cache.
type visit struct {
	greets  string // the name in the greeting; "" for signed out
	leak    bool
	outcome string
	body    string
}

var greetingRE = regexp.MustCompile(`<p class="account-hello">(?:Hello, <strong class="account-name">([^<]*)</strong>|Hello, visitor)`)

func load(t *testing.T, a *testapp.App, mode, cookie string) visit {
	t.Helper()
	var r *testapp.Resp
	if cookie == "" {
		r = a.Get("/account?cache=" + mode)
	} else {
		r = a.Get("/account?cache="+mode, "Cookie", cookie)
	}
	if r.Status != http.StatusOK {
		t.Fatalf("GET /account: got %d, want 200", r.Status)
	}
	m := greetingRE.FindAllStringSubmatch(r.Body, -1)
	if len(m) != 1 {
		t.Fatalf("GET /account: got %d greetings, want 1", len(m))
	}
	return visit{greets: m[0][1], leak: strings.Contains(r.Body, `data-leak="true"`), outcome: r.Header.Get("X-Cache"), body: r.Body}
}

// TestWrongVariantLeaks: with the switch on the wrong variant, the first
// visitor's greeting is served to a second client with another cookie and
// to a signed-out one, from the cache, and the page flags it.
func TestWrongVariantLeaks(t *testing.T) {
	a := testapp.New(t)
	quentin, ulrike := signIn(t, a, "Quentin"), signIn(t, a, "Ulrike")
	setVariant(t, a, "shared")
	for _, mode := range cachedModes {
		t.Run(mode, func(t *testing.T) {
			first := load(t, a, mode, quentin)
			// The tiered mode reads Redis behind its memory layer, so the
			// entry the redis mode stored is a HIT there at once.
			if first.greets != "Quentin" || first.leak || (first.outcome != "MISS" && mode != "tiered") {
				t.Fatalf("Quentin's first load: got %+v, want a MISS greeting Quentin, no leak", first)
			}
			if !strings.Contains(first.body, "Wrong on purpose") {
				t.Error("the wrong variant is not labelled on the page")
			}
			for _, c := range []struct{ who, cookie string }{{"Ulrike", ulrike}, {"", ""}} {
				got := load(t, a, mode, c.cookie)
				if got.greets != "Quentin" || got.outcome != "HIT" {
					t.Errorf("%q in another client: got greeting %q %s, want Quentin's page as a HIT (the leak)", c.who, got.greets, got.outcome)
				}
				if !got.leak || !strings.Contains(got.body, "LEAK") {
					t.Errorf("%q was served Quentin's page without the leak being flagged", c.who)
				}
			}
		})
	}
}

// TestRightVariantsNeverLeak: per-user keys and the spliced greeting
// greet every client by its own cookie, whatever was cached before (the
// wrong variant's entry included), and share entries as they should.
func TestRightVariantsNeverLeak(t *testing.T) {
	a := testapp.New(t)
	quentin, ulrike := signIn(t, a, "Quentin"), signIn(t, a, "Ulrike")
	// The wrong variant stores Quentin's greeting first: the right variants
	// must never serve it.
	setVariant(t, a, "shared")
	for _, mode := range cachedModes {
		load(t, a, mode, quentin)
	}
	clients := []struct{ who, cookie string }{{"Quentin", quentin}, {"Ulrike", ulrike}, {"", ""}}
	for _, v := range []string{"per-user", "spliced"} {
		setVariant(t, a, v)
		for _, mode := range allModes {
			t.Run(v+"/"+mode, func(t *testing.T) {
				outcomes := map[string][]string{}
				for round := range 3 {
					for _, c := range clients {
						got := load(t, a, mode, c.cookie)
						if got.greets != c.who || got.leak {
							t.Errorf("round %d, client %q: greeted %q (leak flagged %v), want its own name", round, c.who, got.greets, got.leak)
						}
						for _, other := range clients {
							if other.who != "" && other.who != c.who && strings.Contains(got.body, other.who) {
								t.Errorf("round %d, client %q: the page contains %q", round, c.who, other.who)
							}
						}
						outcomes[c.who] = append(outcomes[c.who], got.outcome)
					}
				}
				// How each variant shares: per-user builds once per
				// visitor; spliced builds once for everyone.
				want := map[string][]string{}
				switch {
				case mode == "none":
					for _, c := range clients {
						want[c.who] = []string{"BYPASS", "BYPASS", "BYPASS"}
					}
				case v == "per-user":
					for _, c := range clients {
						want[c.who] = []string{"MISS", "HIT", "HIT"}
					}
				default:
					want = map[string][]string{"Quentin": {"MISS", "HIT", "HIT"}, "Ulrike": {"HIT", "HIT", "HIT"}, "": {"HIT", "HIT", "HIT"}}
				}
				if mode == "tiered" {
					return // Redis's entries are HITs there at once (see above)
				}
				for who, w := range want {
					if strings.Join(outcomes[who], " ") != strings.Join(w, " ") {
						t.Errorf("client %q: got X-Cache %v, want %v", who, outcomes[who], w)
					}
				}
			})
		}
	}
}

// barRE matches the request bar, the trace panel and one-time messages:
// the per-request markup every page carries, whose timings differ on every
// load.
var barRE = regexp.MustCompile(`(?s)<section class="reqbar.*?</details>`)

// TestOtherPagesIgnoreTheCookie: no other page changes with the account
// cookie: with and without it, in every mode, the same status, ETag and
// body (the request bar aside), the same cache outcome, and no trace of
// the name. The wrong variant is on, so a page that read the cookie would
// have had every chance to show it.
func TestOtherPagesIgnoreTheCookie(t *testing.T) {
	a := testapp.New(t)
	const name = "Zelda Canary"
	cookie := signIn(t, a, name)
	setVariant(t, a, "shared")
	load(t, a, "memory", cookie)
	pages := []string{"/", "/products", "/products?page=3", "/products/5", "/products/5/edit", "/api/products/5",
		"/api/products?page=2", "/weather", "/benchmark", "/static-content", "/stampede", "/faults", "/no-such-page"}
	for _, mode := range allModes {
		for _, p := range pages {
			u := p + sep(p) + "cache=" + mode
			a.Get(u) // warm, so both loads below are alike (HIT in a cache)
			without := a.Get(u)
			with := a.Get(u, "Cookie", cookie+"; cache_mode="+mode)
			if with.Status != without.Status || with.Header.Get("ETag") != without.Header.Get("ETag") ||
				with.Header.Get("X-Cache") != without.Header.Get("X-Cache") {
				t.Errorf("%s: with the cookie got %d %q %s, without %d %q %s", u, with.Status, with.Header.Get("ETag"), with.Header.Get("X-Cache"),
					without.Status, without.Header.Get("ETag"), without.Header.Get("X-Cache"))
			}
			if stable(p, mode) && barRE.ReplaceAllString(with.Body, "") != barRE.ReplaceAllString(without.Body, "") {
				t.Errorf("%s: the body differs with the account cookie", u)
			}
			if strings.Contains(with.Body, "Zelda") {
				t.Errorf("%s: the page shows the account cookie's name", u)
			}
		}
	}
}

// stable says whether a page's body, its bar aside, is the same on two
// loads: the HTTP caching page prints its render time, the Fibonacci page
// its measurements, and the JSON API its build time when nothing caches it.
func stable(p, mode string) bool {
	switch {
	case p == "/static-content", p == "/benchmark":
		return false
	case strings.HasPrefix(p, "/api/"):
		return mode != "none"
	}
	return true
}

func sep(p string) string {
	if strings.Contains(p, "?") {
		return "&"
	}
	return "?"
}

// TestCookieResponsesAreNotPublic: every response that sets the account
// cookie, and the account page itself, is kept out of shared caches.
func TestCookieResponsesAreNotPublic(t *testing.T) {
	a := testapp.New(t)
	cookie := signIn(t, a, "Quentin")
	for _, tc := range []struct {
		name string
		r    *testapp.Resp
	}{
		{"sign in", a.Post("/account/sign-in", url.Values{"name": {"Quentin"}})},
		{"sign out", a.Post("/account/sign-out", nil)},
		{"account page", a.Get("/account", "Cookie", cookie)},
		{"account page, mode set", a.Get("/account?cache=redis", "Cookie", cookie)},
	} {
		cc := strings.ToLower(tc.r.Header.Get("Cache-Control"))
		if strings.Contains(cc, "public") || !(strings.Contains(cc, "private") || strings.Contains(cc, "no-store")) {
			t.Errorf("%s: Cache-Control %q, want private or no-store, never public", tc.name, cc)
		}
	}
	page := a.Get("/account", "Cookie", cookie)
	if got, want := page.Header.Get("Cache-Control"), "private, no-store"; got != want {
		t.Errorf("account page Cache-Control: got %q, want %q", got, want)
	}
	if got, want := page.Header.Get("Vary"), "Cookie"; got != want {
		t.Errorf("account page Vary: got %q, want %q", got, want)
	}
	out := a.Post("/account/sign-out", nil)
	if sc := out.Header.Get("Set-Cookie"); !strings.Contains(sc, "account=;") || !strings.Contains(sc, "Max-Age=0") {
		t.Errorf("sign out: Set-Cookie %q, want the account cookie removed", sc)
	}
}

// TestAccountFormsRefuseBadInput: every refused form is a 4xx that names
// the problem and changes nothing: no cookie set, the switch unmoved.
func TestAccountFormsRefuseBadInput(t *testing.T) {
	a := testapp.New(t, func(c *app.Config) { c.AdminToken = "s3cret" })
	form := func(kv ...string) url.Values {
		v := url.Values{}
		for i := 0; i+1 < len(kv); i += 2 {
			v.Add(kv[i], kv[i+1])
		}
		return v
	}
	tests := []struct {
		name  string
		path  string
		form  url.Values
		extra []string
		want  int
		msg   string
	}{
		{"no name", "/account/sign-in", form(), nil, 422, "Type a name"},
		{"empty name", "/account/sign-in", form("name", ""), nil, 422, "Type a name"},
		{"name too long", "/account/sign-in", form("name", strings.Repeat("a", 25)), nil, 422, "at most 24"},
		{"markup", "/account/sign-in", form("name", "Al<b>x</b>"), nil, 422, "letters, digits"},
		{"leading space", "/account/sign-in", form("name", " Al"), nil, 422, "starts with a letter"},
		{"trailing space", "/account/sign-in", form("name", "Al "), nil, 422, "end with a space"},
		{"two spaces", "/account/sign-in", form("name", "Al  B"), nil, 422, "two spaces"},
		{"right-to-left override", "/account/sign-in", form("name", "Al\u202eB"), nil, 422, "letters, digits"},
		{"zero-width space", "/account/sign-in", form("name", "Al\u200bB"), nil, 422, "letters, digits"},
		{"newline", "/account/sign-in", form("name", "Al\nB"), nil, 422, "letters, digits"},
		{"NUL", "/account/sign-in", form("name", "Al\x00"), nil, 422, "letters, digits"},
		{"invalid UTF-8", "/account/sign-in", form("name", "Al\xff"), nil, 422, "UTF-8"},
		{"semicolon", "/account/sign-in", form("name", "Al;admin=1"), nil, 422, "letters, digits"},
		{"name twice, conflicting", "/account/sign-in", form("name", "Al", "name", "Bo"), nil, 400, "several different values"},
		{"cross-site sign-in", "/account/sign-in", form("name", "Al"), []string{"Sec-Fetch-Site", "cross-site"}, 403, "Cross-site"},
		{"JSON body", "/account/sign-in", nil, []string{"Content-Type", "application/json"}, 415, "urlencoded"},
		{"cross-site sign-out", "/account/sign-out", form(), []string{"Sec-Fetch-Site", "cross-site"}, 403, "Cross-site"},
		{"variant unknown", "/account/variant", form("variant", "leaky", "admin_token", "s3cret"), nil, 400, "must be one of"},
		{"variant missing", "/account/variant", form("admin_token", "s3cret"), nil, 400, "must be one of"},
		{"variant in capitals", "/account/variant", form("variant", "SHARED", "admin_token", "s3cret"), nil, 400, "must be one of"},
		{"variant twice", "/account/variant", form("variant", "shared", "variant", "spliced", "admin_token", "s3cret"), nil, 400, "several different values"},
		{"variant without the token", "/account/variant", form("variant", "shared"), nil, 403, "admin token"},
		{"variant with a wrong token", "/account/variant", form("variant", "shared", "admin_token", "nope"), nil, 403, "admin token"},
		{"variant cross-site", "/account/variant", form("variant", "shared", "admin_token", "s3cret"), []string{"Sec-Fetch-Site", "cross-site"}, 403, "Cross-site"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := a.Post(tt.path, tt.form, tt.extra...)
			if r.Status != tt.want {
				t.Fatalf("got %v, want %v (%.300s)", r.Status, tt.want, r.Body)
			}
			if !strings.Contains(r.Body, tt.msg) {
				t.Errorf("the %d page does not say %q", r.Status, tt.msg)
			}
			for _, sc := range r.Header.Values("Set-Cookie") {
				if strings.HasPrefix(sc, "account=") {
					t.Errorf("a refused form set the cookie: %q", sc)
				}
			}
		})
	}
	if r := a.Get("/account"); !strings.Contains(r.Body, `value="spliced" checked`) {
		t.Error("a refused form moved the switch")
	}
	// The same switch with the token is accepted.
	if r := a.Post("/account/variant", form("variant", "per-user", "admin_token", "s3cret")); r.Status != http.StatusSeeOther {
		t.Errorf("variant with the token: got %d, want 303", r.Status)
	}
	if r := a.Get("/account"); !strings.Contains(r.Body, `value="per-user" checked`) {
		t.Error("the switch did not move with the token")
	}
}

// TestHandEditedCookieIsIgnored: a cookie that does not decode to a valid
// name signs nobody in, and the page still answers.
func TestHandEditedCookieIsIgnored(t *testing.T) {
	a := testapp.New(t)
	for _, c := range []string{"account=!!!", "account=PGI-", "account=" + strings.Repeat("QUFB", 40), "account="} {
		got := load(t, a, "memory", c)
		if got.greets != "" {
			t.Errorf("cookie %q: greeted %q, want signed out", c, got.greets)
		}
	}
	// Names are shown escaped: an apostrophe is fine, and comes back intact.
	got := load(t, a, "redis", signIn(t, a, "Zoë O'Brien-Smith"))
	if got.greets != "Zoë O&#39;Brien-Smith" {
		t.Errorf("greeting: got %q, want the name, escaped", got.greets)
	}
}

func TestValidName(t *testing.T) {
	tests := []struct {
		name string
		ok   bool
	}{
		{"Quentin", true}, {"J. R. Smith", true}, {"Zoë", true}, {"Zoe\u0308", true}, {"O'Neil", true},
		{"Jean-Luc", true}, {"李小龙", true}, {"R2D2", true}, {strings.Repeat("é", 24), true},
		{"", false}, {" Al", false}, {"Al ", false}, {"-Al", false}, {"\u0308Al", false}, {"Al  B", false},
		{"Al\tB", false}, {"Al_B", false}, {"Al@b", false}, {"Al\u00a0B", false}, {"Al\u2028B", false},
		{"Al\ufeff", false}, {strings.Repeat("é", 25), false}, {"Al\xc3", false}, {"<script>", false},
	}
	for _, tt := range tests {
		if got := account.ValidName(tt.name) == nil; got != tt.ok {
			t.Errorf("ValidName(%q): got %v, want %v", tt.name, got, tt.ok)
		}
	}
}

// TestWrongVariantKeysAreItsOwn: the wrong variant's entry lives under the
// account page's own key, with variant=shared in it, and nowhere else.
func TestWrongVariantKeysAreItsOwn(t *testing.T) {
	a := testapp.New(t)
	setVariant(t, a, "shared")
	load(t, a, "redis", signIn(t, a, "Quentin"))
	keys, err := a.RedisServer.Client().Keys(context.Background(), a.Redis.Prefix()+"*").Result()
	if err != nil {
		t.Fatal(err)
	}
	var holding []string
	for _, k := range keys {
		v, err := a.RedisServer.Client().Get(context.Background(), k).Result()
		if err == nil && strings.Contains(v, "Quentin") {
			holding = append(holding, strings.TrimPrefix(k, a.Redis.Prefix()))
		}
	}
	if len(holding) != 1 || !regexp.MustCompile(`^page:account:\w+:/account\?round=1&variant=shared$`).MatchString(holding[0]) {
		t.Errorf("keys holding the name: got %v, want the one page:account:…:/account?round=1&variant=shared", holding)
	}
}
