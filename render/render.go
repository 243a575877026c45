// Package render holds the workshop's page templates: each page parsed once
// together with the layout and the shared fragments, a digest of each
// page's and each fragment's source for cache keys, and rendering into a
// buffer so that a template error becomes an error page instead of half a
// page.
package render

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"html/template"
	"io/fs"
	"strings"
	"sync/atomic"
)

// SlotMarker marks where a page's per-request markup goes. Pages write it
// with {{slot}}; it is cut out of the stored body and its offset kept
// instead (see SplitSlot).
const SlotMarker = "<!--cw:slot-->"

// Set is every page template, each parsed once with layout.html and
// fragments.html.
type Set struct {
	fsys  fs.FS
	dev   bool
	funcs template.FuncMap

	// parsed is replaced whole by parse and only read otherwise: every
	// page hit reads a digest for its key, from every core, so reads take
	// no lock.
	parsed atomic.Pointer[parsed]
}

// parsed is one parse of every template, never modified.
type parsed struct {
	pages       map[string]*template.Template
	digests     map[string]string
	fragDigests map[string]string
}

// New parses every *.html file of fsys. With dev set, the files are parsed
// again on every Page call, so template edits show without a restart.
// funcs are the template functions; "slot" is added.
func New(fsys fs.FS, dev bool, funcs template.FuncMap) (*Set, error) {
	all := template.FuncMap{"slot": func() template.HTML { return SlotMarker }}
	for k, v := range funcs {
		all[k] = v
	}
	s := &Set{fsys: fsys, dev: dev, funcs: all}
	if err := s.parse(); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Set) parse() error {
	names, err := fs.Glob(s.fsys, "*.html")
	if err != nil {
		return err
	}
	layout, err := fs.ReadFile(s.fsys, "layout.html")
	if err != nil {
		return fmt.Errorf("templates: %w", err)
	}
	// fragments.html holds the sub-templates shared by several pages, most
	// of them cached with {{fragment}}; every page's set includes it.
	frags, err := fs.ReadFile(s.fsys, "fragments.html")
	if err != nil {
		return fmt.Errorf("templates: %w", err)
	}
	p := &parsed{pages: map[string]*template.Template{}, digests: map[string]string{}, fragDigests: map[string]string{}}
	for _, n := range names {
		if n == "layout.html" || n == "fragments.html" {
			continue
		}
		src, err := fs.ReadFile(s.fsys, n)
		if err != nil {
			return err
		}
		t, err := template.New("layout").Funcs(s.funcs).Parse(string(layout))
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
		p.pages[name] = t
		// The digest of a page's sources is part of its cache keys, so
		// changing a template never serves markup rendered by the old one.
		h := sha256.New()
		h.Write(layout)
		h.Write(frags)
		h.Write(src)
		p.digests[name] = hex.EncodeToString(h.Sum(nil)[:4])
		// Each fragment gets a digest of its own parse tree (taken before
		// any execution escapes it), so editing one fragment leaves the
		// others' cached output valid.
		for _, ft := range t.Templates() {
			if _, done := p.fragDigests[ft.Name()]; done || ft.Tree == nil || ft.Tree.Root == nil {
				continue
			}
			sum := sha256.Sum256([]byte(ft.Tree.Root.String()))
			p.fragDigests[ft.Name()] = hex.EncodeToString(sum[:4])
		}
	}
	s.parsed.Store(p)
	return nil
}

// Page returns a page's template set and the digest of its sources.
func (s *Set) Page(name string) (*template.Template, string, error) {
	if s.dev {
		if err := s.parse(); err != nil {
			return nil, "", err
		}
	}
	p := s.parsed.Load()
	t, ok := p.pages[name]
	if !ok {
		return nil, "", fmt.Errorf("no template %q", name)
	}
	return t, p.digests[name], nil
}

// Digest returns the digest of a page's sources, for cache keys. With dev
// set it parses the files again first, so an edited template gets a new
// key at once.
func (s *Set) Digest(name string) string {
	_, d, _ := s.Page(name)
	return d
}

// FragmentDigest returns the digest of a named sub-template's source.
func (s *Set) FragmentDigest(name string) string { return s.parsed.Load().fragDigests[name] }

// Render executes a page's layout with data into a fresh buffer.
func (s *Set) Render(name string, data any) ([]byte, error) {
	t, _, err := s.Page(name)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := Execute(&buf, t, data); err != nil {
		return nil, fmt.Errorf("render %s: %w", name, err)
	}
	return buf.Bytes(), nil
}

// Execute runs t's layout with data into buf, which it first sizes for a
// typical page.
func Execute(buf *bytes.Buffer, t *template.Template, data any) error {
	buf.Grow(16 << 10)
	return t.ExecuteTemplate(buf, "layout", data)
}

// SplitSlot removes the slot marker and returns its offset, or -1.
func SplitSlot(body []byte) ([]byte, int) {
	i := bytes.Index(body, []byte(SlotMarker))
	if i < 0 {
		return body, -1
	}
	return append(body[:i:i], body[i+len(SlotMarker):]...), i
}
