package page_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"cacheworkshop/cache"
	"cacheworkshop/cache/page"
	"cacheworkshop/trace"
)

// failing is a backend whose every call fails, as Redis does when down.
type failing struct{ cache.Cache }

var errDown = errors.New("connection refused")

func (failing) Name() string { return "redis" }
func (failing) GetVersioned(context.Context, string, []string, []int64) ([]byte, bool, error) {
	return nil, false, errDown
}

func newEngine(c cache.Cache) *page.Engine {
	return page.New(page.Config{
		Backend: func(m cache.Mode) cache.Cache {
			if m == cache.ModeNone {
				return nil
			}
			return c
		},
		Label:  func(m cache.Mode) string { return m.String() },
		Digest: func(string) string { return "d1" },
		TTL:    time.Minute,
	})
}

type ctxKey struct{}

// requestCtx is a context as a handler has it: request values and a trace.
func requestCtx() context.Context {
	return trace.NewContext(context.WithValue(context.Background(), ctxKey{}, "visitor's own value"), trace.New())
}

// TestFetch walks one key through bypass, miss, hit and invalidation, and
// checks what the build sees.
func TestFetch(t *testing.T) {
	mem := cache.NewMemory(cache.MemoryConfig{})
	e := newEngine(mem)
	var builds atomic.Int32
	var seen []page.Request
	spec := func(mode cache.Mode) page.Spec {
		return page.Spec{
			Request: page.NewRequest("list", "/products", mode, "page", "2", "per_page", ""),
			Gens:    []string{"list"},
			Build: func(ctx context.Context, req page.Request) (*page.Entry, error) {
				builds.Add(1)
				seen = append(seen, req)
				if ctx.Value(ctxKey{}) != nil {
					t.Error("the build's context carries the request's values")
				}
				if trace.From(ctx) == nil {
					t.Error("the build's context has no trace")
				}
				if got := cache.ModeFrom(ctx); got != mode {
					t.Errorf("build's fragment mode: got %v, want %v", got, mode)
				}
				return &page.Entry{Status: 200, ContentType: "text/html", Slot: -1, Body: []byte("page " + req.URL())}, nil
			},
		}
	}
	changeID := int64(0)
	steps := []struct {
		mode    cache.Mode
		bump    bool
		outcome string
		builds  int32
	}{
		{cache.ModeNone, false, trace.Bypass, 1},
		{cache.ModeNone, false, trace.Bypass, 2},
		{cache.ModeMemory, false, trace.Miss, 3},
		{cache.ModeMemory, false, trace.Hit, 3},
		{cache.ModeMemory, true, trace.Miss, 4},
		{cache.ModeMemory, false, trace.Hit, 4},
	}
	for i, st := range steps {
		if st.bump {
			changeID++
			_ = mem.Apply(context.Background(), cache.Change{ID: changeID, Names: []string{"list"}})
		}
		sv, err := e.Fetch(requestCtx(), spec(st.mode))
		if err != nil {
			t.Fatal(err)
		}
		if sv.Outcome != st.outcome || builds.Load() != st.builds {
			t.Errorf("step %d (%v): got %s after %d builds, want %s after %d", i, st.mode, sv.Outcome, builds.Load(), st.outcome, st.builds)
		}
		if got, want := string(sv.Entry.Body), "page /products?page=2"; got != want {
			t.Errorf("step %d: body %q, want %q", i, got, want)
		}
	}
	for _, req := range seen {
		if req.Query != "page=2" || req.Path != "/products" {
			t.Errorf("build saw %+v, want the canonical request only", req)
		}
	}
	if k := e.Key(spec(cache.ModeMemory).Request); k != "page:list:d1:/products?page=2" {
		t.Errorf("Key: got %q", k)
	}
}

// TestFetchFallback: a failing backend is a notice and a build from the
// database whose fragments consult no cache, never an error.
func TestFetchFallback(t *testing.T) {
	e := newEngine(failing{})
	sv, err := e.Fetch(requestCtx(), page.Spec{
		Request: page.NewRequest("home", "/", cache.ModeRedis),
		Build: func(ctx context.Context, req page.Request) (*page.Entry, error) {
			if m := cache.ModeFrom(ctx); m != cache.ModeNone {
				t.Errorf("fallback build renders fragments in %v, want none", m)
			}
			if req.Mode != cache.ModeRedis {
				t.Errorf("fallback build: req.Mode %v, want the requested redis", req.Mode)
			}
			return &page.Entry{Status: 200, Slot: -1}, nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(sv.Notices) != 1 || !strings.Contains(sv.Notices[0], "connection refused") || sv.Stored {
		t.Errorf("fallback: notices %q, stored %v", sv.Notices, sv.Stored)
	}
}

// TestFetchSingleflight: concurrent misses on one key build once.
func TestFetchSingleflight(t *testing.T) {
	e := newEngine(cache.NewMemory(cache.MemoryConfig{}))
	var builds atomic.Int32
	release := make(chan struct{})
	spec := page.Spec{
		Request: page.NewRequest("detail", "/products/7", cache.ModeMemory),
		Build: func(context.Context, page.Request) (*page.Entry, error) {
			builds.Add(1)
			<-release
			return &page.Entry{Status: 200, Slot: -1, Body: []byte("x")}, nil
		},
	}
	var wg sync.WaitGroup
	shared := atomic.Int32{}
	for range 10 {
		wg.Go(func() {
			sv, err := e.Fetch(requestCtx(), spec)
			if err != nil || string(sv.Entry.Body) != "x" {
				t.Errorf("Fetch: %v", err)
			}
			if sv.Shared {
				shared.Add(1)
			}
		})
	}
	time.Sleep(50 * time.Millisecond)
	close(release)
	wg.Wait()
	if builds.Load() != 1 {
		t.Errorf("builds: got %d, want 1", builds.Load())
	}
	if shared.Load() == 0 {
		t.Error("no request reported sharing the build")
	}
}

// TestWriteSlot: the slot is spliced in where the entry says, HEAD sends
// no body, and a matching If-None-Match is a 304.
func TestWriteSlot(t *testing.T) {
	ent := &page.Entry{Status: 200, ContentType: "text/html; charset=utf-8", ETag: `"e1"`, Slot: 5, Body: []byte("<main></main>")}
	slot := func(b []byte, sv *page.Served, _ trace.Summary, _ []byte) []byte {
		return append(b, "[bar "+sv.Outcome+"]"...)
	}
	for _, tc := range []struct {
		method, inm string
		status      int
		body        string
	}{
		{http.MethodGet, "", 200, "<main[bar HIT]></main>"},
		{http.MethodHead, "", 200, ""},
		{http.MethodGet, `W/"e1"`, 304, ""},
		{http.MethodGet, `"other"`, 200, "<main[bar HIT]></main>"},
	} {
		r := httptest.NewRequest(tc.method, "/", nil).WithContext(trace.NewContext(context.Background(), trace.New()))
		if tc.inm != "" {
			r.Header.Set("If-None-Match", tc.inm)
		}
		w := httptest.NewRecorder()
		page.Write(w, r, &page.Served{Entry: ent, Outcome: trace.Hit}, slot)
		if w.Code != tc.status || w.Body.String() != tc.body {
			t.Errorf("%s If-None-Match %q: got %d %q, want %d %q", tc.method, tc.inm, w.Code, w.Body, tc.status, tc.body)
		}
		if tc.status == 200 && w.Header().Get("X-Cache") != "HIT" {
			t.Errorf("X-Cache: got %q, want HIT", w.Header().Get("X-Cache"))
		}
	}
}
