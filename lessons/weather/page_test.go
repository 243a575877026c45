package weather_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"cacheworkshop/app"
	"cacheworkshop/internal/testapp"
	"cacheworkshop/lessons/weather"
)

// weatherJSON decodes an /api/weather body, failing the test when it is not
// a JSON object.
func weatherJSON(t *testing.T, r *testapp.Resp) map[string]any {
	t.Helper()
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("Content-Type %v, want application/json (body %s)", ct, r.Body)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(r.Body), &m); err != nil {
		t.Fatalf("body is not JSON: %v: %s", err, r.Body)
	}
	return m
}

var weatherFields = []string{"city", "temperature", "conditions", "observed_at", "source", "cache",
	"upstream_ms", "total_ms", "ttl_remaining_s"}

func TestWeatherAPIMissThenHit(t *testing.T) {
	tests := []struct {
		mode          string
		cache, source []string
	}{
		{"none", []string{"BYPASS", "BYPASS"}, []string{"upstream", "upstream"}},
		{"memory", []string{"MISS", "HIT"}, []string{"upstream", "memory"}},
		{"redis", []string{"MISS", "HIT"}, []string{"upstream", "redis"}},
	}
	for _, tt := range tests {
		t.Run(tt.mode, func(t *testing.T) {
			a := testapp.New(t)
			var first map[string]any
			for i := range tt.cache {
				r := a.Get("/api/weather?city=Paris&cache=" + tt.mode)
				if r.Status != http.StatusOK {
					t.Fatalf("call %d: status %v, want %v: %s", i, r.Status, http.StatusOK, r.Body)
				}
				m := weatherJSON(t, r)
				for _, f := range weatherFields {
					if _, ok := m[f]; !ok {
						t.Errorf("call %d: JSON lacks %q: %s", i, f, r.Body)
					}
				}
				if got, want := m["cache"], tt.cache[i]; got != want {
					t.Errorf("call %d: cache %v, want %v", i, got, want)
				}
				if got, want := r.Header.Get("X-Cache"), tt.cache[i]; got != want {
					t.Errorf("call %d: X-Cache %v, want %v", i, got, want)
				}
				if got, want := r.Header.Get("X-Cache-Mode"), tt.mode; got != want {
					t.Errorf("call %d: X-Cache-Mode %v, want %v", i, got, want)
				}
				if got, want := m["source"], tt.source[i]; got != want {
					t.Errorf("call %d: source %v, want %v", i, got, want)
				}
				if got, want := m["city"], "Paris"; got != want {
					t.Errorf("call %d: city %v, want %v", i, got, want)
				}
				if _, err := time.Parse(time.RFC3339, m["observed_at"].(string)); err != nil {
					t.Errorf("call %d: observed_at %v: %v", i, m["observed_at"], err)
				}
				st := r.Header.Get("Server-Timing")
				// The data lookup is traced with its backend, outcome and key.
				lookup := `data;desc="` + tt.mode + " " + strings.ToLower(tt.cache[i]) + ` weather:paris"`
				for _, part := range []string{lookup, "db;", "total;dur="} {
					if !strings.Contains(st, part) {
						t.Errorf("call %d: Server-Timing %q lacks %q", i, st, part)
					}
				}
				ttl := m["ttl_remaining_s"].(float64)
				switch tt.cache[i] {
				case "HIT":
					if m["upstream_ms"].(float64) != 0 {
						t.Errorf("call %d: upstream_ms %v on a hit, want 0", i, m["upstream_ms"])
					}
					if ttl <= 0 || ttl > 60 {
						t.Errorf("call %d: ttl_remaining_s %v, want in (0, 60]", i, ttl)
					}
					// A hit returns the stored reading, not a new one.
					for _, f := range []string{"temperature", "conditions", "observed_at"} {
						if m[f] != first[f] {
							t.Errorf("call %d: %s %v, want the cached %v", i, f, m[f], first[f])
						}
					}
					if !strings.Contains(st, "hit") || strings.Contains(st, "upstream;") {
						t.Errorf("call %d: Server-Timing %q should show a hit and no upstream call", i, st)
					}
				case "MISS":
					if ttl != 60 {
						t.Errorf("call %d: ttl_remaining_s %v, want 60", i, ttl)
					}
					if !strings.Contains(st, "upstream;desc=") {
						t.Errorf("call %d: Server-Timing %q lacks the upstream call", i, st)
					}
				case "BYPASS":
					if ttl != 0 {
						t.Errorf("call %d: ttl_remaining_s %v, want 0", i, ttl)
					}
				}
				if i == 0 {
					first = m
				}
			}
			// Mode none stores nothing; the others store a fresh and a
			// stale copy.
			_, inMemory, _ := a.Memory.Get(context.Background(), "weather:paris")
			_, inRedis, _ := a.Redis.Get(context.Background(), "weather:paris")
			_, staleRedis, _ := a.Redis.Get(context.Background(), "weather:stale:paris")
			if inMemory != (tt.mode == "memory") || inRedis != (tt.mode == "redis") || staleRedis != (tt.mode == "redis") {
				t.Errorf("stored: memory %v, redis %v, redis stale %v; want only mode %v", inMemory, inRedis, staleRedis, tt.mode)
			}
		})
	}
}

