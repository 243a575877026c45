package cache_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"cacheworkshop/cache"
)

// FuzzParseMode: ParseMode accepts exactly the documented names and
// aliases, ignoring case and surrounding space, and its error message
// stays short whatever the input.
func FuzzParseMode(f *testing.F) {
	for _, s := range []string{"none", "memory", "redis", "false", "off", "0", "true", "on", "1", " Redis ", "MEMORY",
		"", "bogus", "\xff", "memory\x00", "redis ", strings.Repeat("x", 1000)} {
		f.Add(s)
	}
	aliases := map[string]cache.Mode{"none": cache.ModeNone, "false": cache.ModeNone, "off": cache.ModeNone, "0": cache.ModeNone,
		"memory": cache.ModeMemory, "redis": cache.ModeRedis, "true": cache.ModeRedis, "on": cache.ModeRedis, "1": cache.ModeRedis}
	f.Fuzz(func(t *testing.T, s string) {
		m, err := cache.ParseMode(s, cache.ModeRedis)
		want, ok := aliases[strings.ToLower(strings.TrimSpace(s))]
		if ok != (err == nil) {
			t.Fatalf("ParseMode(%q): error %v, want accepted=%v", s, err, ok)
		}
		if err != nil {
			if len(err.Error()) > 300 {
				t.Fatalf("ParseMode(%q): error message of %d bytes", s, len(err.Error()))
			}
			if !strings.Contains(err.Error(), cache.ValidModeValues) {
				t.Fatalf("ParseMode(%q): error %q does not list the valid values", s, err)
			}
			return
		}
		if m != want {
			t.Fatalf("ParseMode(%q) = %v, want %v", s, m, want)
		}
		if back, err := cache.ParseMode(m.String(), cache.ModeNone); err != nil || back != m {
			t.Fatalf("ParseMode(%q) = %v, %v; want %v", m.String(), back, err, m)
		}
	})
}

// FuzzMemoryBudget: whatever keys and sizes are stored, the memory cache
// never holds more than its budget, and a value that fits is readable
// right after it was set.
func FuzzMemoryBudget(f *testing.F) {
	f.Add([]byte("abc"), uint16(10), uint16(1000))
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, uint16(4000), uint16(4096))
	f.Add([]byte("k"), uint16(0), uint16(1))
	f.Fuzz(func(t *testing.T, keys []byte, size, budget uint16) {
		limit := int64(budget) + 1
		m := cache.NewMemory(cache.MemoryConfig{MaxBytes: limit})
		ctx := context.Background()
		for i, k := range keys {
			key := strings.Repeat(string(rune('a'+k%26)), int(k)%50+1)
			val := make([]byte, (int(size)*(i+1))%5000)
			_ = m.Set(ctx, key, val, time.Minute)
			st := m.Stats()
			if st.Bytes > limit || st.Bytes < 0 {
				t.Fatalf("after %d sets: %d bytes held, budget %d", i+1, st.Bytes, limit)
			}
			got, found, err := m.Get(ctx, key)
			if err != nil {
				t.Fatal(err)
			}
			// 256 bytes more than the entry's own bytes is a generous
			// bound on its bookkeeping overhead.
			if fits := int64(len(key)+len(val))+256 <= limit; fits && (!found || len(got) != len(val)) {
				t.Fatalf("key %q of %d bytes: found %v with %d bytes right after Set (budget %d)", key, len(val), found, len(got), limit)
			}
		}
	})
}
