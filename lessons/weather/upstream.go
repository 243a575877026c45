package weather

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

	"cacheworkshop/handlers"
	"cacheworkshop/trace"
)

// This file is both ends of the upstream: the simulated weather service,
// and the client the API calls it with.

// serveUpstream is the simulated external weather service: it waits the
// configured latency (or ?delay_ms=), then reports a reading that drifts
// with time for a listed city (aliases included), or 404 for any other
// name. ?fail=1 makes it answer 503, to try the stale fallback.
func (l *Lesson) serveUpstream(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	// The origin itself: nothing here is cached.
	trace.From(ctx).Cache(trace.Lookup{Layer: "page", Backend: "none", Key: "upstream weather (the origin)", Outcome: trace.Bypass})
	fail := func(status int, msg string) {
		l.kit.JSON(w, r, status, map[string]any{"error": msg, "status": status})
	}
	raw, _, err := handlers.Param(r, "city")
	if err != nil {
		fail(http.StatusBadRequest, err.Error())
		return
	}
	norm, err := Normalize(raw)
	if err != nil {
		fail(http.StatusBadRequest, err.Error())
		return
	}
	city, known := Canonical(norm)
	delayMS, err := handlers.IntParam(r, "delay_ms", -1, 0, int(maxDelay.Milliseconds()))
	if err != nil {
		fail(http.StatusBadRequest, err.Error())
		return
	}
	delay := l.cfg.Latency
	if delayMS >= 0 {
		delay = time.Duration(delayMS) * time.Millisecond
	}
	down, _, err := handlers.Param(r, "fail")
	if err != nil {
		fail(http.StatusBadRequest, err.Error())
		return
	}
	if delay > 0 {
		t := time.NewTimer(delay)
		t0 := time.Now()
		select {
		case <-ctx.Done():
			t.Stop()
			return // the caller gave up; nobody reads an answer
		case <-t.C:
		}
		trace.From(ctx).Simulated(time.Since(t0))
	}
	if down == "1" || down == "true" {
		fail(http.StatusServiceUnavailable, "simulated outage (fail=1)")
		return
	}
	if l.down.Load() {
		fail(http.StatusServiceUnavailable, "simulated outage (switched off on the teacher page)")
		return
	}
	// An unknown city takes as long to answer as a known one: the
	// service had to look.
	if !known {
		fail(http.StatusNotFound, "unknown city; this service knows "+strings.Join(Cities(), ", "))
		return
	}
	l.kit.JSON(w, r, http.StatusOK, Observe(city, time.Now()))
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

// upstreamURL is where the reading for city is fetched. Config.UpstreamURL
// may be the service's base URL or the endpoint itself, with knobs that
// are kept. When it is empty the call goes over real HTTP to this server
// at the local address the request arrived on: the Host header is the
// client's to choose and must never pick where the server sends requests.
func (l *Lesson) upstreamURL(r *http.Request, city string) (string, error) {
	base := l.cfg.UpstreamURL
	if base == "" {
		addr, ok := r.Context().Value(http.LocalAddrContextKey).(*net.TCPAddr)
		if !ok {
			return "", &upstreamError{http.StatusBadGateway,
				"The built-in weather service cannot be reached: this server has no TCP address to call (set WEATHER_UPSTREAM_URL).", nil}
		}
		base = "http://" + addr.String() + upstreamPath
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", &upstreamError{http.StatusBadGateway, "The weather service URL (WEATHER_UPSTREAM_URL) is not a usable http(s) URL.", err}
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = upstreamPath
	}
	q := u.Query()
	q.Set("city", city)
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// requestURI is the path and query of target, as the trace shows the
// upstream call.
func requestURI(target string) string {
	if u, err := url.Parse(target); err == nil && target != "" {
		return u.RequestURI()
	}
	return upstreamPath
}

// callUpstream does one HTTP request to the weather service and reads its
// reading, classifying failures into 502 and 504.
func (l *Lesson) callUpstream(ctx context.Context, target string) (Reading, error) {
	var rd Reading
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return rd, &upstreamError{http.StatusBadGateway, "The weather service URL is not usable.", err}
	}
	req.Header.Set("Accept", "application/json")
	res, err := l.client.Do(req)
	if err != nil {
		return rd, l.classify(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, 64<<10))
	if err != nil {
		return rd, l.classify(err)
	}
	if res.StatusCode != http.StatusOK {
		msg := fmt.Sprintf("The weather service answered %d %s", res.StatusCode, http.StatusText(res.StatusCode))
		var e struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(body, &e) == nil && e.Error != "" {
			msg += " (" + clip(e.Error, 120) + ")"
		}
		// A 404 is the service's answer about the city, not a failure
		// of the service: it is passed on as such.
		status := http.StatusBadGateway
		if res.StatusCode == http.StatusNotFound {
			status = http.StatusNotFound
		}
		return rd, &upstreamError{status, msg + ".", nil}
	}
	if err := json.Unmarshal(body, &rd); err != nil || rd.City == "" || rd.Conditions == "" || rd.ObservedAt.IsZero() {
		return rd, &upstreamError{http.StatusBadGateway, "The weather service sent a reply that is not a weather reading.", err}
	}
	return rd, nil
}

// classify turns a transport failure into what the API answers.
func (l *Lesson) classify(err error) error {
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		return &upstreamError{http.StatusGatewayTimeout, "The weather service did not answer within " + l.timeout().String() + " (timeout).", err}
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

// clip cuts s to n bytes, on a character boundary.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
