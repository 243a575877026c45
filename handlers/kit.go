package handlers

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"time"

	"cacheworkshop/cache"
	"cacheworkshop/cache/page"
	"cacheworkshop/models"
	"cacheworkshop/trace"
)

// Kit is what a lesson package builds its pages with: the same page
// engine, layout, request bar, error adapter and backends as the
// catalogue's own pages. A lesson receives it in Register.
type Kit struct {
	Store       *models.Store
	Memory      *cache.Memory
	Redis       *cache.Redis
	Invalidator *cache.Invalidator
	Log         *slog.Logger
	// TTL is the default lifetime of cached pages (CACHE_TTL).
	TTL time.Duration
	// AdminToken is ADMIN_TOKEN; empty when the admin routes are open.
	AdminToken string

	s *Server
}

// Handle adapts a handler that returns an error: the error becomes the
// right status page (JSON under /api/).
func (k *Kit) Handle(h HandlerFunc) http.HandlerFunc { return k.s.handle(h) }

// RequireAdmin is middleware for admin-only routes: use it with
// r.With(k.RequireAdmin).
func (k *Kit) RequireAdmin(next http.Handler) http.Handler { return k.s.requireAdmin(next) }

// Error writes err as its status page.
func (k *Kit) Error(w http.ResponseWriter, r *http.Request, err error) { k.s.serveError(w, r, err) }

// Mode is the request's cache mode.
func (k *Kit) Mode(r *http.Request) cache.Mode { return modeOf(r) }

// Label is the display name of a mode ("Redis (embedded)" for the
// fallback server).
func (k *Kit) Label(m cache.Mode) string { return k.s.label(m) }

// Backend returns a mode's cache, traced under layer, or false in mode
// none. Lessons read through it, so each lookup is in the trace once.
func (k *Kit) Backend(m cache.Mode, layer string) (cache.Traced, bool) {
	c := k.s.backend(m)
	if c == nil {
		return cache.Traced{}, false
	}
	return cache.Traced{Cache: c, Layer: layer, Failures: k.s.failures}, true
}

// Cached serves spec through the request's cache (see page.Engine.Fetch)
// and writes it with the request bar.
func (k *Kit) Cached(w http.ResponseWriter, r *http.Request, spec page.Spec) error {
	return k.s.serveCached(w, r, spec)
}

// Render renders a page template for req, with the layout, into an entry
// with a slot. Fragments are cached in the mode ctx carries.
func (k *Kit) Render(ctx context.Context, req page.Request, title, section string, content any) (*page.Entry, error) {
	return k.s.renderPage(ctx, req, title, section, content)
}

// Live renders a page for this request alone and sends it with the
// request bar, which says BYPASS: labs and forms whose content is this
// request's own are never cached. It is sent no-store unless the handler
// set Cache-Control itself.
func (k *Kit) Live(w http.ResponseWriter, r *http.Request, pageName, title, section string, content any) error {
	return k.s.serveLive(w, r, http.StatusOK, pageName, title, section, content)
}

// Measured sends a page computed on this request (its numbers are this
// request's measurements, so the page itself is never cached). outcome is
// the X-Cache of the data lookup the page made; slot writes the page's own
// per-request markup, and may end with TracePanel.
func (k *Kit) Measured(w http.ResponseWriter, r *http.Request, e *page.Entry, outcome string, slot page.Slot) {
	noStore(w.Header())
	page.Write(w, r, &page.Served{Entry: e, Mode: modeOf(r), Outcome: outcome, Backend: "none"}, slot)
}

// TracePanel appends the trace panel that ends every request bar.
func TracePanel(b []byte, sum trace.Summary, st []byte) []byte { return appendTracePanel(b, sum, st) }

// JSON writes v as this request's JSON response, never cached on the way.
// A cached JSON response goes through Cached instead.
func (k *Kit) JSON(w http.ResponseWriter, r *http.Request, status int, v any) {
	writeJSON(w, r, status, v)
}

