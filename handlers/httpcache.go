package handlers

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"html"
	"net/http"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"

	"cacheworkshop/models"
	"cacheworkshop/trace"
)

// staticMaxAge is how long /static-content may be reused without asking.
const staticMaxAge = time.Hour

// httpCacheRoutes registers the HTTP caching pages. They teach the
// browser's cache, so the server never stores them: each request that
// reaches the server is built fresh and says so (X-Cache: BYPASS), which
// makes "the browser did not ask at all" visible as an unchanged timestamp.
func (s *Server) httpCacheRoutes(r chi.Router) {
	r.Get("/static-content", s.handle(s.serveStaticContent))
	r.Get("/dynamic-content", s.handle(s.serveDynamicContent))
	r.Get("/conditional-content", s.handle(s.serveConditionalContent))
}

// headerRow is one response header as shown on a page.
type headerRow struct{ Name, Value string }

type httpCacheData struct {
	RenderedAt time.Time
	Headers    []headerRow
	// Sent are the conditional headers this request carried.
	IfNoneMatch     string
	IfModifiedSince string
	Recent          []productRow
	LastChange      time.Time
}

// writeLive renders a page that no server cache ever holds (a measurement,
// live figures, or an HTTP caching lesson) with the same headers as cached
// pages: X-Cache: BYPASS and a Server-Timing built from this request. why
// explains the BYPASS in the bar at the top of the page.
func (s *Server) writeLive(w http.ResponseWriter, r *http.Request, page, title, section, why string, data any) error {
	tr := trace.From(r.Context())
	tr.Cache(trace.Lookup{Layer: "page", Backend: "none", Key: page, Outcome: trace.Bypass})
	t0 := time.Now()
	body, err := s.pages.render(page, s.layout(r, title, section, data))
	if err != nil {
		return err
	}
	tr.Render(time.Since(t0))
	body, slot := splitSlot(body)
	snap := tr.Snapshot()
	var bar []byte
	if slot >= 0 {
		bar = append(bar, `<section class="reqbar reqbar-bypass" aria-label="How this response was served" data-outcome="BYPASS"><span class="badge badge-bypass">BYPASS</span> `...)
		bar = append(bar, html.EscapeString(why)...)
		bar = append(bar, ` Built in <strong class="reqbar-total">`...)
		bar = trace.AppendMillis(bar, snap.Total)
		bar = append(bar, ` ms</strong> (database: `...)
		bar = appendQueries(bar, snap.DBCount, snap.DB, snap.Simulated)
		bar = append(bar, `; rendering `...)
		bar = trace.AppendMillis(bar, snap.Render)
		bar = append(bar, ` ms).</section>`...)
		bar = s.appendTrace(bar, snap)
	} else {
		slot = 0
	}
	h := w.Header()
	h.Set("X-Cache", trace.Bypass)
	if h.Get("Cache-Control") == "" {
		h.Set("Cache-Control", "no-store")
	}
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(body)+len(bar)))
	h.Set("Server-Timing", snap.ServerTiming())
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body[:slot])
	_, _ = w.Write(bar)
	_, _ = w.Write(body[slot:])
	return nil
}

// notModified answers a conditional request whose copy is still current:
// no body, but the same validators and the real server timing.
func notModified(w http.ResponseWriter, r *http.Request, page string) {
	tr := trace.From(r.Context())
	tr.Cache(trace.Lookup{Layer: "page", Backend: "none", Key: page, Outcome: trace.Bypass})
	h := w.Header()
	h.Set("X-Cache", trace.Bypass)
	h.Set("Server-Timing", tr.Snapshot().ServerTiming())
	w.WriteHeader(http.StatusNotModified)
}

func (s *Server) serveStaticContent(w http.ResponseWriter, r *http.Request) error {
	now := time.Now()
	h := w.Header()
	h.Set("Cache-Control", "public, max-age="+strconv.Itoa(int(staticMaxAge/time.Second)))
	h.Set("Expires", now.Add(staticMaxAge).UTC().Format(http.TimeFormat))
	// The header shows the mode, which the cookie chooses: a copy made in
	// one mode must not be reused after switching.
	h.Set("Vary", "Cookie")
	d := httpCacheData{RenderedAt: now.UTC(), Headers: []headerRow{
		{"Cache-Control", h.Get("Cache-Control")}, {"Expires", h.Get("Expires")}, {"Vary", h.Get("Vary")}}}
	return s.writeLive(w, r, "static-content", "HTTP caching: a fresh-for-an-hour page", "http",
		"The server keeps no copy of this page: it teaches the browser's cache, so every request that reaches the server is built fresh.", d)
}

