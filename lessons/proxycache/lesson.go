// Package proxycache is the shared-HTTP-cache lesson: pages that set
// Cache-Control, Vary and the stale-* extensions on purpose, so that with
// nginx's proxy_cache in front (make run-many) a learner sees what a
// shared cache may store, and what it must not. Without a proxy the page
// says what nginx would do and how to start it.
package proxycache

import (
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/go-chi/chi/v5"

	"cacheworkshop/handlers"
)

// demo is one of the lesson's responses: its Cache-Control (and Vary),
// and what a shared cache does with it.
type demo struct {
	Kind         string
	CacheControl string
	Vary         string
	// Stored says whether nginx keeps the response; Explain why.
	Stored  bool
	Explain string
	// Slow responses take a second to build, so concurrent requests
	// overlap: the stampede proxy_cache_lock absorbs.
	Slow bool
}

// demos are the lesson's responses, in the order the page shows them.
// max-age=0 keeps the browser's own cache out of the way: the browser
// revalidates every time, so what the learner sees is the proxy's work.
var demos = []demo{
	{Kind: "public", CacheControl: "public, max-age=0, s-maxage=30", Stored: true,
		Explain: "s-maxage is for shared caches only: nginx keeps the copy 30 s and answers HIT without asking an instance; the browser, told max-age=0, asks every time."},
	{Kind: "private", CacheControl: "private, max-age=30",
		Explain: "private: only the user's own browser may keep it. nginx passes every request through (MISS each time, nothing stored)."},
	{Kind: "no-store", CacheControl: "no-store",
		Explain: "no-store: nobody keeps it, not even the browser."},
	{Kind: "vary", CacheControl: "public, max-age=0, s-maxage=30", Vary: "Accept-Language", Stored: true,
		Explain: "Vary: Accept-Language makes the header part of the stored copy's key: one copy per language, and a French visitor never gets the English page."},
	{Kind: "stale", CacheControl: "public, max-age=0, s-maxage=5, stale-while-revalidate=30, stale-if-error=600", Stored: true,
		Explain: "Fresh for 5 s. For 30 s after that nginx answers STALE at once while one request refreshes it in the background (UPDATING); with every instance down it keeps answering STALE for 10 minutes."},
	{Kind: "slow", CacheControl: "public, max-age=0, s-maxage=10", Stored: true, Slow: true,
		Explain: "Takes 1 s to build. Twenty requests at once reach the instances once: proxy_cache_lock lets one through and the others wait for its copy."},
}

// slowBuild is how long the slow demo takes to build.
const slowBuild = time.Second

// Lesson serves /proxy-cache and its demo responses.
type Lesson struct {
	kit *handlers.Kit
	// builds counts demo responses built by this instance: a proxy HIT
	// shows an old build number.
	builds atomic.Int64
}

// New returns the lesson.
func New() *Lesson { return &Lesson{} }

// Register mounts the lesson's routes.
func (l *Lesson) Register(r chi.Router, k *handlers.Kit) {
	l.kit = k
	r.Get("/proxy-cache", k.Handle(l.servePage))
	r.Get("/proxy-cache/demo/{kind}", k.Handle(l.serveDemo))
}

// pageData is the lesson page's content.
type pageData struct {
	// Proxied is set when the request came through the nginx of
	// deploy/nginx.conf, which says so in a request header.
	Proxied bool
	Demos   []demo
}

// servePage shows the lesson; its own response is never stored.
func (l *Lesson) servePage(w http.ResponseWriter, r *http.Request) error {
	return l.kit.Live(w, r, "proxy-cache", "A shared cache in front", "proxy-cache",
		pageData{Proxied: r.Header.Get("X-Proxy-Cache-Enabled") != "", Demos: demos})
}

// demoBody is one demo response's content.
type demoBody struct {
	Demo     demo
	Instance string
	Built    string
	Build    int64
	Language string
}

// serveDemo builds one demo response with its deliberate headers. It is
// the same in every cache mode, so it carries no mode header: a proxy may
// serve it to any visitor whose request matches its key.
func (l *Lesson) serveDemo(w http.ResponseWriter, r *http.Request) error {
	kind := chi.URLParam(r, "kind")
	var d *demo
	for i := range demos {
		if demos[i].Kind == kind {
			d = &demos[i]
		}
	}
	if d == nil {
		return handlers.NotFound("There is no demo called " + kind + ": try public, private, no-store, vary, stale or slow.")
	}
	// round makes a fresh key for each stampede the page fires.
	if _, err := handlers.IntParam(r, "round", 0, 0, 1_000_000_000); err != nil {
		return err
	}
	if d.Slow {
		select {
		case <-time.After(slowBuild):
		case <-r.Context().Done():
			return nil
		}
	}
	body := demoBody{Demo: *d, Instance: l.kit.Instance(), Build: l.builds.Add(1),
		Built: time.Now().UTC().Format("15:04:05.000 UTC")}
	if d.Vary != "" {
		body.Language = language(r.Header.Get("Accept-Language"))
	}
	b, err := l.kit.Partial(nil, "proxy-cache", "proxy-demo", body)
	if err != nil {
		return err
	}
	h := w.Header()
	h.Del("X-Cache-Mode")
	h.Set("Cache-Control", d.CacheControl)
	if d.Vary != "" {
		h.Set("Vary", d.Vary)
	}
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("X-Demo-Build", itoa(body.Build))
	_, err = w.Write(b)
	return err
}

// language picks the greeting's language from Accept-Language: the first
// of en, fr and de it names, else English.
func language(accept string) string {
	for part := range strings.SplitSeq(accept, ",") {
		tag, _, _ := strings.Cut(strings.TrimSpace(part), ";")
		switch p, _, _ := strings.Cut(strings.ToLower(tag), "-"); p {
		case "en", "fr", "de":
			return p
		}
	}
	return "en"
}
