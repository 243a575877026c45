package teacher_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"cacheworkshop/app"
	"cacheworkshop/internal/testapp"
)

// flashOf is the flash cookie a response set, ready to send back.
func flashOf(r *testapp.Resp) string {
	for _, c := range r.Header.Values("Set-Cookie") {
		if strings.HasPrefix(c, "flash=") {
			v, _, _ := strings.Cut(c, ";")
			return v
		}
	}
	return ""
}

// post sends a control's form and requires the 303 back to /teacher; it
// returns the page that follows, with its one-time message.
func post(t *testing.T, a *testapp.App, path string, form url.Values) *testapp.Resp {
	t.Helper()
	return follow(a, submit(t, a, path, form))
}

// submit is post without loading the page (which stores its own fragments
// in the cache).
func submit(t *testing.T, a *testapp.App, path string, form url.Values) *testapp.Resp {
	t.Helper()
	r := a.Post(path, form)
	if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/teacher" {
		t.Fatalf("POST %s %v: got %d to %q, want 303 to /teacher (%s)", path, form, r.Status, r.Header.Get("Location"), r.Body)
	}
	return r
}

// follow loads the page a control sent the browser back to.
func follow(a *testapp.App, r *testapp.Resp) *testapp.Resp {
	return a.Get(r.Header.Get("Location"), "Cookie", flashOf(r))
}

// refused is a bad form for a control: the status it gets.
type refused struct {
	name  string
	form  url.Values
	extra []string
	want  int
}

// badForms are the refusals every setting control shares, field being its
// number field.
func badForms(field string, tooLow, tooHigh string) []refused {
	return []refused{
		{"empty", url.Values{}, nil, http.StatusBadRequest},
		{"empty number", url.Values{field: {""}}, nil, http.StatusBadRequest},
		{"too low", url.Values{field: {tooLow}}, nil, http.StatusBadRequest},
		{"too high", url.Values{field: {tooHigh}}, nil, http.StatusBadRequest},
		{"not a number", url.Values{field: {"ten"}}, nil, http.StatusBadRequest},
		{"signed", url.Values{field: {"+30"}}, nil, http.StatusBadRequest},
		{"exponent", url.Values{field: {"3e1"}}, nil, http.StatusBadRequest},
		{"spaces", url.Values{field: {" 30"}}, nil, http.StatusBadRequest},
		{"two values", url.Values{field: {"30", "40"}}, nil, http.StatusBadRequest},
		{"restore and a number", url.Values{field: {"30"}, "restore": {"1"}}, nil, http.StatusBadRequest},
		{"restore not 1", url.Values{"restore": {"yes"}}, nil, http.StatusBadRequest},
		{"cross-site", url.Values{field: {"30"}}, []string{"Sec-Fetch-Site", "cross-site"}, http.StatusForbidden},
		{"foreign origin", url.Values{field: {"30"}}, []string{"Origin", "https://evil.example"}, http.StatusForbidden},
	}
}

func TestTeacherPage(t *testing.T) {
	a := testapp.New(t)
	r := a.Get("/teacher")
	if r.Status != http.StatusOK || r.Header.Get("X-Cache") != "BYPASS" {
		t.Fatalf("GET /teacher: got %d %s, want a live 200 (BYPASS)", r.Status, r.Header.Get("X-Cache"))
	}
	for _, want := range []string{
		`action="/reset"`, `action="/teacher/clear"`, `action="/teacher/page-ttl"`, `action="/teacher/memory-budget"`,
		`action="/teacher/weather-upstream"`, `Classroom mode`, `data-code-panel="teacher"`,
	} {
		if !strings.Contains(r.Body, want) {
			t.Errorf("the page lacks %s", want)
		}
	}
	if strings.Contains(r.Body, `name="admin_token"`) {
		t.Error("the page asks for an admin token, and none is set")
	}
	// The page is this moment's state, never stored.
	if a.Get("/teacher").Header.Get("X-Cache") != "BYPASS" {
		t.Error("the second load was not BYPASS")
	}
}

