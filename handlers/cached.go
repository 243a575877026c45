package handlers

import (
	"context"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"cacheworkshop/cache"
	"cacheworkshop/trace"
)

// pageSpec describes one cacheable response.
type pageSpec struct {
	// Page names the template (its digest joins the key) and the trace.
	Page string
	// Key identifies the response within the page: only the parameters
	// that change the output, normalised (e.g. "p=2:pp=20").
	Key string
	// Gens are the generations whose bump must invalidate this response.
	Gens []string
	TTL  time.Duration
	// Build loads data and renders; it is called on a miss or in mode none.
	Build func(ctx context.Context) (*Entry, error)
}

// served is the outcome of fetch: what to send and how it was obtained.
type served struct {
	entry   *Entry
	mode    cache.Mode
	outcome string // trace.Hit, trace.Miss or trace.Bypass
	backend string // label of the backend consulted
	key     string
	ttl     time.Duration
	shared  bool // waited for a concurrent build of the same key
	waited  time.Duration
	stored  bool
	notices []string
	gens    [4]int64 // backing for the generations read, in the same allocation
}

// backend returns the cache and generation store of a mode.
func (s *Server) backend(m cache.Mode) (cache.Cache, cache.Gens) {
	switch m {
	case cache.ModeMemory:
		return s.memory, s.inval.Memory
	case cache.ModeRedis:
		return s.redis, s.inval.Redis
	}
	return cache.None{}, nil
}

// fetch serves spec through the request's cache mode.
//
// Order matters for correctness under concurrent edits: generations are
// read before the database, and editors bump them after their commit, so a
// reader that loaded an old row stores it with generations that are already
// obsolete, and the entry is a miss on the next read. Any cache failure is logged, noted for the page, and
// answered from the database: a broken cache never breaks a page.
func (s *Server) fetch(ctx context.Context, spec pageSpec) (*served, error) {
	mode := cache.ModeFrom(ctx)
	tr := trace.From(ctx)
	sv := &served{mode: mode, ttl: spec.TTL}
	if sv.ttl <= 0 {
		sv.ttl = s.cfg.TTL
	}
	if mode != cache.ModeNone && s.cfg.NoPageCache {
		// Fragments only: the page is rebuilt every time from cached parts.
		sv.outcome, sv.backend = trace.Miss, "none"
		tr.Cache(trace.Lookup{Layer: "page", Backend: mode.String(), Key: spec.Page + ":" + spec.Key + " (page cache off)", Outcome: trace.Bypass})
		e, err := s.build(ctx, spec)
		sv.entry = e
		return sv, err
	}
	if mode == cache.ModeNone {
		sv.outcome, sv.backend = trace.Bypass, "none"
		tr.Cache(trace.Lookup{Layer: "page", Backend: "none", Key: spec.Page + ":" + spec.Key, Outcome: trace.Bypass})
		e, err := s.build(ctx, spec)
		sv.entry = e
		return sv, err
	}
	c, gens := s.backend(mode)
	sv.backend = c.Name()
	if mode == cache.ModeRedis {
		sv.backend = s.redisLabel()
	}
	key := s.pageKey(spec)
	var gv []int64
	if len(spec.Gens) <= len(sv.gens) {
		gv = sv.gens[:len(spec.Gens)]
	} else {
		gv = make([]int64, len(spec.Gens))
	}

	// One lookup fetches the generations and the entry: a single MGET in
	// Redis mode, two map reads in memory mode.
	t0 := time.Now()
	var v []byte
	var found bool
	var err error
	if mode == cache.ModeRedis {
		v, found, err = s.inval.Redis.GetWith(ctx, spec.Gens, gv, s.redis, key)
	} else if err = gens.Get(ctx, spec.Gens, gv); err == nil {
		v, found, err = c.Get(ctx, key)
	}
	sv.key = traceKey(key, gv)
	l := trace.Lookup{Layer: "page", Backend: c.Name(), Key: sv.key, Dur: time.Since(t0)}
	if err != nil {
		l.Outcome = trace.Error
		tr.Cache(l)
		s.log.Warn("cache read failed; serving from the database", "backend", c.Name(), "key", key, "err", err)
		return s.fallback(ctx, sv, spec, "Redis unavailable: "+short(err))
	}
	if found {
		if e, derr := UnmarshalEntry(v); derr != nil {
			s.log.Warn("discarding unreadable cache entry", "key", key)
		} else if slices.Equal(e.Gens, gv) {
			l.Outcome = trace.Hit
			tr.Cache(l)
			sv.entry, sv.outcome = e, trace.Hit
			return sv, nil
		}
		// Built under older generations: an edit has happened since.
	}
	l.Outcome = trace.Miss
	tr.Cache(l)
	sv.outcome = trace.Miss

	// Concurrent misses on one key build once per instance.
	res, err, shared := s.flight.Do(mode.String()+"|"+sv.key, func() (any, error) {
		// The build serves every waiter, so one caller going away must
		// not cancel it.
		bctx := context.WithoutCancel(ctx)
		if mode == cache.ModeRedis {
			// Across instances: one builds under a short Redis lock, the
			// others wait (bounded) for its result.
			t0 := time.Now()
			lock, ok, lerr := cache.TryLock(bctx, s.redis.Client(), s.redis.Prefix()+"lock:"+sv.key, 5*time.Second)
			if lerr == nil && !ok {
				e := s.waitForBuild(bctx, c, key, gv, 3*time.Second)
				tr.Cache(trace.Lookup{Layer: "lock", Backend: c.Name(), Key: "lock:" + sv.key, Outcome: "WAITED", Dur: time.Since(t0)})
				if e != nil {
					return &built{entry: e, fromOther: time.Since(t0)}, nil
				}
			} else if ok {
				tr.Cache(trace.Lookup{Layer: "lock", Backend: c.Name(), Key: "lock:" + sv.key, Outcome: "TAKEN", Dur: time.Since(t0)})
				defer func() { _ = lock.Unlock(bctx) }()
			}
		}
		e, err := s.build(bctx, spec)
		if err != nil {
			return nil, err
		}
		e.Gens = slices.Clone(gv)
		if err := c.Set(bctx, key, e.MarshalBinary(), sv.ttl); err != nil {
			s.log.Warn("cache write failed", "backend", c.Name(), "key", key, "err", err)
			return &built{entry: e, setErr: err}, nil
		}
		return &built{entry: e}, nil
	})
	if err != nil {
		return sv, err
	}
	b := res.(*built)
	sv.entry, sv.shared = b.entry, shared
	if b.fromOther > 0 {
		// Another instance built it while we waited: what we serve came
		// from the cache.
		sv.outcome, sv.waited = trace.Hit, b.fromOther
		return sv, nil
	}
	sv.stored = b.setErr == nil
	if b.setErr != nil {
		sv.notices = append(sv.notices, "Redis unavailable: the page could not be stored ("+short(b.setErr)+").")
	}
	return sv, nil
}

