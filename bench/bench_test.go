package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// loadAgainst runs a short load on h and returns the row after verify.
func loadAgainst(t *testing.T, h http.Handler, wantXCache, wantMode string, hit bool) *row {
	t.Helper()
	ts := httptest.NewServer(h)
	t.Cleanup(ts.Close)
	r := &row{name: "test", mode: "test", hit: hit,
		t: target{addr: strings.TrimPrefix(ts.URL, "http://"), path: "/x", cookie: "cache_mode=memory",
			wantXCache: wantXCache, wantMode: wantMode}}
	var rt, db atomic.Int64
	res, err := runLoad(context.Background(), r.t, 4, 50*time.Millisecond, 200*time.Millisecond,
		counters{redisRT: rt.Load, dbQueries: db.Load}, func(string, time.Duration, time.Duration, int64) {})
	if err != nil {
		t.Fatal(err)
	}
	r.res = res
	r.verify(4)
	return r
}

// TestLoadParsesResponses drives the load generator against the framings
// it must read: Content-Length, chunked, and a server closing after each
// response.
func TestLoadParsesResponses(t *testing.T) {
	body := strings.Repeat("x", 5000)
	tests := []struct {
		name string
		h    http.HandlerFunc
	}{
		{"content-length", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-Cache", "HIT")
			w.Header().Set("X-Cache-Mode", "memory")
			w.Header().Set("Content-Length", "5000")
			_, _ = w.Write([]byte(body))
		}},
		{"chunked", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-Cache", "HIT")
			w.Header().Set("X-Cache-Mode", "memory")
			_, _ = w.Write([]byte(body[:2000]))
			w.(http.Flusher).Flush()
			_, _ = w.Write([]byte(body[2000:]))
		}},
		{"connection-close", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-Cache", "HIT")
			w.Header().Set("X-Cache-Mode", "memory")
			w.Header().Set("Connection", "close")
			_, _ = w.Write([]byte(body))
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := loadAgainst(t, tc.h, "HIT", "memory", true)
			if r.res.requests == 0 {
				t.Fatalf("requests: got %v, want > 0", r.res.requests)
			}
			if got, want := r.res.xcache[xcHit], r.res.requests; got != want {
				t.Errorf("HIT responses: got %v, want %v", got, want)
			}
			if got, want := r.res.bodyMax, int64(len(body)); got != want {
				t.Errorf("largest body: got %v, want %v", got, want)
			}
			if got, want := r.res.bodyMin, int64(len(body)); got != want {
				t.Errorf("smallest body: got %v, want %v", got, want)
			}
			if got := r.res.hist.TotalCount(); got != r.res.requests {
				t.Errorf("latencies recorded: got %v, want %v", got, r.res.requests)
			}
			if len(r.problems) != 0 {
				t.Errorf("problems: got %v, want none", r.problems)
			}
		})
	}
}

// TestVerifyCatchesFalseClaims: a row must fail when responses do not
// carry what it claims.
func TestVerifyCatchesFalseClaims(t *testing.T) {
	var n atomic.Int64
	tests := []struct {
		name string
		h    http.HandlerFunc
		want string
	}{
		{"hit row that misses", func(w http.ResponseWriter, r *http.Request) {
			v := "HIT"
			if n.Add(1)%2 == 0 {
				v = "MISS"
			}
			w.Header().Set("X-Cache", v)
			w.Header().Set("X-Cache-Mode", "memory")
		}, "NOT HITTING"},
		{"wrong mode", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-Cache", "HIT")
			w.Header().Set("X-Cache-Mode", "redis")
		}, `X-Cache-Mode was not "memory"`},
		{"no X-Cache", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-Cache-Mode", "memory")
		}, "NOT HITTING"},
		{"errors", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-Cache", "HIT")
			w.Header().Set("X-Cache-Mode", "memory")
			w.WriteHeader(http.StatusInternalServerError)
		}, "were not 200"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := loadAgainst(t, tc.h, "HIT", "memory", true)
			got := strings.Join(r.problems, "; ")
			if !strings.Contains(got, tc.want) {
				t.Errorf("problems: got %q, want one containing %q", got, tc.want)
			}
		})
	}
}