// TestTeacherPageTTL: a new TTL applies to the pages stored from then on,
// the bar of every page says so, and restoring removes the line.
func TestTeacherPageTTL(t *testing.T) {
	a := testapp.New(t) // CACHE_TTL is a minute
	page := post(t, a, "/teacher/page-ttl", url.Values{"seconds": {"7"}})
	if !strings.Contains(page.Body, "live 7 s (CACHE_TTL is 1 min)") || !strings.Contains(page.Body, `id="ttl-now">7 s<`) {
		t.Errorf("the page after the change does not show the new TTL")
	}
	if got := pageTTL(t, a); got != "7 s" {
		t.Fatalf("page TTL shown: got %q, want 7 s", got)
	}
	for _, mode := range []string{"memory", "redis"} {
		r := a.Get("/products?page=4&cache=" + mode)
		if r.Header.Get("X-Cache") != "MISS" || !strings.Contains(r.Body, "then stored for 7 s") {
			t.Errorf("%s: got %s, want a MISS stored for 7 s", mode, r.Header.Get("X-Cache"))
		}
		if !strings.Contains(r.Body, `<strong data-setting="page-ttl">7 s</strong> (CACHE_TTL is 1 min)`) {
			t.Errorf("%s: the request bar does not say the TTL changed", mode)
		}
		// The bar is per request: the stored page does not carry it.
		if hit := a.Get("/products?page=4&cache=" + mode); hit.Header.Get("X-Cache") != "HIT" || !strings.Contains(hit.Body, "data-changed-settings") {
			t.Errorf("%s: the hit got %s, want a HIT with the settings line", mode, hit.Header.Get("X-Cache"))
		}
	}
	// The backends hold the entry for 7 s, not a minute.
	ctx := context.Background()
	keys, err := a.RedisServer.Client().Keys(ctx, a.Redis.Prefix()+"page:list:*").Result()
	if err != nil || len(keys) != 1 {
		t.Fatalf("Redis page keys: got %v (%v), want one", keys, err)
	}
	if ttl := a.RedisServer.Client().PTTL(ctx, keys[0]).Val(); ttl <= 0 || ttl > 7*time.Second {
		t.Errorf("Redis PTTL of %s: got %v, want at most 7s", keys[0], ttl)
	}

	for _, tt := range badForms("seconds", "0", "86401") {
		t.Run(tt.name, func(t *testing.T) {
			if r := a.Post("/teacher/page-ttl", tt.form, tt.extra...); r.Status != tt.want {
				t.Errorf("got %d, want %d", r.Status, tt.want)
			}
			if got := pageTTL(t, a); got != "7 s" {
				t.Errorf("a refused form changed the TTL to %s", got)
			}
		})
	}

	page = post(t, a, "/teacher/page-ttl", url.Values{"restore": {"1"}})
	if !strings.Contains(page.Body, "Page TTL restored to 1 min (CACHE_TTL).") {
		t.Error("the page after restoring does not say so")
	}
	r := a.Get("/products?page=5")
	if strings.Contains(r.Body, "data-changed-settings") || !strings.Contains(r.Body, "then stored for 1 min") {
		t.Errorf("after restoring: settings line shown %v, want none and a page stored for 1 min", strings.Contains(r.Body, "data-changed-settings"))
	}
}

