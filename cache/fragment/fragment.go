// Package fragment caches parts of a page from inside html/template, the
// way Jinja's {% cache %} and Django's {% cache %} tags do:
//
//	{{fragment $.Req "product-card" .CardKey .}}
//	{{fragmentEach .Req "product-row" .Products}}
//
// The first caches the output of one named sub-template under a key; the
// second caches the sub-template of every item of a slice, each under its
// own key, looked up together in one round trip (an MGET in Redis).
// Templates are parsed and escaped once: a call executes an already-escaped
// sub-template of the running set, so nothing is re-parsed or cloned per
// request. The full key joins the fragment's name, a digest of its own
// template source (a changed template never serves old markup) and the
// caller's key (for a product, its id and version).
//
// In mode none nothing is looked up: renders are summed per fragment and
// recorded once in the trace as BYPASS.
package fragment

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"html/template"
	"reflect"
	"strconv"
	"sync"
	"time"

	"cacheworkshop/cache"
	"cacheworkshop/trace"
)

// Config is what an Engine needs: a small view of the caches and of the
// templates, not the web server.
type Config struct {
	// Backend returns the cache of a mode, or nil for mode none.
	Backend func(cache.Mode) cache.Cache
	// Digest returns the digest of a sub-template's source.
	Digest func(name string) string
	// TTLs are per-fragment lifetimes; others get the backend default.
	TTLs map[string]time.Duration
}

// Engine starts renders that can cache fragments.
type Engine struct{ cfg Config }

// New returns an Engine.
func New(cfg Config) *Engine { return &Engine{cfg: cfg} }

// TTL returns a fragment's lifetime; 0 means the backend default.
func (e *Engine) TTL(name string) time.Duration { return e.cfg.TTLs[name] }

// Key is the full cache key of a fragment: frag:{name}:digest:key. The
// braces are a Redis Cluster hash tag: only the name picks the key's slot,
// so every fragment of one kind is on one node and fragmentEach's lookup
// of a list's rows is one MGET there (see cache/cluster.go).
func (e *Engine) Key(name, key string) string {
	return "frag:{" + name + "}:" + e.cfg.Digest(name) + ":" + key
}

// Funcs are the template functions; parse templates with them.
func Funcs() template.FuncMap {
	return template.FuncMap{"fragment": fragment, "fragmentEach": fragmentEach}
}

// Render carries one render into templates as $.Req. It is never printed:
// it only lets the template functions reach the render's cache mode, its
// backend and the request's trace.
type Render struct {
	e    *Engine
	ctx  context.Context
	mode cache.Mode
	tmpl *template.Template
	// out is the buffer the running template writes to. Fragments append
	// their markup to it and return nothing, which text/template allows
	// because it writes each action's output as it goes: a page's
	// fragments are then never copied into strings and back.
	out *bytes.Buffer

	mu     sync.Mutex
	bypass []bypassSum
	// expires is the soonest expiry of the fragments with a lifetime of
	// their own that this render used (zero: none).
	expires time.Time
}

// Expires is the soonest expiry among the fragments this render used that
// have a lifetime of their own (a TTL in Config.TTLs), zero when there was
// none. A page that holds them may not be cached past it, or it would show
// a fragment older than the fragment's own TTL allows.
func (r *Render) Expires() time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.expires
}

