package handlers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/go-chi/chi/v5"

	"cacheworkshop/cache"
	"cacheworkshop/trace"
	"cacheworkshop/weather"
)

const (
	// weatherStaleTTL is how long the last good reading is kept to answer
	// with when the upstream fails: long after the fresh copy expired.
	weatherStaleTTL = 24 * time.Hour
	// weatherMaxDelay bounds the upstream's delay_ms knob.
	weatherMaxDelay = 60 * time.Second
	// weatherPath is the simulated upstream's route.
	weatherPath = "/upstream/weather"
)

// weatherClient calls the upstream. Its transport is separate from the
// default one so the demo's connections never share a pool with anything
// else; the timeout is set per call from the configured latency.
var weatherClient = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}

// weatherRoutes registers this demo's routes.
func (s *Server) weatherRoutes(r chi.Router) {
	r.Get("/weather", s.handle(s.serveWeatherPage))
	r.Get("/api/weather", s.handle(s.serveWeatherAPI))
	r.Get(weatherPath, s.serveUpstreamWeather)
}

func (s *Server) weatherTTL() time.Duration {
	if s.cfg.WeatherTTL > 0 {
		return s.cfg.WeatherTTL
	}
	return time.Minute
}

// weatherTimeout is how long the API waits for the upstream: twice its
// normal latency plus two seconds, so only a really stuck upstream (not a
// busy machine) times out, but never so long that a learner waits minutes.
func (s *Server) weatherTimeout() time.Duration {
	d := 2*s.cfg.WeatherLatency + 2*time.Second
	if d > 30*time.Second {
		d = 30 * time.Second
	}
	return d
}

// weatherRecord is a reading as cached: the upstream's values plus when it
// was fetched and when the fresh copy expires, so a hit can report its
// remaining TTL without asking the backend.
type weatherRecord struct {
	weather.Reading
	FetchedAt  time.Time `json:"fetched_at"`
	ExpiresAt  time.Time `json:"expires_at"`
	UpstreamMS float64   `json:"upstream_ms"`
}

// weatherResponse is /api/weather's JSON.
type weatherResponse struct {
	City          string    `json:"city"`
	Temperature   float64   `json:"temperature"`
	Conditions    string    `json:"conditions"`
	ObservedAt    time.Time `json:"observed_at"`
	Source        string    `json:"source"` // upstream, memory or redis
	Cache         string    `json:"cache"`  // HIT, MISS or BYPASS
	UpstreamMS    float64   `json:"upstream_ms"`
	TotalMS       float64   `json:"total_ms"`
	TTLRemainingS int       `json:"ttl_remaining_s"`
	Key           string    `json:"key"`
	Stale         bool      `json:"stale,omitempty"`
	Warning       string    `json:"warning,omitempty"`
}

// weatherError is the JSON of a failed call. It keeps the cache and timing
// fields so the page's table and chart can show failures like successes.
type weatherError struct {
	Error      string  `json:"error"`
	Status     int     `json:"status"`
	City       string  `json:"city"`
	Key        string  `json:"key"`
	Source     string  `json:"source"`
	Cache      string  `json:"cache"`
	UpstreamMS float64 `json:"upstream_ms"`
	TotalMS    float64 `json:"total_ms"`
}

// upstreamError is a failed upstream call and the status the API answers
// with: 504 when it was too slow, 502 for anything else.
type upstreamError struct {
	status int
	msg    string
	cause  error // for the log only
}

// Error implements error.
func (e *upstreamError) Error() string { return e.msg }

// Unwrap returns the underlying error.
func (e *upstreamError) Unwrap() error { return e.cause }

