package weather_test

import (
	"context"
	"maps"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"cacheworkshop/app"
	"cacheworkshop/internal/testapp"
	"cacheworkshop/lessons/weather"
)

// weatherKeys counts the keys under the workshop's weather prefix in the
// test's Redis, with SCAN as an operator would.
func weatherKeys(t *testing.T, a *testapp.App) []string {
	t.Helper()
	ctx := context.Background()
	var keys []string
	iter := a.RedisServer.Client().Scan(ctx, 0, a.Redis.Prefix()+"weather:*", 1000).Iterator()
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	if err := iter.Err(); err != nil {
		t.Fatal(err)
	}
	slices.Sort(keys)
	return keys
}

func TestWeatherUnknownCity(t *testing.T) {
	for _, mode := range []string{"none", "memory", "redis"} {
		t.Run(mode, func(t *testing.T) {
			a := testapp.New(t)
			// Two different unknown names: the second is answered from
			// the first one's cached 404, except in mode none.
			for i, tt := range []struct{ name, cache string }{{"Atlantis", "MISS"}, {"camelot", "HIT"}} {
				if mode == "none" {
					tt.cache = "BYPASS"
				}
				r := a.Get("/api/weather?cache=" + mode + "&city=" + tt.name)
				if got, want := r.Status, http.StatusNotFound; got != want {
					t.Fatalf("%s: status %v, want %v: %s", tt.name, got, want, r.Body)
				}
				m := weatherJSON(t, r)
				msg, _ := m["error"].(string)
				display := strings.ToUpper(tt.name[:1]) + tt.name[1:]
				for _, want := range []string{"“" + display + "” is not a city the weather service knows", "/weather", "NYC"} {
					if !strings.Contains(msg, want) {
						t.Errorf("%s: error %q lacks %q", tt.name, msg, want)
					}
				}
				if got := m["status"]; got != float64(404) {
					t.Errorf("%s: status field %v, want 404", tt.name, got)
				}
				if got := m["city"]; got != display {
					t.Errorf("%s: city %v, want %v", tt.name, got, display)
				}
				cities, _ := m["cities"].([]any)
				if len(cities) != len(weather.Cities()) || !slices.Contains(cities, any("Paris")) {
					t.Errorf("%s: cities %v, want the %d known ones", tt.name, cities, len(weather.Cities()))
				}
				if got := m["key"]; got != "weather:unknown" {
					t.Errorf("%s: key %v, want weather:unknown", tt.name, got)
				}
				if got := m["cache"]; got != tt.cache {
					t.Errorf("%s: cache %v, want %v", tt.name, got, tt.cache)
				}
				if got := r.Header.Get("X-Cache"); got != tt.cache {
					t.Errorf("%s: X-Cache %v, want %v", tt.name, got, tt.cache)
				}
				st := r.Header.Get("Server-Timing")
				if asked := strings.Contains(st, "upstream;desc="); asked != (tt.cache != "HIT") {
					t.Errorf("call %d: upstream asked %v, want %v (Server-Timing %q)", i, asked, tt.cache != "HIT", st)
				}
				ttl, _ := m["ttl_remaining_s"].(float64)
				if mode == "none" && ttl != 0 || mode != "none" && (ttl <= 0 || ttl > 30) {
					t.Errorf("%s: ttl_remaining_s %v, want 0 in mode none, else in (0, 30]", tt.name, ttl)
				}
			}
			// One shared key, briefly, and never a stale copy.
			_, inMemory, _ := a.Memory.Get(context.Background(), "weather:unknown")
			if inMemory != (mode == "memory") {
				t.Errorf("memory holds weather:unknown = %v, want %v", inMemory, mode == "memory")
			}
			keys := weatherKeys(t, a)
			var want []string
			if mode == "redis" {
				want = []string{a.Redis.Prefix() + "weather:unknown"}
				ttl, err := a.RedisServer.Client().TTL(context.Background(), a.Redis.Prefix()+"weather:unknown").Result()
				if err != nil || ttl <= 0 || ttl > 30*time.Second {
					t.Errorf("TTL of cw:weather:unknown = %v (%v), want in (0, 30 s]", ttl, err)
				}
			}
			if !slices.Equal(keys, want) {
				t.Errorf("redis weather keys %v, want %v", keys, want)
			}
			// A known city still works, and gets its own keys.
			if r := a.Get("/api/weather?cache=" + mode + "&city=Paris"); r.Status != http.StatusOK {
				t.Errorf("Paris after the unknown names: status %v, want 200", r.Status)
			}
		})
	}
}

// randomName is a made-up city: 8 to 15 lower-case letters, perhaps two
// words. At that length no listed city or alias can come up.
func randomName(r *rand.Rand) string {
	b := make([]byte, 8+r.IntN(8))
	for i := range b {
		b[i] = byte('a' + r.IntN(26))
	}
	if r.IntN(3) == 0 {
		b[3+r.IntN(4)] = ' '
	}
	return string(b)
}

