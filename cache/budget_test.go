package cache_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"cacheworkshop/cache"
)

// TestMemorySetMaxBytes: a smaller budget evicts least recently used
// entries at once, down to it, and counts them; a larger one evicts
// nothing; 0 restores the default.
func TestMemorySetMaxBytes(t *testing.T) {
	ctx := context.Background()
	m := cache.NewMemory(cache.MemoryConfig{MaxBytes: 1 << 20})
	val := make([]byte, 1000)
	for i := range 20 {
		_ = m.Set(ctx, fmt.Sprintf("k%02d", i), val, time.Minute)
	}
	_, _, _ = m.Get(ctx, "k00") // now the most recently used
	size := m.Stats().Bytes / 20

	tests := []struct {
		budget      int64
		wantMax     int64
		wantEvicted int
		wantEntries int
	}{
		{budget: 1 << 20, wantMax: 1 << 20, wantEvicted: 0, wantEntries: 20},
		{budget: 5 * size, wantMax: 5 * size, wantEvicted: 15, wantEntries: 5},
		{budget: 5*size - 1, wantMax: 5*size - 1, wantEvicted: 1, wantEntries: 4},
		{budget: 100 * size, wantMax: 100 * size, wantEvicted: 0, wantEntries: 4},
		{budget: 0, wantMax: 64 << 20, wantEvicted: 0, wantEntries: 4},
	}
	var evictions uint64
	for _, tt := range tests {
		got := m.SetMaxBytes(tt.budget)
		evictions += uint64(got)
		s := m.Stats()
		if got != tt.wantEvicted || s.Entries != tt.wantEntries || s.MaxBytes != tt.wantMax || m.MaxBytes() != tt.wantMax {
			t.Errorf("SetMaxBytes(%d): got %d evicted, %d entries, budget %d/%d; want %d, %d, %d",
				tt.budget, got, s.Entries, s.MaxBytes, m.MaxBytes(), tt.wantEvicted, tt.wantEntries, tt.wantMax)
		}
		if s.Bytes > s.MaxBytes {
			t.Errorf("SetMaxBytes(%d): %d bytes stored, over the budget", tt.budget, s.Bytes)
		}
		if s.Evictions != evictions {
			t.Errorf("SetMaxBytes(%d): evictions counter got %d, want %d", tt.budget, s.Evictions, evictions)
		}
	}
	if _, found, _ := m.Get(ctx, "k00"); !found {
		t.Error("the most recently used entry was evicted by a smaller budget")
	}
	if _, found, _ := m.Get(ctx, "k01"); found {
		t.Error("the least recently used entry survived a smaller budget")
	}
	// The new budget holds for later writes too.
	m.SetMaxBytes(3 * size)
	for i := range 10 {
		_ = m.Set(ctx, fmt.Sprintf("n%02d", i), val, time.Minute)
	}
	if s := m.Stats(); s.Entries != 3 || s.Bytes > 3*size {
		t.Errorf("after 10 sets under a 3-entry budget: got %d entries, %d bytes; want 3 entries within %d", s.Entries, s.Bytes, 3*size)
	}
}

// TestMemorySetMaxBytesConcurrent changes the budget while other
// goroutines write and read (run with -race).
func TestMemorySetMaxBytesConcurrent(t *testing.T) {
	ctx := context.Background()
	m := cache.NewMemory(cache.MemoryConfig{MaxBytes: 1 << 20})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 500 {
				key := fmt.Sprintf("w%d:%d", w, i%50)
				_ = m.Set(ctx, key, make([]byte, 200), time.Minute)
				_, _, _ = m.Get(ctx, key)
			}
		})
	}
	wg.Go(func() {
		for i := range 200 {
			m.SetMaxBytes(int64(2000 + 100*(i%50)))
			_ = m.Stats()
		}
	})
	wg.Wait()
	m.SetMaxBytes(4000)
	if s := m.Stats(); s.Bytes > 4000 {
		t.Errorf("after the last SetMaxBytes(4000): %d bytes stored", s.Bytes)
	}
}
