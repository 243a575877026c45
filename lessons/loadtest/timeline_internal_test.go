package loadtest

import (
	"testing"
	"time"
)

func TestNearestRank(t *testing.T) {
	ms := func(ns ...int) []time.Duration {
		out := make([]time.Duration, len(ns))
		for i, n := range ns {
			out[i] = time.Duration(n) * time.Millisecond
		}
		return out
	}
	cases := []struct {
		sorted []time.Duration
		q      float64
		want   time.Duration
	}{
		{ms(7), 0.5, 7 * time.Millisecond},
		{ms(1, 2), 0.5, 1 * time.Millisecond},
		{ms(1, 2, 3, 4), 0.5, 2 * time.Millisecond},
		{ms(1, 2, 3, 4), 0.95, 4 * time.Millisecond},
		{ms(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 0.95, 10 * time.Millisecond},
		{ms(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 0.9, 9 * time.Millisecond},
	}
	for _, c := range cases {
		if got := nearestRank(c.sorted, c.q); got != c.want {
			t.Errorf("nearestRank(%v, %v): got %v, want %v", c.sorted, c.q, got, c.want)
		}
	}
}

// TestTimeline: every request lands in exactly one slice, the slices
// cover the mode's duration, and a slow start shows in the first one.
func TestTimeline(t *testing.T) {
	var ended []endedSample
	for i := range 200 {
		lat := time.Millisecond
		if i < 10 {
			lat = 50 * time.Millisecond // the cold misses
		}
		ended = append(ended, endedSample{at: time.Duration(i+1) * 5 * time.Millisecond, latency: lat})
	}
	elapsed := time.Second
	pts := timeline(ended, elapsed)
	if len(pts) != maxPoints {
		t.Fatalf("points: got %d, want %d", len(pts), maxPoints)
	}
	n := 0
	for _, p := range pts {
		n += p.N
	}
	if n != len(ended) {
		t.Errorf("requests in the points: got %d, want %d", n, len(ended))
	}
	if got, want := pts[len(pts)-1].T, elapsed.Seconds(); got != want {
		t.Errorf("last point at %v s, want %v", got, want)
	}
	if pts[0].P50 != 50*time.Millisecond || pts[len(pts)-1].P95 != time.Millisecond {
		t.Errorf("first slice p50 %v, last slice p95 %v; want 50ms and 1ms", pts[0].P50, pts[len(pts)-1].P95)
	}
	if got := timeline(ended[:3], time.Millisecond); len(got) != 1 || got[0].N != 3 {
		t.Errorf("three requests: got %+v, want one point of 3", got)
	}
	if got := timeline(nil, time.Second); got != nil {
		t.Errorf("no requests: got %+v, want none", got)
	}
}

func TestHitRatio(t *testing.T) {
	cases := []struct {
		xcache map[string]int
		want   float64
		ok     bool
	}{
		{map[string]int{"BYPASS": 50}, 0, false},
		{map[string]int{"HIT": 49, "MISS": 1}, 0.98, true},
		{map[string]int{"HIT": 6, "MISS": 2, "ERROR": 2}, 0.6, true}, // a failed lookup is no hit
		{map[string]int{"ERROR": 4}, 0, true},
		{map[string]int{}, 0, false},
	}
	for _, c := range cases {
		m := &ModeResult{XCache: c.xcache}
		got, ok := m.HitRatio()
		if got != c.want || ok != c.ok {
			t.Errorf("HitRatio of %v: got %v, %v, want %v, %v", c.xcache, got, ok, c.want, c.ok)
		}
	}
}
