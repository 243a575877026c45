// Package page is the whole-page cache: the engine behind every cached
// page and JSON response of the workshop.
//
// A handler describes a response with a Spec: the Request it answers (the
// only input a build ever sees), the generations whose bump must invalidate
// it, and a Build function. Engine.Fetch serves the spec through the
// request's cache mode: one versioned lookup (a single MGET in Redis mode),
// then on a miss one build per key per instance (singleflight) and, where
// the backend can lock, one build across instances, then a store. Any cache
// failure is answered from the database with a notice: a broken cache
// never breaks a page. Write sends what Fetch served, with the request's
// own markup spliced in at the entry's slot.
package page

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"

	"cacheworkshop/cache"
	"cacheworkshop/trace"
)

// Request is what a cacheable response is a function of, and so all that
// its build may see: the page, the canonical URL (only the parameters that
// change the response, normalised) and the mode. It is made from the
// *http.Request by the handler, and the cache key is made from it, so two
// requests that share a key share every input of the build; anything else
// the visitor sent (tracking parameters, cookies, headers) cannot reach a
// shared entry.
type Request struct {
	// Page names the template, whose digest joins the key.
	Page string
	// Path is the canonical, escaped URL path ("/products/7").
	Path string
	// Query is the canonical query: only the parameters that change the
	// response, encoded in key order ("page=2").
	Query string
	// Mode is the cache mode the response is served in.
	Mode cache.Mode
}

// NewRequest makes a Request from name/value pairs of the parameters that
// change the response, given in name order; a pair with an empty value is
// left out, so a default can be passed as "" and share the key of the bare
// URL.
func NewRequest(pageName, path string, mode cache.Mode, params ...string) Request {
	var q strings.Builder
	for i := 0; i+1 < len(params); i += 2 {
		if params[i+1] == "" {
			continue
		}
		if q.Len() > 0 {
			q.WriteByte('&')
		}
		q.WriteString(url.QueryEscape(params[i]))
		q.WriteByte('=')
		q.WriteString(url.QueryEscape(params[i+1]))
	}
	return Request{Page: pageName, Path: path, Query: q.String(), Mode: mode}
}

// URL is the canonical URL of the response.
func (r Request) URL() string {
	if r.Query == "" {
		return r.Path
	}
	return r.Path + "?" + r.Query
}

// URLWith is the canonical URL with one more parameter set, such as the
// mode switch's cache=redis.
func (r Request) URLWith(name, value string) string {
	v, _ := url.ParseQuery(r.Query)
	v.Set(name, value)
	return r.Path + "?" + v.Encode()
}

// Spec describes one cacheable response.
type Spec struct {
	Request
	// Gens are the generations whose bump must invalidate this response.
	Gens []string
	// TTL is the entry's lifetime; 0 means the engine's default.
	TTL time.Duration
	// Build loads the data and renders it. It runs on a miss, and on every
	// request in mode none. Its context carries the trace and the mode to
	// render fragments in, and nothing of the HTTP request: its output
	// depends on req alone.
	Build func(ctx context.Context, req Request) (*Entry, error)
}

// Served is the outcome of Fetch: what to send and how it was obtained.
type Served struct {
	Entry   *Entry
	Mode    cache.Mode
	Outcome string // trace.Hit, trace.Miss, trace.Bypass, or trace.Error when the lookup failed
	Backend string // display label of the backend consulted, or "none"
	Key     string // the key as the trace shows it, with generations
	TTL     time.Duration
	Shared  bool          // shared a concurrent request's build
	Waited  time.Duration // waited for another instance's build, then read it
	Stored  bool          // this request's build was stored
	Notices []string      // cache failures, told to the learner
}

// Live is a response built for this request alone and never cached.
func Live(e *Entry, mode cache.Mode) *Served {
	return &Served{Entry: e, Mode: mode, Outcome: trace.Bypass, Backend: "none"}
}

// Config configures an Engine.
type Config struct {
	// Backend returns the cache of a mode, or nil for mode none.
	Backend func(cache.Mode) cache.Cache
	// Label returns the display name of a mode's backend.
	Label func(cache.Mode) string
	// Digest returns the digest of a page template's source.
	Digest func(page string) string
	// TTL is the default lifetime of a page.
	TTL time.Duration
	// Failures logs backend failures once per outage.
	Failures *cache.FailureLog
	Log      *slog.Logger
	// NoPageCache skips the whole-page cache but keeps fragment caching,
	// so a benchmark can measure a page miss with hot fragments.
	NoPageCache bool
}

// Engine serves Specs through the cache of their mode.
type Engine struct {
	cfg    Config
	flight singleflight.Group
	// ttl is the default lifetime of a page now: Config.TTL unless SetTTL
	// changed it while the server runs.
	ttl atomic.Int64
}