func (r *Render) noteExpiry(t time.Time) {
	if t.IsZero() {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.expires.IsZero() || t.Before(r.expires) {
		r.expires = t
	}
}

// A stored fragment starts with its expiry, as 8 bytes of Unix nanoseconds
// (0 for a fragment with the backend's default lifetime), so that a hit
// knows how long the markup it serves may still be shown.
const expiryLen = 8

// stored returns what is kept for markup rendered now.
func (r *Render) stored(name string, markup []byte) []byte {
	var exp int64
	if ttl := r.e.TTL(name); ttl > 0 {
		t := time.Now().Add(ttl)
		r.noteExpiry(t)
		exp = t.UnixNano()
	}
	return append(binary.BigEndian.AppendUint64(make([]byte, 0, expiryLen+len(markup)), uint64(exp)), markup...)
}

// served writes a stored fragment to the output, noting its expiry. A
// value too short to hold one is not a fragment of this format: false.
func (r *Render) served(v []byte) bool {
	if len(v) < expiryLen {
		return false
	}
	if exp := int64(binary.BigEndian.Uint64(v)); exp != 0 {
		r.noteExpiry(time.Unix(0, exp))
	}
	r.out.Write(v[expiryLen:])
	return true
}

type bypassSum struct {
	name string
	n    int
	dur  time.Duration
}

// Start begins a render of t into out, in the mode ctx carries
// (cache.ModeFrom), recording into ctx's trace. Call Finish when the
// template has run.
func (e *Engine) Start(ctx context.Context, t *template.Template, out *bytes.Buffer) *Render {
	return &Render{e: e, ctx: ctx, mode: cache.ModeFrom(ctx), tmpl: t, out: out}
}

// Finish records the summed renders of mode none in the trace.
func (r *Render) Finish() {
	r.mu.Lock()
	defer r.mu.Unlock()
	tr := trace.From(r.ctx)
	for _, b := range r.bypass {
		tr.Cache(trace.Lookup{Layer: "frag", Backend: "none", Key: b.name + " x" + strconv.Itoa(b.n), Outcome: trace.Bypass, Dur: b.dur})
	}
	r.bypass = nil
}

func (r *Render) bypassed(name string, n int, d time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := range r.bypass {
		if r.bypass[i].name == name {
			r.bypass[i].n += n
			r.bypass[i].dur += d
			return
		}
	}
	r.bypass = append(r.bypass, bypassSum{name, n, d})
}

// backend is the render's cache, traced, or false in mode none.
func (r *Render) backend() (cache.Traced, bool) {
	c := r.e.cfg.Backend(r.mode)
	if c == nil {
		return cache.Traced{}, false
	}
	return cache.Traced{Cache: c, Layer: "frag"}, true
}

// Loader is fragment data that is only loaded on a miss: an expensive
// query behind a cached fragment runs only when the fragment is rebuilt.
type Loader interface {
	// Load returns the fragment's data.
	Load(ctx context.Context) (any, error)
}

// LoaderFunc adapts a function to Loader.
type LoaderFunc func(ctx context.Context) (any, error)

// Load implements Loader.
func (f LoaderFunc) Load(ctx context.Context) (any, error) { return f(ctx) }

// Keyed is an item of fragmentEach: it names its own part of the key.
type Keyed interface {
	// CacheKey is the item's part of its fragment's key.
	CacheKey() string
}

// fragment is {{fragment $.Req "name" key data}}. A cache failure falls
// back to rendering.
func fragment(r *Render, name, key string, data any) (template.HTML, error) {
	if r == nil || r.out == nil {
		return "", fmt.Errorf("fragment %q: $.Req is not set", name)
	}
	c, ok := r.backend()
	if !ok {
		t0 := time.Now()
		err := r.exec(name, data)
		r.bypassed(name, 1, time.Since(t0))
		return "", err
	}
	full := r.e.Key(name, key)
	if v, found, err := c.Get(r.ctx, full); err == nil && found && r.served(v) {
		return "", nil
	} else if err != nil {
		// The backend is failing: render, and do not try to store.
		return "", r.exec(name, data)
	}
	start := r.out.Len()
	if err := r.exec(name, data); err != nil {
		return "", err
	}
	_ = c.Set(r.ctx, full, r.stored(name, r.out.Bytes()[start:]), r.e.TTL(name))
	return "", nil
}

// fragmentEach is {{fragmentEach $.Req "product-row" .Products}}: the
// fragment of every item of a slice of Keyed, each cached under its own
// key, looked up in one round trip and called from the template once
// instead of once per item. In mode none a template named name+" each",
// when the set defines one, renders all the items in one execution.
func fragmentEach(r *Render, name string, items any) (template.HTML, error) {
	if r == nil || r.out == nil {
		return "", fmt.Errorf("fragmentEach %q: $.Req is not set", name)
	}
	v := reflect.ValueOf(items)
	if v.Kind() != reflect.Slice {
		return "", fmt.Errorf("fragmentEach %q: got %T, want a slice", name, items)
	}
	n := v.Len()
	data := make([]Keyed, n)
	for i := range n {
		k, ok := v.Index(i).Interface().(Keyed)
		if !ok {
			return "", fmt.Errorf("fragmentEach %q: %s has no CacheKey method", name, v.Index(i).Type())
		}
		data[i] = k
	}
	c, ok := r.backend()
	if !ok {
		t0 := time.Now()
		var err error
		if r.tmpl.Lookup(name+" each") != nil {
			err = r.exec(name+" each", items)
		} else {
			for _, d := range data {
				if err = r.exec(name, d); err != nil {
					break
				}
			}
		}
		r.bypassed(name, n, time.Since(t0))
		return "", err
	}
	keys := make([]string, n)
	for i, d := range data {
		keys[i] = r.e.Key(name, d.CacheKey())
	}
	vals, err := c.GetMulti(r.ctx, keys)
	for i, d := range data {
		if err == nil && vals[i] != nil && r.served(vals[i]) {
			continue
		}
		start := r.out.Len()
		if rerr := r.exec(name, d); rerr != nil {
			return "", rerr
		}
		if err == nil {
			_ = c.Set(r.ctx, keys[i], r.stored(name, r.out.Bytes()[start:]), r.e.TTL(name))
		}
	}
	return "", nil
}

// exec renders a sub-template of the running set onto the end of the
// output, where fragments nested in it write too. A Loader is loaded first.
func (r *Render) exec(name string, data any) error {
	if l, ok := data.(Loader); ok {
		d, err := l.Load(r.ctx)
		if err != nil {
			return err
		}
		data = d
	}
	return r.tmpl.ExecuteTemplate(r.out, name, data)
}
