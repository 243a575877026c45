package handlers_test

import (
	"bytes"
	"cacheworkshop/internal/testapp"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// hostileCase is one bad request and the exact status it must get.
type hostileCase struct {
	name   string
	method string
	path   string
	// ctype and body make a request body; form is url-encoded when
	// ctype is empty and form is set.
	ctype  string
	body   string
	form   url.Values
	header []string // name/value pairs
	status int
}

// hostileForm is a valid edit of seeded product 1 at version 1, with
// changes applied: every row that starts from it must fail on exactly the
// field it spoils.
func hostileForm(changes map[string]string) url.Values {
	v := url.Values{"name": {"Valid name"}, "description": {"Valid description."}, "category": {"Books"},
		"price": {"12.34"}, "stock": {"5"}, "version": {"1"}}
	for k, val := range changes {
		if val == "\x00delete" {
			v.Del(k)
			continue
		}
		v.Set(k, val)
	}
	return v
}

// hostilePayload is markup that must never come back unescaped.
const hostilePayload = "<script>alert(1)</script>"

func hostileCases() []hostileCase {
	get := func(path string, status int) hostileCase {
		return hostileCase{name: "GET " + path, method: http.MethodGet, path: path, status: status}
	}
	edit := func(name string, changes map[string]string, status int) hostileCase {
		return hostileCase{name: "edit " + name, method: http.MethodPost, path: "/products/1/edit", form: hostileForm(changes), status: status}
	}
	// A new product's form is the edit form without the version.
	create := func(name string, changes map[string]string, status int) hostileCase {
		f := hostileForm(changes)
		f.Del("version")
		return hostileCase{name: "create " + name, method: http.MethodPost, path: "/products/new", form: f, status: status}
	}
	del := func(name, path string, form url.Values, status int) hostileCase {
		return hostileCase{name: "delete " + name, method: http.MethodPost, path: path, form: form, status: status}
	}
	createForm := hostileForm(nil)
	createForm.Del("version")
	huge := strings.Repeat("9", 5000)
	bigForm := hostileForm(map[string]string{"description": strings.Repeat("x", 70<<10)})
	var mp bytes.Buffer
	mw := multipart.NewWriter(&mp)
	for k, vs := range bigForm {
		_ = mw.WriteField(k, vs[0])
	}
	_ = mw.Close()
	// A multipart form that carries a file, which no form of the
	// workshop accepts.
	var fileBody bytes.Buffer
	fileForm := multipart.NewWriter(&fileBody)
	for k, vs := range hostileForm(nil) {
		_ = fileForm.WriteField(k, vs[0])
	}
	if fw, err := fileForm.CreateFormFile("image", "lamp.png"); err == nil {
		_, _ = fw.Write([]byte("\x89PNG"))
	}
	_ = fileForm.Close()
	cases := []hostileCase{
		// Pagination: out of range, overflowing, not numbers, repeated.
		get("/products?page=0", 400),
		get("/products?page=-1", 400),
		get("/products?page=1000001", 400),
		get("/products?page=51", 400),
		get("/products?page=99999999999999999999", 400),
		get("/products?page="+huge, 400),
		get("/products?page=abc", 400),
		get("/products?page=1.5", 400),
		get("/products?page=%2B1", 400),
		get("/products?page=%201", 400),
		get("/products?page=0x10", 400),
		get("/products?page=", 400),
		get("/products?page=%ff", 400),
		get("/products?page=1%00", 400),
		get("/products?page=1&page=2", 400),
		get("/products?per_page=0", 400),
		get("/products?per_page=101", 400),
		get("/products?per_page=-5", 400),
		get("/products?per_page=1e2", 400),
		get("/products?per_page=20&per_page=50", 400),
		// Cache mode.
		get("/products?cache=bogus", 400),
		get("/products?cache=", 400),
		get("/products?cache=%ff", 400),
		get("/?cache=%00", 400),
		get("/products?cache=memory&cache=redis", 400),
		get("/products?cache="+url.QueryEscape(hostilePayload), 400),
		get("/products?cache="+strings.Repeat("m", 5000), 400),
		get("/cache-stats?cache=bogus", 400),
		// Product ids.
		get("/products/0", 400),
		get("/products/-1", 400),
		get("/products/abc", 400),
		get("/products/1e3", 400),
		get("/products/1.0", 400),
		get("/products/9223372036854775808", 400),
		get("/products/99999999999999999999999", 400),
		get("/products/"+huge, 400),
		get("/products/%ff", 400),
		get("/products/%00", 400),
		get("/products/1%2F2", 400),
		get("/products/"+url.PathEscape(hostilePayload), 400),
		get("/products/1001", 404),
		get("/products/0/edit", 400),
		get("/products/x/edit", 400),
		get("/products/%ff/edit", 400),
		get("/products/1001/edit", 404),
		// Other pages' parameters.
		get("/benchmark?n=0", 400),
		get("/benchmark?n=301", 400),
		get("/benchmark?n=abc", 400),
		get("/benchmark?n=99999999999", 400),
		get("/benchmark?n=1&n=2", 400),
		get("/benchmark?n=%ff", 400),
		get("/products/compare?page=0", 400),
		get("/products/compare?page=51", 400),
		get("/products/compare?page=x", 400),
		get("/products/compare?page=1&page=2", 400),
		// The JSON API answers errors in JSON.
		get("/api/products?page=0", 400),
		get("/api/products?per_page=1000", 400),
		get("/api/products?page=%ff", 400),
		get("/api/products?page=1&page=2", 400),
		get("/api/products?page=51", 400),
		get("/api/products?cache=x", 400),
		get("/api/products/0", 400),
		get("/api/products/abc", 400),
		get("/api/products/99999999999999999999", 400),
		get("/api/products/"+url.PathEscape(hostilePayload), 400),
		get("/api/products/1001", 404),
		get("/api/weather", 400),
		get("/api/weather?city=", 400),
		get("/api/weather?city=%20%20", 400),
		get("/api/weather?city=%ff", 400),
		get("/api/weather?city=Par%00is", 400),
		get("/api/weather?city=123", 400),
		get("/api/weather?city="+strings.Repeat("a", 65), 400),
		get("/api/weather?city="+strings.Repeat("a", 5000), 400),
		get("/api/weather?city="+url.QueryEscape(hostilePayload), 400),
		get("/api/weather?city=Paris&city=Rome", 400),
		get("/api/weather?city=Paris&cache=bogus", 400),
		{name: "POST /api/weather", method: http.MethodPost, path: "/api/weather?city=Paris", form: url.Values{"city": {"Paris"}}, status: 405},
		get("/api/cache-stats?cache=bogus", 400),
		get("/api/data?cache=%ff", 400),
		// Wrong methods.
		{name: "DELETE /products/1", method: http.MethodDelete, path: "/products/1", status: 405},
		{name: "PATCH /products/1", method: http.MethodPatch, path: "/products/1", status: 405},
		{name: "PUT /products/1/edit", method: http.MethodPut, path: "/products/1/edit", form: hostileForm(nil), status: 405},
		{name: "POST /products/1", method: http.MethodPost, path: "/products/1", form: hostileForm(nil), status: 405},
		{name: "POST /products", method: http.MethodPost, path: "/products", form: hostileForm(nil), status: 405},
		{name: "POST /", method: http.MethodPost, path: "/", form: hostileForm(nil), status: 405},
		{name: "DELETE /api/products/1", method: http.MethodDelete, path: "/api/products/1", status: 405},
		{name: "POST /api/products", method: http.MethodPost, path: "/api/products", ctype: "application/json", body: `{"name":"x"}`, status: 405},
		{name: "GET /cache-stats/clear", method: http.MethodGet, path: "/cache-stats/clear", status: 405},
		// Wrong content types and unreadable bodies.
		{name: "edit as JSON", method: http.MethodPost, path: "/products/1/edit", ctype: "application/json",
			body: `{"name":"x","price":"1","stock":"1","category":"Books","version":"1"}`, status: 415},
		{name: "edit as text", method: http.MethodPost, path: "/products/1/edit", ctype: "text/plain", body: hostileForm(nil).Encode(), status: 415},
		{name: "edit without content type", method: http.MethodPost, path: "/products/1/edit", ctype: "-", body: hostileForm(nil).Encode(), status: 415},
		{name: "edit with malformed content type", method: http.MethodPost, path: "/products/1/edit", ctype: ";;;=", body: hostileForm(nil).Encode(), status: 415},
		{name: "edit multipart without boundary", method: http.MethodPost, path: "/products/1/edit", ctype: "multipart/form-data", body: "--x\r\n", status: 400},
		{name: "edit with bad percent-encoding", method: http.MethodPost, path: "/products/1/edit", ctype: "application/x-www-form-urlencoded", body: "name=%zz&version=1", status: 400},
		{name: "edit over 64 KiB", method: http.MethodPost, path: "/products/1/edit", form: bigForm, status: 413},
		{name: "edit multipart over 64 KiB", method: http.MethodPost, path: "/products/1/edit", ctype: mw.FormDataContentType(), body: mp.String(), status: 413},
		// Edit form fields: numbers.
		edit("price not a number", map[string]string{"price": "abc"}, 422),
		edit("negative price", map[string]string{"price": "-1"}, 422),
		edit("overflowing price", map[string]string{"price": "99999999999999999999"}, 422),
		edit("price just over the maximum", map[string]string{"price": "1000000.01"}, 422),
		edit("price with exponent", map[string]string{"price": "1e5"}, 422),
		edit("price NaN", map[string]string{"price": "NaN"}, 422),
		edit("price three decimals", map[string]string{"price": "1.234"}, 422),
		edit("price empty", map[string]string{"price": ""}, 422),
		edit("negative stock", map[string]string{"stock": "-1"}, 422),
		edit("stock over the maximum", map[string]string{"stock": "1000001"}, 422),
		edit("overflowing stock", map[string]string{"stock": "9223372036854775808"}, 422),
		edit("fractional stock", map[string]string{"stock": "1.5"}, 422),
		edit("stock with sign", map[string]string{"stock": "+5"}, 422),
		// Text fields.
		edit("empty name", map[string]string{"name": ""}, 422),
		edit("blank name", map[string]string{"name": " \t "}, 422),
		edit("name of 201 characters", map[string]string{"name": strings.Repeat("é", 201)}, 422),
		edit("name of 60 KB", map[string]string{"name": strings.Repeat("n", 60<<10)}, 422),
		edit("name with NUL", map[string]string{"name": "bad\x00name"}, 422),
		edit("name with ESC", map[string]string{"name": "bad\x1b[31mname"}, 422),
		edit("name with raw invalid UTF-8", map[string]string{"name": "bad\xff\xfename"}, 422),
		edit("name with line separator", map[string]string{"name": "bad\u2028name"}, 422),
		edit("name with markup and NUL", map[string]string{"name": hostilePayload + "\x00"}, 422),
		edit("description of 5001 characters", map[string]string{"description": strings.Repeat("d", 5001)}, 422),
		edit("description with BEL", map[string]string{"description": "ding\x07"}, 422),
		edit("description with invalid UTF-8", map[string]string{"description": "\xc3\x28"}, 422),
		edit("unknown category", map[string]string{"category": "Weapons"}, 422),
		edit("empty category", map[string]string{"category": ""}, 422),
		edit("markup category", map[string]string{"category": hostilePayload}, 422),
		// The version the form was opened at.
		edit("missing version", map[string]string{"version": "\x00delete"}, 400),
		edit("version zero", map[string]string{"version": "0"}, 400),
		edit("version not a number", map[string]string{"version": "abc"}, 400),
		edit("overflowing version", map[string]string{"version": "99999999999999999999"}, 400),
		edit("stale version", map[string]string{"version": "7"}, 409),
		{name: "edit of a missing product", method: http.MethodPost, path: "/products/1001/edit", form: hostileForm(nil), status: 404},
		{name: "edit of id 0", method: http.MethodPost, path: "/products/0/edit", form: hostileForm(nil), status: 400},
		{name: "edit with conflicting names", method: http.MethodPost, path: "/products/1/edit", ctype: "application/x-www-form-urlencoded",
			body: hostileForm(nil).Encode() + "&name=Other+name", status: 400},
		{name: "edit with conflicting versions", method: http.MethodPost, path: "/products/1/edit", ctype: "application/x-www-form-urlencoded",
			body: hostileForm(nil).Encode() + "&version=2", status: 400},
		// Cross-site posts.
		{name: "cross-site edit", method: http.MethodPost, path: "/products/1/edit", form: hostileForm(nil), header: []string{"Sec-Fetch-Site", "cross-site"}, status: 403},
		{name: "edit from a foreign origin", method: http.MethodPost, path: "/products/1/edit", form: hostileForm(nil), header: []string{"Origin", "http://evil.example"}, status: 403},
		// The cache-clearing form.
		{name: "clear unknown backend", method: http.MethodPost, path: "/cache-stats/clear", form: url.Values{"backend": {"disk"}}, status: 400},
		{name: "clear without backend", method: http.MethodPost, path: "/cache-stats/clear", form: url.Values{}, status: 400},
		{name: "clear markup backend", method: http.MethodPost, path: "/cache-stats/clear", form: url.Values{"backend": {hostilePayload}}, status: 400},
		{name: "clear over 64 KiB", method: http.MethodPost, path: "/cache-stats/clear", form: url.Values{"backend": {"memory"}, "pad": {strings.Repeat("p", 65<<10)}}, status: 413},
		{name: "cross-site clear", method: http.MethodPost, path: "/cache-stats/clear", form: url.Values{"backend": {"memory"}}, header: []string{"Sec-Fetch-Site", "cross-site"}, status: 403},
		{name: "clear with conflicting backends", method: http.MethodPost, path: "/cache-stats/clear", form: url.Values{"backend": {"memory", "redis"}}, status: 400},
		// Strict parsing: a query that cannot be read is refused, never
		// half-read (page 1 for "page=2;per_page=5", n=30 for junk).
		get("/products?page=2;per_page=5", 400),
		get("/benchmark?n=300&%zz", 400),
		get("/products?"+strings.Repeat("a=1&", 10_001), 400),
		get("/benchmark?n=%2B5", 400),
		get("/benchmark?n=5&n=500", 400),
		get("/products?page=%205", 400),
		{name: "stampede n=+5", method: http.MethodPost, path: "/stampede", form: url.Values{"n": {"+5"}, "instances": {"2"}}, status: 400},
		{name: "stampede n= 5", method: http.MethodPost, path: "/stampede", form: url.Values{"n": {" 5"}, "instances": {"2"}}, status: 400},
		{name: "stampede conflicting n", method: http.MethodPost, path: "/stampede", ctype: "application/x-www-form-urlencoded", body: "n=5&n=500&instances=2", status: 400},
		// Invisible characters that reorder or hide text.
		edit("name with a right-to-left override", map[string]string{"name": "abc\u202edcba"}, 422),
		edit("description with a zero-width space", map[string]string{"description": "a\u200bb"}, 422),
		edit("name with a byte-order mark", map[string]string{"name": "\ufeffName"}, 422),
		// Weather keys are bounded: an unknown city is a 404, never a key.
		get("/api/weather?city=Atlantis", 404),
		// The new-product form: the edit form's rules, without a version.
		get("/products/new?cache=bogus", 400),
		get("/products/new?cache=memory&cache=redis", 400),
		create("price not a number", map[string]string{"price": "abc"}, 422),
		create("negative price", map[string]string{"price": "-1"}, 422),
		create("overflowing price", map[string]string{"price": "99999999999999999999"}, 422),
		create("price with exponent", map[string]string{"price": "1e5"}, 422),
		create("price NaN", map[string]string{"price": "NaN"}, 422),
		create("price empty", map[string]string{"price": ""}, 422),
		create("missing price", map[string]string{"price": "\x00delete"}, 422),
		create("negative stock", map[string]string{"stock": "-1"}, 422),
		create("overflowing stock", map[string]string{"stock": "9223372036854775808"}, 422),
		create("stock with sign", map[string]string{"stock": "+5"}, 422),
		create("missing stock", map[string]string{"stock": "\x00delete"}, 422),
		create("empty name", map[string]string{"name": ""}, 422),
		create("missing name", map[string]string{"name": "\x00delete"}, 422),
		create("name of 201 characters", map[string]string{"name": strings.Repeat("é", 201)}, 422),
		create("name with NUL", map[string]string{"name": "bad\x00name"}, 422),
		create("name with raw invalid UTF-8", map[string]string{"name": "bad\xff\xfename"}, 422),
		create("name with markup and NUL", map[string]string{"name": hostilePayload + "\x00"}, 422),
		create("name with a right-to-left override", map[string]string{"name": "abc\u202edcba"}, 422),
		create("description of 5001 characters", map[string]string{"description": strings.Repeat("d", 5001)}, 422),
		create("description with a zero-width space", map[string]string{"description": "a\u200bb"}, 422),
		create("unknown category", map[string]string{"category": "Weapons"}, 422),
		create("missing category", map[string]string{"category": "\x00delete"}, 422),
		create("markup category", map[string]string{"category": hostilePayload}, 422),
		create("category by slug", map[string]string{"category": "books"}, 422),
		{name: "create with conflicting names", method: http.MethodPost, path: "/products/new", ctype: "application/x-www-form-urlencoded",
			body: createForm.Encode() + "&name=Other+name", status: 400},
		{name: "create with conflicting categories", method: http.MethodPost, path: "/products/new", ctype: "application/x-www-form-urlencoded",
			body: createForm.Encode() + "&category=Toys", status: 400},
		{name: "create as JSON", method: http.MethodPost, path: "/products/new", ctype: "application/json",
			body: `{"name":"x","price":"1","stock":"1","category":"Books"}`, status: 415},
		{name: "create without content type", method: http.MethodPost, path: "/products/new", ctype: "-", body: createForm.Encode(), status: 415},
		{name: "create with bad percent-encoding", method: http.MethodPost, path: "/products/new", ctype: "application/x-www-form-urlencoded", body: "name=%zz", status: 400},
		{name: "create over 64 KiB", method: http.MethodPost, path: "/products/new", form: bigForm, status: 413},
		{name: "create multipart over 64 KiB", method: http.MethodPost, path: "/products/new", ctype: mw.FormDataContentType(), body: mp.String(), status: 413},
		{name: "create multipart with a file", method: http.MethodPost, path: "/products/new", ctype: fileForm.FormDataContentType(), body: fileBody.String(), status: 400},
		{name: "cross-site create", method: http.MethodPost, path: "/products/new", form: createForm, header: []string{"Sec-Fetch-Site", "cross-site"}, status: 403},
		{name: "create from a foreign origin", method: http.MethodPost, path: "/products/new", form: createForm, header: []string{"Origin", "http://evil.example"}, status: 403},
		{name: "PUT /products/new", method: http.MethodPut, path: "/products/new", form: createForm, status: 405},
		// Deleting: the version the edit page was opened at, strictly.
		del("without a version", "/products/1/delete", url.Values{}, 400),
		del("with an empty version", "/products/1/delete", url.Values{"version": {""}}, 400),
		del("version zero", "/products/1/delete", url.Values{"version": {"0"}}, 400),
		del("negative version", "/products/1/delete", url.Values{"version": {"-1"}}, 400),
		del("version with sign", "/products/1/delete", url.Values{"version": {"+1"}}, 400),
		del("version with a space", "/products/1/delete", url.Values{"version": {" 1"}}, 400),
		del("version not a number", "/products/1/delete", url.Values{"version": {"abc"}}, 400),
		del("version with exponent", "/products/1/delete", url.Values{"version": {"1e0"}}, 400),
		del("overflowing version", "/products/1/delete", url.Values{"version": {"99999999999999999999"}}, 400),
		del("markup version", "/products/1/delete", url.Values{"version": {hostilePayload}}, 400),
		del("stale version", "/products/1/delete", url.Values{"version": {"7"}}, 409),
		del("of a missing product", "/products/1001/delete", url.Values{"version": {"1"}}, 404),
		del("of id 0", "/products/0/delete", url.Values{"version": {"1"}}, 400),
		del("of id abc", "/products/abc/delete", url.Values{"version": {"1"}}, 400),
		del("of an overflowing id", "/products/99999999999999999999/delete", url.Values{"version": {"1"}}, 400),
		del("of a markup id", "/products/"+url.PathEscape(hostilePayload)+"/delete", url.Values{"version": {"1"}}, 400),
		{name: "delete with conflicting versions", method: http.MethodPost, path: "/products/1/delete", ctype: "application/x-www-form-urlencoded",
			body: "version=1&version=2", status: 400},
		{name: "delete as JSON", method: http.MethodPost, path: "/products/1/delete", ctype: "application/json", body: `{"version":"1"}`, status: 415},
		{name: "delete over 64 KiB", method: http.MethodPost, path: "/products/1/delete", form: url.Values{"version": {"1"}, "pad": {strings.Repeat("p", 65<<10)}}, status: 413},
		{name: "cross-site delete", method: http.MethodPost, path: "/products/1/delete", form: url.Values{"version": {"1"}}, header: []string{"Sec-Fetch-Site", "cross-site"}, status: 403},
		{name: "delete from a foreign origin", method: http.MethodPost, path: "/products/1/delete", form: url.Values{"version": {"1"}}, header: []string{"Origin", "http://evil.example"}, status: 403},
		{name: "GET /products/1/delete", method: http.MethodGet, path: "/products/1/delete", status: 405},
		{name: "DELETE /products/1/delete", method: http.MethodDelete, path: "/products/1/delete", status: 405},
		// Category pages: only the listed slugs, and the list's pagination.
		get("/categories/nowhere", 404),
		get("/categories/Books", 404),
		get("/categories/BOOKS", 404),
		get("/categories/books%20", 404),
		get("/categories/books-", 404),
		get("/categories/home%20&%20kitchen", 404),
		get("/categories/home%26kitchen", 404),
		get("/categories/%ff", 404),
		get("/categories/%00", 404),
		get("/categories/books%2Fx", 404),
		get("/categories/"+url.PathEscape(hostilePayload), 404),
		get("/categories/"+huge, 404),
		get("/categories/", 404),
		get("/categories", 404),
		get("/categories/books?page=0", 400),
		get("/categories/books?page=-1", 400),
		get("/categories/books?page=abc", 400),
		get("/categories/books?page=1.5", 400),
		get("/categories/books?page=%2B1", 400),
		get("/categories/books?page=", 400),
		get("/categories/books?page=%ff", 400),
		get("/categories/books?page=1&page=2", 400),
		get("/categories/books?page=1000000", 400),
		get("/categories/books?page=99999999999999999999", 400),
		get("/categories/books?page="+huge, 400),
		get("/categories/books?page=2;per_page=5", 400),
		get("/categories/books?per_page=0", 400),
		get("/categories/books?per_page=101", 400),
		get("/categories/books?cache=bogus", 400),
		{name: "POST /categories/books", method: http.MethodPost, path: "/categories/books", form: createForm, status: 405},
	}
	return cases
}

// hostileSnapshot fingerprints every row that an edit, a create or a
// delete could change, and the outbox of changes: a refused write must
// record no invalidation either.
func hostileSnapshot(a *testapp.App) string {
	a.T.Helper()
	var r struct {
		N        int64
		IDs      int64
		Versions int64
		Names    int64
		Updated  string
		Changes  int64
	}
	err := a.Store.DB().Raw(`SELECT COUNT(*) AS n, SUM(id) AS ids, SUM(version) AS versions,
		SUM(LENGTH(name) + LENGTH(description) + LENGTH(category) + price + stock) AS names,
		MAX(updated_at) AS updated, (SELECT COUNT(*) FROM invalidations) AS changes FROM products`).Scan(&r).Error
	if err != nil {
		a.T.Fatal(err)
	}
	b, _ := json.Marshal(r)
	return string(b)
}

// hostileDo sends one case; transport errors are failures of the test,
// not of the server, so they are reported as such.
func hostileDo(a *testapp.App, t *testing.T, c hostileCase, mode string) (*testapp.Resp, error) {
	t.Helper()
	body := c.body
	ctype := c.ctype
	if c.form != nil && body == "" {
		body = c.form.Encode()
		if ctype == "" {
			ctype = "application/x-www-form-urlencoded"
		}
	}
	req, err := http.NewRequest(c.method, a.TS.URL+c.path, strings.NewReader(body))
	if err != nil {
		return nil, err
	}
	if ctype != "" && ctype != "-" {
		req.Header.Set("Content-Type", ctype)
	}
	for i := 0; i+1 < len(c.header); i += 2 {
		req.Header.Set(c.header[i], c.header[i+1])
	}
	req.Header.Set("Cookie", "cache_mode="+mode)
	cl := &http.Client{Timeout: 20 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := cl.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, err
	}
	return &testapp.Resp{Status: res.StatusCode, Header: res.Header, Body: string(b)}, nil
}

// TestHostileInput sends every bad input in every mode and checks each
// gets its exact 4xx, in HTML for pages and JSON under /api/, with no
// injected markup echoed back, and that the database is unchanged.
func TestHostileInput(t *testing.T) {
	a := testapp.New(t)
	cases := hostileCases()
	before := hostileSnapshot(a)
	tried := 0
	for _, mode := range []string{"none", "memory", "redis"} {
		for _, c := range cases {
			t.Run(mode+"/"+c.name, func(t *testing.T) {
				r, err := hostileDo(a, t, c, mode)
				if err != nil {
					t.Fatalf("%s %.80s: %v", c.method, c.path, err)
				}
				tried++
				if r.Status != c.status {
					t.Errorf("status: got %d, want %d (body %.300s)", r.Status, c.status, r.Body)
				}
				if r.Status >= 500 {
					t.Errorf("server error %d", r.Status)
				}
				ct := r.Header.Get("Content-Type")
				if strings.HasPrefix(c.path, "/api/") {
					var e struct {
						Error  string `json:"error"`
						Status int    `json:"status"`
					}
					if !strings.HasPrefix(ct, "application/json") {
						t.Errorf("Content-Type: got %q, want application/json", ct)
					} else if err := json.Unmarshal([]byte(r.Body), &e); err != nil || e.Error == "" || e.Status != r.Status {
						t.Errorf("JSON error body: got %.200q (%v), want {error, status: %d}", r.Body, err, r.Status)
					}
				} else if !strings.HasPrefix(ct, "text/html") {
					t.Errorf("Content-Type: got %q, want text/html", ct)
				}
				if strings.Contains(r.Body, hostilePayload) {
					t.Errorf("the response echoes %q unescaped", hostilePayload)
				}
				if got := hostileSnapshot(a); got != before {
					t.Fatalf("database changed: got %s, want %s", got, before)
				}
			})
		}
	}
	t.Logf("bad inputs: %d per mode, %d requests sent in 3 modes; database unchanged: %v", len(cases), tried, hostileSnapshot(a) == before)
}

// TestMarkupNameIsStoredAndEscaped: markup is valid text for a name, so it
// is saved, and every page and the JSON show it inert.
func TestMarkupNameIsStoredAndEscaped(t *testing.T) {
	a := testapp.New(t)
	p := a.Product(3)
	r := a.Post("/products/3/edit", testapp.EditForm(p, map[string]string{"name": hostilePayload + ` "quoted" & 'single'`}))
	if r.Status != http.StatusSeeOther {
		t.Fatalf("edit: got %d, want 303", r.Status)
	}
	for _, mode := range []string{"none", "memory", "redis"} {
		for _, path := range []string{"/products/3", "/products?page=1", "/products/3/edit", "/api/products/3"} {
			for range 2 { // the MISS and the HIT
				r := a.Get(path, "Cookie", "cache_mode="+mode)
				if r.Status != 200 {
					t.Fatalf("%s (%s): got %d, want 200", path, mode, r.Status)
				}
				if strings.Contains(r.Body, hostilePayload) {
					t.Errorf("%s (%s): the name's markup is not escaped", path, mode)
				}
				if !strings.Contains(r.Body, "alert(1)") {
					t.Errorf("%s (%s): the name is not shown", path, mode)
				}
			}
		}
	}
}
