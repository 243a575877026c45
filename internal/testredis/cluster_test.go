package testredis_test

import (
	"context"
	"testing"
	"time"

	"cacheworkshop/internal/testredis"
)

// TestCluster: the starter gives a cluster whose slots are spread over
// every node, and a restart brings it back whole and empty.
func TestCluster(t *testing.T) {
	t0 := time.Now()
	c := testredis.StartCluster(t)
	t.Logf("%s started in %v", c, time.Since(t0).Round(time.Millisecond))
	ctx := context.Background()
	cc := c.Client()
	slots, err := cc.ClusterSlots(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	covered, masters := 0, map[string]bool{}
	for _, s := range slots {
		covered += s.End - s.Start + 1
		masters[s.Nodes[0].Addr] = true
	}
	if covered != 16384 || len(masters) != testredis.ClusterSize {
		t.Fatalf("slots: got %d over %d masters, want 16384 over %d", covered, len(masters), testredis.ClusterSize)
	}
	if err := cc.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	t0 = time.Now()
	c.Restart()
	t.Logf("restarted in %v", time.Since(t0).Round(time.Millisecond))
	if n, err := cc.Exists(ctx, "k").Result(); err != nil || n != 0 {
		t.Errorf("key after restart: got %d, %v, want 0, nil (empty)", n, err)
	}
}
