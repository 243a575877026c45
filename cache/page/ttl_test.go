package page_test

import (
	"context"
	"testing"
	"time"

	"cacheworkshop/cache"
	"cacheworkshop/cache/page"
	"cacheworkshop/trace"
)

// TestSetTTL: pages stored after SetTTL live for the new default, a spec's
// own TTL still wins, and SetTTL(0) restores Config.TTL. The lifetime is
// read back from the memory cache itself.
func TestSetTTL(t *testing.T) {
	mem := cache.NewMemory(cache.MemoryConfig{})
	e := newEngine(mem) // Config.TTL is a minute
	build := func(context.Context, page.Request) (*page.Entry, error) {
		return &page.Entry{Status: 200, ContentType: "text/html", Slot: -1, Body: []byte("body")}, nil
	}
	tests := []struct {
		name    string
		set     time.Duration // passed to SetTTL before the fetch
		specTTL time.Duration
		want    time.Duration
	}{
		{"configured", 0, 0, time.Minute},
		{"changed", 7 * time.Second, 0, 7 * time.Second},
		{"spec wins", 7 * time.Second, 30 * time.Second, 30 * time.Second},
		{"restored", 0, 0, time.Minute},
		{"negative restores", -time.Second, 0, time.Minute},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.SetTTL(tt.set)
			if tt.specTTL == 0 && e.TTL() != tt.want {
				t.Errorf("TTL(): got %v, want %v", e.TTL(), tt.want)
			}
			req := page.NewRequest("p", "/p", cache.ModeMemory, "i", string(rune('a'+i)))
			ctx := trace.NewContext(context.Background(), trace.New())
			sv, err := e.Fetch(ctx, page.Spec{Request: req, TTL: tt.specTTL, Build: build})
			if err != nil {
				t.Fatal(err)
			}
			if !sv.Stored || sv.TTL != tt.want {
				t.Errorf("served: stored %v for %v, want stored for %v", sv.Stored, sv.TTL, tt.want)
			}
			left, found, _ := mem.TTL(ctx, e.Key(req))
			if !found || left > tt.want || left < tt.want-time.Second {
				t.Errorf("entry in memory: found %v with %v left, want about %v", found, left, tt.want)
			}
		})
	}
}
