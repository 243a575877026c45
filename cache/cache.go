// Package cache holds the workshop's cache backends behind one small
// byte-valued interface, the per-request cache mode, and the generation
// counters that make invalidation a constant-time operation.
package cache

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Cache is a byte-valued store with per-entry time to live.
//
// Semantics shared by every backend:
//   - Get returns found=false and err=nil on a miss; err is reserved for a
//     failing backend (timeout, refused connection) so callers can tell
//     "not cached" from "cache broken" and fall back to the origin.
//   - The slice returned by Get and GetMulti must be treated as read-only:
//     the memory backend hands out its stored slice without copying, which is
//     what makes a memory hit cost no more than a map lookup.
//   - Set stores a copy-safe value: callers must not modify value afterwards.
//     A ttl <= 0 means the backend default.
//   - Deleting a missing key is not an error.
//   - DeletePrefix removes every key that starts with prefix (within the
//     backend's own namespace) without blocking the backend.
type Cache interface {
	// Get returns the value stored under key (see the semantics above).
	Get(ctx context.Context, key string) (value []byte, found bool, err error)
	// GetMulti looks up several keys in one round trip. The result has one
	// element per key; a miss is a nil element.
	GetMulti(ctx context.Context, keys []string) ([][]byte, error)
	// Set stores value under key for ttl (<= 0: the backend default).
	Set(ctx context.Context, key string, value []byte, ttl time.Duration) error
	// Delete removes keys; missing keys are not an error.
	Delete(ctx context.Context, keys ...string) error
	// DeletePrefix removes every key starting with prefix.
	DeletePrefix(ctx context.Context, prefix string) error
	// Name is the short backend name shown to learners ("memory", "redis").
	Name() string
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

// Mode is how one request is served: straight from the database, or through
// one of the two cache backends.
type Mode uint8

// The three modes. The zero value is ModeNone so a forgotten mode never
// pretends to be cached.
const (
	ModeNone Mode = iota
	ModeMemory
	ModeRedis
)

// Modes lists every mode in display order.
var Modes = []Mode{ModeNone, ModeMemory, ModeRedis}

// String is the canonical name used in ?cache=, cookies and X-Cache-Mode.
func (m Mode) String() string {
	switch m {
	case ModeMemory:
		return "memory"
	case ModeRedis:
		return "redis"
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
	default:
		return "No cache"
	}
}

// ValidModeValues is what the 400 page lists for an unknown ?cache= value.
const ValidModeValues = "none, memory, redis (also false, off, 0 for none; true, on, 1 for the default mode)"

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
	case "true", "on", "1":
		return def, nil
	}
	if len(s) > 40 {
		s = s[:40] + "…"
	}
	return ModeNone, fmt.Errorf("unknown cache mode %q: valid values are %s", s, ValidModeValues)
}

type contextKey struct{ name string }

// ModeContextKey is the context key under which WithMode stores the mode.
// Use WithMode and ModeFrom; the key is exported for a server that keeps
// several per-request values in one context of its own, as chi does with
// its RouteCtxKey, to spare an allocation per value on every request.
var ModeContextKey = &contextKey{"cache mode"}

// WithMode returns a context carrying the request's cache mode.
func WithMode(ctx context.Context, m Mode) context.Context {
	return context.WithValue(ctx, ModeContextKey, m)
}

// ModeFrom returns the mode stored by WithMode, or ModeNone.
func ModeFrom(ctx context.Context) Mode {
	m, _ := ctx.Value(ModeContextKey).(Mode)
	return m
}
