package stats

import (
	"context"
	"strings"
	"sync"

	"cacheworkshop/cache"
	"cacheworkshop/cache/page"
)

// A Redis Cluster is several servers, and Redis's figures are per server:
// INFO describes one node, and SCAN walks one node's keys. So on a cluster
// the page reads INFO from every node and shows a row per node, and counts
// our keys with one SCAN pass per master (replicas hold copies), each
// spread over refreshes as on a single server; the total is their sum.

// nodeStats is one cluster node as the page and the JSON show it.
type nodeStats struct {
	Addr  string `json:"addr"`
	Role  string `json:"role"`
	Slots string `json:"slots,omitempty"`
	Error string `json:"error,omitempty"`
	// Keys is how many keys under our prefix the node holds, as its own
	// SCAN pass counted them; masters only.
	Keys *int `json:"keys,omitempty"`
	// The node's INFO figures, when it answered.
	*redisInfo
}

// nodeCounters keeps one keyCounter per server holding data, by address.
type nodeCounters struct {
	prefix string
	mu     sync.Mutex
	by     map[string]*keyCounter
}

func newNodeCounters(prefix string) *nodeCounters {
	return &nodeCounters{prefix: prefix, by: map[string]*keyCounter{}}
}

// refresh advances every master's pass, all at once, and returns the
// total, each master's count, how many SCAN calls they made and whether
// every pass ended.
func (n *nodeCounters) refresh(ctx context.Context, nodes []cache.NodeInfo) (keyCount, map[string]keyCount, int, bool, error) {
	type result struct {
		addr  string
		kc    keyCount
		steps int
		ended bool
		err   error
	}
	var results []result
	var wg sync.WaitGroup
	var mu sync.Mutex
	for _, nd := range nodes {
		if nd.Role == "replica" {
			continue
		}
		k := n.counter(nd)
		wg.Go(func() {
			kc, steps, ended, err := k.refresh(ctx)
			mu.Lock()
			results = append(results, result{nd.Addr, kc, steps, ended, err})
			mu.Unlock()
		})
	}
	wg.Wait()
	total, per := keyCount{}, map[string]keyCount{}
	steps, ended := 0, len(results) > 0
	var err error
	for i, r := range results {
		per[r.addr] = r.kc
		steps += r.steps
		ended = ended && r.ended
		if r.err != nil && err == nil {
			err = r.err
		}
		total.N += r.kc.N
		total.Estimate = total.Estimate || r.kc.Estimate
		// The total is as old as its oldest part.
		if i == 0 || r.kc.CountedAt.Before(total.CountedAt) {
			total.CountedAt = r.kc.CountedAt
		}
	}
	return total, per, steps, ended, err
}

// counter returns the node's keyCounter, made on first use: a cluster's
// client makes its node clients as it discovers the nodes.
func (n *nodeCounters) counter(nd cache.NodeInfo) *keyCounter {
	n.mu.Lock()
	defer n.mu.Unlock()
	k, ok := n.by[nd.Addr]
	if !ok || k.client != nd.Client {
		k = newKeyCounter(nd.Client, n.prefix)
		n.by[nd.Addr] = k
	}
	return k
}

// reset forgets every count, after a clear.
func (n *nodeCounters) reset() {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, k := range n.by {
		k.reset()
	}
}

// nodeRows are the node table's rows; counts holds each master's key count.
func nodeRows(nodes []cache.NodeInfo, counts map[string]keyCount, db int) []nodeStats {
	rows := make([]nodeStats, len(nodes))
	for i, nd := range nodes {
		rows[i] = nodeStats{Addr: nd.Addr, Role: nd.Role, Slots: strings.Join(nd.Slots, ", ")}
		if nd.Err != nil {
			rows[i].Error = page.Short(nd.Err)
			continue
		}
		rows[i].redisInfo = parseRedisInfo(nd.Info, db)
		if kc, ok := counts[nd.Addr]; ok {
			rows[i].Keys = &kc.N
		}
	}
	return rows
}
