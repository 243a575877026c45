package app_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"cacheworkshop/app"
	"cacheworkshop/internal/testapp"
	"cacheworkshop/internal/testredis"
)

// TestRedisCluster runs the workshop with REDIS_URL naming a three-node
// Redis Cluster: Redis-mode pages hit, their keys spread over the nodes,
// an edit invalidates them at once on this instance and on another one,
// and the statistics page shows every node.
func TestRedisCluster(t *testing.T) {
	cl := testredis.StartCluster(t)
	a := testapp.New(t, func(c *app.Config) { c.RedisURL = cl.URL() })
	if !a.Redis.Cluster() || a.Embedded {
		t.Fatalf("cluster URL: got cluster=%v embedded=%v, want a cluster client", a.Redis.Cluster(), a.Embedded)
	}
	// A second instance on the same database and cluster.
	b, err := app.New(context.Background(), a.Config, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go b.Invalidator.Run(ctx)
	tsB := httptest.NewServer(b.Server)
	t.Cleanup(tsB.Close)
	getB := func(path string) (int, string, string) {
		res, err := tsB.Client().Get(tsB.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		body, _ := io.ReadAll(res.Body)
		return res.StatusCode, res.Header.Get("X-Cache"), string(body)
	}

	const id = 42
	pages := []string{fmt.Sprintf("/products/%d?cache=redis", id), "/products?page=3&cache=redis"}
	for _, p := range pages {
		for i, want := range []string{"MISS", "HIT"} {
			r := a.Get(p)
			testapp.CheckTiming(t, r, "redis", want)
			if r.Status != http.StatusOK {
				t.Fatalf("%s #%d: got %d", p, i+1, r.Status)
			}
		}
		// The other instance shares the cluster: its first read hits.
		if st, xc, _ := getB(p); st != http.StatusOK || xc != "HIT" {
			t.Errorf("%s on the second instance: got %d %s, want 200 HIT", p, st, xc)
		}
	}

	// The generations ({gen}), the product rows ({product-row}) and the
	// pages are spread over the nodes: no node holds everything.
	holding := 0
	for _, n := range cl.Nodes {
		if keys := nodeKeys(t, n, a.Redis.Prefix()); keys > 0 {
			holding++
		}
	}
	if holding < 2 {
		t.Errorf("nodes holding workshop keys: got %d, want at least 2 of %d", holding, len(cl.Nodes))
	}

	// Warm the second instance's memory copy, then edit on the first.
	memPage := fmt.Sprintf("/products/%d?cache=memory", id)
	getB(memPage)
	if _, xc, _ := getB(memPage); xc != "HIT" {
		t.Fatalf("second instance memory page: got %s, want HIT", xc)
	}
	p := a.Product(id)
	newName := "Renamed on a cluster"
	if r := a.Post(fmt.Sprintf("/products/%d/edit?cache=redis", id), testapp.EditForm(p, map[string]string{"name": newName})); r.Status != http.StatusSeeOther {
		t.Fatalf("edit: got %d, want 303: %s", r.Status, r.Body)
	}
	for _, pg := range pages {
		r := a.Get(pg)
		if !strings.Contains(r.Body, newName) || r.Header.Get("X-Cache") != "MISS" {
			t.Errorf("%s after the edit: got X-Cache %s, new name shown %v, want a MISS with it", pg, r.Header.Get("X-Cache"), strings.Contains(r.Body, newName))
		}
		if _, xc, body := getB(pg); !strings.Contains(body, newName) || xc != "HIT" {
			t.Errorf("%s on the second instance after the edit: got %s, new name shown %v, want the rebuilt HIT", pg, xc, strings.Contains(body, newName))
		}
	}
	// The second instance's memory copy goes within the invalidation
	// bound: the announcement over the cluster's pub/sub, or the poll.
	t0 := time.Now()
	for {
		_, _, body := getB(memPage)
		if strings.Contains(body, newName) {
			break
		}
		if time.Since(t0) > time.Second {
			t.Fatal("second instance's memory page still old 1s after the edit")
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("second instance's memory page fresh %v after the edit", time.Since(t0).Round(time.Millisecond))

	// The statistics page shows each node.
	var stats struct {
		Redis struct {
			Available bool `json:"available"`
			Entries   int  `json:"entries"`
			Nodes     []struct {
				Addr  string `json:"addr"`
				Role  string `json:"role"`
				Slots string `json:"slots"`
				Keys  *int   `json:"keys"`
				Error string `json:"error"`
			} `json:"nodes"`
		} `json:"redis"`
	}
	testapp.DecodeJSON(t, a.Get("/api/cache-stats"), &stats)
	if !stats.Redis.Available || len(stats.Redis.Nodes) != len(cl.Nodes) {
		t.Fatalf("stats: got available=%v with %d nodes, want %d", stats.Redis.Available, len(stats.Redis.Nodes), len(cl.Nodes))
	}
	sum := 0
	for _, n := range stats.Redis.Nodes {
		if n.Role != "master" || n.Slots == "" || n.Keys == nil || n.Error != "" {
			t.Errorf("stats node %+v: want a master with slots and a key count", n)
			continue
		}
		sum += *n.Keys
	}
	if sum != stats.Redis.Entries || sum == 0 {
		t.Errorf("keys per node: sum %d, total %d, want equal and above 0", sum, stats.Redis.Entries)
	}
	if r := a.Get("/cache-stats"); !strings.Contains(r.Body, "The cluster&#39;s nodes") && !strings.Contains(r.Body, "The cluster's nodes") {
		t.Error("stats page lacks the node table")
	}

	// One node down: Redis-mode pages still work (from the database where
	// their keys are on that node), and the statistics say which node.
	down := cl.Nodes[1]
	down.Stop()
	for _, pg := range append(pages, "/products/7?cache=redis") {
		if r := a.Get(pg); r.Status != http.StatusOK {
			t.Errorf("%s with node %s down: got %d, want 200", pg, down.Addr, r.Status)
		}
	}
	testapp.DecodeJSON(t, a.Get("/api/cache-stats"), &stats)
	if stats.Redis.Available {
		t.Error("stats with a node down: got available, want unavailable")
	}
	for _, n := range stats.Redis.Nodes {
		if failed := n.Error != ""; failed != (n.Addr == down.Addr) {
			t.Errorf("stats node %s with %s down: got error %q", n.Addr, down.Addr, n.Error)
		}
	}
	if len(stats.Redis.Nodes) != len(cl.Nodes) {
		t.Errorf("stats with a node down: got %d nodes, want all %d listed", len(stats.Redis.Nodes), len(cl.Nodes))
	}
}

// nodeKeys counts the keys under prefix on one node.
func nodeKeys(t *testing.T, n *testredis.Server, prefix string) int {
	t.Helper()
	keys, err := n.Client().Keys(context.Background(), prefix+"*").Result()
	if err != nil {
		t.Fatal(err)
	}
	return len(keys)
}
