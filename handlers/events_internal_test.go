package handlers

import (
	"net/http/httptest"
	"reflect"
	"testing"
	"time"

	"cacheworkshop/cache"
	"cacheworkshop/trace"
)

// TestRequestEvent: a request's trace becomes one event, with its page
// lookup and its fragment lookups summed by name.
func TestRequestEvent(t *testing.T) {
	r := httptest.NewRequest("GET", "/products?page=2&cache=redis", nil)
	r = r.WithContext(cache.WithMode(r.Context(), cache.ModeRedis))
	snap := trace.Snapshot{Summary: trace.Summary{Total: 3 * time.Millisecond, Simulated: time.Millisecond}, Lookups: []trace.Lookup{
		{Layer: "page", Backend: "redis", Key: "page:list:ab12:/products?page=2 @g5", Outcome: trace.Miss, Dur: 200 * time.Microsecond},
		{Layer: "frag", Backend: "redis", Key: "frag:site-nav:cd34:products", Outcome: trace.Hit},
		{Layer: "frag", Backend: "redis", Key: "frag:product-table:ef56:p=2:pp=20:xyz", Outcome: trace.Miss},
		{Layer: "frag", Backend: "redis", Key: "frag:product-row:0a0b:21:v1", Outcome: trace.Hit, Dur: 10 * time.Microsecond},
		{Layer: "frag", Backend: "redis", Key: "frag:product-row:0a0b:25:v4", Outcome: trace.Miss, Dur: 10 * time.Microsecond},
		{Layer: "frag", Backend: "redis", Key: "frag:product-row:0a0b:25:v4 (store failed)", Outcome: trace.Error},
		{Layer: "page", Backend: "redis", Key: "page:list:ab12:/products?page=2 (store failed)", Outcome: trace.Error},
	}}
	ev := requestEvent(r, 200, "MISS", snap)
	want := Event{At: ev.At, Count: 1, Kind: EventRequest, Method: "GET", Path: "/products", Query: "page=2&cache=redis",
		Status: 200, Mode: "redis", Outcome: "MISS", Key: "page:list:ab12:/products?page=2 @g5", KeyDur: 200 * time.Microsecond,
		Errors: 2, Total: 3 * time.Millisecond, Simulated: time.Millisecond,
		Frags: []FragStat{
			{Name: "site-nav", Hits: 1},
			{Name: "product-table", Misses: 1, Missed: []string{"p=2:pp=20:xyz"}},
			{Name: "product-row", Hits: 1, Misses: 1, Errors: 1, Dur: 20 * time.Microsecond, Missed: []string{"25:v4"}},
		}}
	if !reflect.DeepEqual(ev, want) {
		t.Errorf("got %+v,\nwant %+v", ev, want)
	}
}

// TestRequestEventModeNone: mode none sums each fragment's renders in one
// BYPASS line, "name xN".
func TestRequestEventModeNone(t *testing.T) {
	r := httptest.NewRequest("GET", "/products", nil)
	snap := trace.Snapshot{Lookups: []trace.Lookup{
		{Layer: "page", Backend: "none", Key: "page:list:ab12:/products", Outcome: trace.Bypass},
		{Layer: "frag", Backend: "none", Key: "product-row x20", Outcome: trace.Bypass},
	}}
	ev := requestEvent(r, 0, "BYPASS", snap)
	if got, want := ev.Frags, []FragStat{{Name: "product-row", Bypassed: 20}}; !reflect.DeepEqual(got, want) {
		t.Errorf("frags: got %+v, want %+v", got, want)
	}
	if ev.Status != 200 || ev.Mode != "none" {
		t.Errorf("status and mode: got %d %q, want 200 none", ev.Status, ev.Mode)
	}
}

func TestValidLearnerID(t *testing.T) {
	tests := []struct {
		id   string
		want bool
	}{
		{"kOVhaCLeMcgT7TsJWGATwg", true},
		{"kOVhaCLeMcgT7TsJWGAT-_", true},
		{"kOVhaCLeMcgT7TsJWGATw", false},
		{"kOVhaCLeMcgT7TsJWGATwgg", false},
		{"kOVhaCLeMcgT7TsJWGAT=g", false},
		{"kOVhaCLeMcgT7TsJWGAT g", false},
		{"", false},
	}
	for _, tt := range tests {
		if got := validLearnerID(tt.id); got != tt.want {
			t.Errorf("validLearnerID(%q): got %v, want %v", tt.id, got, tt.want)
		}
	}
}
