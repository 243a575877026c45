package cache

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/redis/go-redis/v9"
)

// Redis Cluster splits the keyspace into 16384 hash slots and gives each
// master a share of them. A command that names several keys (MGET, UNLINK,
// a script's KEYS) runs on one node only, so all its keys must be in one
// slot, or the server refuses it with CROSSSLOT. Which slot a key is in is
// decided by its hash tag: when the key contains {...}, only the text
// between the first { and the next } is hashed.
//
// The workshop's key layout uses that deliberately, so a read stays one
// round trip per node involved:
//
//   - Generations and the applied change id are <prefix>{gen}:<name> and
//     <prefix>{gen}:@applied: one slot. The apply script reads and raises
//     them together, and a versioned read fetches them in one MGET.
//   - A page entry (page:...) has no tag: pages spread over every node. A
//     versioned read is therefore two MGETs, the generations' and the
//     entry's, sent in one pipeline: go-redis sends each node its share in
//     parallel, so a hit costs one round trip to each of two nodes, at
//     the same time. Keeping page entries with their generations would
//     make every read one MGET, but would put every page on one node,
//     which is no cluster at all.
//   - Fragments are frag:{<name>}:...: every fragment of one kind (every
//     product row) is in one slot, so a list page's rows are one MGET on
//     one node. The cost is that one node holds all rows of a kind; a far
//     larger catalogue would split them into a few tagged buckets instead.
//   - Every other key (locks, the weather and Fibonacci lessons' entries)
//     is read alone and has no tag.
//
// mget and unlink still group keys by slot, so a caller that passes keys
// of several slots gets one command per slot instead of an error; the
// tags keep that to one or two.

// ClusterSlots is the number of hash slots of a Redis Cluster.
const ClusterSlots = 16384

// Slot returns the hash slot of key, as Redis Cluster computes it: CRC16
// (XMODEM) of the key's hash tag, or of the whole key when it has none,
// modulo 16384.
func Slot(key string) int {
	if open := strings.IndexByte(key, '{'); open >= 0 {
		// An empty tag ("{}") does not count: the whole key is hashed.
		if n := strings.IndexByte(key[open+1:], '}'); n > 0 {
			key = key[open+1 : open+1+n]
		}
	}
	return int(crc16(key) % ClusterSlots)
}

