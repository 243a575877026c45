package handlers

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"cacheworkshop/cache"
	"cacheworkshop/models"
	"cacheworkshop/trace"
)

// slotMarker marks where per-request markup goes. It is removed from the
// stored body; its offset is kept instead (Entry.Slot).
const slotMarker = "<!--cw:slot-->"

// pageSet holds every page's template, each parsed once with the layout:
// executing a parsed template is all a request pays for.
type pageSet struct {
	fsys  fs.FS
	dev   bool
	funcs template.FuncMap

	// parsed is replaced whole by parseAll and only read otherwise: every
	// page hit reads a digest for its key, from every core, so reads take
	// no lock.
	parsed atomic.Pointer[parsedPages]
}

// parsedPages is one parse of every template, never modified.
type parsedPages struct {
	pages       map[string]*template.Template
	digests     map[string]string
	fragDigests map[string]string
}

func newPageSet(fsys fs.FS, dev bool, funcs template.FuncMap) (*pageSet, error) {
	ps := &pageSet{fsys: fsys, dev: dev, funcs: funcs}
	if err := ps.parseAll(); err != nil {
		return nil, err
	}
	return ps, nil
}

func (ps *pageSet) parseAll() error {
	names, err := fs.Glob(ps.fsys, "*.html")
	if err != nil {
		return err
	}
	layout, err := fs.ReadFile(ps.fsys, "layout.html")
	if err != nil {
		return fmt.Errorf("templates: %w", err)
	}
	// fragments.html holds the sub-templates that pages cache with
	// {{fragment}}; every page's set includes it.
	frags, err := fs.ReadFile(ps.fsys, "fragments.html")
	if err != nil {
		return fmt.Errorf("templates: %w", err)
	}
	pages := make(map[string]*template.Template)
	digests := make(map[string]string)
	fragDigests := make(map[string]string)
	for _, n := range names {
		if n == "layout.html" || n == "fragments.html" {
			continue
		}
		src, err := fs.ReadFile(ps.fsys, n)
		if err != nil {
			return err
		}
		t, err := template.New("layout").Funcs(ps.funcs).Parse(string(layout))
		if err != nil {
			return fmt.Errorf("templates: layout.html: %w", err)
		}
		if _, err := t.New("fragments.html").Parse(string(frags)); err != nil {
			return fmt.Errorf("templates: fragments.html: %w", err)
		}
		if _, err := t.New(n).Parse(string(src)); err != nil {
			return fmt.Errorf("templates: %s: %w", n, err)
		}
		name := strings.TrimSuffix(n, ".html")
		pages[name] = t
		// The digest of a page's sources is part of its cache keys, so
		// changing a template never serves markup rendered by the old one.
		h := sha256.New()
		h.Write(layout)
		h.Write(frags)
		h.Write(src)
		digests[name] = hex.EncodeToString(h.Sum(nil)[:4])
		// Each fragment gets a digest of its own parse tree (taken before
		// any execution escapes it), so editing one fragment leaves the
		// others' cached output valid.
		for _, ft := range t.Templates() {
			if _, done := fragDigests[ft.Name()]; done || ft.Tree == nil || ft.Tree.Root == nil {
				continue
			}
			sum := sha256.Sum256([]byte(ft.Tree.Root.String()))
			fragDigests[ft.Name()] = hex.EncodeToString(sum[:4])
		}
	}
	ps.parsed.Store(&parsedPages{pages: pages, digests: digests, fragDigests: fragDigests})
	return nil
}

// fragDigest returns the digest of a named sub-template's source.
func (ps *pageSet) fragDigest(name string) string {
	return ps.parsed.Load().fragDigests[name]
}

func (ps *pageSet) get(name string) (*template.Template, string, error) {
	if ps.dev {
		if err := ps.parseAll(); err != nil {
			return nil, "", err
		}
	}
	p := ps.parsed.Load()
	t, ok := p.pages[name]
	if !ok {
		return nil, "", fmt.Errorf("no template %q", name)
	}
	return t, p.digests[name], nil
}

// digest returns the template digest of a page, for cache keys.
func (ps *pageSet) digest(name string) string {
	_, d, _ := ps.get(name)
	return d
}

// render executes a page into a buffer, so a template error becomes an
// error page instead of half a page. When data is a layoutData, its Req is
// pointed at the executing template set so {{fragment}} can run the page's
// own sub-templates; without a Req, fragments render uncached.
func (ps *pageSet) render(name string, data any) ([]byte, error) {
	t, _, err := ps.get(name)
	if err != nil {
		return nil, err
	}
	if ld, ok := data.(layoutData); ok {
		if ld.Req == nil {
			ld.Req = &RenderReq{ctx: context.Background(), page: name}
		}
		ld.Req.tmpl = t
		data = ld
	}
	var buf bytes.Buffer
	buf.Grow(16 << 10)
	if ld, ok := data.(layoutData); ok {
		ld.Req.out = &buf
		defer func() { ld.Req.out = nil }()
	}
	if err := t.ExecuteTemplate(&buf, "layout", data); err != nil {
		return nil, fmt.Errorf("render %s: %w", name, err)
	}
	return buf.Bytes(), nil
}

// stripSlot removes the slot marker from a body that is served directly.
func stripSlot(body []byte) []byte {
	if i := bytes.Index(body, []byte(slotMarker)); i >= 0 {
		return append(body[:i:i], body[i+len(slotMarker):]...)
	}
	return body
}

// splitSlot removes the marker and returns its offset, or -1.
func splitSlot(body []byte) ([]byte, int) {
	i := bytes.Index(body, []byte(slotMarker))
	if i < 0 {
		return body, -1
	}
	return append(body[:i:i], body[i+len(slotMarker):]...), i
}

