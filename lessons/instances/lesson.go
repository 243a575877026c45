// Package instances is the many-instances lesson: every process announces
// itself in Redis with a short-lived key, /instances lists them, and a
// demo shows that a memory cache is per process: each instance misses
// once before it hits, and only an invalidation sent over Redis keeps the
// other instances' copies fresh after an edit.
package instances

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"sort"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/redis/go-redis/v9"

	"cacheworkshop/handlers"
)

// Announcements are refreshed every announceEvery and live for
// announceTTL, so a stopped instance leaves the list within 15 s and a
// slow Redis round trip never drops a live one.
const (
	announceEvery = 5 * time.Second
	announceTTL   = 15 * time.Second
)

// Announcement is what an instance says about itself in Redis.
type Announcement struct {
	Name    string                     `json:"name"`
	Addr    string                     `json:"addr"`
	PID     int                        `json:"pid"`
	Started time.Time                  `json:"started"`
	Seen    time.Time                  `json:"seen"`
	Modes   map[string]handlers.Counts `json:"modes"`
}

// Lesson serves /instances and runs this instance's announcer and its
// listener for the demo's invalidations.
type Lesson struct {
	kit     *handlers.Kit
	started time.Time
	client  redis.UniversalClient
	prefix  string
	// ready is closed once Register has run, so Run never reads kit early.
	ready chan struct{}
	once  sync.Once
	// fetch is how the demo calls the other instances; tests may replace
	// its transport.
	fetch *fetcher
}

// New returns the lesson; Register and Run start it.
func New() *Lesson {
	return &Lesson{started: time.Now(), ready: make(chan struct{}), fetch: newFetcher()}
}

// Register mounts the lesson's routes.
func (l *Lesson) Register(r chi.Router, k *handlers.Kit) {
	l.kit = k
	if k.Redis != nil {
		l.client = k.Redis.Client()
		l.prefix = k.Redis.Prefix()
	}
	l.once.Do(func() { close(l.ready) })
	r.Get("/instances", k.Handle(l.servePage))
	r.Get("/api/instances", k.Handle(l.serveAPI))
	r.Get("/api/instances/item", k.Handle(l.serveItem))
	r.With(k.RequireAdmin).Post("/instances/item", k.Handle(l.serveItemPost))
	r.With(k.RequireAdmin).Post("/instances/switch", k.Handle(l.serveSwitch))
}

// Run announces this instance until ctx ends, and listens for the demo's
// invalidations from the other instances.
func (l *Lesson) Run(ctx context.Context) {
	select {
	case <-l.ready:
	case <-ctx.Done():
		return
	}
	if l.client == nil {
		return
	}
	go l.listen(ctx)
	t := time.NewTicker(announceEvery)
	defer t.Stop()
	for {
		l.announce(ctx)
		select {
		case <-ctx.Done():
			l.withdraw()
			return
		case <-t.C:
		}
	}
}

// key names one instance's announcement; the set lists every name ever
// announced, pruned as announcements expire. Both share one hash tag so
// the pair lives on one node of a Redis Cluster.
func (l *Lesson) key(name string) string { return l.prefix + "{instances}:" + name }
func (l *Lesson) setKey() string         { return l.prefix + "{instances}" }

// self is this instance's announcement now.
func (l *Lesson) self() Announcement {
	return Announcement{Name: l.kit.Instance(), Addr: l.kit.Addr(), PID: os.Getpid(), Started: l.started.UTC(),
		Seen: time.Now().UTC(), Modes: l.kit.Counts()}
}

// announce writes this instance's key with its counters. A failure is
// quiet: the next tick tries again, and /instances says Redis is down.
func (l *Lesson) announce(ctx context.Context) {
	a := l.self()
	b, err := json.Marshal(a)
	if err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	_, _ = l.client.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, l.key(a.Name), b, announceTTL)
		p.SAdd(ctx, l.setKey(), a.Name)
		return nil
	})
}

// withdraw removes this instance's key at shutdown, so the list is right
// at once rather than after the TTL.
func (l *Lesson) withdraw() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_, _ = l.client.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Del(ctx, l.key(l.kit.Instance()))
		p.SRem(ctx, l.setKey(), l.kit.Instance())
		return nil
	})
}

// errNoRedis is the list's answer when Redis does not answer.
var errNoRedis = errors.New("redis is not answering")

// list reads every live announcement, this instance's first-hand. Names
// whose key has expired are pruned from the set.
func (l *Lesson) list(ctx context.Context) ([]Announcement, error) {
	me := l.self()
	if l.client == nil {
		return []Announcement{me}, errNoRedis
	}
	ctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	names, err := l.client.SMembers(ctx, l.setKey()).Result()
	if err != nil {
		return []Announcement{me}, err
	}
	out := []Announcement{me}
	var gone []any
	for _, n := range names {
		if n == me.Name {
			continue
		}
		b, err := l.client.Get(ctx, l.key(n)).Bytes()
		if errors.Is(err, redis.Nil) {
			gone = append(gone, n)
			continue
		}
		if err != nil {
			return out, err
		}
		var a Announcement
		if json.Unmarshal(b, &a) == nil {
			out = append(out, a)
		}
	}
	if len(gone) > 0 {
		_ = l.client.SRem(ctx, l.setKey(), gone...).Err()
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}
