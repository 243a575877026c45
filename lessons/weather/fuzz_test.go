package weather_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"cacheworkshop/app"
	"cacheworkshop/internal/testapp"
	"cacheworkshop/lessons/weather"
)

// FuzzCity: /api/weather?city= never fails with a 5xx and answers JSON:
// 200 for a listed city (aliases included), 404 for any other name
// weather.Normalize accepts, 400 for the rest. Normalize itself is
// idempotent and bounded, Canonical maps onto listed cities, and however
// many names are tried, the memory cache holds at most weather.KeyBound
// entries (this target stores nothing else).
func FuzzCity(f *testing.F) {
	for _, s := range []string{"Paris", " paris ", "PARIS", "São Paulo", "N'Djamena", "Saint-Étienne", "", "   ", "123",
		"<script>", "\xff", "a\x00b", strings.Repeat("a", 65), strings.Repeat("é", 64), "x y", "l’Aquila",
		"NYC", "nyc", "Sao Paulo", "Atlantis", "Zurich", "東京"} {
		f.Add(s)
	}
	a := testapp.New(f, func(c *app.Config) { c.WeatherLatency = time.Millisecond })
	// Requests are served in process, with a recorder; the built-in
	// upstream is still called over real HTTP, at the test server's
	// address, which the context says the request arrived on as a real
	// connection's would.
	local := a.TS.Listener.Addr()
	f.Fuzz(func(t *testing.T, city string) {
		norm, nerr := weather.Normalize(city)
		if nerr == nil {
			if !utf8.ValidString(norm) || utf8.RuneCountInString(norm) > weather.MaxCityLen || norm == "" {
				t.Fatalf("Normalize(%q) = %q: not a valid key", city, norm)
			}
			if again, err := weather.Normalize(norm); err != nil || again != norm {
				t.Fatalf("Normalize(Normalize(%q)) = %q, %v; want %q", city, again, err, norm)
			}
		} else if !errors.Is(nerr, weather.ErrCity) {
			t.Fatalf("Normalize(%q): error %v does not wrap ErrCity", city, nerr)
		}
		ctx := context.WithValue(context.Background(), http.LocalAddrContextKey, local)
		req := httptest.NewRequestWithContext(ctx, http.MethodGet, "/api/weather?"+url.Values{"city": {city}}.Encode(), nil)
		// The server answers only to names it knows (localhost, IP
		// addresses); httptest's default Host is example.com.
		req.Host = local.String()
		req.Header.Set("Cookie", "cache_mode=memory")
		rec := httptest.NewRecorder()
		a.Server.ServeHTTP(rec, req)
		want := http.StatusBadRequest
		if nerr == nil {
			want = http.StatusNotFound
			if key, ok := weather.Canonical(norm); ok {
				want = http.StatusOK
				if again, ok := weather.Canonical(key); !ok || again != key {
					t.Fatalf("Canonical(%q) = %q, whose own Canonical is %q, %v", norm, key, again, ok)
				}
			}
		}
		if rec.Code != want {
			t.Fatalf("city=%q: status %d, want %d: %.300s", city, rec.Code, want, rec.Body.String())
		}
		if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			t.Fatalf("city=%q: Content-Type %q, want JSON", city, ct)
		}
		if n := a.Memory.Stats().Entries; n > weather.KeyBound() {
			t.Fatalf("after city=%q: %d memory entries, over the bound %d", city, n, weather.KeyBound())
		}
	})
}
