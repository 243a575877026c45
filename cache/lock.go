package cache

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"time"

	"github.com/redis/go-redis/v9"
)

// unlockScript deletes the lock only if it still holds our token, so a
// caller whose lock expired can never release someone else's.
var unlockScript = redis.NewScript(`
if redis.call("GET", KEYS[1]) == ARGV[1] then
  return redis.call("DEL", KEYS[1])
end
return 0`)

// Lock is a short-lived Redis lock (SET NX PX with a random token) that
// lets one instance, among all sharing a Redis server, rebuild a missing
// entry while the others wait for it: a stampede costs one origin load in
// total instead of one per instance.
type Lock struct {
	client redis.UniversalClient
	key    string
	token  string
}

// TryLock takes the lock key for ttl. ok is false when someone else holds
// it; err only when Redis failed. The lock is one key, so on a cluster it
// lives on the node serving its slot, and every instance asks that node.
func TryLock(ctx context.Context, client redis.UniversalClient, key string, ttl time.Duration) (l *Lock, ok bool, err error) {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	tok := hex.EncodeToString(b)
	ok, err = client.SetNX(ctx, key, tok, ttl).Result()
	if err != nil || !ok {
		return nil, false, err
	}
	return &Lock{client: client, key: key, token: tok}, true, nil
}

// Unlock releases the lock if it is still ours.
func (l *Lock) Unlock(ctx context.Context) error {
	if l == nil {
		return nil
	}
	return unlockScript.Run(ctx, l.client, []string{l.key}, l.token).Err()
}

// WaitFor polls c for key every step until it appears or wait elapses. The
// stampede lab uses it for simulated instances that lost the lock; pages
// use Server.waitForBuild, which also checks generations.
func WaitFor(ctx context.Context, c Cache, key string, wait, step time.Duration) ([]byte, bool, error) {
	deadline := time.Now().Add(wait)
	for {
		v, found, err := c.Get(ctx, key)
		if err != nil || found {
			return v, found, err
		}
		if time.Now().After(deadline) {
			return nil, false, nil
		}
		t := time.NewTimer(step)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, false, ctx.Err()
		case <-t.C:
		}
	}
}
