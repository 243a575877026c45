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

// FuzzCity: /api/weather?city= never fails with a 5xx, answers JSON, and
// serves (200) only names weather.Normalize accepts; Normalize itself is
// idempotent and bounded.
func FuzzCity(f *testing.F) {
	for _, s := range []string{"Paris", " paris ", "PARIS", "São Paulo", "N'Djamena", "Saint-Étienne", "", "   ", "123",
		"<script>", "\xff", "a\x00b", strings.Repeat("a", 65), strings.Repeat("é", 64), "x y", "l’Aquila"} {
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
		req.Header.Set("Cookie", "cache_mode=memory")
		rec := httptest.NewRecorder()
		a.Server.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("city=%q: status %d: %.300s", city, rec.Code, rec.Body.String())
		}
		if rec.Code == http.StatusOK && nerr != nil {
			t.Fatalf("city=%q: 200 for a name Normalize refuses (%v)", city, nerr)
		}
		if rec.Code != http.StatusOK && nerr == nil {
			t.Fatalf("city=%q: status %d for a name Normalize accepts: %.300s", city, rec.Code, rec.Body.String())
		}
		if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			t.Fatalf("city=%q: Content-Type %q, want JSON", city, ct)
		}
	})
}
