package weather_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"cacheworkshop/lessons/weather"
)

func TestNormalize(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"Paris", "paris"},
		{" Paris ", "paris"},
		{"PARIS", "paris"},
		{"New   York", "new york"},
		{"\tnew york\n", "new york"},
		{"Saint-Étienne", "saint-étienne"},
		{"L’Aquila", "l'aquila"},
		{"Zürich", "zürich"},
		{"東京", "東京"},
		{strings.Repeat("a", 64), strings.Repeat("a", 64)},
	}
	for _, tt := range tests {
		got, err := weather.Normalize(tt.in)
		if err != nil {
			t.Errorf("Normalize(%q): %v", tt.in, err)
			continue
		}
		if got != tt.want {
			t.Errorf("Normalize(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestNormalizeRejects(t *testing.T) {
	for _, in := range []string{
		"", "   ", strings.Repeat("a", 65), "Paris1", "Paris;DROP", "<script>", "a/b",
		"---", "''", "Paris\x00", "\xff\xfe", strings.Repeat("ab ", 1000),
	} {
		got, err := weather.Normalize(in)
		if err == nil {
			t.Errorf("Normalize(%q) = %q, want an error", in, got)
			continue
		}
		if !errors.Is(err, weather.ErrCity) {
			t.Errorf("Normalize(%q) error %v does not wrap ErrCity", in, err)
		}
	}
}

func TestDisplay(t *testing.T) {
	for in, want := range map[string]string{
		// Listed cities are shown as the list writes them.
		"paris": "Paris", "new york": "New York", "saint-étienne": "Saint-Étienne", "l'aquila": "L'Aquila",
		"n'djamena": "N'Djamena", "rio de janeiro": "Rio de Janeiro",
		// Other names have each word capitalised.
		"atlantis": "Atlantis", "el dorado": "El Dorado", "mont-saint-michel": "Mont-Saint-Michel", "o'hare": "O'hare",
	} {
		if got := weather.Display(in); got != want {
			t.Errorf("Display(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCanonical(t *testing.T) {
	tests := []struct {
		in, want string // want "" means unknown
	}{
		{"Paris", "paris"},
		{" PARIS ", "paris"},
		{"NYC", "new york"},
		{"new york city", "new york"},
		{"New  York", "new york"},
		{"Zurich", "zürich"},
		{"ZÜRICH", "zürich"},
		{"Sao Paulo", "são paulo"},
		{"St-Etienne", "saint-étienne"},
		{"L’Aquila", "l'aquila"},
		{"東京", "tokyo"},
		{"Bombay", "mumbai"},
		{"LA", "los angeles"},
		{"Atlantis", ""},
		{"Parisx", ""},
		{"York", ""},
		{"New", ""},
	}
	for _, tt := range tests {
		norm, err := weather.Normalize(tt.in)
		if err != nil {
			t.Fatalf("Normalize(%q): %v", tt.in, err)
		}
		got, ok := weather.Canonical(norm)
		if tt.want == "" {
			if ok {
				t.Errorf("Canonical(%q) = %q, want unknown", norm, got)
			}
			continue
		}
		if !ok || got != tt.want {
			t.Errorf("Canonical(%q) = %q, %v; want %q, true", norm, got, ok, tt.want)
		}
	}
}

// TestCities: every listed city is its own canonical key and reads back
// as its name, and the bound the package doc states holds for the list.
func TestCities(t *testing.T) {
	list := weather.Cities()
	if len(list) < 30 {
		t.Fatalf("%d cities, want a few dozen", len(list))
	}
	if !slices.IsSorted(list) {
		t.Errorf("Cities() = %v, want alphabetical order", list)
	}
	for _, name := range list {
		key, err := weather.Normalize(name)
		if err != nil {
			t.Errorf("Normalize(%q): %v", name, err)
			continue
		}
		if got, ok := weather.Canonical(key); !ok || got != key {
			t.Errorf("Canonical(%q) = %q, %v; want %q, true", key, got, ok, key)
		}
		if got := weather.Display(key); got != name {
			t.Errorf("Display(%q) = %q, want %q", key, got, name)
		}
	}
	// The package doc says "2 × 50 + 1 = 101"; keep it true.
	if got, want := weather.KeyBound(), 2*len(list)+1; got != want || len(list) != 50 {
		t.Errorf("KeyBound() = %v for %d cities, want %v for the 50 the package doc counts", got, len(list), want)
	}
}

func TestObserve(t *testing.T) {
	t0 := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	a, b := weather.Observe("paris", t0), weather.Observe("paris", t0.Add(400*time.Millisecond))
	if a != b {
		t.Errorf("same second gave %+v and %+v, want equal readings", a, b)
	}
	if a.City != "Paris" {
		t.Errorf("City = %q, want %q", a.City, "Paris")
	}
	changed := false
	for i := 1; i <= 10; i++ {
		c := weather.Observe("paris", t0.Add(time.Duration(i)*time.Minute))
		if c.Temperature < -15 || c.Temperature > 35 {
			t.Errorf("temperature %v out of the plausible range", c.Temperature)
		}
		if c.Temperature != a.Temperature {
			changed = true
		}
	}
	if !changed {
		t.Errorf("temperature stayed %v for 10 minutes, want drift", a.Temperature)
	}
	if weather.Observe("paris", t0).Temperature == weather.Observe("oslo", t0).Temperature &&
		weather.Observe("paris", t0).Conditions == weather.Observe("oslo", t0).Conditions {
		t.Errorf("paris and oslo read the same, want per-city values")
	}
}
