package exercises

import (
	"strconv"
	"testing"
	"time"

	"cacheworkshop/handlers"
)

// page is a request event for a page key, as the server records one.
func page(path, mode, outcome, key string) handlers.Event {
	return handlers.Event{At: time.Now(), Count: 1, Kind: handlers.EventRequest, Method: "GET", Path: path,
		Status: 200, Mode: mode, Outcome: outcome, Key: key, Total: time.Millisecond}
}

func detail(id int, mode, outcome string) handlers.Event {
	s := strconv.Itoa(id)
	return page("/products/"+s, mode, outcome, "page:detail:abcd:/products/"+s+" @g1.1")
}

func TestLogCapsPerLearner(t *testing.T) {
	lim := Limits{PerLearner: 50, Learners: 10, Total: 1000}
	l := NewLog(lim, All)
	for i := range 200 {
		l.Record("a", detail(i+1, "memory", "MISS")) // all different: nothing merges
	}
	evs := l.Events("a")
	if len(evs) > lim.PerLearner || len(evs) < lim.PerLearner*4/5 {
		t.Errorf("events kept: got %d, want from %d to %d", len(evs), lim.PerLearner*4/5, lim.PerLearner)
	}
	if got, want := evs[len(evs)-1].Path, "/products/200"; got != want {
		t.Errorf("newest event: got %v, want %v", got, want)
	}
	if got := evs[0].Path; got == "/products/1" {
		t.Errorf("oldest event: got %v, want it dropped", got)
	}
	if _, total := l.Size(); total != len(evs) {
		t.Errorf("total: got %v, want %v", total, len(evs))
	}
}

func TestLogCapsLearners(t *testing.T) {
	l := NewLog(Limits{PerLearner: 50, Learners: 3, Total: 1000}, All)
	for _, id := range []string{"a", "b", "c"} {
		l.Record(id, detail(1, "memory", "MISS"))
	}
	l.Record("a", detail(2, "memory", "MISS")) // a is now the most recent
	l.Record("d", detail(3, "memory", "MISS")) // b, idle longest, is forgotten
	if n, total := l.Size(); n != 3 || total != 4 {
		t.Errorf("size: got %d learners and %d events, want 3 and 4", n, total)
	}
	for id, want := range map[string]int{"a": 2, "b": 0, "c": 1, "d": 1} {
		if got := len(l.Events(id)); got != want {
			t.Errorf("learner %s: got %v events, want %v", id, got, want)
		}
	}
}

func TestLogCapsTotal(t *testing.T) {
	l := NewLog(Limits{PerLearner: 100, Learners: 10, Total: 120}, All)
	for i := range 60 {
		l.Record("idle", detail(i+1, "memory", "MISS"))
	}
	for i := range 80 {
		l.Record("busy", detail(i+1, "memory", "MISS"))
	}
	if _, total := l.Size(); total > 120 {
		t.Errorf("total: got %v, want at most 120", total)
	}
	if got := len(l.Events("idle")); got != 0 {
		t.Errorf("the idle learner's events: got %v, want them dropped first", got)
	}
	if got := len(l.Events("busy")); got != 80 {
		t.Errorf("the busy learner's events: got %v, want all 80", got)
	}
}

// TestLogKeepsProgress: dropped events do not undo an exercise: the
// checks run before anything is dropped.
func TestLogKeepsProgress(t *testing.T) {
	l := NewLog(Limits{PerLearner: 20, Learners: 10, Total: 1000}, All)
	l.Record("a", detail(7, "memory", "MISS"))
	l.Record("a", detail(7, "memory", "HIT"))
	for i := range 100 {
		l.Record("a", page("/weather", "memory", "HIT", "page:weather:x:/weather?n="+strconv.Itoa(i)))
	}
	first := index(t, "first-hit")
	if len(l.Events("a")) > 20 {
		t.Fatalf("events: got %d, want at most 20", len(l.Events("a")))
	}
	if r := l.Progress("a")[first]; !r.Done || r.At.IsZero() {
		t.Errorf("first-hit after its events were dropped: got %+v, want done with a date", r)
	}
	l.Reset("a")
	if r := l.Progress("a")[first]; r.Done {
		t.Errorf("first-hit after reset: got done, want not yet")
	}
	if got := len(l.Events("a")); got != 0 {
		t.Errorf("events after reset: got %v, want 0", got)
	}
}

