package cache

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

// entryOverhead approximates the bookkeeping bytes of one entry (map slot,
// list links, timestamps) so the byte budget bounds real memory, not just
// payload: a flood of tiny entries must not escape the budget.
const entryOverhead = 96

// Memory is an in-process LRU cache bounded by a byte budget, with per-entry
// TTL. It is safe for concurrent use. Expired entries are dropped lazily on
// access and by eviction, so no background goroutine is needed.
//
// It is written here rather than taken from a library on purpose. The
// lessons need an exact byte budget that counts keys and bookkeeping (so a
// flood of tiny entries cannot escape it), eviction counts for the stats
// page, and deterministic behaviour: a page stored on one request must be a
// HIT on the next. Admission-filtered caches such as ristretto may refuse a
// Set, and expire or evict asynchronously, so a learner's second load could
// miss for reasons the workshop cannot show. The eviction lesson compares
// this LRU with other policies side by side.
type Memory struct {
	mu    sync.Mutex
	items map[string]*memEntry
	head  memEntry // sentinel: head.next is most recently used
	bytes int64
	// maxBytes is the budget: written under mu, read without it by Set's
	// size check and by Stats.
	maxBytes atomic.Int64
	ttl      time.Duration
	now      func() time.Time
	gens     MemoryGens
	// unverified is set while this instance may have missed changes.
	unverified atomic.Bool

	hits, misses, sets, deletes, evictions atomic.Uint64
}

type memEntry struct {
	key        string
	value      []byte
	expires    int64 // unix nanos; 0 never
	size       int64
	prev, next *memEntry
}

var (
	_ Cache     = (*Memory)(nil)
	_ Inspector = (*Memory)(nil)
	_ Clearer   = (*Memory)(nil)
)

// MemoryConfig configures NewMemory.
type MemoryConfig struct {
	// MaxBytes bounds keys+values+overhead; least recently used entries
	// are evicted past it. Default 64 MiB.
	MaxBytes int64
	// DefaultTTL applies when Set is called with ttl <= 0. Default 5m.
	DefaultTTL time.Duration
	// Now is the clock, replaceable in tests. Default time.Now.
	Now func() time.Time
}