// TestTeacherMemoryBudget: a smaller budget evicts at once and bounds what
// follows; the bar says so until it is restored.
func TestTeacherMemoryBudget(t *testing.T) {
	a := testapp.New(t) // MEMORY_CACHE_MB is 32
	for p := 1; p <= 12; p++ {
		a.Get("/products?page=" + strconv.Itoa(p) + "&cache=memory")
	}
	before := a.Memory.Stats()
	if before.Bytes < 64<<10 {
		t.Fatalf("memory holds %d bytes, want more than the 64 KiB budget to come", before.Bytes)
	}
	page := post(t, a, "/teacher/memory-budget", url.Values{"kib": {"64"}})
	after := a.Memory.Stats()
	if after.MaxBytes != 64<<10 || after.Bytes > 64<<10 || after.Evictions == before.Evictions {
		t.Fatalf("after kib=64: budget %d, %d bytes, evictions %d → %d; want 65536, within it, some evicted",
			after.MaxBytes, after.Bytes, before.Evictions, after.Evictions)
	}
	evicted := int(after.Evictions - before.Evictions)
	if !strings.Contains(page.Body, "Memory budget set to 64 KiB: "+plural(evicted, "entry was", "entries were")+" evicted") {
		t.Errorf("the page does not report the %d evictions", evicted)
	}
	r := a.Get("/products/3?cache=memory")
	if !strings.Contains(r.Body, `<strong data-setting="memory-budget">64 KiB</strong> (MEMORY_CACHE_MB gave 32 MiB)`) {
		t.Error("the request bar does not say the budget changed")
	}
	for p := 13; p <= 21; p++ {
		a.Get("/products?page=" + strconv.Itoa(p) + "&cache=memory")
		if s := a.Memory.Stats(); s.Bytes > 64<<10 {
			t.Fatalf("after page %d: %d bytes, over the 64 KiB budget", p, s.Bytes)
		}
	}

	for _, tt := range badForms("kib", "15", "1073741825") {
		t.Run(tt.name, func(t *testing.T) {
			if r := a.Post("/teacher/memory-budget", tt.form, tt.extra...); r.Status != tt.want {
				t.Errorf("got %d, want %d", r.Status, tt.want)
			}
			if now := a.Memory.MaxBytes(); now != 64<<10 {
				t.Errorf("a refused form changed the budget to %d", now)
			}
		})
	}

	post(t, a, "/teacher/memory-budget", url.Values{"restore": {"1"}})
	if now := a.Memory.MaxBytes(); now != 32<<20 {
		t.Errorf("after restoring: budget %d, want 32 MiB", now)
	}
	if strings.Contains(a.Get("/products/3?cache=memory").Body, "data-changed-settings") {
		t.Error("the settings line is still shown after restoring")
	}
}

// TestTeacherClear clears each backend through its Clearer: memory
// entirely, Redis under the workshop's prefix only, generations kept.
func TestTeacherClear(t *testing.T) {
	a := testapp.New(t)
	ctx := context.Background()
	rc := a.RedisServer.Client()
	foreign := []string{"other:app:key", "cwx:1"}
	for _, k := range foreign {
		if err := rc.Set(ctx, k, "keep me", 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	for _, mode := range []string{"memory", "redis"} {
		a.Get("/products?cache=" + mode)
		a.Get("/products/5?cache=" + mode)
	}
	// An edit, so that generation counters exist to keep.
	if r := a.Post("/products/5/edit", testapp.EditForm(a.Product(5), map[string]string{"stock": "7"})); r.Status != http.StatusSeeOther {
		t.Fatalf("edit: got %d", r.Status)
	}
	a.Get("/products/5?cache=redis")
	gens := keys(t, a, "gen:*")
	if len(gens) == 0 || len(keys(t, a, "page:*")) == 0 {
		t.Fatalf("before the clears: generations %v, pages %v; want both", gens, keys(t, a, "page:*"))
	}

	for _, tt := range []refused{
		{"no backend", url.Values{}, nil, http.StatusBadRequest},
		{"unknown backend", url.Values{"backend": {"disk"}}, nil, http.StatusBadRequest},
		{"both", url.Values{"backend": {"memory", "redis"}}, nil, http.StatusBadRequest},
		{"cross-site", url.Values{"backend": {"memory"}}, []string{"Sec-Fetch-Site", "cross-site"}, http.StatusForbidden},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if r := a.Post("/teacher/clear", tt.form, tt.extra...); r.Status != tt.want {
				t.Errorf("got %d, want %d", r.Status, tt.want)
			}
			if a.Memory.Stats().Entries == 0 || len(keys(t, a, "page:*")) == 0 {
				t.Error("a refused clear emptied a cache")
			}
		})
	}

	entries := a.Memory.Stats().Entries
	r := submit(t, a, "/teacher/clear", url.Values{"backend": {"memory"}})
	if n := a.Memory.Stats().Entries; n != 0 {
		t.Errorf("memory after its clear: got %d entries, want 0", n)
	}
	page := follow(a, r)
	if !strings.Contains(page.Body, "Cleared the memory cache of this process: "+plural(entries, "entry", "entries")+" removed") {
		t.Error("the page does not report the memory clear")
	}
	if got := a.Get("/products/5?cache=redis").Header.Get("X-Cache"); got != "HIT" {
		t.Errorf("Redis after clearing memory: got %s, want HIT (untouched)", got)
	}

	r = submit(t, a, "/teacher/clear", url.Values{"backend": {"redis"}})
	if left := keys(t, a, "*"); !slices.Equal(sorted(left), sorted(gens)) {
		t.Errorf("keys under the prefix after the Redis clear: got %v, want only the generations %v", left, gens)
	}
	page = follow(a, r)
	for _, k := range foreign {
		if v, err := rc.Get(ctx, k).Result(); err != nil || v != "keep me" {
			t.Errorf("foreign key %q: got %q (%v), want it kept", k, v, err)
		}
	}
	if !strings.Contains(page.Body, "Cleared Redis: every key under "+a.Redis.Prefix()) {
		t.Error("the page does not report the Redis clear")
	}
	for i, want := range []string{"MISS", "HIT"} {
		if got := a.Get("/products/5?cache=redis").Header.Get("X-Cache"); got != want {
			t.Errorf("Redis load %d after its clear: got %s, want %s", i, got, want)
		}
	}
}

