package httpcache

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"cacheworkshop/cache/page"
	"cacheworkshop/models"
)

// staticMaxAge is how long /static-content may be reused without asking.
const staticMaxAge = time.Hour

// recentCount is how many of the latest edits the revalidation pages show.
const recentCount = 5

func (l *Lesson) serveStatic(w http.ResponseWriter, r *http.Request) error {
	now := time.Now()
	h := w.Header()
	h.Set("Cache-Control", "public, max-age="+strconv.Itoa(int(staticMaxAge/time.Second)))
	h.Set("Expires", now.Add(staticMaxAge).UTC().Format(http.TimeFormat))
	// The page's header shows the mode, which the cookie chooses: a copy
	// made in one mode must not be reused after switching.
	h.Set("Vary", "Cookie")
	d := pageData{RenderedAt: now.UTC(), Headers: sent(h, "Cache-Control", "Expires", "Vary"), Origin: origin(r)}
	return l.live(w, r, "static-content", "HTTP caching: a fresh-for-an-hour page", d)
}

// recentProducts returns the most recently edited products, newest first:
// what the two revalidation pages show and derive their validators from.
func (l *Lesson) recentProducts(ctx context.Context) ([]models.Product, error) {
	var ps []models.Product
	err := l.k.Store.DB().WithContext(ctx).Order("updated_at DESC, id DESC").Limit(recentCount).Find(&ps).Error
	return ps, err
}

func (l *Lesson) serveDynamic(w http.ResponseWriter, r *http.Request) error {
	ps, err := l.recentProducts(r.Context())
	if err != nil {
		return err
	}
	// HTTP dates have whole seconds; comparing at that precision is what
	// makes the browser's If-Modified-Since match.
	last := l.started.UTC().Truncate(time.Second)
	if len(ps) > 0 {
		last = ps[0].UpdatedAt.UTC().Truncate(time.Second)
	}
	h := w.Header()
	h.Set("Cache-Control", "no-cache, must-revalidate")
	h.Set("Last-Modified", last.Format(http.TimeFormat))
	h.Set("Vary", "Cookie")
	// The same rule as every response of the workshop (page.NotModified):
	// an equal or later date is not modified, an unreadable one is no
	// condition at all, and If-None-Match, when sent, decides instead.
	ims := r.Header.Get("If-Modified-Since")
	if page.NotModified(r, http.StatusOK, "", last) {
		notModified(w, r, "dynamic-content")
		return nil
	}
	d := pageData{RenderedAt: time.Now().UTC(), IfModifiedSince: ims, Recent: ps, LastChange: last,
		Headers: sent(h, "Cache-Control", "Last-Modified", "Vary"), Origin: origin(r)}
	return l.live(w, r, "dynamic-content", "HTTP caching: always revalidate", d)
}

// recentETag derives a weak validator from the rows the page shows (and
// the mode, which changes the page's header). Weak, because the body also
// carries its render time: two bodies with the same tag are equivalent, not
// byte-identical.
func recentETag(ps []models.Product, mode string) string {
	hsh := sha256.New()
	for _, p := range ps {
		fmt.Fprintf(hsh, "%d:%d,", p.ID, p.Version)
	}
	return `W/"recent-` + mode + "-" + hex.EncodeToString(hsh.Sum(nil)[:8]) + `"`
}

func (l *Lesson) serveConditional(w http.ResponseWriter, r *http.Request) error {
	ps, err := l.recentProducts(r.Context())
	if err != nil {
		return err
	}
	etag := recentETag(ps, l.k.Mode(r).String())
	h := w.Header()
	h.Set("Cache-Control", "no-cache")
	h.Set("ETag", etag)
	h.Set("Vary", "Cookie")
	// Checked before rendering: a 304 saves the template's work as well
	// as the bytes.
	inm := r.Header.Get("If-None-Match")
	if page.ETagMatch(inm, etag) {
		notModified(w, r, "conditional-content")
		return nil
	}
	d := pageData{RenderedAt: time.Now().UTC(), IfNoneMatch: inm, Recent: ps, Headers: sent(h, "Cache-Control", "ETag", "Vary"), Origin: origin(r)}
	return l.live(w, r, "conditional-content", "HTTP caching: ETag and 304", d)
}
