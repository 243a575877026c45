package handlers

import (
	"html"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestCookieValue(t *testing.T) {
	tests := []struct {
		header []string
		want   string
		found  bool
	}{
		{nil, "", false},
		{[]string{"cache_mode=redis"}, "redis", true},
		{[]string{"a=1; cache_mode=memory; b=2"}, "memory", true},
		{[]string{"a=1;cache_mode=none"}, "none", true},
		{[]string{`cache_mode="redis"`}, "redis", true},
		{[]string{"cache_mode="}, "", true},
		{[]string{"cache_modex=redis"}, "", false},
		{[]string{"xcache_mode=redis"}, "", false},
		{[]string{"cache_mode"}, "", false},
		{[]string{"a=1", "cache_mode=redis"}, "redis", true},
		{[]string{"cache_mode=memory; cache_mode=redis"}, "memory", true},
	}
	for _, tt := range tests {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header["Cookie"] = tt.header
		got, found := cookieValue(r, modeCookie)
		if got != tt.want || found != tt.found {
			t.Errorf("cookieValue(%q): got %q, %v, want %q, %v", tt.header, got, found, tt.want, tt.found)
		}
		// Agree with net/http wherever it finds a value (it also reads
		// a bare name as an empty value, which is no mode either way).
		if c, err := r.Cookie(modeCookie); err == nil && c.Value != "" && (c.Value != got || !found) {
			t.Errorf("cookieValue(%q): got %q, %v, net/http reads %q", tt.header, got, found, c.Value)
		}
	}
}

func TestAppendEscaped(t *testing.T) {
	tests := []string{
		"", "plain", `<script>alert("x")</script>`, "a & b", "it's", "tail<", ">head",
		"nul\x00byte", "ümlaut ✓", `desc="memory hit page:list";dur=0.01`, "\xff\xfe",
	}
	for _, in := range tests {
		want := strings.ReplaceAll(html.EscapeString(in), "\x00", "\uFFFD")
		if got := string(appendEscaped([]byte("x"), in)); got != "x"+want {
			t.Errorf("appendEscaped(%q): got %q, want %q", in, got, "x"+want)
		}
		if got := string(appendEscapedBytes(nil, []byte(in))); got != want {
			t.Errorf("appendEscapedBytes(%q): got %q, want %q", in, got, want)
		}
		if utf8.ValidString(in) && !utf8.ValidString(want) {
			t.Errorf("appendEscaped(%q) broke UTF-8", in)
		}
	}
}
