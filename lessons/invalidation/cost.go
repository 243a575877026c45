package invalidation

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"strconv"
	"time"

	"cacheworkshop/cache"
)

// costSizes are the key counts the pattern-delete cost can be measured
// at: the form offers these and nothing else.
var costSizes = []int{1000, 10000, 100000}

// viewsPerProduct is how many throwaway keys each simulated product has:
// the targeted pattern deletes one product's.
const viewsPerProduct = 10

// costTTL bounds the throwaway keys' life, should the process die in the
// middle of a measurement: they are deleted at its end in any case.
const costTTL = 5 * time.Minute

// costResult is one pattern-delete measurement in one backend.
type costResult struct {
	// Kind is "memory" or "redis"; Backend its display name.
	Kind, Backend string
	Keys          int
	// Walked is what the targeted delete had to look at: the whole
	// database (DBSIZE) for Redis's SCAN, every entry for memory.
	Walked int
	// Matched is how many keys the targeted pattern deleted.
	Matched  int
	Pattern  string
	Fill     step
	Targeted step
	// All is deleting every throwaway key by pattern (the clean-up).
	All        step
	AllDeleted int
	Err        string
}

// Scans and Unlinks are the targeted delete's commands, as counted.
func (c costResult) Scans() int   { return c.Targeted.Redis.Of("SCAN") }
func (c costResult) Unlinks() int { return c.Targeted.Redis.Of("UNLINK") }

// benchKey is throwaway key i: product i/10, view i%10.
func benchKey(base string, i int) string {
	return base + "product:" + strconv.Itoa(i/viewsPerProduct) + ":view:" + strconv.Itoa(i%viewsPerProduct)
}

// costMemory times a pattern delete in a throwaway memory cache of the
// workshop's type holding n keys: the lab's own entries, let alone the
// workshop's, are never in the way of the measurement, and 100,000 keys
// never evict a page.
func costMemory(n int) costResult {
	res := costResult{Kind: "memory", Backend: "memory", Keys: n, Pattern: "bench:product:7:*"}
	m := cache.NewMemory(cache.MemoryConfig{MaxBytes: 256 << 20, DefaultTTL: costTTL})
	ctx := context.Background()
	val := []byte("x")
	t0 := time.Now()
	for i := range n {
		_ = m.Set(ctx, benchKey("bench:", i), val, costTTL) // the memory cache never fails a Set
	}
	res.Fill.Took = time.Since(t0)
	t0 = time.Now()
	res.Matched, res.Walked = m.DeletePrefix("bench:product:7:")
	res.Targeted.Took = time.Since(t0)
	t0 = time.Now()
	res.AllDeleted, _ = m.DeletePrefix("bench:")
	res.All.Took = time.Since(t0)
	return res
}

// costRedis times the same in Redis, on throwaway keys under a fresh
// prefix of the lab's namespace, with SCAN MATCH and UNLINK: the targeted
// delete of one product's ten keys, then the clean-up of them all. Both
// walk the whole database, which is the point.
func (r *redisBackend) cost(ctx context.Context, n int) (res costResult) {
	res = costResult{Kind: "redis", Backend: "redis", Keys: n}
	id := make([]byte, 6)
	_, _ = rand.Read(id)
	base := r.prefix + "bench:" + hex.EncodeToString(id) + ":"
	res.Pattern = base + "product:7:*"
	defer func() {
		// A measurement that stopped half-way still leaves no throwaway
		// key behind (a complete one has deleted them all, measured).
		if res.Err == "" {
			return
		}
		if _, err := scanUnlink(context.WithoutCancel(ctx), r.client, escapeGlob(base)+"*"); err != nil {
			res.Err += " Some throwaway keys could not be deleted; they expire within " + costTTL.String() + "."
		}
	}()
	t0 := time.Now()
	const batch = 1000
	for from := 0; from < n; from += batch {
		pipe := r.client.Pipeline()
		for i := from; i < min(from+batch, n); i++ {
			pipe.Set(ctx, benchKey(base, i), "x", costTTL)
		}
		if _, err := pipe.Exec(ctx); err != nil {
			res.Err = errText(unavailable("SET", err))
			return res
		}
	}
	res.Fill.Took = time.Since(t0)
	size, err := r.client.DBSize(ctx).Result()
	if err != nil {
		res.Err = errText(unavailable("DBSIZE", err))
		return res
	}
	res.Walked = int(size)

	measure := func(pattern string) (int, step, error) {
		t := &tally{}
		t0 := time.Now()
		deleted, err := scanUnlink(withTally(ctx, t), r.client, pattern)
		return deleted, step{Took: time.Since(t0), Redis: t.count()}, err
	}
	if res.Matched, res.Targeted, err = measure(escapeGlob(base+"product:7:") + "*"); err != nil {
		res.Err = errText(err)
		return res
	}
	if res.AllDeleted, res.All, err = measure(escapeGlob(base) + "*"); err != nil {
		res.Err = errText(err)
	}
	return res
}