// serveWeatherAPI answers /api/weather?city=: the city's reading from the
// request's cache mode, or from the upstream on a miss (then cached for
// WeatherTTL). When the upstream fails, the last good reading (kept for a
// day) is served with 200, "stale": true and a warning; with none, the
// answer is 502 (upstream broken) or 504 (upstream too slow).
func (s *Server) serveWeatherAPI(w http.ResponseWriter, r *http.Request) error {
	raw, err := singleParam(r, "city")
	if err != nil {
		return err
	}
	if !r.URL.Query().Has("city") {
		return errBadRequest("Give a city, e.g. /api/weather?city=Paris; " + weather.ErrCity.Error() + ".")
	}
	city, err := weather.Normalize(raw)
	if err != nil {
		return errBadRequest(err.Error())
	}
	ctx := r.Context()
	tr := trace.From(ctx)
	mode := cache.ModeFrom(ctx)
	key := "weather:" + city
	staleKey := "weather:stale:" + city

	var c cache.Cache
	outcome := trace.Bypass
	var warnings []string
	if mode == cache.ModeNone {
		tr.Cache(trace.Lookup{Layer: "page", Backend: "none", Key: key, Outcome: trace.Bypass})
	} else {
		c, _ = s.backend(mode)
		outcome = trace.Miss
		t0 := time.Now()
		v, found, err := c.Get(ctx, key)
		l := trace.Lookup{Layer: "page", Backend: c.Name(), Key: key, Outcome: trace.Miss, Dur: time.Since(t0)}
		switch {
		case err != nil:
			l.Outcome = trace.Error
			s.log.Warn("weather cache read failed; asking the upstream", "key", key, "err", err)
			warnings = append(warnings, "The "+c.Name()+" cache could not be read ("+short(err)+"), so the upstream was asked directly.")
		case found:
			var rec weatherRecord
			if json.Unmarshal(v, &rec) == nil && rec.City != "" {
				l.Outcome = trace.Hit
				tr.Cache(l)
				resp := weatherResponse{City: rec.City, Temperature: rec.Temperature, Conditions: rec.Conditions,
					ObservedAt: rec.ObservedAt, Source: c.Name(), Cache: trace.Hit, Key: key,
					TTLRemainingS: ceilSeconds(time.Until(rec.ExpiresAt))}
				s.writeWeatherJSON(w, r, http.StatusOK, trace.Hit, &resp)
				return nil
			}
			s.log.Warn("discarding unreadable weather entry", "key", key)
		}
		tr.Cache(l)
	}

	target, err := s.weatherUpstreamURL(r, city)
	if err != nil {
		return err
	}
	rec, took, err := s.fetchWeather(ctx, mode, target, c, key, staleKey)
	ul := trace.Lookup{Layer: "upstream", Backend: "http", Key: "GET " + pathAndQuery(target), Outcome: "read", Dur: took}
	if err != nil {
		ul.Outcome = trace.Error
	}
	tr.Cache(ul)
	if err == nil {
		resp := weatherResponse{City: rec.City, Temperature: rec.Temperature, Conditions: rec.Conditions,
			ObservedAt: rec.ObservedAt, Source: "upstream", Cache: outcome, Key: key, UpstreamMS: millis(took)}
		if c != nil && !rec.ExpiresAt.IsZero() {
			resp.TTLRemainingS = ceilSeconds(time.Until(rec.ExpiresAt))
		}
		if c != nil && rec.ExpiresAt.IsZero() {
			warnings = append(warnings, "The reading could not be stored in the "+c.Name()+" cache, so the next request asks the upstream again.")
		}
		resp.Warning = strings.Join(warnings, " ")
		s.writeWeatherJSON(w, r, http.StatusOK, outcome, &resp)
		return nil
	}

	var ue *upstreamError
	if !errors.As(err, &ue) {
		ue = &upstreamError{status: http.StatusBadGateway, msg: "The weather service failed.", cause: err}
	}
	if c != nil {
		t0 := time.Now()
		v, found, gerr := c.Get(ctx, staleKey)
		l := trace.Lookup{Layer: "stale", Backend: c.Name(), Key: staleKey, Outcome: trace.Miss, Dur: time.Since(t0)}
		var rec weatherRecord
		switch {
		case gerr != nil:
			l.Outcome = trace.Error
		case found && json.Unmarshal(v, &rec) == nil && rec.City != "":
			l.Outcome = trace.Hit
			tr.Cache(l)
			resp := weatherResponse{City: rec.City, Temperature: rec.Temperature, Conditions: rec.Conditions,
				ObservedAt: rec.ObservedAt, Source: c.Name(), Cache: outcome, Key: key, UpstreamMS: millis(took),
				Stale: true, Warning: ue.msg + " This is the last good reading, fetched " + ago(time.Since(rec.FetchedAt)) +
					" ago and kept for such failures: it may be out of date."}
			s.writeWeatherJSON(w, r, http.StatusOK, outcome, &resp)
			return nil
		}
		tr.Cache(l)
	}
	msg := ue.msg
	if c != nil {
		msg += " No earlier reading of " + weather.Display(city) + " is cached to fall back on."
	} else {
		msg += " No cache is used in this mode, so there is nothing to fall back on."
	}
	s.log.Warn("weather upstream failed", "city", city, "status", ue.status, "err", err, "cause", ue.cause)
	s.writeWeatherJSON(w, r, ue.status, outcome, &weatherError{Error: msg, Status: ue.status, City: weather.Display(city),
		Key: key, Source: "upstream", Cache: outcome, UpstreamMS: millis(took)})
	return nil
}