func TestServerTiming(t *testing.T) {
	h := `cache;desc="memory hit page:list";dur=0.01, gen;desc="redis read list";dur=0.20, db;desc="0 queries";dur=0.00, render;dur=0.00, total;dur=0.05`
	tests := []struct{ name, want string }{
		{"render", "0.00"},
		{"total", "0.05"},
		{"gen", "0.20"},
		{"sim", ""},
	}
	for _, tc := range tests {
		if got := serverTiming(h, tc.name); got != tc.want {
			t.Errorf("serverTiming(%q): got %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestFmtRate(t *testing.T) {
	tests := []struct {
		in   float64
		want string
	}{{0, "0"}, {999.6, "1,000"}, {12345, "12,345"}, {1234567, "1,234,567"}}
	for _, tc := range tests {
		if got := fmtRate(tc.in); got != tc.want {
			t.Errorf("fmtRate(%v): got %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestServerTimingEntries(t *testing.T) {
	h := `cache;desc="memory bypass page:list:p=1, pp=20 (page cache off)";dur=0.00, frag;desc="memory hit frag:site-nav:ab12:all";dur=0.01,db;desc="1 query";dur=0.30, total;dur=1.20`
	got := serverTimingEntries(h)
	want := []stEntry{
		{"cache", "memory bypass page:list:p=1, pp=20 (page cache off)"},
		{"frag", "memory hit frag:site-nav:ab12:all"},
		{"db", "1 query"},
		{"total", ""},
	}
	if len(got) != len(want) {
		t.Fatalf("entries: got %q, want %q", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("entry %d: got %q, want %q", i, got[i], want[i])
		}
	}
}

// fragHandler answers like a page served by the fragments-hot server, with
// the given fragment lookups in its Server-Timing.
func fragHandler(xcache string, pageOff bool, frags ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		st := `cache;desc="memory hit page:list:p=1";dur=0.01, `
		if pageOff {
			st = `cache;desc="memory bypass list:p=1 (page cache off)";dur=0.00, `
		}
		for _, f := range frags {
			st += `frag;desc="` + f + `";dur=0.01, `
		}
		w.Header().Set("Server-Timing", st+`db;desc="0 queries";dur=0.00, render;dur=0.20, total;dur=0.40`)
		w.Header().Set("X-Cache", xcache)
		w.Header().Set("X-Cache-Mode", "memory")
		_, _ = w.Write([]byte("<html></html>"))
	}
}

// TestCheckFragments: a fragments-hot row passes only when every sampled
// response is a page MISS with the page cache off and fragment lookups
// that all hit.
func TestCheckFragments(t *testing.T) {
	nav, table := "memory hit frag:site-nav:ab12:all", "memory hit frag:product-table:cd34:p=1"
	tests := []struct {
		name string
		h    http.HandlerFunc
		want string // "" = no problem
	}{
		{"all hits", fragHandler("MISS", true, nav, table, nav), ""},
		{"a fragment misses", fragHandler("MISS", true, nav, "memory miss frag:product-table:cd34:p=1"), "FRAGMENTS NOT HITTING: 1 of 2"},
		{"no fragments", fragHandler("MISS", true), "FRAGMENTS NOT HITTING: Server-Timing lists no fragment lookup"},
		{"page cache on", fragHandler("HIT", false, nav), `X-Cache "HIT"`},
		{"hits in another mode", fragHandler("MISS", true, "redis hit frag:site-nav:ab12:all"), "FRAGMENTS NOT HITTING"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ts := httptest.NewServer(tc.h)
			t.Cleanup(ts.Close)
			r := &row{name: "test", mode: fragMode, fragHot: true,
				t: target{addr: strings.TrimPrefix(ts.URL, "http://"), path: "/x", cookie: "cache_mode=memory",
					wantXCache: "MISS", wantMode: "memory"}}
			if err := checkFragments(context.Background(), r, "after the load"); err != nil {
				t.Fatal(err)
			}
			got := strings.Join(r.problems, "; ")
			switch {
			case tc.want == "" && got != "":
				t.Errorf("problems: got %q, want none", got)
			case tc.want != "" && !strings.Contains(got, tc.want):
				t.Errorf("problems: got %q, want one containing %q", got, tc.want)
			}
			if tc.want == "" {
				if want := "3 fragment hits each (site-nav ×2, product-table)"; !strings.Contains(r.fragNote, want) {
					t.Errorf("note: got %q, want one containing %q", r.fragNote, want)
				}
			}
		})
	}
}

// TestCheckNoFrags: an n/a "no fragments" row fails when the response does
// list fragment lookups.
func TestCheckNoFrags(t *testing.T) {
	for _, tc := range []struct {
		name  string
		frags []string
		fail  bool
	}{{"no fragments", nil, false}, {"fragments", []string{"memory hit frag:x:1:2"}, true}} {
		t.Run(tc.name, func(t *testing.T) {
			ts := httptest.NewServer(fragHandler("MISS", true, tc.frags...))
			t.Cleanup(ts.Close)
			r := &row{name: "test", mode: fragMode, noFrags: true, na: "no fragments in JSON",
				t: target{addr: strings.TrimPrefix(ts.URL, "http://"), path: "/x", wantMode: "memory"}}
			if err := checkNoFrags(context.Background(), r); err != nil {
				t.Fatal(err)
			}
			if got := len(r.problems) > 0; got != tc.fail {
				t.Errorf("failed: got %v, want %v (%q)", got, tc.fail, r.problems)
			}
		})
	}
}

func TestServerTimingTotal(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{`cache;desc="memory hit page:list";dur=0.012, db;desc="0 queries";dur=0.000, render;dur=0.000, total;dur=0.015`, 15 * time.Microsecond, true},
		{`total;dur=303.25`, 303250 * time.Microsecond, true},
		{`total;desc="x";dur=1.5`, 1500 * time.Microsecond, true},
		{`db;dur=1, totally;dur=2`, 0, false},
		{`total;dur=abc`, 0, false},
		{`total;dur=-1`, 0, false},
		{``, 0, false},
	}
	for _, tt := range tests {
		got, ok := serverTimingTotal(tt.in)
		if ok != tt.ok || (ok && (got-tt.want).Abs() > time.Microsecond/2) {
			t.Errorf("serverTimingTotal(%q): got %v, %v, want %v, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

// TestArchTargets: each architecture target is the ratio of the two rows
// it names, a missed one says no, and a row that was not measured makes
// its target n/a rather than a number.
func TestArchTargets(t *testing.T) {
	mk := func(id string, rps float64, st time.Duration) *row {
		return &row{id: id, serverTime: st, res: &loadResult{requests: int64(rps), elapsed: time.Second}}
	}
	rep := &report{redis: &redisServer{label: "Redis"}, rows: []*row{
		mk("raw", 10000, 0), mk("rawhit", 8000, 0), mk("rawget", 5000, 0),
		mk("list/none", 900, 2*time.Millisecond), mk("list/memory", 7600, 100*time.Microsecond),
		mk("list/redis", 4000, 0), mk("list/tiered", 7000, 0),
		// list/fragments and detail/tiered were not measured (-only).
		{id: "list/fragments", na: "not selected with -only"},
	}}
	got := rep.archTargets()
	want := []struct{ measured, met string }{
		{"0.95", "yes"},    // 7600 / 8000
		{"0.80", "**no**"}, // 4000 / 5000 < 0.85
		{"0.09", "**no**"}, // 900 / 10000 < 0.10
		{"n/a", "n/a"},
		{"20.0", "yes"}, // 2 ms / 100 µs
		{"0.92", "yes"}, // 7000 / 7600
		{"n/a", "n/a"},
	}
	if len(got) != len(want) {
		t.Fatalf("targets: got %d, want %d", len(got), len(want))
	}
	for i, w := range want {
		if m, ok := got[i].measured(), got[i].met(); m != w.measured || ok != w.met {
			t.Errorf("%s: got %s, %s, want %s, %s", got[i].name, m, ok, w.measured, w.met)
		}
	}
}

// TestVerifyExpiries: a hit row whose entry may expire mid-run passes with
// at most one MISS per connection per expiry, and only then.
func TestVerifyExpiries(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name    string
		expires time.Duration
		span    time.Duration
		misses  int64
		others  int64
		wantOK  bool
	}{
		{"one rebuild seen by every connection", time.Minute, 30 * time.Second, 16, 0, true},
		{"more misses than connections in one expiry", time.Minute, 30 * time.Second, 17, 0, false},
		{"two expiries in a 70 s span", time.Minute, 70 * time.Second, 32, 0, true},
		{"a row that cannot expire", 0, 30 * time.Second, 1, 0, false},
		{"an error is never an expiry", time.Minute, 30 * time.Second, 1, 1, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res := &loadResult{requests: 10000}
			res.xcache[xcMiss] = tc.misses
			res.xcache[xcOther] = tc.others
			res.xcache[xcHit] = res.requests - tc.misses - tc.others
			r := &row{name: "detail", mode: "memory hit", hit: true, expires: tc.expires,
				firstWindow: start, lastWindow: start.Add(tc.span), res: res, t: target{wantXCache: "HIT"}}
			r.verify(16)
			if ok := len(r.problems) == 0; ok != tc.wantOK {
				t.Errorf("verify: got problems %q, want ok=%v", r.problems, tc.wantOK)
			}
			if tc.wantOK && r.refills != tc.misses {
				t.Errorf("refills: got %d, want %d", r.refills, tc.misses)
			}
		})
	}
}
