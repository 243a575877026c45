// Package cache holds the workshop's two cache backends, memory and Redis,
// behind one small byte-valued interface; the per-request cache mode; and
// the generation counters that make invalidation a constant-time operation.
//
// Both backends implement the whole interface, including the versioned read
// that fetches an entry together with the generations it depends on, so the
// engines above them (cache/page, cache/fragment) never branch on the mode.
package cache

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Cache is a byte-valued store with per-entry time to live and named
// generations.
//
// Semantics shared by every backend:
//   - Get returns found=false and err=nil on a miss; err is reserved for a
//     failing backend (timeout, refused connection) so callers can tell
//     "not cached" from "cache broken" and fall back to the origin.
//   - The slices returned by reads must be treated as read-only: the memory
//     backend hands out its stored slice without copying, which is what
//     makes a memory hit cost no more than a map lookup.
//   - Set keeps value: callers must not modify it afterwards. A ttl <= 0
//     means the backend default.
//   - Deleting a missing key is not an error.
//   - A generation that was never bumped has a value all the same, so a
//     versioned read always reports the values it compared against.
type Cache interface {
	// Name is the short backend name shown to learners ("memory", "redis").
	Name() string
	// Get returns the value stored under key (see the semantics above).
	Get(ctx context.Context, key string) (value []byte, found bool, err error)
	// GetMulti looks up several keys in one round trip. The result has one
	// element per key; a miss is a nil element.
	GetMulti(ctx context.Context, keys []string) ([][]byte, error)
	// Set stores value under key for ttl (<= 0: the backend default).
	Set(ctx context.Context, key string, value []byte, ttl time.Duration) error
	// Delete removes keys; missing keys are not an error.
	Delete(ctx context.Context, keys ...string) error

	// GetVersioned reads the current values of gens into cur (len(cur) ==
	// len(gens)) and the entry under key, in one round trip. found is true
	// only when the entry was stored by SetVersioned under exactly those
	// values: an entry built before a bump is a miss.
	GetVersioned(ctx context.Context, key string, gens []string, cur []int64) (value []byte, found bool, err error)
	// SetVersioned stores value under key, stamped with the generation
	// values it was built under (cur, as GetVersioned reported them).
	SetVersioned(ctx context.Context, key string, cur []int64, value []byte, ttl time.Duration) error
	// Apply applies committed changes, in id order: each raises the
	// generations it names to its id, which makes every entry built under
	// their old values a miss.
	Apply(ctx context.Context, changes ...Change) error
}

// Inspector is the optional ability to say how long a key has left and to
// report counters, for the stats page and the key explainer.
type Inspector interface {
	// TTL returns how long key has left (-1: no expiry) and whether it is
	// present at all.
	TTL(ctx context.Context, key string) (left time.Duration, found bool, err error)
	// Stats returns the backend's counters since start-up or the last Clear.
	Stats() Stats
}

// Clearer is the optional ability to remove every entry this process
// stored, and nothing else.
type Clearer interface {
	// Clear removes the workshop's entries (never other data) and zeroes
	// the counters. Generations survive: losing one could resurrect old
	// entries elsewhere.
	Clear(ctx context.Context) error
}

// Locker is the optional ability to hold a short lock shared by every
// instance using the backend, so that one of them rebuilds a missing entry
// while the others wait.
type Locker interface {
	// TryLock takes the lock key for ttl. ok is false when someone else
	// holds it; err only when the backend failed.
	TryLock(ctx context.Context, key string, ttl time.Duration) (l *Lock, ok bool, err error)
}

// Stats are a backend's counters since start-up (or the last Clear).
type Stats struct {
	Hits      uint64 `json:"hits"`
	Misses    uint64 `json:"misses"`
	Errors    uint64 `json:"errors"`
	Sets      uint64 `json:"sets"`
	Deletes   uint64 `json:"deletes"`
	Evictions uint64 `json:"evictions"`
	Entries   int    `json:"entries"`
	Bytes     int64  `json:"bytes"`
	MaxBytes  int64  `json:"max_bytes,omitempty"`
}

// HitRatio is hits/(hits+misses), or 0 before the first lookup.
func (s Stats) HitRatio() float64 {
	if s.Hits+s.Misses == 0 {
		return 0
	}
	return float64(s.Hits) / float64(s.Hits+s.Misses)
}

// ErrUnavailable wraps backend failures so handlers can show a notice
// without caring which backend failed.
var ErrUnavailable = errors.New("cache unavailable")

// Mode is how one request is served: straight from the database, through
// one of the two cache backends, or through both (tiered: memory in front
// of Redis).
type Mode uint8

// The four modes. The zero value is ModeNone so a forgotten mode never
// pretends to be cached.
const (
	ModeNone Mode = iota
	ModeMemory
	ModeRedis
	ModeTiered
)

// Modes lists every mode in display order.
var Modes = []Mode{ModeNone, ModeMemory, ModeRedis, ModeTiered}

// String is the canonical name used in ?cache=, cookies and X-Cache-Mode.
func (m Mode) String() string {
	switch m {
	case ModeMemory:
		return "memory"
	case ModeRedis:
		return "redis"
	case ModeTiered:
		return "tiered"
	default:
		return "none"
	}
}

// Label is the human name of the mode.
func (m Mode) Label() string {
	switch m {
	case ModeMemory:
		return "Memory"
	case ModeRedis:
		return "Redis"
	case ModeTiered:
		return "Tiered"
	default:
		return "No cache"
	}
}

// ValidModeValues is what the 400 page lists for an unknown ?cache= value.
const ValidModeValues = "none, memory, redis, tiered (also false, off, 0 for none; true, on, 1 for the default mode)"

// ParseMode reads a ?cache= value. Aliases follow the workshop's contract:
// false|off|0 mean none, true|on|1 mean def. Case and surrounding space are
// ignored; anything else is an error naming the valid values.
func ParseMode(s string, def Mode) (Mode, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "none", "false", "off", "0":
		return ModeNone, nil
	case "memory":
		return ModeMemory, nil
	case "redis":
		return ModeRedis, nil
	case "tiered":
		return ModeTiered, nil
	case "true", "on", "1":
		return def, nil
	}
	if len(s) > 40 {
		s = s[:40] + "…"
	}
	return ModeNone, fmt.Errorf("unknown cache mode %q: valid values are %s", s, ValidModeValues)
}

type contextKey struct{ name string }

var modeKey = &contextKey{"cache mode"}

// WithMode returns a context carrying a cache mode: the request's, or the
// one a build renders its fragments in (none, after its backend failed).
func WithMode(ctx context.Context, m Mode) context.Context {
	return context.WithValue(ctx, modeKey, m)
}

// ModeFrom returns the mode stored by WithMode, or ModeNone.
func ModeFrom(ctx context.Context) Mode {
	m, _ := ctx.Value(modeKey).(Mode)
	return m
}
