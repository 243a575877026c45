package handlers_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"cacheworkshop/app"
	"cacheworkshop/internal/testapp"
)

// hostReq sends method path to a with the Host header host and extra
// header name/value pairs, the way a browser on that name would.
func hostReq(a *testapp.App, method, path, host string, form url.Values, extra ...string) *testapp.Resp {
	a.T.Helper()
	var body *strings.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	} else {
		body = strings.NewReader("")
	}
	req, err := http.NewRequest(method, a.TS.URL+path, body)
	if err != nil {
		a.T.Fatal(err)
	}
	req.Host = host
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for i := 0; i+1 < len(extra); i += 2 {
		req.Header.Set(extra[i], extra[i+1])
	}
	return a.Do(req)
}

// TestHostAllowList: a page on a rebound domain is refused on every route
// (static files, pprof, the API, state-changing posts with an Origin that
// matches its Host), while localhost, IP literals and ALLOWED_HOSTS names
// are served.
func TestHostAllowList(t *testing.T) {
	a := testapp.New(t, func(c *app.Config) {
		c.AllowedHosts = []string{"classroom.local"}
		c.Pprof = true
	})
	port := a.TS.URL[strings.LastIndexByte(a.TS.URL, ':')+1:]
	css := regexp.MustCompile(`/static/[^"]+\.css`).FindString(a.Get("/").Body)
	if css == "" {
		t.Fatal("the home page links no stylesheet")
	}
	for _, tc := range []struct {
		host, path string
		status     int
	}{
		{"localhost:" + port, "/", 200},
		{"LocalHost:" + port, "/products?page=2", 200},
		{"localhost", "/api/products/7", 200},
		{"localhost.:" + port, "/", 200},
		{"127.0.0.1:" + port, "/", 200},
		{"10.1.2.3", "/", 200},
		{"[::1]:" + port, "/", 200},
		{"[::1]", "/api/products/7", 200},
		{"classroom.local:" + port, "/", 200},
		{"Classroom.Local", css, 200},
		{"localhost:" + port, "/debug/pprof/cmdline", 200},
		{"evil.example:" + port, "/", 400},
		{"evil.example", "/products/7", 400},
		{"evil.example:" + port, css, 400},
		{"evil.example:" + port, "/api/products/7", 400},
		{"evil.example:" + port, "/debug/pprof/cmdline", 400},
		{"evil.example:" + port, "/no-such-page", 400},
		{"localhost.evil.example:" + port, "/", 400},
		{"127.0.0.1.nip.io:" + port, "/", 400},
		{"sub.classroom.local", "/", 400},
	} {
		r := hostReq(a, http.MethodGet, tc.path, tc.host, nil)
		if r.Status != tc.status {
			t.Errorf("GET %s with Host %q: got %d, want %d", tc.path, tc.host, r.Status, tc.status)
			continue
		}
		if tc.status != 400 {
			continue
		}
		if strings.HasPrefix(tc.path, "/api/") {
			var e struct {
				Error  string `json:"error"`
				Status int    `json:"status"`
			}
			if err := json.Unmarshal([]byte(r.Body), &e); err != nil || e.Status != 400 || !strings.Contains(e.Error, "ALLOWED_HOSTS") {
				t.Errorf("GET %s with Host %q: got body %.300q, want a JSON error naming ALLOWED_HOSTS", tc.path, tc.host, r.Body)
			}
			continue
		}
		if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
			t.Errorf("GET %s with Host %q: got Content-Type %q, want text/html", tc.path, tc.host, ct)
		}
		for _, want := range []string{"ALLOWED_HOSTS", "-allowed-hosts", "these names: localhost, classroom.local", "any IP address"} {
			if !strings.Contains(r.Body, want) {
				t.Errorf("GET %s with Host %q: the refusal does not say %q", tc.path, tc.host, want)
			}
		}
		if r.Header.Get("Content-Security-Policy") == "" || r.Header.Get("X-Content-Type-Options") != "nosniff" ||
			r.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("GET %s with Host %q: the refusal lacks the security or no-store headers: %v", tc.path, tc.host, r.Header)
		}
	}
}

// TestHostRebindingPost: a state-changing post from a rebound page, whose
// Origin matches its Host and so passes the cross-origin check, is refused
// and changes nothing; the same post from localhost goes through, so the
// refusal is the Host's doing.
func TestHostRebindingPost(t *testing.T) {
	a := testapp.New(t)
	port := a.TS.URL[strings.LastIndexByte(a.TS.URL, ':')+1:]
	p := a.Product(4)
	if r := a.Post("/products/4/edit", testapp.EditForm(p, map[string]string{"name": "Edited before"})); r.Status != http.StatusSeeOther {
		t.Fatalf("edit: got %d, want 303", r.Status)
	}
	before := hostileSnapshot(a)

	evil := "evil.example:" + port
	r := hostReq(a, http.MethodPost, "/reset", evil, url.Values{}, "Origin", "http://"+evil)
	if r.Status != http.StatusBadRequest {
		t.Errorf("POST /reset with Host and Origin %s: got %d, want 400", evil, r.Status)
	}
	r = hostReq(a, http.MethodPost, "/products/4/edit", evil, testapp.EditForm(a.Product(4), map[string]string{"name": "Rebound"}),
		"Origin", "http://"+evil, "Sec-Fetch-Site", "same-origin")
	if r.Status != http.StatusBadRequest {
		t.Errorf("POST /products/4/edit with Host and Origin %s: got %d, want 400", evil, r.Status)
	}
	if got := hostileSnapshot(a); got != before {
		t.Fatalf("catalogue changed: got %s, want %s", got, before)
	}

	local := "localhost:" + port
	if r := hostReq(a, http.MethodPost, "/reset", local, url.Values{}, "Origin", "http://"+local); r.Status != http.StatusSeeOther {
		t.Errorf("POST /reset with Host and Origin %s: got %d, want 303", local, r.Status)
	}
	if got := a.Product(4).Name; got == "Edited before" {
		t.Errorf("reset from localhost: product 4 is still %q, want the seeded name", got)
	}
}