// New returns an Engine.
func New(cfg Config) *Engine {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	e := &Engine{cfg: cfg}
	e.ttl.Store(int64(cfg.TTL))
	return e
}

// TTL is the default lifetime of the pages stored from now on.
func (e *Engine) TTL() time.Duration { return time.Duration(e.ttl.Load()) }

// SetTTL changes the default lifetime of the pages stored from now on
// (d <= 0: Config.TTL again). Entries already stored keep the lifetime
// they were stored with, and a Spec with its own TTL keeps it.
func (e *Engine) SetTTL(d time.Duration) {
	if d <= 0 {
		d = e.cfg.TTL
	}
	e.ttl.Store(int64(d))
}

// Key is the storage key of a response: the page, its template digest and
// the canonical URL. The mode picks the backend; generations are stamped in
// the entry and compared on read.
func (e *Engine) Key(r Request) string {
	var b strings.Builder
	d := e.cfg.Digest(r.Page)
	b.Grow(len(r.Page) + len(d) + len(r.Path) + len(r.Query) + 8)
	b.WriteString("page:")
	b.WriteString(r.Page)
	b.WriteByte(':')
	b.WriteString(d)
	b.WriteByte(':')
	b.WriteString(r.Path)
	if r.Query != "" {
		b.WriteByte('?')
		b.WriteString(r.Query)
	}
	return b.String()
}

// Lock bounds: how long a rebuild lock is held at most, and how long the
// instances that lost it wait for the winner's entry before building too.
const (
	lockTTL  = 5 * time.Second
	lockWait = 3 * time.Second
)

// Fetch serves spec through its mode's cache.
//
// Order matters for correctness under concurrent edits: generations are
// read before the database, and editors bump them after their commit, so a
// reader that loaded an old row stores it under generations that are
// already obsolete, and the entry is a miss on the next read.
func (e *Engine) Fetch(ctx context.Context, spec Spec) (*Served, error) {
	req := spec.Request
	sv := &Served{Mode: req.Mode, TTL: cmp.Or(spec.TTL, e.TTL()), Backend: "none"}
	tr := trace.From(ctx)
	key := e.Key(req)
	c := e.cfg.Backend(req.Mode)
	if c == nil {
		sv.Outcome, sv.Key = trace.Bypass, key
		tr.Cache(trace.Lookup{Layer: "page", Backend: "none", Key: key, Outcome: trace.Bypass})
		ent, err := e.build(ctx, spec, req.Mode)
		sv.Entry = ent
		return sv, err
	}
	sv.Backend = e.cfg.Label(req.Mode)
	if e.cfg.NoPageCache {
		// Fragments only: the page is rebuilt every time from cached parts.
		sv.Outcome, sv.Key = trace.Miss, key
		tr.Cache(trace.Lookup{Layer: "page", Backend: c.Name(), Key: key + " (page cache off)", Outcome: trace.Bypass})
		ent, err := e.build(ctx, spec, req.Mode)
		sv.Entry = ent
		return sv, err
	}

	tc := cache.Traced{Cache: c, Layer: "page", Failures: e.cfg.Failures}
	cur := make([]int64, len(spec.Gens))
	v, found, err := tc.GetVersioned(ctx, key, spec.Gens, cur)
	if err != nil {
		// X-Cache and the bar say ERROR: the lookup failed, and the page
		// came from the database.
		sv.Key = cache.TraceKey(key, cur)
		sv.Outcome = trace.Error
		if errors.Is(err, cache.ErrBehind) || errors.Is(err, cache.ErrUnverified) {
			sv.Notices = append(sv.Notices, sv.Backend+" cache not trusted for a moment: "+Short(err)+".")
		} else {
			sv.Notices = append(sv.Notices, sv.Backend+" unavailable: "+Short(err))
		}
		// The backend just failed: render fragments without it too,
		// rather than paying for the failure once per fragment.
		ent, err := e.build(ctx, spec, cache.ModeNone)
		sv.Entry = ent
		return sv, err
	}
	if found {
		ent := new(Entry)
		if err := ent.UnmarshalBinary(v); err == nil {
			sv.Entry, sv.Outcome = ent, trace.Hit
			return sv, nil
		}
		e.cfg.Log.Warn("discarding unreadable cache entry", "key", key)
	}
	sv.Outcome, sv.Key = trace.Miss, cache.TraceKey(key, cur)

	// Concurrent misses on one key build once per instance.
	res, err, shared := e.flight.Do(req.Mode.String()+"|"+sv.Key, func() (any, error) {
		return e.buildAndStore(ctx, spec, tc, key, cur, sv.TTL)
	})
	if err != nil {
		return sv, err
	}
	b := res.(*built)
	sv.Entry, sv.Shared = b.entry, shared
	if b.waited > 0 {
		// Another instance built it while we waited: what we serve came
		// from the cache.
		sv.Outcome, sv.Waited = trace.Hit, b.waited
		return sv, nil
	}
	sv.Stored, sv.TTL = b.ttl > 0, b.ttl
	if b.setErr != nil {
		sv.Notices = append(sv.Notices, sv.Backend+" unavailable: the page could not be stored ("+Short(b.setErr)+").")
	}
	return sv, nil
}

