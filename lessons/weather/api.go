package weather

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"cacheworkshop/cache"
	"cacheworkshop/cache/page"
	"cacheworkshop/handlers"
	"cacheworkshop/trace"
)

// record is a reading as cached: the upstream's values plus when it was
// fetched and when the fresh copy expires, so a hit can report its
// remaining TTL without asking the backend.
type record struct {
	Reading
	FetchedAt  time.Time   `json:"fetched_at"`
	ExpiresAt  time.Time   `json:"expires_at"`
	UpstreamMS json.Number `json:"upstream_ms"`
}

// response is /api/weather's JSON. The timings are numbers of
// milliseconds, written by trace.Millis like every other timing shown.
type response struct {
	City          string      `json:"city"`
	Temperature   float64     `json:"temperature"`
	Conditions    string      `json:"conditions"`
	ObservedAt    time.Time   `json:"observed_at"`
	Source        string      `json:"source"` // upstream, memory or redis
	Cache         string      `json:"cache"`  // HIT, MISS or BYPASS
	UpstreamMS    json.Number `json:"upstream_ms"`
	TotalMS       json.Number `json:"total_ms"`
	TTLRemainingS int         `json:"ttl_remaining_s"`
	Key           string      `json:"key"`
	Stale         bool        `json:"stale,omitempty"`
	Warning       string      `json:"warning,omitempty"`
}

// failure is the JSON of a failed call. It keeps the cache and timing
// fields so the page's table and chart can show failures like successes.
type failure struct {
	Error      string      `json:"error"`
	Status     int         `json:"status"`
	City       string      `json:"city"`
	Key        string      `json:"key"`
	Source     string      `json:"source"`
	Cache      string      `json:"cache"`
	UpstreamMS json.Number `json:"upstream_ms"`
	TotalMS    json.Number `json:"total_ms"`
	// TTLRemainingS is how long a cached 404 is kept yet.
	TTLRemainingS int `json:"ttl_remaining_s,omitempty"`
	// Cities lists the known cities, with a 404 for an unknown one.
	Cities []string `json:"cities,omitempty"`
}

// answer builds the response for a reading.
func answer(rec record, source, outcome, key string) *response {
	return &response{City: rec.City, Temperature: rec.Temperature, Conditions: rec.Conditions,
		ObservedAt: rec.ObservedAt, Source: source, Cache: outcome, Key: key, UpstreamMS: ms(0)}
}