// layoutData is what layout.html sees. It holds only what is the same for
// every request to the same URL in the same mode, because whole pages are
// cached; per-request markup goes in the slot.
type layoutData struct {
	Title   string
	Section string
	// Nav marks the current section for the navigation fragment: field
	// tests there instead of eight calls of eq on every uncached page.
	Nav navSection
	// Head is the layout's stylesheet, icon and script tags (headLinks).
	Head      template.HTML
	Mode      cache.Mode
	ModeLabel string
	// ModeSwitch is the mode switch's list items, built in Go (modeSwitch)
	// because they are on every page: as a template range they were a
	// sixth of an uncached page's template work.
	ModeSwitch template.HTML
	// FooterKey is the footer fragment's key: the mode and its label.
	FooterKey  string
	RedisLabel string
	Content    any
	// Req is the render's context for {{fragment}}; never printed.
	Req *RenderReq
}

// layout builds the layout data for the request's URL and mode. The mode
// switch links keep the page's own query (minus cache=) so switching mode
// stays on the same page.
func (s *Server) layout(r *http.Request, title, section string, content any) layoutData {
	mode := cache.ModeFrom(r.Context())
	d := layoutData{Title: title, Section: section, Mode: mode, RedisLabel: s.redisLabel(), Content: content}
	d.ModeLabel = mode.Label()
	if mode == cache.ModeRedis {
		d.ModeLabel = s.redisLabel()
	}
	d.FooterKey = mode.String() + ":" + d.ModeLabel
	d.Nav = navSectionOf(section)
	d.Head = s.headLinks()
	d.ModeSwitch = template.HTML(s.modeSwitch(nil, r, mode))
	return d
}

// navSection says which section of the navigation is current.
type navSection struct {
	Products, Compare, Benchmark, Weather, Stats, HTTP, Stampede, Faults bool
}

func navSectionOf(section string) navSection {
	var n navSection
	switch section {
	case "products":
		n.Products = true
	case "compare":
		n.Compare = true
	case "benchmark":
		n.Benchmark = true
	case "weather":
		n.Weather = true
	case "stats":
		n.Stats = true
	case "http":
		n.HTTP = true
	case "stampede":
		n.Stampede = true
	case "faults":
		n.Faults = true
	}
	return n
}

// headLinks returns the layout's asset tags. Their URLs carry content
// hashes that only change when the files do, so the tags are made once
// (on every call with -dev, where files change under a running server):
// three {{static}} calls with their URL escaping were a dozen reflective
// calls on every uncached page.
func (s *Server) headLinks() template.HTML {
	if !s.cfg.Dev {
		s.headOnce.Do(func() { s.head = s.makeHeadLinks() })
		return s.head
	}
	return s.makeHeadLinks()
}

func (s *Server) makeHeadLinks() template.HTML {
	var b []byte
	b = append(b, `<link rel="stylesheet" href="`...)
	b = appendEscaped(b, s.assets.URL("style.css"))
	b = append(b, "\">\n"+`<link rel="icon" href="`...)
	b = appendEscaped(b, s.assets.URL("favicon.svg"))
	b = append(b, "\" type=\"image/svg+xml\">\n"+`<script src="`...)
	b = appendEscaped(b, s.assets.URL("app.js"))
	b = append(b, `" defer></script>`...)
	return template.HTML(b)
}

// modeSwitch appends the mode switch's list items: a link per mode to this
// page with cache= set, the current one marked.
func (s *Server) modeSwitch(b []byte, r *http.Request, mode cache.Mode) []byte {
	// From the URL itself, not r.Form: a handler may hand over a copy of
	// the request with parameters removed from its URL.
	rest := r.URL.Query()
	rest.Del("cache")
	// The escaped path, and never one a browser would read as another
	// host ("//host/..." is protocol-relative).
	path := r.URL.EscapedPath()
	if strings.HasPrefix(path, "//") {
		path = "/." + path
	}
	if path == "" {
		path = "/"
	}
	for _, m := range cache.Modes {
		label := m.Label()
		if m == cache.ModeRedis {
			label = s.redisLabel()
		}
		rest.Set("cache", m.String())
		b = append(b, `<li><a class="mode-link mode-link-`...)
		b = append(b, m.String()...)
		b = append(b, `" href="`...)
		b = appendEscaped(b, path)
		b = append(b, '?')
		b = appendEscaped(b, rest.Encode())
		b = append(b, `" data-mode="`...)
		b = append(b, m.String()...)
		b = append(b, '"')
		if m == mode {
			b = append(b, ` aria-current="true"`...)
		}
		b = append(b, '>')
		b = appendEscaped(b, label)
		b = append(b, "</a></li>\n      "...)
	}
	return b
}

func (s *Server) funcs() template.FuncMap {
	return template.FuncMap{
		"money":  models.FormatMoney,
		"static": func(name string) string { return s.assets.URL(name) },
		"slot":   func() template.HTML { return slotMarker },
		"ms":     func(d time.Duration) string { return trace.Millis(d) },
		"add":    func(a, b int) int { return a + b },
		"pageURL": func(page, perPage int) string {
			v := url.Values{}
			v.Set("page", strconv.Itoa(page))
			if perPage != defaultPerPage {
				v.Set("per_page", strconv.Itoa(perPage))
			}
			return "/products?" + v.Encode()
		},
		"fragment":     fragment,
		"fragmentEach": fragmentEach,
		"date":         func(t time.Time) string { return t.UTC().Format("2 Jan 2006 15:04 UTC") },
	}
}
