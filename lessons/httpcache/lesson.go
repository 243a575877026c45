// Package httpcache is the HTTP caching lesson: three pages that teach the
// browser's cache rather than the server's, one per policy.
//
//   - /static-content is fresh for an hour (Cache-Control: max-age, and
//     Expires for old caches): the browser reuses it without asking.
//   - /dynamic-content must be revalidated on every use (no-cache) and
//     carries Last-Modified: the browser asks with If-Modified-Since and
//     gets a bodiless 304 while nothing was edited.
//   - /conditional-content is the same with an ETag and If-None-Match.
//
// The server never stores these pages: each request that reaches it is
// built fresh and says so (X-Cache: BYPASS), which makes "the browser did
// not ask at all" visible as an unchanged render time.
package httpcache

import (
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"cacheworkshop/cache"
	"cacheworkshop/cache/page"
	"cacheworkshop/handlers"
	"cacheworkshop/models"
	"cacheworkshop/trace"
)

// Lesson serves the HTTP caching pages.
type Lesson struct {
	k *handlers.Kit
	// started is the Last-Modified of an empty catalogue.
	started time.Time
}

// New returns the lesson; it is ready once registered.
func New() *Lesson { return &Lesson{started: time.Now()} }

// Register implements handlers.Lesson.
func (l *Lesson) Register(r chi.Router, k *handlers.Kit) {
	l.k = k
	r.Get("/static-content", k.Handle(l.serveStatic))
	r.Get("/dynamic-content", k.Handle(l.serveDynamic))
	r.Get("/conditional-content", k.Handle(l.serveConditional))
}

// header is one response header as a page shows it.
type header struct{ Name, Value string }

// pageData is what the three templates show.
type pageData struct {
	RenderedAt time.Time
	// Headers are the caching headers this response carries.
	Headers []header
	// IfNoneMatch and IfModifiedSince are the conditional headers this
	// request carried.
	IfNoneMatch     string
	IfModifiedSince string
	// Recent are the latest edits, newest first; LastChange is when the
	// newest was made.
	Recent     []models.Product
	LastChange time.Time
	// Origin is the address this request was sent to, for the curl
	// commands: these pages are built per request and never stored by the
	// server, so one request's Host never reaches another's page.
	Origin string
}

// origin is the scheme and host r was sent to. The Host was checked
// against the allowed names before any handler ran.
func origin(r *http.Request) string {
	if r.TLS != nil {
		return "https://" + r.Host
	}
	return "http://" + r.Host
}

// sent lists the named headers of h, as set for this response.
func sent(h http.Header, names ...string) []header {
	out := make([]header, len(names))
	for i, n := range names {
		out[i] = header{n, h.Get(n)}
	}
	return out
}

// live sends a page rendered for this request with the Cache-Control
// already set on w: the policy is what the page teaches, and Kit.Live
// keeps a Cache-Control the handler set.
func (l *Lesson) live(w http.ResponseWriter, r *http.Request, name, title string, d pageData) error {
	return l.k.Live(w, r, name, title, "http", d)
}

// notModified answers a conditional request whose copy is still current:
// no body, and no rendering either, but the validators and Cache-Control
// already set on w (a 304 refreshes the browser's stored headers) and the
// real server timing.
func notModified(w http.ResponseWriter, r *http.Request, name string) {
	trace.From(r.Context()).Cache(trace.Lookup{Layer: "page", Backend: "none", Key: name + " (never cached)", Outcome: trace.Bypass})
	e := &page.Entry{Status: http.StatusNotModified, ContentType: "text/html; charset=utf-8", Slot: -1}
	page.Write(w, r, page.Live(e, cache.ModeFrom(r.Context())), nil)
}
