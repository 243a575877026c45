package handlers

import (
	"net/http"
	"strings"
	"testing"
)

func TestHostNamesAllowed(t *testing.T) {
	h := newHostNames("teacher-laptop:8080", []string{"Classroom.Local.", " ", "10.0.0.9"})
	for _, tc := range []struct {
		host string
		want bool
	}{
		{"localhost", true},
		{"localhost:8080", true},
		{"LOCALHOST.:1", true},
		{"teacher-laptop:8080", true},
		{"teacher-laptop", true},
		{"classroom.local:9000", true},
		{"127.0.0.1:8080", true},
		{"192.168.1.20", true},
		{"[::1]:8080", true},
		{"[::1]", true},
		{"::1", true},
		{"[fe80::1%25eth0]:80", true},
		{"", false},
		{"evil.example", false},
		{"evil.example:8080", false},
		{"localhost.evil.example", false},
		{"sub.localhost", false},
		{"classroom.local.evil.example", false},
		{"[evil.example]:80", false},
		{"127.0.0.1.nip.io", false},
		{"0x7f000001", false},
	} {
		if got := h.allowed(tc.host); got != tc.want {
			t.Errorf("allowed(%q): got %v, want %v", tc.host, got, tc.want)
		}
	}
	// IP literals need no entry, and an entry is listed once, as given.
	if got, want := strings.Join(h.list, ", "), "localhost, teacher-laptop, classroom.local"; got != want {
		t.Errorf("list: got %q, want %q", got, want)
	}
	if got := newHostNames(":8080", nil).list; len(got) != 1 || got[0] != "localhost" {
		t.Errorf("list for :8080: got %q, want [localhost]", got)
	}
}

func TestPrivateIfCookie(t *testing.T) {
	for _, tc := range []struct {
		cc     string
		cookie bool
		want   string
	}{
		{"public, max-age=3600", true, "private, max-age=3600"},
		{"public, max-age=3600", false, "public, max-age=3600"},
		{"Public,max-age=5,must-revalidate", true, "private, max-age=5, must-revalidate"},
		{"max-age=60", true, "private, max-age=60"},
		{"no-cache", true, "private, no-cache"},
		{"", true, "private"},
		{"", false, ""},
		{"no-store", true, "no-store"},
		{"private, max-age=60", true, "private, max-age=60"},
	} {
		h := http.Header{}
		if tc.cc != "" {
			h.Set("Cache-Control", tc.cc)
		}
		if tc.cookie {
			h.Add("Set-Cookie", "cache_mode=redis; Path=/")
		}
		privateIfCookie(h)
		if got := h.Get("Cache-Control"); got != tc.want {
			t.Errorf("Cache-Control %q, cookie %v: got %q, want %q", tc.cc, tc.cookie, got, tc.want)
		}
	}
}