// Flash sets a one-time message shown on the next page the browser loads.
func (k *Kit) Flash(w http.ResponseWriter, msg string, details ...string) {
	setFlash(w, flash{Message: msg, Details: details})
}

// Handler is the whole server, for lessons that measure its pages
// through the real handler stack.
func (k *Kit) Handler() http.Handler { return k.s }

// PageTTL is the lifetime of the pages stored from now on, and the one
// configured (CACHE_TTL).
func (k *Kit) PageTTL() (now, configured time.Duration) { return k.s.pages.TTL(), k.s.cfg.TTL }

// SetPageTTL sets the lifetime of the pages this process stores from now
// on (d <= 0: CACHE_TTL again). Stored pages keep theirs. The request bar
// says so while it differs from CACHE_TTL.
func (k *Kit) SetPageTTL(d time.Duration) { k.s.pages.SetTTL(d) }

// MemoryBudget is the memory cache's byte budget now, and the one it
// started with (MEMORY_CACHE_MB).
func (k *Kit) MemoryBudget() (now, configured int64) { return k.Memory.MaxBytes(), k.s.memBudget }

// SetMemoryBudget sets the memory cache's byte budget (n <= 0: the one it
// started with), evicting the least recently used entries down to it at
// once; it returns how many went. The request bar says so while it
// differs from the configured budget.
func (k *Kit) SetMemoryBudget(n int64) int {
	if n <= 0 {
		n = k.s.memBudget
	}
	return k.Memory.SetMaxBytes(n)
}

// modeOf is the request's cache mode, as withMode resolved it.
func modeOf(r *http.Request) cache.Mode { return cache.ModeFrom(r.Context()) }

// serveCached fetches spec and writes it with the request bar.
func (s *Server) serveCached(w http.ResponseWriter, r *http.Request, spec page.Spec) error {
	sv, err := s.pages.Fetch(r.Context(), spec)
	if err != nil {
		return err
	}
	if len(sv.Notices) > 0 && sv.Entry.Slot < 0 {
		// A JSON body cannot show the notice (it may be cached), so it
		// travels in a header.
		w.Header().Set("X-Cache-Notice", headerSafe(sv.Notices[0]+" Served from the database instead."))
	}
	page.Write(w, r, sv, s.bar(w, r))
	return nil
}

// serveLive renders a page for this request alone and writes it with a
// BYPASS bar.
func (s *Server) serveLive(w http.ResponseWriter, r *http.Request, status int, name, title, section string, content any) error {
	req := liveRequest(r, name)
	e, err := s.renderPage(r.Context(), req, title, section, content)
	if err != nil {
		return err
	}
	e.Status = status
	noStore(w.Header())
	trace.From(r.Context()).Cache(trace.Lookup{Layer: "page", Backend: "none", Key: name + " (never cached)", Outcome: trace.Bypass})
	page.Write(w, r, page.Live(e, req.Mode), s.bar(w, r))
	return nil
}

// noStore marks a response that is this request's own as not to be kept,
// unless the handler chose its caching headers itself (the HTTP caching
// lesson does, on purpose).
func noStore(h http.Header) {
	if h.Get("Cache-Control") == "" {
		h.Set("Cache-Control", "no-store")
	}
}

// headerSafe drops bytes that cannot appear in a header value.
func headerSafe(v string) string {
	b := []byte(v)
	for i, c := range b {
		if c < 0x20 || c == 0x7f {
			b[i] = ' '
		}
	}
	return string(b)
}

// Partial appends the output of the template called name, from the set of
// page pageName, to b: a lesson's own per-request markup, such as a
// measured page's bar, stays in the lesson's template file.
func (k *Kit) Partial(b []byte, pageName, name string, data any) ([]byte, error) {
	t, _, err := k.s.views.Page(pageName)
	if err != nil {
		return b, err
	}
	buf := bytes.NewBuffer(b)
	err = t.ExecuteTemplate(buf, name, data)
	return buf.Bytes(), err
}
