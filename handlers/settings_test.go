package handlers

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestSettingsLineGolden pins the request bar's line about settings the
// teacher page changed, as TestBarGolden pins the bar (-update rewrites).
func TestSettingsLineGolden(t *testing.T) {
	const ttl, mem = 5 * time.Minute, 64 << 20
	tests := []struct {
		name string
		ttl  time.Duration
		mem  int64
	}{
		{"settings-ttl", 10 * time.Second, mem},
		{"settings-memory", ttl, 256 << 10},
		{"settings-both", 90 * time.Second, 1536 << 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := appendSettings([]byte("<x>"), tt.ttl, ttl, tt.mem, mem)
			golden := filepath.Join("testdata", "bar", tt.name+".html")
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -run TestSettingsLineGolden -update to create it)", err)
			}
			if string(got) != string(want) {
				t.Errorf("settings line %s:\ngot  %s\nwant %s", tt.name, got, want)
			}
		})
	}
	if got := appendSettings([]byte("<x>"), ttl, ttl, mem, mem); string(got) != "<x>" {
		t.Errorf("settings as configured: got %q, want nothing appended", got)
	}
}

func TestHumanBytes(t *testing.T) {
	tests := []struct {
		n    int64
		want string
	}{
		{0, "0 B"}, {900, "900 B"}, {1024, "1 KiB"}, {1536, "1.5 KiB"}, {256 << 10, "256 KiB"},
		{1 << 20, "1 MiB"}, {1536 << 10, "1.5 MiB"}, {64 << 20, "64 MiB"}, {1 << 30, "1 GiB"}, {3 << 29, "1536 MiB"},
	}
	for _, tt := range tests {
		if got := HumanBytes(tt.n); got != tt.want {
			t.Errorf("HumanBytes(%d): got %q, want %q", tt.n, got, tt.want)
		}
	}
}