// TestWeatherRandomNamesMakeNoKeys: a thousand made-up names in each cache
// mode store no key beyond the one shared 404, and ask the upstream once
// per mode; the weather keys stay within weather.KeyBound.
func TestWeatherRandomNamesMakeNoKeys(t *testing.T) {
	up := newFakeUpstream(t)
	a := testapp.New(t, func(c *app.Config) { c.WeatherURL = up.srv.URL })
	rdb := a.RedisServer.Client()
	ctx := context.Background()
	// Warm: a known city and the shared 404 in both backends.
	for _, mode := range []string{"memory", "redis"} {
		for _, city := range []string{"Paris", "Atlantis"} {
			a.Get("/api/weather?cache=" + mode + "&city=" + city)
		}
	}
	countRedis := func() int {
		n := 0
		iter := rdb.Scan(ctx, 0, a.Redis.Prefix()+"*", 1000).Iterator()
		for iter.Next(ctx) {
			n++
		}
		if err := iter.Err(); err != nil {
			t.Fatal(err)
		}
		return n
	}
	redisBefore, memBefore, callsBefore := countRedis(), a.Memory.Stats().Entries, up.calls.Load()
	if got, want := weatherKeys(t, a), []string{a.Redis.Prefix() + "weather:paris", a.Redis.Prefix() + "weather:stale:paris", a.Redis.Prefix() + "weather:unknown"}; !slices.Equal(got, want) {
		t.Fatalf("redis weather keys after warming: %v, want %v", got, want)
	}

	rnd := rand.New(rand.NewPCG(1, 2))
	statuses := map[string]int{}
	for range 1000 {
		name := randomName(rnd)
		if _, ok := weather.Canonical(name); ok {
			continue
		}
		for _, mode := range []string{"memory", "redis"} {
			r := a.Get("/api/weather?cache=" + mode + "&city=" + strings.ReplaceAll(name, " ", "+"))
			statuses[mode+" "+http.StatusText(r.Status)+" "+r.Header.Get("X-Cache")]++
		}
	}
	if want := map[string]int{"memory Not Found HIT": 1000, "redis Not Found HIT": 1000}; !maps.Equal(statuses, want) {
		t.Errorf("answers: %v, want %v", statuses, want)
	}
	if got := countRedis(); got != redisBefore {
		t.Errorf("keys under cw: after 1000 random names: %v, want the %v there were", got, redisBefore)
	}
	if got := a.Memory.Stats().Entries; got != memBefore {
		t.Errorf("memory entries after 1000 random names: %v, want the %v there were", got, memBefore)
	}
	if got := up.calls.Load() - callsBefore; got != 0 {
		t.Errorf("upstream calls for 1000 random names: %v, want 0 (the cached 404 answers them)", got)
	}
	if n := len(weatherKeys(t, a)); n > weather.KeyBound() {
		t.Errorf("redis weather keys: %v, over the bound %v", n, weather.KeyBound())
	}
}

// TestWeatherUnknownCityUpstreamFails: when the upstream fails for a name
// outside the list, the API says so and stores nothing, neither the
// failure nor a stale copy.
func TestWeatherUnknownCityUpstreamFails(t *testing.T) {
	up := newFakeUpstream(t)
	a := testapp.New(t, func(c *app.Config) { c.WeatherURL = up.srv.URL })
	up.state.Store("fail")
	for _, mode := range []string{"none", "memory", "redis"} {
		r := a.Get("/api/weather?cache=" + mode + "&city=Atlantis")
		if got, want := r.Status, http.StatusBadGateway; got != want {
			t.Fatalf("%s: status %v, want %v: %s", mode, got, want, r.Body)
		}
		m := weatherJSON(t, r)
		if msg, _ := m["error"].(string); !strings.Contains(msg, "not a listed city") {
			t.Errorf("%s: error %q does not say the city is not listed", mode, msg)
		}
	}
	if keys := weatherKeys(t, a); len(keys) != 0 {
		t.Errorf("redis weather keys after failures: %v, want none", keys)
	}
	if _, found, _ := a.Memory.Get(context.Background(), "weather:unknown"); found {
		t.Error("memory holds weather:unknown after a failure, want nothing")
	}
}

// TestWeatherUpstreamKnowsMore: a service that knows a city the list does
// not is believed, but its reading is never cached: keys come from the
// list only.
func TestWeatherUpstreamKnowsMore(t *testing.T) {
	up := newFakeUpstream(t)
	a := testapp.New(t, func(c *app.Config) { c.WeatherURL = up.srv.URL })
	up.state.Store("lenient")
	for _, mode := range []string{"memory", "redis"} {
		for i := range 2 {
			r := a.Get("/api/weather?cache=" + mode + "&city=Atlantis")
			if r.Status != http.StatusOK {
				t.Fatalf("%s: status %v, want 200: %s", mode, r.Status, r.Body)
			}
			m := weatherJSON(t, r)
			if m["cache"] != "MISS" || m["source"] != "upstream" {
				t.Errorf("%s call %d: cache %v, source %v; want MISS from upstream (never cached)", mode, i, m["cache"], m["source"])
			}
			if w, _ := m["warning"].(string); !strings.Contains(w, "not stored") {
				t.Errorf("%s: warning %q does not say the reading was not stored", mode, w)
			}
		}
	}
	if keys := weatherKeys(t, a); len(keys) != 0 {
		t.Errorf("redis weather keys: %v, want none", keys)
	}
	if st := a.Memory.Stats(); st.Entries != 0 {
		t.Errorf("memory entries: %v, want 0", st.Entries)
	}
}