// serveAPI answers /api/weather?city=: the city's reading from the
// request's cache mode, or from the upstream on a miss (then cached for
// the TTL). When the upstream fails, the last good reading (kept for a
// day) is served with 200, "stale": true and a warning; with none, the
// answer is 502 (upstream broken) or 504 (upstream too slow). A city the
// service does not know is a 404 (see serveUnknown).
func (l *Lesson) serveAPI(w http.ResponseWriter, r *http.Request) error {
	raw, given, err := handlers.Param(r, "city")
	if err != nil {
		return err
	}
	if !given {
		return handlers.BadRequest("Give a city, e.g. /api/weather?city=Paris; " + ErrCity.Error() + ".")
	}
	norm, err := Normalize(raw)
	if err != nil {
		return handlers.BadRequest(err.Error())
	}
	// An alias is cached under its city's key: "NYC" and "New York"
	// share one entry, as "PARIS" and "paris" do.
	city, known := Canonical(norm)
	if !known {
		return l.serveUnknown(w, r, norm)
	}
	ctx := r.Context()
	mode := l.kit.Mode(r)
	key := freshKey(city)

	c, cached := l.kit.Backend(mode, "data")
	outcome := trace.Bypass
	var warnings []string
	if !cached {
		// Mode none has no backend to trace a lookup through; the trace
		// still says that the cache was skipped, and for which key.
		trace.From(ctx).Cache(trace.Lookup{Layer: "data", Backend: "none", Key: key, Outcome: trace.Bypass})
	} else {
		outcome = trace.Miss
		rec, found, err := l.read(ctx, c, key)
		switch {
		case err != nil:
			warnings = append(warnings, "The "+c.Name()+" cache could not be read ("+page.Short(err)+"), so the upstream was asked directly.")
		case found:
			resp := answer(rec, c.Name(), trace.Hit, key)
			resp.TTLRemainingS = ceilSeconds(time.Until(rec.ExpiresAt))
			l.send(w, r, http.StatusOK, trace.Hit, resp)
			return nil
		}
	}

	target, err := l.upstreamURL(r, city)
	var got fetched
	if err == nil {
		got, err = l.fetch(ctx, mode, target, c, cached, city)
	}
	traceUpstream(ctx, target, got.took, err)

	if err == nil {
		resp := answer(got.rec, "upstream", outcome, key)
		resp.UpstreamMS = ms(got.took)
		if cached && got.stored {
			resp.TTLRemainingS = ceilSeconds(time.Until(got.rec.ExpiresAt))
		}
		if cached && !got.stored {
			warnings = append(warnings, "The reading could not be stored in the "+c.Name()+" cache, so the next request asks the upstream again.")
		}
		resp.Warning = strings.Join(warnings, " ")
		l.send(w, r, http.StatusOK, outcome, resp)
		return nil
	}

	var ue *upstreamError
	if !errors.As(err, &ue) {
		ue = &upstreamError{status: http.StatusBadGateway, msg: "The weather service failed.", cause: err}
	}
	l.kit.Log.Warn("weather upstream failed", "city", city, "status", ue.status, "err", err)
	// A 404 is the service's answer, not an outage: an old reading of a
	// city it says it does not know would be wrong, not just old.
	notFound := ue.status == http.StatusNotFound
	if cached && !notFound {
		// The stale copy is read through its own layer, so the trace
		// tells the fallback apart from the fresh lookup.
		sc, _ := l.kit.Backend(mode, "stale")
		if rec, found, err := l.read(ctx, sc, staleKey(city)); err == nil && found {
			resp := answer(rec, c.Name(), outcome, key)
			resp.UpstreamMS = ms(got.took)
			resp.Stale = true
			resp.Warning = ue.msg + " This is the last good reading, fetched " + handlers.Ago(time.Since(rec.FetchedAt)) +
				" ago and kept for such failures: it may be out of date."
			l.send(w, r, http.StatusOK, outcome, resp)
			return nil
		}
	}
	msg := ue.msg
	switch {
	case notFound:
	case cached:
		msg += " No earlier reading of " + Display(city) + " is cached to fall back on."
	default:
		msg += " No cache is used in this mode, so there is nothing to fall back on."
	}
	l.send(w, r, ue.status, outcome, &failure{Error: msg, Status: ue.status, City: Display(city),
		Key: key, Source: "upstream", Cache: outcome, UpstreamMS: ms(got.took)})
	return nil
}

// traceUpstream records an upstream call in the trace. It is an HTTP
// request, not a cache lookup, but it goes in the trace too: it is where
// a miss spends its time. A 404 is the service's answer, not its failure.
func traceUpstream(ctx context.Context, target string, took time.Duration, err error) {
	ul := trace.Lookup{Layer: "upstream", Backend: "http", Key: "GET " + requestURI(target), Outcome: "read", Dur: took}
	var ue *upstreamError
	if err != nil && !(errors.As(err, &ue) && ue.status == http.StatusNotFound) {
		ul.Outcome = trace.Error
	}
	trace.From(ctx).Cache(ul)
}

// freshKey and staleKey are a listed city's two entries: the reading for
// the TTL, and the last good one, kept for a day in case the upstream
// fails. unknownKey is the one entry shared by every other name.
func freshKey(city string) string { return "weather:" + city }
func staleKey(city string) string { return "weather:stale:" + city }

const unknownKey = "weather:unknown"

