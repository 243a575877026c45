package testredis

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Instance is a running real Redis that a test can stop and restart: one
// server (Server) or a cluster (Cluster). Tests parametrised over both
// take it.
type Instance interface {
	// URL is what REDIS_URL would say to reach it.
	URL() string
	// Stop kills it, as a crash would.
	Stop()
	// Restart starts it again on the same ports, empty, and waits until it
	// serves.
	Restart()
	String() string
}

// Kind is one real-Redis setup the backend tests run against.
type Kind struct {
	Name  string
	Start func(testing.TB) Instance
}

// Kinds are the real-Redis setups: a single server and a three-node
// cluster. Each skips (or fails, when required) on its own.
func Kinds() []Kind {
	return []Kind{
		{"redis", func(tb testing.TB) Instance { return Start(tb) }},
		{"cluster", func(tb testing.TB) Instance { return StartCluster(tb) }},
	}
}

// ClusterSize is how many masters StartCluster starts: three, the fewest
// redis-cli accepts for a cluster.
const ClusterSize = 3

// Cluster is a local Redis Cluster of ClusterSize masters and no
// replicas, each a redis-server on its own free port.
type Cluster struct {
	Nodes []*Server
	tb    testing.TB
}

// StartCluster starts ClusterSize redis-server processes with
// --cluster-enabled yes, joins them with `redis-cli --cluster create`
// (the 16384 slots split evenly, no replicas) and waits until every node
// reports cluster_state:ok. It stops them when the test ends.
//
// When redis-server or redis-cli is missing the test is skipped with
// "SKIPPED real-Redis cluster", unless REQUIRE_REDIS=1 or
// REQUIRE_CLUSTER=1, which make it a failure.
func StartCluster(tb testing.TB) *Cluster {
	tb.Helper()
	for _, bin := range []string{"redis-server", "redis-cli"} {
		if _, err := exec.LookPath(bin); err != nil {
			if os.Getenv("REQUIRE_REDIS") == "1" || os.Getenv("REQUIRE_CLUSTER") == "1" {
				tb.Fatalf("a real Redis Cluster is required (REQUIRE_REDIS or REQUIRE_CLUSTER) but %s is not installed: %v", bin, err)
			}
			tb.Skipf("SKIPPED real-Redis cluster test: %s is not installed (apt-get install redis-server)", bin)
		}
	}
	c := &Cluster{tb: tb}
	tb.Cleanup(c.Stop)
	for range ClusterSize {
		dir := tb.TempDir()
		s := &Server{port: clusterPort(tb), dir: dir, tb: tb, extra: []string{
			"--cluster-enabled", "yes",
			"--cluster-config-file", filepath.Join(dir, "nodes.conf"),
			// How long a node may be silent before the others mark it
			// failing: short, so a test's restart is never mistaken
			// for a failure that needs a failover, yet well above any
			// pause of a busy test machine.
			"--cluster-node-timeout", "5000",
		}}
		s.Addr = "127.0.0.1:" + strconv.Itoa(s.port)
		s.start()
		c.Nodes = append(c.Nodes, s)
	}
	args := []string{"--cluster", "create"}
	for _, n := range c.Nodes {
		args = append(args, n.Addr)
	}
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	out, err := exec.Command("redis-cli", args...).CombinedOutput()
	if err != nil {
		tb.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	c.waitOK()
	return c
}

// URL is the cluster in go-redis's URL form: the first node's address,
// the others as addr parameters.
func (c *Cluster) URL() string {
	u := "redis://" + c.Nodes[0].Addr
	for i, n := range c.Nodes[1:] {
		sep := "&"
		if i == 0 {
			sep = "?"
		}
		u += sep + "addr=" + n.Addr
	}
	return u
}

// Client returns a fresh cluster client; it is closed when the test ends.
func (c *Cluster) Client() *redis.ClusterClient {
	addrs := make([]string, len(c.Nodes))
	for i, n := range c.Nodes {
		addrs[i] = n.Addr
	}
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs})
	c.tb.Cleanup(func() { _ = cc.Close() })
	return cc
}

// Stop kills every node; calling it twice is harmless.
func (c *Cluster) Stop() {
	for _, n := range c.Nodes {
		n.Stop()
	}
}

// Restart starts every node again, empty, and waits for the cluster to be
// whole. Each node keeps its cluster configuration file, so it rejoins
// with the same id and slots, as after a power cut.
func (c *Cluster) Restart() {
	c.tb.Helper()
	c.Stop()
	for _, n := range c.Nodes {
		n.start()
	}
	c.waitOK()
}

// String describes the cluster for logs.
func (c *Cluster) String() string {
	addrs := make([]string, len(c.Nodes))
	for i, n := range c.Nodes {
		addrs[i] = n.Addr
	}
	return "Redis Cluster at " + strings.Join(addrs, ", ")
}

// waitOK waits until every node says cluster_state:ok and knows every
// other node: only then does each answer for its own slots and redirect
// the others.
func (c *Cluster) waitOK() {
	c.tb.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for _, n := range c.Nodes {
		rc := redis.NewClient(&redis.Options{Addr: n.Addr, DialTimeout: 200 * time.Millisecond})
		for {
			ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
			info, err := rc.ClusterInfo(ctx).Result()
			cancel()
			if err == nil && strings.Contains(info, "cluster_state:ok") &&
				strings.Contains(info, "cluster_known_nodes:"+strconv.Itoa(len(c.Nodes))+"\r\n") {
				break
			}
			if time.Now().After(deadline) {
				_ = rc.Close()
				c.tb.Fatalf("cluster node %s not ok within 20s: %v\n%s", n.Addr, err, info)
			}
			time.Sleep(50 * time.Millisecond)
		}
		_ = rc.Close()
	}
}

// clusterPort returns a free port whose cluster bus port (the port plus
// 10000, where nodes talk to each other) is free too.
func clusterPort(tb testing.TB) int {
	tb.Helper()
	for range 50 {
		p := freePort(tb)
		if p+10000 > 65535 {
			continue
		}
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p+10000))
		if err != nil {
			continue
		}
		_ = l.Close()
		return p
	}
	tb.Fatal(fmt.Errorf("no free port with a free cluster bus port after 50 tries"))
	return 0
}
