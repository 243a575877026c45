package handlers

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strconv"
	"strings"
	"sync"
)

// assets serves static files under fingerprinted URLs
// (/static/<hash>/<name>): the hash changes whenever the file does, so the
// browser may keep a file for a year ("immutable") and still never use an
// old copy. Compressible files are gzipped once, at first use.
type assets struct {
	fsys fs.FS
	dev  bool

	mu    sync.Mutex
	files map[string]*asset // by name, e.g. "style.css"
}

type asset struct {
	name, hash, ctype string
	body, gz          []byte
}

func newAssets(fsys fs.FS, dev bool) *assets {
	a := &assets{fsys: fsys, dev: dev, files: make(map[string]*asset)}
	if !dev {
		// Hash and compress everything now, so the first page that links
		// a file does not pay for it inside its render time.
		_ = fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() && !strings.HasSuffix(p, ".go") {
				_, _ = a.load(p)
			}
			return nil
		})
	}
	return a
}

func (a *assets) load(name string) (*asset, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if f, ok := a.files[name]; ok && !a.dev {
		return f, nil
	}
	body, err := fs.ReadFile(a.fsys, name)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(body)
	f := &asset{name: name, hash: hex.EncodeToString(sum[:6]), body: body,
		ctype: mime.TypeByExtension(path.Ext(name))}
	if f.ctype == "" {
		f.ctype = "application/octet-stream"
	}
	if compressible(f.ctype) && len(body) > 512 {
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		_, _ = zw.Write(body)
		_ = zw.Close()
		if buf.Len() < len(body) {
			f.gz = buf.Bytes()
		}
	}
	a.files[name] = f
	return f, nil
}

func compressible(ctype string) bool {
	return strings.HasPrefix(ctype, "text/") || strings.Contains(ctype, "javascript") ||
		strings.Contains(ctype, "json") || strings.Contains(ctype, "svg")
}

// URL returns the fingerprinted URL of a static file, for templates.
func (a *assets) URL(name string) string {
	f, err := a.load(name)
	if err != nil {
		return "/static/missing/" + name
	}
	return "/static/" + f.hash + "/" + name
}

// ServeHTTP serves /static/<hash>/<name>. A stale or unknown hash is
// redirected to the current URL with no long-lived caching, so an old page
// still gets a working stylesheet.
func (a *assets) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rest := strings.TrimPrefix(r.URL.Path, "/static/")
	hash, name, ok := strings.Cut(rest, "/")
	if !ok {
		hash, name = "", rest
	}
	if name == "" || strings.Contains(name, "..") || strings.HasPrefix(name, "/") {
		http.NotFound(w, r)
		return
	}
	f, err := a.load(name)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	if hash != f.hash {
		h.Set("Cache-Control", "no-cache")
		http.Redirect(w, r, "/static/"+f.hash+"/"+name, http.StatusFound)
		return
	}
	etag := `"` + f.hash + `"`
	h.Set("Content-Type", f.ctype)
	h.Set("Cache-Control", "public, max-age=31536000, immutable")
	h.Set("ETag", etag)
	h.Set("Vary", "Accept-Encoding")
	if match := r.Header.Get("If-None-Match"); match != "" && strings.Contains(match, etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	body := f.body
	if f.gz != nil && acceptsGzip(r) {
		h.Set("Content-Encoding", "gzip")
		body = f.gz
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	if r.Method == http.MethodHead {
		return
	}
	_, _ = w.Write(body)
}

func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		enc, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(enc), "gzip") {
			q := strings.TrimPrefix(strings.ReplaceAll(params, " ", ""), "q=")
			return strings.Trim(q, "0.") != "" || q == ""
		}
	}
	return false
}