// fetchWeather calls the upstream and, when c is a cache, stores the
// reading fresh (WeatherTTL) and as the stale fallback (a day). Concurrent
// misses for one city in one mode share a single upstream call, which is
// what keeps a slow upstream from being stampeded when an entry expires;
// in mode none every request calls it, which is the point of that mode.
func (s *Server) fetchWeather(ctx context.Context, mode cache.Mode, target string, c cache.Cache, key, staleKey string) (weatherRecord, time.Duration, error) {
	call := func() (weatherRecord, time.Duration, error) {
		// The call serves every waiter, so one caller leaving must not
		// cancel it; the timeout still bounds it.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.weatherTimeout())
		defer cancel()
		t0 := time.Now()
		rd, err := s.callUpstream(cctx, target)
		took := time.Since(t0)
		if err != nil {
			return weatherRecord{}, took, err
		}
		now := time.Now()
		rec := weatherRecord{Reading: rd, FetchedAt: now, UpstreamMS: millis(took)}
		if c == nil {
			return rec, took, nil
		}
		stored := rec
		stored.ExpiresAt = now.Add(s.weatherTTL())
		b, _ := json.Marshal(stored)
		sctx := context.WithoutCancel(ctx)
		if err := c.Set(sctx, key, b, s.weatherTTL()); err != nil {
			s.log.Warn("weather cache write failed", "key", key, "err", err)
			return rec, took, nil
		}
		if err := c.Set(sctx, staleKey, b, weatherStaleTTL); err != nil {
			s.log.Warn("weather stale copy write failed", "key", staleKey, "err", err)
		}
		return stored, took, nil
	}
	if c == nil {
		return call()
	}
	type result struct {
		rec  weatherRecord
		took time.Duration
	}
	v, err, _ := s.flight.Do("weather|"+mode.String()+"|"+key, func() (any, error) {
		rec, took, err := call()
		return result{rec, took}, err
	})
	res, _ := v.(result)
	return res.rec, res.took, err
}

