package handlers_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"cacheworkshop/app"
	"cacheworkshop/cache"
	"cacheworkshop/handlers"
	"cacheworkshop/internal/testapp"
	"cacheworkshop/models"
)

// fuzzServer is one seeded server per fuzz target (and per fuzzing worker
// process), driven in process with httptest.NewRecorder.
type fuzzServer struct {
	srv   *handlers.Server
	store *models.Store
}

func newFuzzServer(tb testing.TB) *fuzzServer {
	tb.Helper()
	fs := &fuzzServer{}
	// The weather upstream is this same server over real HTTP, as in a
	// real run; a recorder has no local address to call back.
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fs.srv.ServeHTTP(w, r) }))
	tb.Cleanup(up.Close)
	a := testapp.New(tb, func(c *app.Config) {
		c.MemoryBytes = 8 << 20
		c.WeatherLatency, c.WeatherURL = time.Millisecond, up.URL
	})
	fs.srv, fs.store = a.Server, a.Store
	return fs
}

var fuzzModes = []string{"none", "memory", "redis"}

// serve sends req through the whole handler stack and checks what every
// response must satisfy: no 5xx, and a 4xx in HTML for pages or JSON for
// /api/.
func (fs *fuzzServer) serve(t *testing.T, req *http.Request, mode uint8) *httptest.ResponseRecorder {
	t.Helper()
	req.Header.Set("Cookie", "cache_mode="+fuzzModes[int(mode)%len(fuzzModes)])
	rec := httptest.NewRecorder()
	fs.srv.ServeHTTP(rec, req)
	if rec.Code >= 500 {
		t.Fatalf("%s %q ?%q: status %d: %.300s", req.Method, req.URL.Path, req.URL.RawQuery, rec.Code, rec.Body.String())
	}
	if rec.Code >= 400 {
		ct := rec.Header().Get("Content-Type")
		want := "text/html"
		if strings.HasPrefix(req.URL.Path, "/api/") {
			want = "application/json"
		}
		if !strings.HasPrefix(ct, want) {
			t.Fatalf("%s %q ?%q: %d with Content-Type %q, want %s", req.Method, req.URL.Path, req.URL.RawQuery, rec.Code, ct, want)
		}
	}
	return rec
}

func fuzzGet(path, rawQuery string) *http.Request {
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.URL.Path, req.URL.RawPath, req.URL.RawQuery = path, "", rawQuery
	req.RequestURI = ""
	return req
}

// FuzzMode: ?cache= is served exactly when cache.ParseMode accepts it, in
// the mode it names.
func FuzzMode(f *testing.F) {
	for _, s := range []string{"none", "memory", "redis", "REDIS", " off ", "1", "true", "", "bogus", "\xff", "memory\x00", strings.Repeat("r", 100)} {
		f.Add(s, false)
		f.Add(s, true)
	}
	fs := newFuzzServer(f)
	f.Fuzz(func(t *testing.T, mode string, api bool) {
		path := "/products"
		if api {
			path = "/api/products"
		}
		rec := fs.serve(t, fuzzGet(path, url.Values{"cache": {mode}}.Encode()), 0)
		m, err := cache.ParseMode(mode, cache.ModeMemory)
		switch {
		case err != nil && rec.Code != 400:
			t.Fatalf("cache=%q: status %d, want 400 (ParseMode: %v)", mode, rec.Code, err)
		case err == nil && rec.Code != 200:
			t.Fatalf("cache=%q: status %d, want 200", mode, rec.Code)
		case err == nil && rec.Header().Get("X-Cache-Mode") != m.String():
			t.Fatalf("cache=%q: X-Cache-Mode %q, want %q", mode, rec.Header().Get("X-Cache-Mode"), m)
		}
	})
}

