package handlers

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"cacheworkshop/cache"
	"cacheworkshop/cache/page"
	"cacheworkshop/trace"
)

// TestBarGolden pins the request bar's markup for each way a page can be
// served. The bar is built in Go for speed, so these files are its
// template: run with -update after a deliberate change and review the diff.
func TestBarGolden(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	entry := &page.Entry{BuiltAt: now.Add(-42 * time.Second), BuildDur: 3210 * time.Microsecond,
		DBDur: 1500 * time.Microsecond, DBCount: 2, Simulated: 300 * time.Millisecond}
	sum := trace.Summary{Lookups: 1, Total: 45 * time.Microsecond}
	miss := trace.Summary{Lookups: 3, DBCount: 2, DB: 1500 * time.Microsecond, Simulated: 300 * time.Millisecond,
		Render: 900 * time.Microsecond, Total: 302 * time.Millisecond}
	// Mode none: the page and its four fragments were built, none
	// looked up. A live page in a cache mode: one built, two fragments
	// looked up.
	none := miss
	none.Lookups, none.Bypassed = 5, 5
	live := miss
	live.Bypassed = 1
	st := []byte(`cache;desc="memory hit page:detail:ab12:/products/7 @g1.1";dur=0.010, total;dur=0.045`)
	tests := []struct {
		name string
		sv   page.Served
		sum  trace.Summary
	}{
		{"hit", page.Served{Entry: entry, Mode: cache.ModeMemory, Outcome: trace.Hit, Backend: "memory"}, sum},
		{"hit-waited", page.Served{Entry: entry, Mode: cache.ModeRedis, Outcome: trace.Hit, Backend: "Redis", Waited: 12 * time.Millisecond}, sum},
		{"miss-stored", page.Served{Entry: entry, Mode: cache.ModeRedis, Outcome: trace.Miss, Backend: "Redis", Stored: true, TTL: 5 * time.Minute}, miss},
		{"miss-shared", page.Served{Entry: entry, Mode: cache.ModeMemory, Outcome: trace.Miss, Backend: "memory", Shared: true}, miss},
		{"error-notice", page.Served{Entry: entry, Mode: cache.ModeRedis, Outcome: trace.Error, Backend: "Redis",
			Notices: []string{`Redis unavailable: dial tcp 127.0.0.1:6379: connect: connection refused <&>`}}, miss},
		{"bypass-none", page.Served{Entry: entry, Mode: cache.ModeNone, Outcome: trace.Bypass, Backend: "none"}, none},
		{"bypass-live", page.Served{Entry: entry, Mode: cache.ModeMemory, Outcome: trace.Bypass, Backend: "none"}, live},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := appendBar(nil, &tt.sv, tt.sum, st, now)
			golden := filepath.Join("testdata", "bar", tt.name+".html")
			if *update {
				if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -run TestBarGolden -update to create it)", err)
			}
			if string(got) != string(want) {
				t.Errorf("bar %s:\ngot  %s\nwant %s", tt.name, got, want)
			}
		})
	}
}

func TestFlashMarkup(t *testing.T) {
	got := string(appendFlash(nil, flash{Message: `Saved "<b>"`, Details: []string{"a & b"}}))
	want := `<div class="flash" role="status"><p><strong>Saved &#34;&lt;b&gt;&#34;</strong></p><ul class="flash-log"><li>a &amp; b</li></ul></div>`
	if got != want {
		t.Errorf("appendFlash:\ngot  %s\nwant %s", got, want)
	}
}