func TestWeatherKeyNormalisation(t *testing.T) {
	for _, mode := range []string{"memory", "redis"} {
		t.Run(mode, func(t *testing.T) {
			a := testapp.New(t)
			tests := []struct {
				query, cache, key string
			}{
				{"city=%20Paris%20", "MISS", "weather:paris"},
				{"city=PARIS", "HIT", "weather:paris"},
				{"city=paris&x=1", "HIT", "weather:paris"},
				{"x=2&city=pArIs&utm_source=y", "HIT", "weather:paris"},
				{"city=new%20%20%20york", "MISS", "weather:new york"},
				{"city=New+York", "HIT", "weather:new york"},
				{"city=Saint-%C3%89tienne", "MISS", "weather:saint-étienne"},
				{"city=SAINT-%C3%89TIENNE%20", "HIT", "weather:saint-étienne"},
				// An alias is its city's key, whatever its case.
				{"city=Saint-Etienne", "HIT", "weather:saint-étienne"},
				{"city=NYC", "HIT", "weather:new york"},
				{"city=nyc", "HIT", "weather:new york"},
				{"city=New+York+City", "HIT", "weather:new york"},
				{"city=Zurich", "MISS", "weather:zürich"},
				{"city=Z%C3%BCrich", "HIT", "weather:zürich"},
				{"city=%E5%8C%97%E4%BA%AC", "MISS", "weather:beijing"},
				{"city=Peking", "HIT", "weather:beijing"},
			}
			for _, tt := range tests {
				r := a.Get("/api/weather?cache=" + mode + "&" + tt.query)
				if r.Status != http.StatusOK {
					t.Fatalf("%s: status %v, want %v: %s", tt.query, r.Status, http.StatusOK, r.Body)
				}
				m := weatherJSON(t, r)
				if got := m["cache"]; got != tt.cache {
					t.Errorf("%s: cache %v, want %v", tt.query, got, tt.cache)
				}
				if got := m["key"]; got != tt.key {
					t.Errorf("%s: key %v, want %v", tt.query, got, tt.key)
				}
			}
		})
	}
}

func TestWeatherRejectsBadCity(t *testing.T) {
	a := testapp.New(t)
	long := strings.Repeat("a", 65)
	for _, q := range []string{
		"", "city=", "city=%20%20", "city=" + long, "city=Paris1", "city=%3Cscript%3E", "city=a%3Bb",
		"city=Paris&city=Rome", "city=---", "city=%00", "city=%FF",
	} {
		for _, mode := range []string{"none", "memory", "redis"} {
			r := a.Get("/api/weather?cache=" + mode + "&" + q)
			if r.Status != http.StatusBadRequest {
				t.Errorf("%s (%s): status %v, want %v: %s", q, mode, r.Status, http.StatusBadRequest, r.Body)
				continue
			}
			m := weatherJSON(t, r)
			if msg, _ := m["error"].(string); msg == "" {
				t.Errorf("%s: no error message: %s", q, r.Body)
			}
			if got := m["status"]; got != float64(400) {
				t.Errorf("%s: status field %v, want 400", q, got)
			}
		}
	}
	// Nothing was stored for any of them.
	if keys, _ := a.RedisServer.Client().Keys(context.Background(), a.Redis.Prefix()+"weather:*").Result(); len(keys) != 0 {
		t.Errorf("redis weather keys after bad requests: %v, want none", keys)
	}
	if st := a.Memory.Stats(); st.Sets != 0 {
		t.Errorf("memory sets after bad requests = %v, want 0", st.Sets)
	}
}

// fakeUpstream is a weather service the test can break: it serves real
// readings until told to fail (500) or hang past the API's timeout.
type fakeUpstream struct {
	srv   *httptest.Server
	state atomic.Value // "ok", "fail", "slow", "garbage", "lagging", "lenient"
	calls atomic.Int64
	paths chan string
}