// callUpstream does one HTTP request to the weather service and reads its
// reading, classifying failures into 502 and 504.
func (s *Server) callUpstream(ctx context.Context, target string) (weather.Reading, error) {
	var rd weather.Reading
	timeout := s.weatherTimeout()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return rd, &upstreamError{http.StatusBadGateway, "The weather service URL is not usable.", err}
	}
	req.Header.Set("Accept", "application/json")
	res, err := weatherClient.Do(req)
	if err != nil {
		return rd, classifyUpstream(err, timeout)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, 64<<10))
	if err != nil {
		return rd, classifyUpstream(err, timeout)
	}
	if res.StatusCode != http.StatusOK {
		msg := fmt.Sprintf("The weather service answered %d %s", res.StatusCode, http.StatusText(res.StatusCode))
		var e struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(body, &e) == nil && e.Error != "" {
			msg += " (" + clip(e.Error, 120) + ")"
		}
		return rd, &upstreamError{http.StatusBadGateway, msg + ".", nil}
	}
	if err := json.Unmarshal(body, &rd); err != nil || rd.City == "" || rd.Conditions == "" || rd.ObservedAt.IsZero() {
		return rd, &upstreamError{http.StatusBadGateway, "The weather service sent a reply that is not a weather reading.", err}
	}
	return rd, nil
}

func classifyUpstream(err error, timeout time.Duration) error {
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		return &upstreamError{http.StatusGatewayTimeout, "The weather service did not answer within " + timeout.String() + " (timeout).", err}
	}
	// The detail (addresses, resolver output) goes to the log, not to
	// clients: the reason in a few words is what a learner needs.
	reason := "network error"
	var dns *net.DNSError
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		reason = "connection refused"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		reason = "connection closed before an answer"
	case errors.As(err, &dns):
		reason = "host not found"
	}
	return &upstreamError{http.StatusBadGateway, "The weather service could not be reached (" + reason + ").", err}
}

