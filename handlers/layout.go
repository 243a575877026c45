package handlers

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"html/template"
	"sync/atomic"

	"cacheworkshop/cache"
	"cacheworkshop/cache/fragment"
	"cacheworkshop/cache/page"
)

// layoutData is what layout.html sees. Whole pages are cached, so it is
// made from the page.Request alone: what is the same for every request to
// the same canonical URL in the same mode. Per-request markup goes in the
// slot.
type layoutData struct {
	Title   string
	Section string // the navigation's current section
	// Nav marks the current section for the navigation's markup: a field
	// test per link there, where eq would be a function call per link on
	// every uncached page.
	Nav  navSection
	Mode cache.Mode
	// ModeLabel is the current mode's display name.
	ModeLabel string
	// Modes are the mode switch's links: this page in every mode.
	Modes []modeLink
	// FooterKey is the footer fragment's key: the mode and its label.
	FooterKey string
	// RedisLabel names the Redis backend ("Redis (embedded)" for the
	// fallback server).
	RedisLabel string
	// Panel is the page's "The same in Flask / in Django" panel, rendered
	// by layout.html's code-panel template; empty when lessons/snippets has
	// no directory for the page. It is the same for every request, so it
	// sits in cached pages.
	Panel   template.HTML
	Content any
	// Req is the render's context for {{fragment}}; never printed.
	Req *fragment.Render
}

// modeLink is one link of the mode switch.
type modeLink struct {
	Mode, Label, URL string
	Current          bool
}

// layout builds the layout data for req. The mode switch links keep the
// page's canonical query so switching mode stays on the same page.
func (s *Server) layout(req page.Request, title, section string, content any, fr *fragment.Render) layoutData {
	d := layoutData{Title: title, Section: section, Mode: req.Mode, ModeLabel: s.label(req.Mode),
		RedisLabel: s.cfg.RedisLabel, Panel: s.panelMarkup(req.Page), Content: content, Req: fr}
	d.FooterKey = req.Mode.String() + ":" + d.ModeLabel
	d.Nav = navSectionOf(section)
	for _, m := range cache.Modes {
		d.Modes = append(d.Modes, modeLink{Mode: m.String(), Label: s.label(m),
			URL: req.URLWith("cache", m.String()), Current: m == req.Mode})
	}
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

// panelMarkup is the code panel of the page called name. The panel is the
// same on every render, so it is rendered once, when the server starts
// (renderPanels): an uncached page then prints it as one value instead of
// executing a template over a dozen fields. With DEV it is rendered every
// time, so that edits to the template show at once.
func (s *Server) panelMarkup(name string) template.HTML {
	if !s.cfg.Dev {
		return s.panelHTML[name]
	}
	h, err := s.renderPanel(name)
	if err != nil {
		s.log.Warn("code panel", "page", name, "err", err)
	}
	return h
}

// renderPanels renders every page's code panel.
func (s *Server) renderPanels() error {
	s.panelHTML = make(map[string]template.HTML, len(s.panels))
	for name := range s.panels {
		h, err := s.renderPanel(name)
		if err != nil {
			return err
		}
		s.panelHTML[name] = h
	}
	return nil
}

// renderPanel executes layout.html's code-panel template for a page's
// snippets, in that page's template set; empty when it has none.
func (s *Server) renderPanel(name string) (template.HTML, error) {
	p := s.panels[name]
	if p == nil {
		return "", nil
	}
	t, _, err := s.views.Page(name)
	if err != nil {
		return "", fmt.Errorf("lessons/snippets/%s: %w (a snippet directory is named after its page's template)", name, err)
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "code-panel", p); err != nil {
		return "", fmt.Errorf("code panel of %s: %w", name, err)
	}
	return template.HTML(buf.String()), nil
}

// pageDigest is the digest that joins a page's cache keys: its templates',
// mixed with its code panel's when it has one. The panel is part of the
// page's markup but not of its template files, and Redis keeps pages
// across restarts: without this, a snippet changed in a new build could
// be served in its old form until the page expired.
func (s *Server) pageDigest(name string) string {
	d := s.views.Digest(name)
	if j := s.joined[name]; j != nil {
		return j.of(d)
	}
	return d
}

// joinedDigest remembers a page's joined digest for its template digest of
// the moment, so that a hit (which makes its key) hashes nothing. The
// template digest only changes when DEV reparses an edited template.
type joinedDigest struct {
	panel string
	last  atomic.Pointer[[2]string] // template digest, joined digest
}

func (j *joinedDigest) of(d string) string {
	if p := j.last.Load(); p != nil && p[0] == d {
		return p[1]
	}
	sum := sha256.Sum256([]byte(d + ":" + j.panel))
	out := hex.EncodeToString(sum[:4])
	j.last.Store(&[2]string{d, out})
	return out
}