type built struct {
	entry  *Entry
	ttl    time.Duration // what it was stored for; 0: not stored
	setErr error
	// waited is how long we waited for another instance's build that we
	// then read from the cache (0: we built it).
	waited time.Duration
}

// buildAndStore is the body of one singleflight build. Where the backend
// is shared by several instances, one of them builds under a short lock
// and the others wait, bounded, for its result.
func (e *Engine) buildAndStore(ctx context.Context, spec Spec, tc cache.Traced, key string, cur []int64, ttl time.Duration) (*built, error) {
	tr := trace.From(ctx)
	if l, ok := tc.Cache.(cache.Locker); ok {
		t0 := time.Now()
		lockKey := "lock:" + cache.TraceKey(key, cur)
		lock, ok, err := l.TryLock(ctx, lockKey, lockTTL)
		switch {
		case err == nil && !ok:
			ent := e.waitForBuild(ctx, tc.Cache, key, spec.Gens, cur)
			tr.Cache(trace.Lookup{Layer: "lock", Backend: tc.Name(), Key: lockKey, Outcome: "WAITED", Dur: time.Since(t0)})
			if ent != nil {
				return &built{entry: ent, waited: time.Since(t0)}, nil
			}
		case ok:
			tr.Cache(trace.Lookup{Layer: "lock", Backend: tc.Name(), Key: lockKey, Outcome: "TAKEN", Dur: time.Since(t0)})
			defer func() { _ = lock.Unlock(context.WithoutCancel(ctx)) }()
		}
	}
	ent, err := e.build(ctx, spec, spec.Mode)
	if err != nil {
		return nil, err
	}
	// A page may not outlive the shortest-lived fragment inside it.
	if !ent.Expires.IsZero() {
		ttl = min(ttl, time.Until(ent.Expires))
	}
	if ttl <= 0 {
		return &built{entry: ent}, nil
	}
	data, _ := ent.MarshalBinary()
	// The build serves every waiter, so one caller going away must not
	// cancel the store.
	if err := tc.SetVersioned(context.WithoutCancel(ctx), key, cur, data, ttl); err != nil {
		return &built{entry: ent, setErr: err}, nil
	}
	return &built{entry: ent, ttl: ttl}, nil
}

// waitForBuild polls for an entry built under exactly cur, for callers
// that lost the rebuild lock to another instance. nil: none in time.
func (e *Engine) waitForBuild(ctx context.Context, c cache.Cache, key string, gens []string, cur []int64) *Entry {
	deadline := time.Now().Add(lockWait)
	now := make([]int64, len(cur))
	for time.Now().Before(deadline) {
		v, found, err := c.GetVersioned(ctx, key, gens, now)
		if err != nil {
			return nil
		}
		if found {
			ent := new(Entry)
			if ent.UnmarshalBinary(v) == nil {
				return ent
			}
		}
		t := time.NewTimer(20 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
	return nil
}

// build runs spec.Build with a context of its own: the request's trace and
// the mode to render fragments in, and neither the request's values nor
// its cancellation, since the result may serve other requests. It records
// how long the build took and what it cost, so a later hit can tell the
// learner what the cache saved.
func (e *Engine) build(ctx context.Context, spec Spec, fragMode cache.Mode) (*Entry, error) {
	tr := trace.From(ctx)
	bctx := cache.WithMode(trace.NewContext(context.Background(), tr), fragMode)
	before := tr.Summary()
	t0 := time.Now()
	ent, err := spec.Build(bctx, spec.Request)
	if err != nil {
		return nil, err
	}
	after := tr.Summary()
	ent.BuiltAt = t0
	ent.BuildDur = time.Since(t0)
	ent.DBDur = after.DB - before.DB
	ent.DBCount = after.DBCount - before.DBCount
	ent.Simulated = after.Simulated - before.Simulated
	return ent, nil
}

// Short is an error's message cut to a length a notice can show.
func Short(err error) string {
	s := err.Error()
	if len(s) > 160 {
		s = s[:160] + "…"
	}
	return s
}
