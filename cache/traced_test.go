package cache_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"cacheworkshop/cache"
	"cacheworkshop/trace"
)

// flaky fails every Get while down is set.
type flaky struct {
	cache.Cache
	down bool
}

func (f *flaky) Get(ctx context.Context, key string) ([]byte, bool, error) {
	if f.down {
		return nil, false, errors.New("connection refused")
	}
	return f.Cache.Get(ctx, key)
}

// TestTraced: each read is one trace entry with the right outcome, and a
// failing backend is logged once per outage, with a count when it ends.
func TestTraced(t *testing.T) {
	var logs bytes.Buffer
	f := &flaky{Cache: cache.NewMemory(cache.MemoryConfig{})}
	tc := cache.Traced{Cache: f, Layer: "data", Failures: &cache.FailureLog{Log: slog.New(slog.NewTextHandler(&logs, nil))}}
	tr := trace.New()
	ctx := trace.NewContext(context.Background(), tr)
	_ = tc.Set(ctx, "k", []byte("v"), time.Minute)
	_, _, _ = tc.Get(ctx, "k")
	_, _, _ = tc.Get(ctx, "absent")
	f.down = true
	for range 50 {
		_, _, _ = tc.Get(ctx, "k")
	}
	f.down = false
	_, _, _ = tc.Get(ctx, "k")
	var got []string
	for _, l := range tr.Snapshot().Lookups {
		got = append(got, l.Outcome)
	}
	if len(got) != 53 || got[0] != "HIT" || got[1] != "MISS" || got[2] != "ERROR" || got[52] != "HIT" {
		t.Errorf("trace outcomes: got %d entries starting %v, want HIT MISS ERROR… HIT", len(got), got[:3])
	}
	out := logs.String()
	if n := strings.Count(out, "cache backend failing"); n != 1 {
		t.Errorf("failure logged %d times, want once per outage:\n%s", n, out)
	}
	if !strings.Contains(out, "answering again") || !strings.Contains(out, "failed_calls=50") {
		t.Errorf("recovery line missing or without the count:\n%s", out)
	}
}
