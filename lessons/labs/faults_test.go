package labs_test

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"cacheworkshop/internal/testapp"
)

// faultsJSON mirrors what /api/faults sends.
type faultsJSON struct {
	Breaker       string `json:"breaker"`
	RetryInMS     int64  `json:"retry_in_ms"`
	Threshold     int    `json:"threshold"`
	Failures      int    `json:"consecutive_failures"`
	Opens         uint64 `json:"opens"`
	ShortCircuits uint64 `json:"short_circuits"`
	Fail          bool   `json:"fail"`
	History       []struct {
		State string `json:"state"`
		Why   string `json:"why"`
	} `json:"history"`
}

func faults(t *testing.T, a *testapp.App) faultsJSON {
	t.Helper()
	r := a.Get("/api/faults")
	if r.Status != http.StatusOK {
		t.Fatalf("/api/faults: got %d, want 200: %s", r.Status, r.Body)
	}
	if got := r.Header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("/api/faults Cache-Control: got %q, want no-store", got)
	}
	var f faultsJSON
	testapp.DecodeJSON(t, r, &f)
	return f
}

// TestFaultsFailTripsBreaker flips the page's own fail switch and watches
// the breaker it describes open, half-open once its cooldown is over, and
// close on the first good call after the switch is off, as /api/faults
// (what the page follows live) and the page itself report it.
func TestFaultsFailTripsBreaker(t *testing.T) {
	a := testapp.New(t)
	const path = "/api/products/5?cache=redis"
	a.Get(path)
	if got := a.Get(path).Header.Get("X-Cache"); got != "HIT" {
		t.Fatalf("warm-up: X-Cache got %q, want HIT", got)
	}
	if f := faults(t, a); f.Breaker != "closed" || len(f.History) != 0 {
		t.Fatalf("before: got breaker %q with history %v, want closed and none", f.Breaker, f.History)
	}

	a.Post("/faults", url.Values{"action": {"fail-on"}})
	f := faults(t, a)
	for i := range f.Threshold {
		if got := a.Get(path).Header.Get("X-Cache"); got != "ERROR" {
			t.Errorf("request %d with fail on: X-Cache got %q, want ERROR", i+1, got)
		}
	}
	f = faults(t, a)
	if f.Breaker != "open" || f.Opens != 1 || f.Failures < f.Threshold || f.RetryInMS <= 0 {
		t.Fatalf("after %d failures: got %+v, want open once, retrying later", f.Threshold, f)
	}
	a.Get(path)
	if f = faults(t, a); f.ShortCircuits < 1 {
		t.Errorf("a call while open: got %d short circuits, want at least 1", f.ShortCircuits)
	}
	if page := a.Get("/faults"); !strings.Contains(page.Body, `id="breaker-state" data-fault="breaker">open</span>`) {
		t.Error("the faults page does not show the breaker open")
	}

	deadline := time.Now().Add(time.Duration(f.RetryInMS)*time.Millisecond + 2*time.Second)
	for f.Breaker != "half-open" {
		if time.Now().After(deadline) {
			t.Fatalf("the breaker did not half-open after its cooldown: %+v", f)
		}
		time.Sleep(50 * time.Millisecond)
		f = faults(t, a)
	}
	a.Post("/faults", url.Values{"action": {"fail-off"}})
	if got := a.Get(path).Header.Get("X-Cache"); got != "HIT" {
		t.Errorf("the trial call with fail off: X-Cache got %q, want HIT", got)
	}
	f = faults(t, a)
	if f.Breaker != "closed" || f.Failures != 0 {
		t.Errorf("after a good trial: got breaker %q with %d failures, want closed with 0", f.Breaker, f.Failures)
	}
	var states []string
	for _, e := range f.History {
		states = append(states, e.State)
	}
	if want := []string{"closed", "half-open", "open"}; !slices.Equal(states, want) {
		t.Errorf("history, newest first: got %v, want %v", states, want)
	}
	if page := a.Get("/faults"); !strings.Contains(page.Body, `<span class="breaker breaker-half-open">half-open</span>`) {
		t.Error("the faults page's history lacks the half-open state")
	}
}