// crc16 is CRC-16/XMODEM (polynomial 0x1021, initial value 0), the
// checksum Redis Cluster hashes keys with.
func crc16(s string) uint16 {
	var crc uint16
	for i := 0; i < len(s); i++ {
		crc ^= uint16(s[i]) << 8
		for range 8 {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return crc
}

// slotGroups splits the indexes of keys by hash slot, in the order each
// slot first appears.
func slotGroups(keys []string) [][]int {
	var groups [][]int
	at := map[int]int{} // slot → index in groups
	for i, k := range keys {
		s := Slot(k)
		g, ok := at[s]
		if !ok {
			g = len(groups)
			at[s] = g
			groups = append(groups, nil)
		}
		groups[g] = append(groups[g], i)
	}
	return groups
}

// isCluster reports whether a URL names a Redis Cluster: go-redis's
// cluster URL form lists the other nodes as addr parameters.
func isCluster(rawURL string) bool {
	u, err := url.Parse(rawURL)
	return err == nil && u.Query().Has("addr")
}

// mget is MGET of full keys. On a cluster the keys are grouped by slot,
// one MGET per slot, all in one pipeline (one round trip per node, the
// nodes in parallel); on a single server it is one MGET.
func (r *Redis) mget(ctx context.Context, keys []string) ([]any, error) {
	if !r.cluster {
		return r.client.MGet(ctx, keys...).Result()
	}
	groups := slotGroups(keys)
	if len(groups) == 1 {
		return r.client.MGet(ctx, keys...).Result()
	}
	pipe := r.client.Pipeline()
	cmds := make([]*redis.SliceCmd, len(groups))
	for g, idx := range groups {
		part := make([]string, len(idx))
		for j, i := range idx {
			part[j] = keys[i]
		}
		cmds[g] = pipe.MGet(ctx, part...)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, err
	}
	out := make([]any, len(keys))
	for g, idx := range groups {
		vals := cmds[g].Val()
		for j, i := range idx {
			out[i] = vals[j]
		}
	}
	return out, nil
}

// unlink is UNLINK of full keys, grouped by slot on a cluster as mget
// groups them. It returns how many keys existed.
func (r *Redis) unlink(ctx context.Context, keys []string) (int64, error) {
	if !r.cluster {
		return r.client.Unlink(ctx, keys...).Result()
	}
	pipe := r.client.Pipeline()
	var cmds []*redis.IntCmd
	for _, idx := range slotGroups(keys) {
		part := make([]string, len(idx))
		for j, i := range idx {
			part[j] = keys[i]
		}
		cmds = append(cmds, pipe.Unlink(ctx, part...))
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return 0, err
	}
	var n int64
	for _, c := range cmds {
		n += c.Val()
	}
	return n, nil
}

// eachMaster calls fn with a client of each server holding data: the one
// server, or every master of a cluster (replicas hold copies). SCAN is
// per server, so a scan of the whole keyspace is one per master.
func (r *Redis) eachMaster(ctx context.Context, fn func(ctx context.Context, c *redis.Client) error) error {
	switch c := r.client.(type) {
	case *redis.ClusterClient:
		return c.ForEachMaster(ctx, fn)
	case *redis.Client:
		return fn(ctx, c)
	}
	return fmt.Errorf("redis: unsupported client %T", r.client)
}

// Node is one server behind the client, for the statistics page.
type Node struct {
	// Addr is the node's host:port.
	Addr string
	// Role is "master" or "replica" in a cluster, "standalone" for a
	// single server, empty when the node did not answer.
	Role string
	// Slots are the hash slot ranges a master serves, e.g. "0-5460".
	Slots []string
	// Client talks to this node alone (INFO and SCAN are per node).
	Client *redis.Client
	// Err is why the node could not describe itself.
	Err error
}

// Nodes lists the servers behind the client: the one server, or every
// node of a cluster, masters in slot order. Each cluster node describes
// itself (the "myself" line of its CLUSTER NODES), so a node that is down
// is listed with its error while the others still answer.
func (r *Redis) Nodes(ctx context.Context) ([]Node, error) {
	switch c := r.client.(type) {
	case *redis.Client:
		return []Node{{Addr: c.Options().Addr, Role: "standalone", Client: c}}, nil
	case *redis.ClusterClient:
		var (
			mu    sync.Mutex
			nodes []Node
		)
		err := c.ForEachShard(ctx, func(ctx context.Context, nc *redis.Client) error {
			n := Node{Addr: nc.Options().Addr, Client: nc}
			var out string
			if out, n.Err = nc.ClusterNodes(ctx).Result(); n.Err == nil {
				n.Role, n.Slots = parseMyself(out)
			}
			mu.Lock()
			nodes = append(nodes, n)
			mu.Unlock()
			return nil
		})
		if err != nil {
			return nil, r.fail("cluster state", err)
		}
		// Masters in slot order, then the others by address.
		slices.SortFunc(nodes, func(a, b Node) int {
			switch {
			case len(a.Slots) > 0 && len(b.Slots) > 0:
				return firstSlot(a.Slots[0]) - firstSlot(b.Slots[0])
			case len(a.Slots) > 0:
				return -1
			case len(b.Slots) > 0:
				return 1
			}
			return strings.Compare(a.Addr, b.Addr)
		})
		return nodes, nil
	}
	return nil, fmt.Errorf("redis: unsupported client %T", r.client)
}

// parseMyself reads a node's role and slot ranges from its CLUSTER NODES
// reply, whose line flagged "myself" describes the node answering:
//
//	<id> <addr> myself,master - 0 0 1 connected 0-5460
func parseMyself(out string) (role string, slots []string) {
	for line := range strings.Lines(out) {
		f := strings.Fields(line)
		if len(f) < 8 || !slices.Contains(strings.Split(f[2], ","), "myself") {
			continue
		}
		role = "replica"
		if slices.Contains(strings.Split(f[2], ","), "master") {
			role = "master"
		}
		for _, s := range f[8:] {
			// "[slot->-node]" marks a slot being moved, not one served.
			if !strings.HasPrefix(s, "[") {
				slots = append(slots, s)
			}
		}
		slices.SortFunc(slots, func(a, b string) int { return firstSlot(a) - firstSlot(b) })
		return role, slots
	}
	return "", nil
}

// firstSlot is where a slot range such as "5461-10922" starts.
func firstSlot(r string) int {
	start, _, _ := strings.Cut(r, "-")
	n, _ := strconv.Atoi(start)
	return n
}

// NodeInfo is one node's INFO reply, or why it could not be read (Err).
type NodeInfo struct {
	Node
	Info string
}

// NodesInfo reads INFO sections from every node at once: Redis's INFO
// describes one server, so a cluster's figures are one reply per node.
// A node that fails has Err set; err is only for a client that cannot
// list its nodes at all.
func (r *Redis) NodesInfo(ctx context.Context, sections ...string) ([]NodeInfo, error) {
	nodes, err := r.Nodes(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]NodeInfo, len(nodes))
	var wg sync.WaitGroup
	for i, n := range nodes {
		out[i].Node = n
		if n.Err != nil {
			continue
		}
		wg.Go(func() {
			out[i].Info, out[i].Err = n.Client.Info(ctx, sections...).Result()
		})
	}
	wg.Wait()
	return out, nil
}

// ErrClusterNotOK is returned by Ping when a cluster's nodes answer but
// the cluster does not serve every slot (a master is down or the slots
// are not all assigned): it then refuses every key command.
var ErrClusterNotOK = errors.New("redis cluster state is not ok")

// Ping checks that client's server answers; for a cluster, that every
// master answers and reports cluster_state:ok.
func Ping(ctx context.Context, client redis.UniversalClient) error {
	cc, ok := client.(*redis.ClusterClient)
	if !ok {
		return client.Ping(ctx).Err()
	}
	return cc.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error {
		info, err := c.ClusterInfo(ctx).Result()
		if err != nil {
			return err
		}
		if !strings.Contains(info, "cluster_state:ok") {
			return fmt.Errorf("%w (node %s)", ErrClusterNotOK, c.Options().Addr)
		}
		return nil
	})
}
