package testapp

import (
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
)

// Modes are the cache modes, in display order.
var Modes = []string{"none", "memory", "redis"}

// WantOutcome is a cached page's X-Cache: BYPASS in mode none, else a
// MISS the first time and a HIT the second.
func WantOutcome(mode string, second bool) string {
	switch {
	case mode == "none":
		return "BYPASS"
	case second:
		return "HIT"
	}
	return "MISS"
}

// CheckTiming checks the headers every data response carries: the mode,
// the outcome and a Server-Timing with cache, database and total entries.
func CheckTiming(t testing.TB, r *Resp, mode, outcome string) {
	t.Helper()
	if got := r.Header.Get("X-Cache-Mode"); got != mode {
		t.Errorf("X-Cache-Mode: got %q, want %q", got, mode)
	}
	if got := r.Header.Get("X-Cache"); got != outcome {
		t.Errorf("X-Cache: got %q, want %q", got, outcome)
	}
	st := r.Header.Get("Server-Timing")
	for _, part := range []string{"cache;desc=", "db;", "total;dur="} {
		if !strings.Contains(st, part) {
			t.Errorf("Server-Timing %q lacks %q", st, part)
		}
	}
}

// DecodeJSON checks the response is JSON and decodes it into v.
func DecodeJSON(t testing.TB, r *Resp, v any) {
	t.Helper()
	if got, want := r.Header.Get("Content-Type"), "application/json; charset=utf-8"; got != want {
		t.Fatalf("Content-Type: got %q, want %q (body %.200s)", got, want, r.Body)
	}
	if err := json.Unmarshal([]byte(r.Body), v); err != nil {
		t.Fatalf("decode %.200s: %v", r.Body, err)
	}
}

// GetParallel sends n concurrent GETs of path and returns their statuses
// (0 for a request that failed in transport, which is also reported).
func (a *App) GetParallel(n int, path string) []int {
	statuses := make([]int, n)
	var wg sync.WaitGroup
	for i := range statuses {
		wg.Go(func() {
			res, err := http.Get(a.TS.URL + path)
			if err != nil {
				a.T.Error(err)
				return
			}
			statuses[i] = res.StatusCode
			_ = res.Body.Close()
		})
	}
	wg.Wait()
	return statuses
}
