package cache

import (
	"context"
	"testing"
	"time"
)

func TestMemoryDeletePrefix(t *testing.T) {
	tests := []struct {
		prefix             string
		deleted, remaining int
	}{
		{"lab:product:7:", 2, 4},
		{"lab:product:70:", 1, 5},
		{"lab:", 5, 1},
		{"", 6, 0},
		{"none:", 0, 6},
	}
	for _, tt := range tests {
		m := NewMemory(MemoryConfig{})
		ctx := context.Background()
		for _, k := range []string{"lab:product:7:a", "lab:product:7:b", "lab:product:70:a", "lab:product:8:a", "lab:list", "page:home"} {
			if err := m.Set(ctx, k, []byte("v"), time.Minute); err != nil {
				t.Fatal(err)
			}
		}
		deleted, examined := m.DeletePrefix(tt.prefix)
		if deleted != tt.deleted || examined != 6 {
			t.Errorf("DeletePrefix(%q): got %v deleted of %v examined, want %v of 6", tt.prefix, deleted, examined, tt.deleted)
		}
		if got := m.Stats(); got.Entries != tt.remaining || got.Deletes != uint64(tt.deleted) {
			t.Errorf("DeletePrefix(%q): got %v entries and %v deletes, want %v and %v", tt.prefix, got.Entries, got.Deletes, tt.remaining, tt.deleted)
		}
	}
}