// waitForBuild polls for an entry built under exactly gens, for callers
// that lost the rebuild lock to another instance. nil: none in time.
func (s *Server) waitForBuild(ctx context.Context, c cache.Cache, key string, gens []int64, wait time.Duration) *Entry {
	deadline := time.Now().Add(wait)
	for time.Now().Before(deadline) {
		if v, found, err := c.Get(ctx, key); err != nil {
			return nil
		} else if found {
			if e, derr := UnmarshalEntry(v); derr == nil && slices.Equal(e.Gens, gens) {
				return e
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(20 * time.Millisecond):
		}
	}
	return nil
}

type built struct {
	entry  *Entry
	setErr error
	// fromOther is how long we waited for another instance's build that
	// we then read from Redis (0: we built it).
	fromOther time.Duration
}

// fallback serves from the database after a cache failure.
func (s *Server) fallback(ctx context.Context, sv *served, spec pageSpec, notice string) (*served, error) {
	sv.outcome = trace.Miss
	sv.notices = append(sv.notices, notice)
	// The backend just failed: render fragments without it too, rather
	// than paying for the failure once per fragment.
	e, err := s.build(cache.WithMode(ctx, cache.ModeNone), spec)
	sv.entry = e
	return sv, err
}

// pageKey is the storage key of a page: page, template digest and the
// normalised request. Generations are not part of it: they are stored in
// the entry and compared on read.
func (s *Server) pageKey(spec pageSpec) string {
	d := s.pages.digest(spec.Page)
	var b strings.Builder
	b.Grow(len(spec.Page) + len(d) + len(spec.Key) + 8)
	b.WriteString("page:")
	b.WriteString(spec.Page)
	b.WriteByte(':')
	b.WriteString(d)
	b.WriteByte(':')
	b.WriteString(spec.Key)
	return b.String()
}

// traceKey shows a key with the generations it was looked up under, as
// the trace and the key explainer present it ("…@g1b.7").
func traceKey(key string, gens []int64) string {
	if len(gens) == 0 {
		return key
	}
	b := make([]byte, 0, len(key)+4+12*len(gens))
	b = append(b, key...)
	b = append(b, " @g"...)
	for i, g := range gens {
		if i > 0 {
			b = append(b, '.')
		}
		b = strconv.AppendInt(b, g, 36)
	}
	return string(b)
}

// build runs spec.Build and records how long it took and what it cost, so
// a later hit can tell the learner what the cache saved.
func (s *Server) build(ctx context.Context, spec pageSpec) (*Entry, error) {
	tr := trace.From(ctx)
	before := tr.Snapshot()
	t0 := time.Now()
	e, err := spec.Build(ctx)
	if err != nil {
		return nil, err
	}
	after := tr.Snapshot()
	e.BuiltAt = t0
	e.BuildDur = time.Since(t0)
	e.DBDur = after.DB - before.DB
	e.DBCount = after.DBCount - before.DBCount
	e.Simulated = after.Simulated - before.Simulated
	return e, nil
}

// renderEntry renders a page template into an Entry with a slot. The
// render's fragments use the request's mode, cache and trace.
func (s *Server) renderEntry(ctx context.Context, page string, data layoutData) (*Entry, error) {
	if data.Req == nil {
		data.Req = s.newRenderReq(ctx, page)
	}
	t0 := time.Now()
	body, err := s.pages.render(page, data)
	data.Req.flush()
	if err != nil {
		return nil, err
	}
	trace.From(ctx).Render(time.Since(t0))
	body, slot := splitSlot(body)
	return &Entry{Status: http.StatusOK, ContentType: "text/html; charset=utf-8", Slot: slot, Body: body}, nil
}

func short(err error) string {
	s := err.Error()
	if len(s) > 160 {
		s = s[:160] + "…"
	}
	return s
}
