package labs

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"

	"cacheworkshop/cache"
	"cacheworkshop/internal/testredis"
)

// TestStaleWhileRevalidateDoesNotWait: the burst is answered while the
// background rebuild is still in the origin. The origin here does not
// return until every request of the burst has been answered, so a
// protection whose requests waited for the rebuild could only finish when
// the origin gives up; the lock protection, which does wait, is the
// control.
func TestStaleWhileRevalidateDoesNotWait(t *testing.T) {
	rs := testredis.Start(t)
	c := cache.NewRedis(cache.RedisConfig{Client: rs.Client(), Prefix: "test:stampede:"})
	errGaveUp := errors.New("the origin gave up waiting for the burst to be answered")
	for _, tc := range []struct {
		protection string
		wantWait   bool
	}{{"stale-while-revalidate", false}, {"lock", true}} {
		t.Run(tc.protection, func(t *testing.T) {
			answered := make(chan struct{})
			gaveUp := false
			run := &stampedeRun{c: c, protection: tc.protection, n: 20, instances: 2, lead: 50 * time.Millisecond, every: 2 * time.Millisecond,
				answered: func() { close(answered) },
				origin: func(ctx context.Context) ([]byte, error) {
					select {
					case <-answered:
						return []byte("rebuilt"), nil
					case <-time.After(2 * time.Second):
						gaveUp = true
						return nil, errGaveUp
					}
				}}
			res, err := run.run(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%+v", res)
			if gaveUp != tc.wantWait {
				t.Errorf("the burst waited for the rebuild: got %v, want %v", gaveUp, tc.wantWait)
			}
			if tc.wantWait {
				return
			}
			if res.Waited != 0 || res.Loaded != 0 || res.Stale+res.Fresh != 20 || res.Stale == 0 {
				t.Errorf("burst answers: got %d stale, %d fresh, %d waited, %d loaded; want stale (or fresh) only", res.Stale, res.Fresh, res.Waited, res.Loaded)
			}
			if res.Loads != 1 || res.ErrorsCount != 0 || res.RebuiltAfter == "" {
				t.Errorf("got %d loads, %d errors, rebuilt after %q; want one background rebuild that succeeded", res.Loads, res.ErrorsCount, res.RebuiltAfter)
			}
		})
	}
}

// TestXFetch: an early rebuild's chance is exp(−left/(δ·β)): almost none
// while much is left, 1/e with one rebuild's time left, certain at expiry.
func TestXFetch(t *testing.T) {
	now := time.Now()
	const delta = 100 * time.Millisecond
	tests := []struct {
		left time.Duration
		want float64
	}{{2 * time.Second, math.Exp(-20)}, {delta, 1 / math.E}, {delta / 2, math.Exp(-0.5)}, {0, 1}, {-time.Second, 1}}
	for _, tt := range tests {
		e := labEntry{Expires: now.Add(tt.left), Delta: delta}
		const n = 10_000
		yes := 0
		for i := range n {
			if xfetch(now, e, (float64(i)+0.5)/n) {
				yes++
			}
		}
		if got := float64(yes) / n; math.Abs(got-tt.want) > 0.001 {
			t.Errorf("%v left: got a chance of %.4f, want %.4f", tt.left, got, tt.want)
		}
	}
}

func TestLabEntryRoundTrip(t *testing.T) {
	e := labEntry{Expires: time.Unix(0, 1_700_000_000_123_456_789), Delta: 123 * time.Millisecond, Value: []byte("v")}
	got, ok := decodeEntry(e.encode())
	if !ok || !got.Expires.Equal(e.Expires) || got.Delta != e.Delta || string(got.Value) != "v" {
		t.Errorf("got %+v %v, want %+v", got, ok, e)
	}
	if _, ok := decodeEntry([]byte("short")); ok {
		t.Error("a short value decoded")
	}
}