// fuzzNumber is the pagination contract: digits only, at most 9 of them,
// within [lo, hi].
func fuzzNumber(s string, lo, hi int) (int, bool) {
	if s == "" || len(s) > 9 {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	n, _ := strconv.Atoi(s)
	return n, n >= lo && n <= hi
}

// FuzzPagination: ?page= and ?per_page= are served exactly when both are
// in range for the 1000-product catalogue, as pages and as JSON.
func FuzzPagination(f *testing.F) {
	for _, s := range [][2]string{{"1", "20"}, {"50", "20"}, {"51", "20"}, {"0", "1"}, {"1000", "1"}, {"1001", "1"},
		{"-1", "10"}, {"1", "101"}, {"1", "100"}, {"10", "100"}, {"11", "100"}, {"99999999999", "1"}, {"1e3", "1"}, {"%ff", "\xff"}, {"", ""}, {" 1", "2 "}} {
		f.Add(s[0], s[1], uint8(1), false)
		f.Add(s[0], s[1], uint8(2), true)
	}
	fs := newFuzzServer(f)
	f.Fuzz(func(t *testing.T, page, perPage string, mode uint8, api bool) {
		path := "/products"
		if api {
			path = "/api/products"
		}
		rec := fs.serve(t, fuzzGet(path, url.Values{"page": {page}, "per_page": {perPage}}.Encode()), mode)
		pp, ok1 := fuzzNumber(perPage, 1, 100)
		p, ok2 := fuzzNumber(page, 1, 1_000_000)
		valid := ok1 && ok2 && p <= (1000+pp-1)/pp
		if valid != (rec.Code == 200) {
			t.Fatalf("page=%q per_page=%q: status %d, want valid=%v", page, perPage, rec.Code, valid)
		}
		if !valid && rec.Code != 400 {
			t.Fatalf("page=%q per_page=%q: status %d, want 400", page, perPage, rec.Code)
		}
	})
}

// FuzzQuery: arbitrary raw query strings on every cached page never cause
// a 5xx.
func FuzzQuery(f *testing.F) {
	for _, s := range []string{"page=1&x=1", "page=%ff", "cache=redis&cache=none", "page=1;per_page=2", "%", "a=%zz", "page=1&page=1", "&&&==", "per_page=\x00"} {
		f.Add("/products", s, uint8(0))
		f.Add("/api/products", s, uint8(1))
		f.Add("/benchmark", "n="+s, uint8(2))
	}
	fs := newFuzzServer(f)
	f.Fuzz(func(t *testing.T, path, raw string, mode uint8) {
		switch path {
		case "/", "/products", "/api/products", "/products/5", "/api/products/5", "/benchmark", "/api/data", "/cache-stats", "/api/cache-stats":
		default:
			path = "/products"
		}
		fs.serve(t, fuzzGet(path, raw), mode)
	})
}

// FuzzProductID: /products/{id} and /api/products/{id} answer 200 for an
// existing id, 404 for a well-formed missing one, and 400 for anything
// models.ParseID refuses.
func FuzzProductID(f *testing.F) {
	for _, s := range []string{"1", "1000", "1001", "0", "-1", "007", "1e3", "9223372036854775807", "9223372036854775808",
		"99999999999999999999", "abc", "\xff", "1\x00", " 1", "<script>", "5/edit"} {
		f.Add(s, uint8(0), false)
		f.Add(s, uint8(2), true)
	}
	fs := newFuzzServer(f)
	f.Fuzz(func(t *testing.T, id string, mode uint8, api bool) {
		path := "/products/" + id
		if api {
			path = "/api" + path
		}
		rec := fs.serve(t, fuzzGet(path, ""), mode)
		if id == "" || strings.Contains(id, "/") || id == "compare" {
			return // another route, or none
		}
		want := 400
		if n, err := models.ParseID(id); err == nil {
			want = 404
			if n <= 1000 {
				want = 200
			}
		}
		if rec.Code != want {
			t.Fatalf("%s: status %d, want %d", path, rec.Code, want)
		}
	})
}

// FuzzEditForm posts the edit form: it redirects (303) only when
// models.ProductInput.Validate accepts the input at the current version,
// and otherwise answers 422, 400 or 409 as the validation result says.
func FuzzEditForm(f *testing.F) {
	f.Add("Desk lamp", "A lamp.", "Home & Kitchen", "19.99", "5", "", true)
	f.Add("", "", "", "", "", "1", false)
	f.Add("<b>x</b>", "multi\nline", "Books", "$1,234.56", "0", "", true)
	f.Add("n\x00", "d", "Toys", "-1", "-1", "", true)
	f.Add("\xff", "\u2028", "Weapons", "1e5", "1.5", "abc", false)
	f.Add(strings.Repeat("n", 201), strings.Repeat("d", 5001), "Music", "1000000.01", "1000001", "0", false)
	f.Add("ok", "ok", " Garden ", " 7 ", " 7 ", "99999999999999999999", false)
	fs := newFuzzServer(f)
	f.Fuzz(func(t *testing.T, name, desc, category, price, stock, version string, current bool) {
		cur, err := fs.store.Get(context.Background(), 1)
		if err != nil {
			t.Fatal(err)
		}
		if current {
			version = strconv.FormatInt(cur.Version, 10)
		}
		form := url.Values{"name": {name}, "description": {desc}, "category": {category},
			"price": {price}, "stock": {stock}, "version": {version}}
		body := form.Encode()
		req := httptest.NewRequest(http.MethodPost, "/products/1/edit", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		rec := fs.serve(t, req, 0)

		in := models.ProductInput{Name: name, Description: desc, Category: category, Price: price, Stock: stock, Version: version}
		ch, verr := in.Validate()
		var want int
		switch {
		case len(body) > 64<<10:
			want = http.StatusRequestEntityTooLarge
		case verr == nil && ch.BaseVersion == cur.Version:
			want = http.StatusSeeOther
		case verr == nil:
			want = http.StatusConflict
		case models.ErrorCode(verr) == models.EUNPROC:
			want = http.StatusUnprocessableEntity
		default:
			want = http.StatusBadRequest
		}
		if rec.Code != want {
			t.Fatalf("form %q: status %d, want %d (Validate: %v)", body, rec.Code, want, verr)
		}
		after, err := fs.store.Get(context.Background(), 1)
		if err != nil {
			t.Fatal(err)
		}
		if changed := after.Version != cur.Version; changed != (rec.Code == http.StatusSeeOther) {
			t.Fatalf("form %q: status %d but version %d → %d", body, rec.Code, cur.Version, after.Version)
		}
		if rec.Code == http.StatusSeeOther && (after.Name != ch.Name || after.Price != ch.Price || after.Stock != ch.Stock) {
			t.Fatalf("form %q: stored %q %d %d, want %q %d %d", body, after.Name, after.Price, after.Stock, ch.Name, ch.Price, ch.Stock)
		}
	})
}