// TestLogMergesRepeats: a page reloaded with the same outcome, or a JSON
// endpoint polled, is one event with a count.
func TestLogMergesRepeats(t *testing.T) {
	l := NewLog(DefaultLimits, All)
	for range 30 {
		l.Record("a", page("/api/cache-stats", "memory", "BYPASS", ""))
	}
	l.Record("a", detail(7, "memory", "HIT"))
	l.Record("a", detail(7, "memory", "HIT"))
	l.Record("a", detail(7, "memory", "MISS"))
	// The exercises' own routes are never events.
	l.Record("a", page("/api/exercises", "memory", "BYPASS", ""))
	l.Record("a", page("/exercises", "memory", "BYPASS", ""))
	evs := l.Events("a")
	var counts []int
	for _, e := range evs {
		counts = append(counts, e.Count)
	}
	if len(counts) != 3 || counts[0] != 30 || counts[1] != 2 || counts[2] != 1 {
		t.Errorf("event counts: got %v, want [30 2 1]", counts)
	}
}

func index(t *testing.T, id string) int {
	t.Helper()
	for i, ex := range All {
		if ex.ID == id {
			return i
		}
	}
	t.Fatalf("no exercise %q", id)
	return -1
}

func TestParseKey(t *testing.T) {
	tests := []struct {
		key  string
		ok   bool
		want pageKey
	}{
		{"page:detail:9f3a:/products/7 @g2k.9", true, pageKey{Name: "detail", URL: "/products/7", KeyGens: []int64{2*36 + 20, 9}, Stored: "page:detail:9f3a:/products/7"}},
		{"page:list:9f3a:/products?page=2", true, pageKey{Name: "list", URL: "/products?page=2", Stored: "page:list:9f3a:/products?page=2"}},
		{"exercises (never cached)", false, pageKey{}},
		{"page:list:9f3a:/products (page cache off)", false, pageKey{}},
		{"page:detail:9f3a:/products/7 @g!", false, pageKey{}},
	}
	for _, tt := range tests {
		got, ok := parseKey(tt.key)
		if ok != tt.ok || got.Name != tt.want.Name || got.URL != tt.want.URL || got.Stored != tt.want.Stored ||
			genText(got.KeyGens) != genText(tt.want.KeyGens) {
			t.Errorf("parseKey(%q): got %+v %v, want %+v %v", tt.key, got, ok, tt.want, tt.ok)
		}
	}
}

// TestPlanProductsExist: every learner's plan names products and pages
// of the seeded catalogue (1000 products, 20 a page).
func TestPlanProductsExist(t *testing.T) {
	for i := range 5000 {
		p := planFor("learner" + strconv.Itoa(i))
		for _, id := range []int64{p.First, p.Compare, p.Inval, p.Frag, p.Doll} {
			if id < 1 || id > 1000 {
				t.Fatalf("plan %+v: product %d is not in the catalogue", p, id)
			}
		}
		if p.ListA < 2 || p.ListB > 50 || p.MGETPage < 1 || p.MGETPage > 20 || p.APIPage < 2 || p.APIPage+1 > 200 {
			t.Fatalf("plan %+v: a page is out of range", p)
		}
	}
}

func TestThousands(t *testing.T) {
	for n, want := range map[int]string{0: "0", 500: "500", 1000: "1,000", 100000: "100,000", 1234567: "1,234,567"} {
		if got := thousands(n); got != want {
			t.Errorf("thousands(%d): got %v, want %v", n, got, want)
		}
	}
}