// unknownTTL is how long the upstream's 404 for an unknown name is
// trusted: long enough that a flood of made-up names asks the upstream
// twice a minute, short enough that a city added to the service is soon
// served.
const unknownTTL = 30 * time.Second

// unknownEntry is what unknownKey holds: when the upstream last answered
// 404 for a name outside the list. That answer is the same for every such
// name, so the entry names none of them.
type unknownEntry struct {
	FetchedAt time.Time `json:"fetched_at"`
	ExpiresAt time.Time `json:"expires_at"`
}

// serveUnknown answers a name that is not a listed city. The upstream is
// the authority, so a miss asks it, as for a listed city. Its 404 is the
// same for every unknown name, so a cache mode keeps it under the one key
// unknownKey, for unknownTTL and with no stale copy: a client sending a
// million random names costs one upstream call per unknownTTL and one key,
// not a million keys kept for a day. Should the upstream know the name
// after all (a real service behind WEATHER_UPSTREAM_URL may know more
// cities), its reading is passed on, never cached.
func (l *Lesson) serveUnknown(w http.ResponseWriter, r *http.Request, name string) error {
	ctx := r.Context()
	c, cached := l.kit.Backend(l.kit.Mode(r), "data")
	outcome := trace.Bypass
	if !cached {
		trace.From(ctx).Cache(trace.Lookup{Layer: "data", Backend: "none", Key: unknownKey, Outcome: trace.Bypass})
	} else {
		outcome = trace.Miss
		// A read that fails or does not decode is a miss: the upstream
		// is asked, and its answer tells.
		var e unknownEntry
		if v, found, err := c.Get(ctx, unknownKey); err == nil && found && json.Unmarshal(v, &e) == nil && !e.FetchedAt.IsZero() {
			l.send(w, r, http.StatusNotFound, trace.Hit, unknownCity(name, c.Name(), trace.Hit, ceilSeconds(time.Until(e.ExpiresAt)), 0))
			return nil
		}
	}

	target, err := l.upstreamURL(r, name)
	var rd Reading
	var took time.Duration
	if err == nil {
		cctx, cancel := context.WithTimeout(ctx, l.timeout())
		t0 := time.Now()
		rd, err = l.callUpstream(cctx, target)
		took = time.Since(t0)
		cancel()
	}
	traceUpstream(ctx, target, took, err)

	var ue *upstreamError
	switch {
	case err == nil:
		resp := answer(record{Reading: rd}, "upstream", outcome, "")
		resp.UpstreamMS = ms(took)
		if cached {
			resp.Warning = Display(name) + " is not one of the cities this workshop caches, so the reading was not stored: " +
				"only listed cities get keys, which keeps their number bounded whatever names are sent."
		}
		l.send(w, r, http.StatusOK, outcome, resp)
	case errors.As(err, &ue) && ue.status == http.StatusNotFound:
		ttl := 0
		if cached {
			now := time.Now()
			b, _ := json.Marshal(unknownEntry{FetchedAt: now, ExpiresAt: now.Add(unknownTTL)})
			if err := c.Set(context.WithoutCancel(ctx), unknownKey, b, unknownTTL); err != nil {
				l.kit.Log.Warn("weather cache write failed", "key", unknownKey, "err", err)
			} else {
				ttl = ceilSeconds(unknownTTL)
			}
		}
		l.send(w, r, http.StatusNotFound, outcome, unknownCity(name, "upstream", outcome, ttl, took))
	default:
		if ue == nil {
			ue = &upstreamError{status: http.StatusBadGateway, msg: "The weather service failed.", cause: err}
		}
		l.kit.Log.Warn("weather upstream failed", "city", name, "status", ue.status, "err", err)
		l.send(w, r, ue.status, outcome, &failure{Error: ue.msg + " " + Display(name) + " is not a listed city, so no reading of it is kept to fall back on.",
			Status: ue.status, City: Display(name), Key: unknownKey, Source: "upstream", Cache: outcome, UpstreamMS: ms(took)})
	}
	return nil
}