// TestTeacherClearRedisDown: with Redis gone, the clear says so and the
// page still answers.
func TestTeacherClearRedisDown(t *testing.T) {
	a := testapp.New(t)
	a.RedisServer.Stop()
	page := post(t, a, "/teacher/clear", url.Values{"backend": {"redis"}})
	if page.Status != http.StatusOK || !strings.Contains(page.Body, "Redis could not be cleared") {
		t.Errorf("got %d, message shown %v; want 200 saying Redis could not be cleared", page.Status, strings.Contains(page.Body, "Redis could not be cleared"))
	}
}

// TestTeacherWeatherUpstream takes the simulated upstream down: with no
// cache the API fails, a cached reading is still served; then back up.
func TestTeacherWeatherUpstream(t *testing.T) {
	a := testapp.New(t)
	if r := a.Get("/api/weather?city=paris&cache=memory"); r.Status != http.StatusOK || r.Header.Get("X-Cache") != "MISS" {
		t.Fatalf("before: got %d %s, want a 200 MISS", r.Status, r.Header.Get("X-Cache"))
	}
	page := post(t, a, "/teacher/weather-upstream", url.Values{"upstream": {"down"}})
	if !strings.Contains(page.Body, `<span class="badge badge-error">DOWN</span>`) {
		t.Error("the page does not show the upstream down")
	}
	r := a.Get("/api/weather?city=paris&cache=none")
	if r.Status != http.StatusBadGateway || !strings.Contains(r.Body, "switched off on the teacher page") {
		t.Errorf("mode none with the upstream down: got %d %s, want 502 naming the switch", r.Status, r.Body)
	}
	if r := a.Get("/api/weather?city=paris&cache=memory"); r.Status != http.StatusOK || r.Header.Get("X-Cache") != "HIT" {
		t.Errorf("memory with the upstream down: got %d %s, want the cached reading (200 HIT)", r.Status, r.Header.Get("X-Cache"))
	}
	for _, tt := range []refused{
		{"no state", url.Values{}, nil, http.StatusBadRequest},
		{"unknown state", url.Values{"upstream": {"sideways"}}, nil, http.StatusBadRequest},
		{"two states", url.Values{"upstream": {"up", "down"}}, nil, http.StatusBadRequest},
		{"cross-site", url.Values{"upstream": {"up"}}, []string{"Sec-Fetch-Site", "cross-site"}, http.StatusForbidden},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if r := a.Post("/teacher/weather-upstream", tt.form, tt.extra...); r.Status != tt.want {
				t.Errorf("got %d, want %d", r.Status, tt.want)
			}
			if r := a.Get("/api/weather?city=paris&cache=none"); r.Status != http.StatusBadGateway {
				t.Errorf("a refused form brought the upstream up (got %d)", r.Status)
			}
		})
	}
	post(t, a, "/teacher/weather-upstream", url.Values{"upstream": {"up"}})
	if r := a.Get("/api/weather?city=paris&cache=none"); r.Status != http.StatusOK {
		t.Errorf("after bringing it up: got %d, want 200", r.Status)
	}
}

