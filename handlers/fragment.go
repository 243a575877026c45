package handlers

import (
	"bytes"
	"context"
	"fmt"
	"html/template"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"

	"cacheworkshop/cache"
	"cacheworkshop/trace"
)

// Fragment caching: a template caches the output of one of its named
// sub-templates with a single call,
//
//	{{fragment $.Req "product-row" .FragKey .}}
//
// in the request's cache mode (mode none renders every time). Templates are
// parsed and escaped once; the call executes an already-escaped sub-template
// of the running template set, so nothing is re-parsed or cloned per request.
// The key joins the fragment's name, a digest of its own template source (a
// changed template never serves old markup) and the caller's key (e.g. the
// product id and version).

// fragmentTTLs are per-fragment lifetimes; others use the page TTL.
var fragmentTTLs = map[string]time.Duration{
	"category-stats": time.Minute, // TTL-based on purpose: see detail.html
	"site-nav":       time.Hour,
	"site-footer":    time.Hour,
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

// RenderReq carries one render's context into templates as $.Req. It is
// never written into output: it only lets template functions reach the
// request's mode, cache and trace.
type RenderReq struct {
	ctx  context.Context
	s    *Server
	tmpl *template.Template
	page string
	// out is the buffer the running template writes to. Fragments append
	// their markup to it directly and return nothing, which text/template
	// allows because it writes each action's output as it goes: a page's
	// fragments are then never copied into strings and back. nil (a
	// fragment called outside a render) returns the markup instead.
	out *bytes.Buffer

	mu     sync.Mutex
	bypass []bypassSum
}

type bypassSum struct {
	name string
	n    int
	dur  time.Duration
}

func (rr *RenderReq) bypassed(name string, d time.Duration) { rr.bypassedN(name, 1, d) }

func (rr *RenderReq) bypassedN(name string, n int, d time.Duration) {
	rr.mu.Lock()
	defer rr.mu.Unlock()
	for i := range rr.bypass {
		if rr.bypass[i].name == name {
			rr.bypass[i].n += n
			rr.bypass[i].dur += d
			return
		}
	}
	rr.bypass = append(rr.bypass, bypassSum{name, n, d})
}

// flush records the summed bypassed renders in the trace.
func (rr *RenderReq) flush() {
	rr.mu.Lock()
	defer rr.mu.Unlock()
	tr := trace.From(rr.ctx)
	for _, b := range rr.bypass {
		tr.Cache(trace.Lookup{Layer: "frag", Backend: "none", Key: b.name + " x" + strconv.Itoa(b.n), Outcome: trace.Bypass, Dur: b.dur})
	}
	rr.bypass = nil
}

func (s *Server) newRenderReq(ctx context.Context, page string) *RenderReq {
	return &RenderReq{ctx: ctx, s: s, page: page}
}

// fragKey is the full cache key of a fragment.
func (s *Server) fragKey(name, key string) string {
	return "frag:" + name + ":" + s.pages.fragDigest(name) + ":" + key
}

// fragment is the template function. Cache failures fall back to rendering.
// Fragments appear in HTML text, where their markup is inserted as is.
func fragment(rr *RenderReq, name, key string, data any) (template.HTML, error) {
	if rr == nil || rr.tmpl == nil {
		return "", fmt.Errorf("fragment %q: $.Req is not set", name)
	}
	out, own := rr.sink()
	ctx := rr.ctx
	mode := cache.ModeFrom(ctx)
	tr := trace.From(ctx)
	if mode == cache.ModeNone {
		// No cache is consulted, so there is no lookup to record one by
		// one: renders are summed per fragment and recorded once.
		t0 := time.Now()
		err := rr.execInto(out, name, data)
		rr.bypassed(name, time.Since(t0))
		return result(out, own), err
	}
	c, _ := rr.s.backend(mode)
	full := rr.s.fragKey(name, key)
	t0 := time.Now()
	v, found, err := c.Get(ctx, full)
	if err == nil && found {
		out.Write(v)
		tr.Cache(trace.Lookup{Layer: "frag", Backend: c.Name(), Key: full, Outcome: trace.Hit, Dur: time.Since(t0)})
		return result(out, own), nil
	}
	outcome := trace.Miss
	if err != nil {
		outcome = trace.Error
	}
	start := out.Len()
	if rerr := rr.execInto(out, name, data); rerr != nil {
		return "", rerr
	}
	if err == nil {
		ttl := fragmentTTLs[name]
		if serr := c.Set(ctx, full, bytes.Clone(out.Bytes()[start:]), ttl); serr != nil {
			outcome = trace.Error
		}
	}
	tr.Cache(trace.Lookup{Layer: "frag", Backend: c.Name(), Key: full, Outcome: outcome, Dur: time.Since(t0)})
	return result(out, own), nil
}

// sink returns where a fragment writes: the running template's output, or
// a buffer of its own (own) outside a render.
func (rr *RenderReq) sink() (out *bytes.Buffer, own bool) {
	if rr.out != nil {
		return rr.out, false
	}
	return new(bytes.Buffer), true
}

// result is what the template function returns after writing into out:
// nothing when out is the running template's output, else the markup.
func result(out *bytes.Buffer, own bool) template.HTML {
	if own {
		return template.HTML(out.String())
	}
	return ""
}

// Keyed is an item of fragmentEach: it names its own cache key.
type Keyed interface {
	// CacheKey is the item's part of its fragment's key.
	CacheKey() string
}

// fragmentEach is {{fragmentEach $.Req "product-row" .Products}}: the
// fragment of every item of a slice, each cached under its own key, looked
// up together in one round trip (MGET) and called from the template once
// instead of once per item. In mode none a template named name+" each",
// when the set defines one, renders all the items in one execution.
func fragmentEach(rr *RenderReq, name string, items any) (template.HTML, error) {
	if rr == nil || rr.tmpl == nil {
		return "", fmt.Errorf("fragmentEach %q: $.Req is not set", name)
	}
	v := reflect.ValueOf(items)
	if v.Kind() != reflect.Slice {
		return "", fmt.Errorf("fragmentEach %q: got %T, want a slice", name, items)
	}
	n := v.Len()
	data := make([]any, n)
	for i := range n {
		data[i] = v.Index(i).Interface()
		if _, ok := data[i].(Keyed); !ok {
			return "", fmt.Errorf("fragmentEach %q: %T has no CacheKey method", name, data[i])
		}
	}
	out, own := rr.sink()
	ctx := rr.ctx
	mode := cache.ModeFrom(ctx)
	if mode == cache.ModeNone {
		t0 := time.Now()
		if rr.tmpl.Lookup(name+" each") != nil {
			// One execution ranges over all the items.
			if err := rr.execInto(out, name+" each", items); err != nil {
				return "", err
			}
		} else {
			for _, d := range data {
				if err := rr.execInto(out, name, d); err != nil {
					return "", err
				}
			}
		}
		rr.bypassedN(name, n, time.Since(t0))
		return result(out, own), nil
	}
	keys := make([]string, n)
	for i, d := range data {
		keys[i] = rr.s.fragKey(name, d.(Keyed).CacheKey())
	}
	c, _ := rr.s.backend(mode)
	tr := trace.From(ctx)
	t0 := time.Now()
	vals, err := c.GetMulti(ctx, keys)
	batch := time.Since(t0)
	if err != nil {
		vals = make([][]byte, n)
	}
	per := batch / time.Duration(max(n, 1))
	for i, d := range data {
		if err == nil && vals[i] != nil {
			out.Write(vals[i])
			tr.Cache(trace.Lookup{Layer: "frag", Backend: c.Name(), Key: keys[i], Outcome: trace.Hit, Dur: per})
			continue
		}
		t1 := time.Now()
		start := out.Len()
		if rerr := rr.execInto(out, name, d); rerr != nil {
			return "", rerr
		}
		outcome := trace.Miss
		if err != nil {
			outcome = trace.Error
		} else if serr := c.Set(ctx, keys[i], bytes.Clone(out.Bytes()[start:]), fragmentTTLs[name]); serr != nil {
			outcome = trace.Error
		}
		tr.Cache(trace.Lookup{Layer: "frag", Backend: c.Name(), Key: keys[i], Outcome: outcome, Dur: per + time.Since(t1)})
	}
	return result(out, own), nil
}

// execInto renders a sub-template of the running set onto the end of buf,
// where fragments nested in it write too. A Loader is loaded first.
func (rr *RenderReq) execInto(buf *bytes.Buffer, name string, data any) error {
	if l, ok := data.(Loader); ok {
		d, err := l.Load(rr.ctx)
		if err != nil {
			return err
		}
		data = d
	}
	prev := rr.out
	rr.out = buf
	defer func() { rr.out = prev }()
	return rr.tmpl.ExecuteTemplate(buf, name, data)
}

// KeyPart is one component of an explained cache key.
type KeyPart struct {
	Name    string `json:"name"`
	Value   string `json:"value"`
	Meaning string `json:"meaning"`
}

// explainKey splits one of the workshop's keys into named parts, so the
// trace panel can say what each part is and what changes it.
func explainKey(key string) []KeyPart {
	key, gens, _ := strings.Cut(key, " @")
	parts := strings.Split(key, ":")
	switch {
	case len(parts) >= 4 && parts[0] == "page":
		out := []KeyPart{
			{"kind", "page", "a whole rendered response"},
			{"page", parts[1], "which page template"},
			{"digest", parts[2], "digest of the page's template source: editing the template changes it"},
			{"request", strings.Join(parts[3:], ":"), "only the query parameters that change the page, normalised"},
		}
		if gens != "" {
			out = append(out, KeyPart{"generations", gens, "generation numbers (base 36) of what the page shows, stored in the entry and compared on every read: an edit bumps them, so an older entry counts as a miss"})
		}
		return out
	case len(parts) >= 4 && parts[0] == "frag":
		return []KeyPart{
			{"kind", "fragment", "part of a page, cached separately (Russian-doll caching)"},
			{"fragment", parts[1], "which sub-template"},
			{"digest", parts[2], "digest of this fragment's own template source"},
			{"key", strings.Join(parts[3:], ":"), "the caller's key: for a product, its id and version, so an edit makes a new key"},
		}
	}
	return []KeyPart{{"key", key, "a key of its own kind"}}
}

// outcomeReason says why a lookup came out as it did.
func outcomeReason(outcome string) string {
	switch outcome {
	case trace.Hit:
		return "found under exactly this key and not expired"
	case trace.Miss:
		return "nothing valid under this key: never built, expired (TTL), evicted, built under older generations, or a version or template digest changed, which makes a new key"
	case trace.Bypass:
		return "mode none: the cache is not consulted"
	case trace.Error:
		return "the cache backend failed (down, timed out or switched off): served without it"
	}
	return ""
}