// unknownCity is the 404 for a name the weather service does not know,
// with the list of those it does.
func unknownCity(name, source, outcome string, ttl int, took time.Duration) *failure {
	list := Cities()
	return &failure{
		Error: "“" + Display(name) + "” is not a city the weather service knows. It knows " + strconv.Itoa(len(list)) +
			", listed in \"cities\" and on the /weather page; some have aliases, such as NYC for New York.",
		Status: http.StatusNotFound, City: Display(name), Key: unknownKey, Source: source, Cache: outcome,
		UpstreamMS: ms(took), TTLRemainingS: ttl, Cities: list,
	}
}

// read looks a record up. An entry that does not decode is reported as
// absent, so the upstream is asked and the entry overwritten.
func (l *Lesson) read(ctx context.Context, c cache.Traced, key string) (record, bool, error) {
	var rec record
	v, found, err := c.Get(ctx, key)
	if err != nil || !found {
		return rec, false, err
	}
	if json.Unmarshal(v, &rec) != nil || rec.City == "" {
		l.kit.Log.Warn("discarding unreadable weather entry", "key", key)
		return rec, false, nil
	}
	return rec, true, nil
}

// fetched is the outcome of one upstream call, shared by every request
// that waited for it.
type fetched struct {
	rec    record
	stored bool          // the fresh copy is in the cache
	took   time.Duration // the upstream call's duration
}

// fetch calls the upstream and, when cached, stores the reading fresh (for
// the TTL) and as the stale fallback (for a day). Concurrent misses for one
// city in one mode share a single upstream call, which is what keeps a slow
// upstream from being stampeded when an entry expires; in mode none every
// request calls it, which is the point of that mode.
func (l *Lesson) fetch(ctx context.Context, mode cache.Mode, target string, c cache.Traced, cached bool, city string) (fetched, error) {
	call := func() (fetched, error) {
		// The call serves every waiter, so one caller leaving must not
		// cancel it; the timeout still bounds it.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), l.timeout())
		defer cancel()
		t0 := time.Now()
		rd, err := l.callUpstream(cctx, target)
		got := fetched{took: time.Since(t0)}
		if err != nil {
			return got, err
		}
		now := time.Now()
		got.rec = record{Reading: rd, FetchedAt: now, ExpiresAt: now.Add(l.cfg.TTL), UpstreamMS: ms(got.took)}
		if !cached {
			return got, nil
		}
		b, err := json.Marshal(got.rec)
		if err != nil {
			return got, nil
		}
		// Stored even if the caller has gone: the reading is good.
		sctx := context.WithoutCancel(ctx)
		if err := c.Set(sctx, freshKey(city), b, l.cfg.TTL); err != nil {
			l.kit.Log.Warn("weather cache write failed", "city", city, "err", err)
			return got, nil
		}
		got.stored = true
		if err := c.Set(sctx, staleKey(city), b, staleTTL); err != nil {
			l.kit.Log.Warn("weather stale copy write failed", "city", city, "err", err)
		}
		return got, nil
	}
	if !cached {
		return call()
	}
	v, err, _ := l.flight.Do(mode.String()+"|"+city, func() (any, error) { return call() })
	got, _ := v.(fetched)
	return got, err
}

// send writes v as the API's JSON, with the request's time so far as
// total_ms and outcome as X-Cache.
func (l *Lesson) send(w http.ResponseWriter, r *http.Request, status int, outcome string, v any) {
	total := ms(trace.From(r.Context()).Summary().Total)
	switch v := v.(type) {
	case *response:
		v.TotalMS = total
	case *failure:
		v.TotalMS = total
	}
	w.Header().Set("X-Cache", outcome)
	l.kit.JSON(w, r, status, v)
}

// ms is a duration as a JSON number of milliseconds.
func ms(d time.Duration) json.Number { return json.Number(trace.Millis(d)) }

func ceilSeconds(d time.Duration) int {
	if d <= 0 {
		return 0
	}
	return int(math.Ceil(d.Seconds()))
}