// recentProducts returns the most recently edited products, newest first:
// what the two revalidation pages show and derive their validators from.
func (s *Server) recentProducts(ctx context.Context, n int) ([]models.Product, error) {
	ps := make([]models.Product, 0, n)
	err := s.store.DB().WithContext(ctx).Order("updated_at DESC, id DESC").Limit(n).Find(&ps).Error
	return ps, err
}

func rowsOf(ps []models.Product) []productRow {
	out := make([]productRow, len(ps))
	for i, p := range ps {
		out[i] = rowOf(p)
	}
	return out
}

func (s *Server) serveDynamicContent(w http.ResponseWriter, r *http.Request) error {
	ps, err := s.recentProducts(r.Context(), 5)
	if err != nil {
		return err
	}
	// HTTP dates have whole seconds; comparing at that precision is what
	// makes the browser's If-Modified-Since match.
	last := s.started.UTC().Truncate(time.Second)
	if len(ps) > 0 {
		last = ps[0].UpdatedAt.UTC().Truncate(time.Second)
	}
	h := w.Header()
	h.Set("Cache-Control", "no-cache, must-revalidate")
	h.Set("Last-Modified", last.Format(http.TimeFormat))
	h.Set("Vary", "Cookie")
	ims := r.Header.Get("If-Modified-Since")
	if t, err := http.ParseTime(ims); err == nil && !last.After(t) {
		notModified(w, r, "dynamic-content")
		return nil
	}
	d := httpCacheData{RenderedAt: time.Now().UTC(), IfModifiedSince: ims, Recent: rowsOf(ps), LastChange: last,
		Headers: []headerRow{{"Cache-Control", h.Get("Cache-Control")}, {"Last-Modified", h.Get("Last-Modified")}, {"Vary", h.Get("Vary")}}}
	return s.writeLive(w, r, "dynamic-content", "HTTP caching: always revalidate", "http",
		"The server keeps no copy of this page: it teaches the browser's cache. It looked up the latest edit to answer If-Modified-Since.", d)
}

// recentETag derives a weak validator from the rows the page shows (and
// the mode, which changes the page's header). Weak, because the body also
// carries its render time: two bodies with the same tag are equivalent, not
// byte-identical.
func recentETag(ps []models.Product, mode string) string {
	hsh := sha256.New()
	for _, p := range ps {
		hsh.Write(strconv.AppendInt(nil, p.ID, 10))
		hsh.Write([]byte{':'})
		hsh.Write(strconv.AppendInt(nil, p.Version, 10))
		hsh.Write([]byte{','})
	}
	return `W/"recent-` + mode + "-" + hex.EncodeToString(hsh.Sum(nil)[:8]) + `"`
}

func (s *Server) serveConditionalContent(w http.ResponseWriter, r *http.Request) error {
	ps, err := s.recentProducts(r.Context(), 5)
	if err != nil {
		return err
	}
	etag := recentETag(ps, modeOf(r).String())
	h := w.Header()
	h.Set("Cache-Control", "no-cache")
	h.Set("ETag", etag)
	h.Set("Vary", "Cookie")
	inm := r.Header.Get("If-None-Match")
	if etagMatch(inm, etag) {
		notModified(w, r, "conditional-content")
		return nil
	}
	d := httpCacheData{RenderedAt: time.Now().UTC(), IfNoneMatch: inm, Recent: rowsOf(ps),
		Headers: []headerRow{{"Cache-Control", h.Get("Cache-Control")}, {"ETag", etag}, {"Vary", h.Get("Vary")}}}
	return s.writeLive(w, r, "conditional-content", "HTTP caching: ETag and 304", "http",
		"The server keeps no copy of this page: it teaches the browser's cache. It read the recent edits to compute the ETag.", d)
}