// weatherUpstreamURL is where the reading for city is fetched.
// WeatherUpstreamURL may be the service's base URL (the path
// /upstream/weather is added) or the endpoint itself, possibly with knobs
// such as ?delay_ms= that are kept. When it is empty the call goes over
// real HTTP to this server at the local address the request arrived on:
// the Host header is the client's to choose and must never pick where the
// server sends requests.
func (s *Server) weatherUpstreamURL(r *http.Request, city string) (string, error) {
	base := s.cfg.WeatherUpstreamURL
	if base == "" {
		addr, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
		if !ok || addr == nil {
			return "", errors.New("weather: no local address to reach the built-in upstream")
		}
		base = "http://" + addr.String() + weatherPath
	}
	u, err := url.Parse(base)
	if err != nil {
		return "", fmt.Errorf("weather: WeatherUpstreamURL: %w", err)
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = weatherPath
	}
	q := u.Query()
	q.Set("city", city)
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// writeWeatherJSON sends v with the cache headers every data response
// carries. total_ms is measured here, as late as possible.
func (s *Server) writeWeatherJSON(w http.ResponseWriter, r *http.Request, status int, outcome string, v any) {
	snap := trace.From(r.Context()).Snapshot()
	switch v := v.(type) {
	case *weatherResponse:
		v.TotalMS = millis(snap.Total)
	case *weatherError:
		v.TotalMS = millis(snap.Total)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	// Each call must reach the server, so every number shown is measured.
	h.Set("Cache-Control", "no-store")
	h.Set("X-Cache", outcome)
	h.Set("Server-Timing", snap.ServerTiming())
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// serveUpstreamWeather is the simulated external weather service: it
// waits WeatherLatency (or ?delay_ms=), then reports a reading that drifts
// with time. ?fail=1 makes it answer 503, to try the stale fallback.
func (s *Server) serveUpstreamWeather(w http.ResponseWriter, r *http.Request) {
	// The origin itself: nothing here is cached.
	trace.From(r.Context()).Cache(trace.Lookup{Layer: "page", Backend: "none", Key: "upstream weather (the origin)", Outcome: trace.Bypass})
	fail := func(status int, msg string) {
		h := w.Header()
		h.Set("Content-Type", "application/json; charset=utf-8")
		h.Set("Cache-Control", "no-store")
		h.Set("X-Cache", trace.Bypass)
		h.Set("Server-Timing", trace.From(r.Context()).Snapshot().ServerTiming())
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(map[string]any{"error": msg, "status": status})
	}
	raw, err := singleParam(r, "city")
	if err != nil {
		fail(http.StatusBadRequest, err.Error())
		return
	}
	city, err := weather.Normalize(raw)
	if err != nil {
		fail(http.StatusBadRequest, err.Error())
		return
	}
	delay := s.cfg.WeatherLatency
	if v, err := singleParam(r, "delay_ms"); err != nil || v != "" {
		ms, perr := strconv.Atoi(v)
		if err != nil || perr != nil || ms < 0 || time.Duration(ms)*time.Millisecond > weatherMaxDelay {
			fail(http.StatusBadRequest, fmt.Sprintf("delay_ms must be a whole number of milliseconds from 0 to %d.", weatherMaxDelay.Milliseconds()))
			return
		}
		delay = time.Duration(ms) * time.Millisecond
	}
	down := r.URL.Query().Get("fail")
	if delay > 0 {
		t := time.NewTimer(delay)
		t0 := time.Now()
		select {
		case <-r.Context().Done():
			t.Stop()
			return // the caller gave up; nobody reads an answer
		case <-t.C:
		}
		trace.From(r.Context()).Simulated(time.Since(t0))
	}
	if down == "1" || down == "true" {
		fail(http.StatusServiceUnavailable, "simulated outage (fail=1)")
		return
	}
	rd := weather.Observe(city, time.Now())
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Cache", trace.Bypass)
	h.Set("Server-Timing", trace.From(r.Context()).Snapshot().ServerTiming())
	_ = json.NewEncoder(w).Encode(rd)
}

type weatherPageData struct {
	LatencyMS  int64
	TTL        string
	Timeout    string
	Upstream   string
	ModeValue  string
	ModeLabel  string
	StaleHours int
}

// serveWeatherPage is the weather demo's page. It is the same for everyone
// in a mode, so it is cached like the catalogue's pages; its query string
// is ignored (the mode links are built without it) so stray parameters
// never create new entries.
func (s *Server) serveWeatherPage(w http.ResponseWriter, r *http.Request) error {
	clean := r.Clone(r.Context())
	clean.URL.RawQuery = ""
	sv, err := s.fetch(r.Context(), pageSpec{
		Page: "weather", Key: "weather",
		Build: func(ctx context.Context) (*Entry, error) {
			mode := cache.ModeFrom(ctx)
			label := mode.Label()
			if mode == cache.ModeRedis {
				label = s.redisLabel()
			}
			up := "this server's own " + weatherPath + ", over HTTP"
			if s.cfg.WeatherUpstreamURL != "" {
				up = s.cfg.WeatherUpstreamURL
			}
			d := weatherPageData{LatencyMS: s.cfg.WeatherLatency.Milliseconds(), TTL: seconds(s.weatherTTL()),
				Timeout: s.weatherTimeout().String(), Upstream: up, ModeValue: mode.String(), ModeLabel: label,
				StaleHours: int(weatherStaleTTL.Hours())}
			return s.renderEntry(ctx, "weather", s.layout(clean, "Weather API", "weather", d))
		},
	})
	if err != nil {
		return err
	}
	s.writeEntry(w, r, sv)
	return nil
}

func millis(d time.Duration) float64 { return math.Round(float64(d.Microseconds())/10) / 100 }

// seconds writes a short duration the way people say it ("60 s"); longer
// ones keep Go's form ("1h30m0s").
func seconds(d time.Duration) string {
	if d < 10*time.Minute && d%time.Second == 0 {
		return strconv.Itoa(int(d.Seconds())) + " s"
	}
	return d.String()
}

func ceilSeconds(d time.Duration) int {
	if d <= 0 {
		return 0
	}
	return int(math.Ceil(d.Seconds()))
}

func pathAndQuery(target string) string {
	if u, err := url.Parse(target); err == nil {
		return u.RequestURI()
	}
	return target
}
