package handlers

import (
	"net/http/httptest"
	"strings"
	"testing"

	"cacheworkshop/cache"
)

func TestAppendPager(t *testing.T) {
	link := func(n string, cur bool) string {
		s := `<li><a href="/products?page=` + n + `"`
		if cur {
			s += ` aria-current="page"`
		}
		return s + ">" + n + "</a></li>"
	}
	gap := `<li class="gap">…</li>`
	tests := []struct {
		page, last, perPage int
		want                string
	}{
		{1, 1, 20, link("1", true)},
		{1, 50, 20, link("1", true) + link("2", false) + link("3", false) + gap + link("50", false)},
		{25, 50, 20, link("1", false) + gap + link("23", false) + link("24", false) + link("25", true) +
			link("26", false) + link("27", false) + gap + link("50", false)},
		{50, 50, 20, link("1", false) + gap + link("48", false) + link("49", false) + link("50", true)},
		{2, 3, 20, link("1", false) + link("2", true) + link("3", false)},
		{1, 2, 50, `<li><a href="/products?page=1&amp;per_page=50" aria-current="page">1</a></li>` +
			`<li><a href="/products?page=2&amp;per_page=50">2</a></li>`},
	}
	for _, tt := range tests {
		if got := string(appendPager(nil, tt.page, tt.last, tt.perPage)); got != tt.want {
			t.Errorf("appendPager(%d, %d, %d):\ngot  %s\nwant %s", tt.page, tt.last, tt.perPage, got, tt.want)
		}
	}
}

func TestModeSwitch(t *testing.T) {
	s := &Server{cfg: ServerConfig{RedisEmbedded: true}}
	tests := []struct {
		target string
		mode   cache.Mode
		want   []string
		not    []string
	}{
		{"/products?page=2&cache=redis", cache.ModeRedis, []string{
			`<li><a class="mode-link mode-link-none" href="/products?cache=none&amp;page=2" data-mode="none">No cache</a></li>`,
			`href="/products?cache=redis&amp;page=2" data-mode="redis" aria-current="true">Redis (embedded)</a>`,
		}, []string{"cache=redis&amp;cache"}},
		{"/", cache.ModeMemory, []string{`href="/?cache=memory" data-mode="memory" aria-current="true"`}, nil},
		{`/no/such/"><script>`, cache.ModeNone, []string{`href="/no/such/%22%3E%3Cscript%3E?cache=none"`}, []string{"<script>"}},
		{"//evil.example/x", cache.ModeNone, []string{`href="/.//evil.example/x?cache=none"`}, []string{`href="//`}},
		{"/weather?q=%3Cx%3E", cache.ModeNone, []string{`href="/weather?cache=none&amp;q=%3Cx%3E"`}, []string{"<x>"}},
	}
	for _, tt := range tests {
		r := httptest.NewRequest("GET", "http://example.com"+tt.target, nil)
		got := string(s.modeSwitch(nil, r, tt.mode))
		if n := strings.Count(got, "<li>"); n != len(cache.Modes) {
			t.Errorf("modeSwitch(%s): got %d items, want %d", tt.target, n, len(cache.Modes))
		}
		if n := strings.Count(got, "aria-current"); n != 1 {
			t.Errorf("modeSwitch(%s): got %d current items, want 1", tt.target, n)
		}
		for _, w := range tt.want {
			if !strings.Contains(got, w) {
				t.Errorf("modeSwitch(%s): got %s\nwant it to contain %s", tt.target, got, w)
			}
		}
		for _, w := range tt.not {
			if strings.Contains(got, w) {
				t.Errorf("modeSwitch(%s): got %s\nwant no %s", tt.target, got, w)
			}
		}
	}
}