// NewMemory returns an empty memory cache.
func NewMemory(cfg MemoryConfig) *Memory {
	if cfg.MaxBytes <= 0 {
		cfg.MaxBytes = 64 << 20
	}
	if cfg.DefaultTTL <= 0 {
		cfg.DefaultTTL = 5 * time.Minute
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	m := &Memory{items: make(map[string]*memEntry), ttl: cfg.DefaultTTL, now: cfg.Now}
	m.maxBytes.Store(cfg.MaxBytes)
	m.head.next, m.head.prev = &m.head, &m.head
	return m
}

// Name implements Cache.
func (m *Memory) Name() string { return "memory" }

// Get implements Cache. The returned slice is the stored one: read-only.
func (m *Memory) Get(_ context.Context, key string) ([]byte, bool, error) {
	m.mu.Lock()
	v, ok := m.getLocked(key)
	m.mu.Unlock()
	if ok {
		m.hits.Add(1)
	} else {
		m.misses.Add(1)
	}
	return v, ok, nil
}

func (m *Memory) getLocked(key string) ([]byte, bool) {
	e := m.items[key]
	if e == nil {
		return nil, false
	}
	if e.expires != 0 && m.now().UnixNano() >= e.expires {
		m.removeLocked(e)
		return nil, false
	}
	// The hottest entry is usually at the front already: leaving it there
	// spares every hit on it four pointer writes that other cores read.
	if m.head.next != e {
		m.moveToFront(e)
	}
	return e.value, true
}

// GetMulti implements Cache.
func (m *Memory) GetMulti(_ context.Context, keys []string) ([][]byte, error) {
	out := make([][]byte, len(keys))
	var hits, misses uint64
	m.mu.Lock()
	for i, k := range keys {
		if v, ok := m.getLocked(k); ok {
			out[i] = v
			hits++
		} else {
			misses++
		}
	}
	m.mu.Unlock()
	m.hits.Add(hits)
	m.misses.Add(misses)
	return out, nil
}

// TTL implements Inspector.
func (m *Memory) TTL(_ context.Context, key string) (time.Duration, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e := m.items[key]
	if e == nil {
		return 0, false, nil
	}
	if e.expires == 0 {
		return -1, true, nil
	}
	left := time.Duration(e.expires - m.now().UnixNano())
	if left <= 0 {
		m.removeLocked(e)
		return 0, false, nil
	}
	return left, true, nil
}

// ErrUnverified is returned by memory reads while this instance cannot tell
// whether it has seen every change (the database's change log could not be
// read for a while): its copies might be stale, so pages come from the
// database until it has caught up.
var ErrUnverified = errors.New("memory cache unverified: this instance could not check for other instances' changes")

// GetVersioned implements Cache: the generations are process counters, so
// this is two map reads.
func (m *Memory) GetVersioned(ctx context.Context, key string, gens []string, cur []int64) ([]byte, bool, error) {
	m.gens.Get(gens, cur)
	if m.unverified.Load() {
		return nil, false, ErrUnverified
	}
	v, found, err := m.Get(ctx, key)
	if !found || err != nil {
		return nil, false, err
	}
	if v, ok := unstamp(v, cur); ok {
		return v, true, nil
	}
	// Built under older generations: an edit has happened since. It was
	// counted as a hit by Get; it is a miss.
	m.hits.Add(^uint64(0))
	m.misses.Add(1)
	return nil, false, nil
}

// SetVersioned implements Cache.
func (m *Memory) SetVersioned(ctx context.Context, key string, cur []int64, value []byte, ttl time.Duration) error {
	return m.Set(ctx, key, stamp(cur, value), ttl)
}

// Apply implements Cache.
func (m *Memory) Apply(_ context.Context, changes ...Change) error {
	for _, c := range changes {
		m.gens.apply(c.ID, c.Names)
	}
	return nil
}

// SetFloor sets the value of every generation that no change has touched
// since start-up: the newest change id when this process started.
func (m *Memory) SetFloor(id int64) { m.gens.floor.Store(id) }

// SetVerified says whether this instance is known to have seen every
// change; while it is not, versioned reads fail with ErrUnverified.
func (m *Memory) SetVerified(ok bool) { m.unverified.Store(!ok) }

// Set implements Cache. A value larger than the whole budget is not stored.
func (m *Memory) Set(_ context.Context, key string, value []byte, ttl time.Duration) error {
	if ttl <= 0 {
		ttl = m.ttl
	}
	size := int64(len(key)+len(value)) + entryOverhead
	if size > m.maxBytes.Load() {
		return nil
	}
	exp := m.now().Add(ttl).UnixNano()
	m.sets.Add(1)
	m.mu.Lock()
	defer m.mu.Unlock()
	if e := m.items[key]; e != nil {
		m.bytes += size - e.size
		e.value, e.expires, e.size = value, exp, size
		m.moveToFront(e)
	} else {
		e := &memEntry{key: key, value: value, expires: exp, size: size}
		m.items[key] = e
		m.bytes += size
		m.pushFront(e)
	}
	m.evictLocked()
	return nil
}

// evictLocked drops least recently used entries until the cache fits its
// budget, and returns how many went.
func (m *Memory) evictLocked() int {
	n := 0
	for budget := m.maxBytes.Load(); m.bytes > budget && m.head.prev != &m.head; n++ {
		m.removeLocked(m.head.prev)
		m.evictions.Add(1)
	}
	return n
}

// MaxBytes is the byte budget now.
func (m *Memory) MaxBytes() int64 { return m.maxBytes.Load() }

// SetMaxBytes changes the byte budget of the running cache (n <= 0: the
// 64 MiB default) and evicts least recently used entries down to it at
// once, counting them as evictions; it returns how many went. A smaller
// budget is how a class watches LRU eviction happen without filling 64 MiB.
func (m *Memory) SetMaxBytes(n int64) int {
	if n <= 0 {
		n = 64 << 20
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.maxBytes.Store(n)
	return m.evictLocked()
}

// Delete implements Cache.
func (m *Memory) Delete(_ context.Context, keys ...string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, k := range keys {
		if e := m.items[k]; e != nil {
			m.removeLocked(e)
			m.deletes.Add(1)
		}
	}
	return nil
}

// Clear implements Clearer. Generations are kept.
func (m *Memory) Clear(context.Context) error {
	m.mu.Lock()
	m.items = make(map[string]*memEntry)
	m.head.next, m.head.prev = &m.head, &m.head
	m.bytes = 0
	m.mu.Unlock()
	for _, c := range []*atomic.Uint64{&m.hits, &m.misses, &m.sets, &m.deletes, &m.evictions} {
		c.Store(0)
	}
	return nil
}

// Stats implements Inspector.
func (m *Memory) Stats() Stats {
	m.mu.Lock()
	n, b := len(m.items), m.bytes
	m.mu.Unlock()
	return Stats{
		Hits: m.hits.Load(), Misses: m.misses.Load(), Sets: m.sets.Load(),
		Deletes: m.deletes.Load(), Evictions: m.evictions.Load(),
		Entries: n, Bytes: b, MaxBytes: m.maxBytes.Load(),
	}
}

func (m *Memory) removeLocked(e *memEntry) {
	e.prev.next, e.next.prev = e.next, e.prev
	e.prev, e.next = nil, nil
	delete(m.items, e.key)
	m.bytes -= e.size
}

func (m *Memory) pushFront(e *memEntry) {
	e.prev, e.next = &m.head, m.head.next
	m.head.next.prev = e
	m.head.next = e
}

func (m *Memory) moveToFront(e *memEntry) {
	if m.head.next == e {
		return
	}
	e.prev.next, e.next.prev = e.next, e.prev
	m.pushFront(e)
}