func newFakeUpstream(t *testing.T) *fakeUpstream {
	f := &fakeUpstream{paths: make(chan string, 100)}
	f.state.Store("ok")
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.calls.Add(1)
		select {
		case f.paths <- r.URL.Path:
		default:
		}
		switch f.state.Load() {
		case "fail":
			http.Error(w, `{"error":"maintenance"}`, http.StatusInternalServerError)
			return
		case "slow":
			select {
			case <-r.Context().Done():
			case <-time.After(10 * time.Second):
			}
			return
		case "garbage":
			_, _ = w.Write([]byte("<html>not json</html>"))
			return
		case "lagging":
			// Answers, but slowly enough that concurrent callers overlap.
			time.Sleep(300 * time.Millisecond)
		}
		key, err := weather.Normalize(r.URL.Query().Get("city"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		// Like the built-in upstream, it knows the listed cities only,
		// unless it is a service that knows more ("lenient").
		if _, ok := weather.Canonical(key); !ok && f.state.Load() != "lenient" {
			http.Error(w, `{"error":"unknown city"}`, http.StatusNotFound)
			return
		}
		_ = json.NewEncoder(w).Encode(weather.Observe(key, time.Now()))
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func TestWeatherUpstreamFailure(t *testing.T) {
	tests := []struct {
		state  string
		status int
		words  string
	}{
		{"fail", http.StatusBadGateway, "500"},
		{"garbage", http.StatusBadGateway, "not a weather reading"},
		{"slow", http.StatusGatewayTimeout, "timeout"},
		{"down", http.StatusBadGateway, "could not be reached"},
	}
	for _, tt := range tests {
		t.Run(tt.state, func(t *testing.T) {
			up := newFakeUpstream(t)
			a := testapp.New(t, func(c *app.Config) { c.WeatherURL = up.srv.URL })
			if tt.state == "down" {
				up.srv.Close()
			} else {
				up.state.Store(tt.state)
			}
			for _, mode := range []string{"none", "memory", "redis"} {
				r := a.Get("/api/weather?city=Lyon&cache=" + mode)
				if r.Status != tt.status {
					t.Fatalf("%s: status %v, want %v: %s", mode, r.Status, tt.status, r.Body)
				}
				m := weatherJSON(t, r)
				msg, _ := m["error"].(string)
				if !strings.Contains(msg, tt.words) {
					t.Errorf("%s: error %q lacks %q", mode, msg, tt.words)
				}
				if got := m["status"]; got != float64(tt.status) {
					t.Errorf("%s: status field %v, want %v", mode, got, tt.status)
				}
				want := "MISS"
				if mode == "none" {
					want = "BYPASS"
				}
				if got := r.Header.Get("X-Cache"); got != want {
					t.Errorf("%s: X-Cache %v, want %v", mode, got, want)
				}
				if st := r.Header.Get("Server-Timing"); !strings.Contains(st, "upstream;desc=\"http error") {
					t.Errorf("%s: Server-Timing %q does not show the failed upstream call", mode, st)
				}
			}
			// Failures are never cached.
			if keys, _ := a.RedisServer.Client().Keys(context.Background(), a.Redis.Prefix()+"weather:*").Result(); len(keys) != 0 {
				t.Errorf("redis weather keys after failures: %v, want none", keys)
			}
		})
	}
}

func TestWeatherServesStaleWhenUpstreamFails(t *testing.T) {
	for _, mode := range []string{"memory", "redis"} {
		for _, failure := range []string{"fail", "slow"} {
			t.Run(mode+"/"+failure, func(t *testing.T) {
				up := newFakeUpstream(t)
				a := testapp.New(t, func(c *app.Config) { c.WeatherURL = up.srv.URL + "/upstream/weather" })
				r := a.Get("/api/weather?city=Oslo&cache=" + mode)
				if r.Status != http.StatusOK {
					t.Fatalf("first call: status %v: %s", r.Status, r.Body)
				}
				good := weatherJSON(t, r)
				// Expire the fresh copy as its TTL would; the stale copy stays.
				if mode == "memory" {
					_ = a.Memory.Delete(context.Background(), "weather:oslo")
				} else {
					_ = a.Redis.Delete(context.Background(), "weather:oslo")
				}
				up.state.Store(failure)
				r = a.Get("/api/weather?city=oslo&cache=" + mode)
				if r.Status != http.StatusOK {
					t.Fatalf("stale call: status %v, want %v: %s", r.Status, http.StatusOK, r.Body)
				}
				m := weatherJSON(t, r)
				if m["stale"] != true {
					t.Errorf("stale = %v, want true: %s", m["stale"], r.Body)
				}
				if w, _ := m["warning"].(string); !strings.Contains(w, "last good reading") {
					t.Errorf("warning %q does not say the reading is old", w)
				}
				if got := m["source"]; got != mode {
					t.Errorf("source %v, want %v", got, mode)
				}
				if got := m["cache"]; got != "MISS" {
					t.Errorf("cache %v, want MISS (the fresh copy had expired)", got)
				}
				for _, f := range []string{"temperature", "conditions", "observed_at", "city"} {
					if m[f] != good[f] {
						t.Errorf("%s %v, want the last good %v", f, m[f], good[f])
					}
				}
				if got := m["ttl_remaining_s"]; got != float64(0) {
					t.Errorf("ttl_remaining_s %v, want 0", got)
				}
				if st := r.Header.Get("Server-Timing"); !strings.Contains(st, "stale;desc=\""+mode+" hit weather:stale:oslo") {
					t.Errorf("Server-Timing %q lacks the stale hit", st)
				}
				// Another city has no stale copy: a plain error.
				r = a.Get("/api/weather?city=Bergen&cache=" + mode)
				if r.Status != http.StatusBadGateway && r.Status != http.StatusGatewayTimeout {
					t.Errorf("uncached city: status %v, want 502 or 504", r.Status)
				}
				// Once the upstream is back, a fresh reading replaces the stale one.
				up.state.Store("ok")
				r = a.Get("/api/weather?city=Oslo&cache=" + mode)
				if m := weatherJSON(t, r); r.Status != http.StatusOK || m["stale"] != nil || m["cache"] != "MISS" {
					t.Errorf("after recovery: status %v, stale %v, cache %v; want 200, absent, MISS", r.Status, m["stale"], m["cache"])
				}
			})
		}
	}
}

func TestWeatherConcurrentMissesShareOneCall(t *testing.T) {
	// Every request in mode none calls the upstream; in a cache mode,
	// concurrent misses for one city wait for a single call.
	for _, tt := range []struct {
		mode  string
		calls int64
	}{{"none", 8}, {"memory", 1}, {"redis", 1}} {
		t.Run(tt.mode, func(t *testing.T) {
			up := newFakeUpstream(t)
			up.state.Store("lagging")
			a := testapp.New(t, func(c *app.Config) { c.WeatherURL = up.srv.URL })
			statuses := a.GetParallel(8, "/api/weather?city=Nantes&cache="+tt.mode)
			for i, st := range statuses {
				if st != http.StatusOK {
					t.Errorf("request %d: status %v, want %v", i, st, http.StatusOK)
				}
			}
			if got := up.calls.Load(); got != tt.calls {
				t.Errorf("upstream calls = %v, want %v", got, tt.calls)
			}
		})
	}
}

func TestWeatherUpstreamURLForms(t *testing.T) {
	for _, suffix := range []string{"", "/", "/upstream/weather"} {
		up := newFakeUpstream(t)
		a := testapp.New(t, func(c *app.Config) { c.WeatherURL = up.srv.URL + suffix })
		if r := a.Get("/api/weather?city=Rome&cache=none"); r.Status != http.StatusOK {
			t.Fatalf("%q: status %v: %s", suffix, r.Status, r.Body)
		}
		if got, want := <-up.paths, "/upstream/weather"; got != want {
			t.Errorf("%q: upstream path %v, want %v", suffix, got, want)
		}
	}
}

func TestWeatherRedisDownAsksUpstream(t *testing.T) {
	a := testapp.New(t)
	a.RedisServer.Stop()
	r := a.Get("/api/weather?city=Paris&cache=redis")
	if r.Status != http.StatusOK {
		t.Fatalf("status %v, want %v: %s", r.Status, http.StatusOK, r.Body)
	}
	m := weatherJSON(t, r)
	if m["source"] != "upstream" || m["cache"] != "MISS" {
		t.Errorf("source %v, cache %v; want upstream, MISS", m["source"], m["cache"])
	}
	if w, _ := m["warning"].(string); !strings.Contains(w, "could not be read") {
		t.Errorf("warning %q does not say the cache failed", w)
	}
}

func TestWeatherIgnoresHostHeader(t *testing.T) {
	// The built-in upstream is reached at the connection's local address;
	// the Host header must not redirect the server's own request. Unknown
	// names are refused before the lesson runs, so the forged Host is an
	// allowed name at a port where nothing listens.
	a := testapp.New(t)
	req, err := http.NewRequest(http.MethodGet, a.TS.URL+"/api/weather?city=Paris&cache=none", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = "localhost:1"
	r := a.Do(req)
	if r.Status != http.StatusOK {
		t.Fatalf("status %v, want %v: %s", r.Status, http.StatusOK, r.Body)
	}
}

func TestUpstreamWeather(t *testing.T) {
	a := testapp.New(t)
	tests := []struct {
		query  string
		status int
		city   string // the reading's city, for a 200
	}{
		{"city=Paris", http.StatusOK, "Paris"},
		{"city=%20paris%20&delay_ms=0", http.StatusOK, "Paris"},
		{"city=NYC&delay_ms=0", http.StatusOK, "New York"},
		{"city=sao+paulo&delay_ms=0", http.StatusOK, "São Paulo"},
		{"city=Atlantis&delay_ms=0", http.StatusNotFound, ""},
		{"city=Paris&fail=1", http.StatusServiceUnavailable, ""},
		{"city=Paris&delay_ms=abc", http.StatusBadRequest, ""},
		{"city=Paris&delay_ms=-5", http.StatusBadRequest, ""},
		{"city=Paris&delay_ms=5001", http.StatusBadRequest, ""},
		// Digits only, given once.
		{"city=Paris&delay_ms=%2B5", http.StatusBadRequest, ""},
		{"city=Paris&delay_ms=+5", http.StatusBadRequest, ""},
		{"city=Paris&delay_ms=%205", http.StatusBadRequest, ""},
		{"city=Paris&delay_ms=5%20", http.StatusBadRequest, ""},
		{"city=Paris&delay_ms=5e2", http.StatusBadRequest, ""},
		{"city=Paris&delay_ms=0x5", http.StatusBadRequest, ""},
		{"city=Paris&delay_ms=5&delay_ms=500", http.StatusBadRequest, ""},
		{"city=Paris&fail=1&fail=0", http.StatusBadRequest, ""},
		{"city=Paris&city=Rome", http.StatusBadRequest, ""},
		{"city=Paris1", http.StatusBadRequest, ""},
		{"", http.StatusBadRequest, ""},
	}
	for _, tt := range tests {
		r := a.Get("/upstream/weather?" + tt.query)
		if r.Status != tt.status {
			t.Errorf("%s: status %v, want %v: %s", tt.query, r.Status, tt.status, r.Body)
			continue
		}
		m := weatherJSON(t, r)
		if tt.status != http.StatusOK {
			if _, ok := m["error"]; !ok {
				t.Errorf("%s: no error field: %s", tt.query, r.Body)
			}
			continue
		}
		var keys []string
		for k := range m {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		if want := []string{"city", "conditions", "observed_at", "temperature"}; !slices.Equal(keys, want) {
			t.Errorf("%s: fields %v, want %v", tt.query, keys, want)
		}
		if m["city"] != tt.city {
			t.Errorf("%s: city %v, want %v", tt.query, m["city"], tt.city)
		}
	}
}

func TestWeatherPage(t *testing.T) {
	a := testapp.New(t)
	for _, tt := range []struct {
		mode, label string
		xcache      []string
	}{
		{"none", "No cache", []string{"BYPASS", "BYPASS"}},
		{"memory", "Memory", []string{"MISS", "HIT"}},
		{"redis", "Redis", []string{"MISS", "HIT"}},
	} {
		for i, want := range tt.xcache {
			r := a.Get("/weather?cache=" + tt.mode + "&junk=" + url.QueryEscape("<x>"))
			if r.Status != http.StatusOK {
				t.Fatalf("%s: status %v", tt.mode, r.Status)
			}
			if got := r.Header.Get("X-Cache"); got != want {
				t.Errorf("%s request %d: X-Cache %v, want %v", tt.mode, i, got, want)
			}
			texts := []string{
				"Fetch fresh (no cache)", `name="cache" value="none"`,
				"weather.js", "chart-4.6.1.umd.min.js", "Try this", `id="weather-chart"`,
			}
			// Mode none has no cache to fetch through: TestWeatherPageModeNone
			// checks what it offers instead.
			if tt.mode != "none" {
				texts = append(texts, `name="cache" value="`+tt.mode+`" id="weather-through">Fetch through `+tt.label)
			}
			for _, s := range texts {
				if !strings.Contains(r.Body, s) {
					t.Errorf("%s: page lacks %q", tt.mode, s)
				}
			}
			if strings.Contains(r.Body, "junk") {
				t.Errorf("%s: the page echoes an unknown query parameter", tt.mode)
			}
		}
	}
}
