package stats

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// Counting the keys under our prefix. Redis keeps no count per prefix:
// the only way is to SCAN them, and a full pass costs one round trip per
// scanCount keys of the whole database. Done on every refresh (the page
// polls every 3 s), that is fine for a few thousand keys and times out
// past a few hundred thousand. DBSIZE would be free, but counts every
// application's keys, and the workshop shares its Redis (a clear never
// uses FLUSHDB for the same reason); the page shows it as a server figure.
//
// So each refresh advances one SCAN pass by at most ScanStepsPerRefresh
// calls and keeps the cursor for the next refresh. When a pass ends, its
// total becomes the count shown, dated; the next refresh starts a new
// pass. A database one refresh can scan whole (up to some 10,000 keys, the
// usual case) is counted exactly on every refresh, as before; a larger one
// shows the last full pass's count and its age, and before the first pass
// ends, the keys seen so far, marked as an estimate.

const (
	// ScanStepsPerRefresh is the most SCAN calls one refresh makes.
	ScanStepsPerRefresh = 10
	// scanCount is SCAN's COUNT hint: about how many keys of the database
	// one call examines. Large enough to need few calls, small enough that
	// no call keeps Redis (which runs one command at a time) busy for long.
	scanCount = 1000
)

// keyCount is what the page and the JSON say about the number of keys.
type keyCount struct {
	// N is the count: of the last full pass, or of the keys seen so far
	// when Estimate is set.
	N int
	// Estimate is set while the first pass is under way.
	Estimate bool
	// CountedAt is when the pass N comes from ended; zero with Estimate.
	CountedAt time.Time
}

// keyCounter counts the keys matching a pattern, a bounded number of SCAN
// steps at a time (see above). It is safe for concurrent refreshes: one
// advances the pass while the others report where it stands.
type keyCounter struct {
	client *redis.Client
	match  string

	// mu is held by the refresh advancing the pass, and guards the pass.
	mu     sync.Mutex
	cursor uint64
	seen   int  // keys seen so far in the pass under way
	inPass bool // a pass is under way: cursor and seen are its own
	// shown is the latest count, for the refreshes that find mu taken.
	shown atomic.Pointer[keyCount]
}

func newKeyCounter(client *redis.Client, prefix string) *keyCounter {
	k := &keyCounter{client: client, match: escapeGlob(prefix) + "*"}
	k.shown.Store(&keyCount{Estimate: true})
	return k
}

// refresh advances the pass by at most ScanStepsPerRefresh SCAN calls and
// returns the count to show and how many calls it made. A refresh that
// finds another one advancing the pass makes none. After a failed call
// the pass resumes from where it stopped, on the next refresh.
func (k *keyCounter) refresh(ctx context.Context) (keyCount, int, bool, error) {
	if !k.mu.TryLock() {
		return *k.shown.Load(), 0, false, nil
	}
	defer k.mu.Unlock()
	if !k.inPass {
		k.cursor, k.seen, k.inPass = 0, 0, true
	}
	steps, ended := 0, false
	for steps < ScanStepsPerRefresh && !ended {
		keys, next, err := k.client.Scan(ctx, k.cursor, k.match, scanCount).Result()
		steps++
		if err != nil {
			return *k.shown.Load(), steps, false, err
		}
		k.seen += len(keys)
		k.cursor = next
		ended = next == 0
	}
	c := *k.shown.Load()
	switch {
	case ended:
		c = keyCount{N: k.seen, CountedAt: time.Now()}
		k.inPass = false
	case c.Estimate:
		// The first pass: what it has seen so far is all there is to say.
		c.N = k.seen
	}
	k.shown.Store(&c)
	return c, steps, ended, nil
}

// reset forgets the count, after a clear made it wrong: the next refresh
// starts a new pass.
func (k *keyCounter) reset() {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.inPass = false
	k.shown.Store(&keyCount{Estimate: true})
}

// note says in words how far the count can be trusted.
func (c keyCount) note(now time.Time) string {
	if c.Estimate {
		return "about " + strconv.Itoa(c.N) + " so far: counting… A full SCAN pass over a database this large takes several refreshes."
	}
	age := now.Sub(c.CountedAt)
	if age < time.Second {
		return "exact: counted by a full SCAN pass just now."
	}
	return "as counted by the last full SCAN pass, " + strconv.Itoa(int(age/time.Second)) +
		" s ago; the next pass is under way, a few SCAN calls per refresh."
}

// escapeGlob escapes the characters SCAN's MATCH treats as a pattern, so
// a prefix matches only itself.
func escapeGlob(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`*?[]\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}
