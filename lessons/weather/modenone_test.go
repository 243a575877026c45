package weather_test

import (
	"net/http"
	"strings"
	"testing"

	"cacheworkshop/internal/testapp"
)

// TestWeatherPageModeNone checks that the page promises what each mode
// does: in mode none, BYPASS on every call and links to the modes that
// cache; in the others, a MISS then a HIT through the mode's cache.
func TestWeatherPageModeNone(t *testing.T) {
	a := testapp.New(t)
	tests := []struct {
		mode     string
		want     []string
		dontWant []string
	}{
		{"none",
			[]string{`id="weather-mode-none"`, `href="/weather?cache=memory"`, `href="/weather?cache=redis"`,
				"answers\n  <span class=\"badge badge-bypass\">BYPASS</span>"},
			[]string{`id="weather-through"`, "Fetch through No cache"}},
		{"memory",
			[]string{`id="weather-through"`, "Fetch through Memory", "Press <strong>Fetch through Memory</strong> twice"},
			[]string{`id="weather-mode-none"`}},
		{"redis",
			[]string{`id="weather-through"`, "Fetch through Redis"},
			[]string{`id="weather-mode-none"`}},
	}
	for _, tt := range tests {
		t.Run(tt.mode, func(t *testing.T) {
			r := a.Get("/weather?cache=" + tt.mode)
			if r.Status != http.StatusOK {
				t.Fatalf("status: got %v, want %v", r.Status, http.StatusOK)
			}
			for _, w := range tt.want {
				if !strings.Contains(r.Body, w) {
					t.Errorf("page lacks %q", w)
				}
			}
			for _, w := range tt.dontWant {
				if strings.Contains(r.Body, w) {
					t.Errorf("page has %q", w)
				}
			}
		})
	}
	// What the mode-none page says is what the API does there.
	for i := range 2 {
		r := a.Get("/api/weather?city=Oslo&cache=none")
		if got, want := r.Header.Get("X-Cache"), "BYPASS"; got != want {
			t.Errorf("mode none call %d: X-Cache got %v, want %v", i, got, want)
		}
	}
}