// TestTeacherNeedsAdminToken: with ADMIN_TOKEN set, every control needs
// the token and changes nothing without it; the page stays open and asks
// for the token in each form.
func TestTeacherNeedsAdminToken(t *testing.T) {
	a := testapp.New(t, func(c *app.Config) { c.AdminToken = "s3cret" })
	a.Get("/products?cache=memory")
	controls := []struct {
		path    string
		form    url.Values
		changed func() bool
	}{
		{"/teacher/page-ttl", url.Values{"seconds": {"9"}}, func() bool { return pageTTL(t, a) != "1 min" }},
		{"/teacher/memory-budget", url.Values{"kib": {"128"}}, func() bool { return a.Memory.MaxBytes() != 32<<20 }},
		{"/teacher/clear", url.Values{"backend": {"memory"}}, func() bool { return a.Memory.Stats().Entries == 0 }},
		{"/teacher/weather-upstream", url.Values{"upstream": {"down"}}, func() bool {
			return a.Get("/api/weather?city=oslo&cache=none").Status == http.StatusBadGateway
		}},
	}
	for _, c := range controls {
		t.Run(c.path, func(t *testing.T) {
			for _, tok := range []string{"", "wrong"} {
				f := url.Values{}
				for k, v := range c.form {
					f[k] = v
				}
				if tok != "" {
					f.Set("admin_token", tok)
				}
				if r := a.Post(c.path, f); r.Status != http.StatusForbidden {
					t.Errorf("token %q: got %d, want 403", tok, r.Status)
				}
				if c.changed() {
					t.Fatalf("token %q: a refused post took effect", tok)
				}
			}
			f := url.Values{"admin_token": {"s3cret"}}
			for k, v := range c.form {
				f[k] = v
			}
			if r := a.Post(c.path, f); r.Status != http.StatusSeeOther {
				t.Errorf("with the token: got %d, want 303", r.Status)
			}
			if !c.changed() {
				t.Error("with the token: the control did not take effect")
			}
		})
	}
	page := a.Get("/teacher")
	if page.Status != http.StatusOK || strings.Count(page.Body, `name="admin_token"`) < 5 {
		t.Errorf("GET /teacher: got %d with %d token fields, want 200 with one per form", page.Status, strings.Count(page.Body, `name="admin_token"`))
	}
	if r := a.Post("/reset", url.Values{}); r.Status != http.StatusForbidden {
		t.Errorf("the reset button's POST /reset without the token: got %d, want 403", r.Status)
	}
}

// keys lists the keys under the workshop's Redis prefix matching pattern.
func keys(t *testing.T, a *testapp.App, pattern string) []string {
	t.Helper()
	ks, err := a.RedisServer.Client().Keys(context.Background(), a.Redis.Prefix()+pattern).Result()
	if err != nil {
		t.Fatal(err)
	}
	return ks
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}

var ttlNow = regexp.MustCompile(`id="ttl-now">([^<]+)<`)

// pageTTL is the page TTL the teacher page shows now.
func pageTTL(t *testing.T, a *testapp.App) string {
	t.Helper()
	m := ttlNow.FindStringSubmatch(a.Get("/teacher").Body)
	if m == nil {
		t.Fatal("the teacher page shows no page TTL")
	}
	return m[1]
}
