package page_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"cacheworkshop/cache/page"
	"cacheworkshop/trace"
)

// TestWriteConditional: If-None-Match decides when sent; otherwise
// If-Modified-Since answers 304 for a date not older than Last-Modified,
// compared in whole seconds (RFC 9110 §13.1.3, §13.2.2). Only a GET or
// HEAD of a 200 is ever answered 304.
func TestWriteConditional(t *testing.T) {
	lm := time.Date(2025, 3, 4, 10, 20, 30, 700_000_000, time.UTC) // a fraction the header cannot carry
	same := lm.Format(http.TimeFormat)
	older := lm.Add(-time.Second).Format(http.TimeFormat)
	later := lm.Add(time.Minute).Format(http.TimeFormat)
	ok := &page.Entry{Status: 200, ContentType: "application/json", ETag: `"e1"`, LastModified: lm, Slot: -1, Body: []byte("{}")}
	noDate := &page.Entry{Status: 200, ContentType: "application/json", ETag: `"e1"`, Slot: -1, Body: []byte("{}")}
	missing := &page.Entry{Status: 404, ContentType: "application/json", LastModified: lm, Slot: -1, Body: []byte("{}")}
	for _, tc := range []struct {
		name   string
		method string
		e      *page.Entry
		ims    []string
		inm    string
		status int
		preset string // a Last-Modified the handler set itself
	}{
		{"no condition", http.MethodGet, ok, nil, "", 200, ""},
		{"equal date", http.MethodGet, ok, []string{same}, "", 304, ""},
		{"equal date, HEAD", http.MethodHead, ok, []string{same}, "", 304, ""},
		{"later date", http.MethodGet, ok, []string{later}, "", 304, ""},
		{"older date", http.MethodGet, ok, []string{older}, "", 200, ""},
		{"RFC 850 date", http.MethodGet, ok, []string{lm.Format(time.RFC850)}, "", 304, ""},
		{"unreadable date", http.MethodGet, ok, []string{"yesterday"}, "", 200, ""},
		{"two dates", http.MethodGet, ok, []string{same, same}, "", 200, ""},
		{"equal date, POST", http.MethodPost, ok, []string{same}, "", 200, ""},
		{"no Last-Modified", http.MethodGet, noDate, []string{same}, "", 200, ""},
		{"not a 200", http.MethodGet, missing, []string{same}, "", 404, ""},
		{"equal date, other ETag", http.MethodGet, ok, []string{same}, `"other"`, 200, ""},
		{"older date, same ETag", http.MethodGet, ok, []string{older}, `"e1"`, 304, ""},
		{"same ETag, POST", http.MethodPost, ok, nil, `"e1"`, 200, ""},
		{"handler's own Last-Modified, equal date", http.MethodGet, noDate, []string{same}, "", 304, same},
		{"handler's own Last-Modified, older date", http.MethodGet, noDate, []string{older}, "", 200, same},
	} {
		r := httptest.NewRequest(tc.method, "/", nil).WithContext(trace.NewContext(context.Background(), trace.New()))
		for _, v := range tc.ims {
			r.Header.Add("If-Modified-Since", v)
		}
		if tc.inm != "" {
			r.Header.Set("If-None-Match", tc.inm)
		}
		w := httptest.NewRecorder()
		if tc.preset != "" {
			w.Header().Set("Last-Modified", tc.preset)
		}
		page.Write(w, r, &page.Served{Entry: tc.e, Outcome: trace.Hit}, nil)
		if w.Code != tc.status {
			t.Errorf("%s: got %d, want %d", tc.name, w.Code, tc.status)
		}
		if w.Code == 304 && (w.Body.Len() != 0 || w.Header().Get("Last-Modified") != same) {
			t.Errorf("%s: got a 304 with body %q and Last-Modified %q, want no body and %q", tc.name, w.Body, w.Header().Get("Last-Modified"), same)
		}
	}
}

// TestWriteConditionalHTTP: over a real connection, a response with
// Last-Modified is a bodiless 304 for a client's equal date and a whole
// 200 for an older one, unless the client's If-None-Match does not match.
func TestWriteConditionalHTTP(t *testing.T) {
	lm := time.Date(2025, 3, 4, 10, 20, 30, 0, time.UTC)
	ent := &page.Entry{Status: 200, ContentType: "text/html; charset=utf-8", ETag: `"e1"`, LastModified: lm, Slot: -1, Body: []byte("<p>page</p>")}
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r = r.WithContext(trace.NewContext(r.Context(), trace.New()))
		page.Write(w, r, &page.Served{Entry: ent, Outcome: trace.Hit}, nil)
	}))
	defer ts.Close()
	same := lm.Format(http.TimeFormat)
	for _, tc := range []struct {
		name   string
		method string
		header []string
		status int
		body   string
	}{
		{"equal date", http.MethodGet, []string{"If-Modified-Since", same}, 304, ""},
		{"equal date, HEAD", http.MethodHead, []string{"If-Modified-Since", same}, 304, ""},
		{"older date", http.MethodGet, []string{"If-Modified-Since", lm.Add(-time.Second).Format(http.TimeFormat)}, 200, "<p>page</p>"},
		{"equal date, other ETag", http.MethodGet, []string{"If-Modified-Since", same, "If-None-Match", `"other"`}, 200, "<p>page</p>"},
	} {
		req, err := http.NewRequest(tc.method, ts.URL, nil)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i+1 < len(tc.header); i += 2 {
			req.Header.Set(tc.header[i], tc.header[i+1])
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(res.Body)
		res.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if res.StatusCode != tc.status || string(b) != tc.body {
			t.Errorf("%s: got %d %q, want %d %q", tc.name, res.StatusCode, b, tc.status, tc.body)
		}
		if got := res.Header.Get("Last-Modified"); got != same {
			t.Errorf("%s: Last-Modified got %q, want %q", tc.name, got, same)
		}
	}
}
