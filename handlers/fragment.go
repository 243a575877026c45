package handlers

import (
	"bytes"
	"context"
	"fmt"
	"html/template"
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

	mu         sync.Mutex
	prefetched map[string][]byte
}

func (s *Server) newRenderReq(ctx context.Context, page string) *RenderReq {
	return &RenderReq{ctx: ctx, s: s, page: page}
}

// fragKey is the full cache key of a fragment.
func (s *Server) fragKey(name, key string) string {
	return "frag:" + name + ":" + s.pages.fragDigest(name) + ":" + key
}

// Prefetch looks up many fragments of one kind in a single round trip
// (MGET on Redis), so a table of rows costs one lookup, not one per row.
func (rr *RenderReq) Prefetch(name string, keys []string) {
	if rr == nil || len(keys) == 0 {
		return
	}
	mode := cache.ModeFrom(rr.ctx)
	if mode == cache.ModeNone {
		return
	}
	c, _ := rr.s.backend(mode)
	full := make([]string, len(keys))
	for i, k := range keys {
		full[i] = rr.s.fragKey(name, k)
	}
	t0 := time.Now()
	vals, err := c.GetMulti(rr.ctx, full)
	d := time.Since(t0)
	tr := trace.From(rr.ctx)
	if err != nil {
		tr.Cache(trace.Lookup{Layer: "frag", Backend: c.Name(), Key: "frag:" + name + " ×" + fmt.Sprint(len(keys)), Outcome: trace.Error, Dur: d})
		return
	}
	rr.mu.Lock()
	if rr.prefetched == nil {
		rr.prefetched = make(map[string][]byte, len(keys))
	}
	for i, v := range vals {
		if v != nil {
			rr.prefetched[full[i]] = v
		}
	}
	rr.mu.Unlock()
	tr.Cache(trace.Lookup{Layer: "frag-batch", Backend: c.Name(), Key: "frag:" + name + " ×" + fmt.Sprint(len(keys)), Outcome: "MGET", Dur: d})
}

// fragment is the template function. Cache failures fall back to rendering.
func fragment(rr *RenderReq, name, key string, data any) (template.HTML, error) {
	if rr == nil || rr.tmpl == nil {
		return "", fmt.Errorf("fragment %q: $.Req is not set", name)
	}
	ctx := rr.ctx
	mode := cache.ModeFrom(ctx)
	tr := trace.From(ctx)
	if mode == cache.ModeNone {
		t0 := time.Now()
		out, err := rr.exec(name, data)
		tr.Cache(trace.Lookup{Layer: "frag", Backend: "none", Key: name + ":" + key, Outcome: trace.Bypass, Dur: time.Since(t0)})
		return out, err
	}
	c, _ := rr.s.backend(mode)
	full := rr.s.fragKey(name, key)
	t0 := time.Now()
	rr.mu.Lock()
	v, found := rr.prefetched[full]
	rr.mu.Unlock()
	var err error
	if !found {
		v, found, err = c.Get(ctx, full)
	}
	if err == nil && found {
		tr.Cache(trace.Lookup{Layer: "frag", Backend: c.Name(), Key: full, Outcome: trace.Hit, Dur: time.Since(t0)})
		return template.HTML(v), nil
	}
	outcome := trace.Miss
	if err != nil {
		outcome = trace.Error
	}
	out, rerr := rr.exec(name, data)
	if rerr != nil {
		return "", rerr
	}
	if err == nil {
		ttl := fragmentTTLs[name]
		if serr := c.Set(ctx, full, []byte(out), ttl); serr != nil {
			outcome = trace.Error
		}
	}
	tr.Cache(trace.Lookup{Layer: "frag", Backend: c.Name(), Key: full, Outcome: outcome, Dur: time.Since(t0)})
	return out, nil
}

// exec renders a sub-template of the running set. A Loader is loaded first.
func (rr *RenderReq) exec(name string, data any) (template.HTML, error) {
	if l, ok := data.(Loader); ok {
		d, err := l.Load(rr.ctx)
		if err != nil {
			return "", err
		}
		data = d
	}
	var buf bytes.Buffer
	if err := rr.tmpl.ExecuteTemplate(&buf, name, data); err != nil {
		return "", err
	}
	return template.HTML(buf.String()), nil
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
