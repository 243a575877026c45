// Package testapp starts a whole workshop for tests, wired by the app
// package exactly as main.go wires it: its own SQLite file, its own real
// redis-server, and a loopback HTTP server.
package testapp

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"cacheworkshop/app"
	"cacheworkshop/cache"
	"cacheworkshop/internal/testredis"
	"cacheworkshop/models"
)

// App is a running workshop.
type App struct {
	*app.App
	T           testing.TB
	TS          *httptest.Server
	RedisServer *testredis.Server
}

// New starts a seeded workshop. opts adjust the config before start; by
// default SLOW_QUERY_MS is 0, the default mode is memory, the TTL a minute
// and the simulated weather upstream answers in 20 ms, so tests run fast;
// the instance does not announce itself on /instances (NoAnnounce).
func New(t testing.TB, opts ...func(*app.Config)) *App {
	t.Helper()
	rs := testredis.Start(t)
	cfg := app.Defaults()
	cfg.DatabasePath = filepath.Join(t.TempDir(), "test.db")
	cfg.RedisURL = rs.URL()
	cfg.NoEmbedded = true
	cfg.DefaultMode = cache.ModeMemory
	cfg.TTL = time.Minute
	cfg.SlowQuery = 0
	cfg.MemoryBytes = 32 << 20
	cfg.WeatherLatency = 20 * time.Millisecond
	// A fixed name: the default (host name and the unused default port)
	// would put "8080" on every page.
	cfg.Instance = "test"
	// No announcement every 5 s: tests that count the commands Redis
	// received would see one land in their window now and then. The
	// instances lesson's own tests turn it back on.
	cfg.NoAnnounce = true
	for _, o := range opts {
		o(&cfg)
	}
	a, err := app.New(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Close)
	// Invalidations from other instances (the change log, pub/sub) and the
	// relay to Redis run in the background, as app.Run runs them.
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go a.Invalidator.Run(ctx)
	a.RunLessons(ctx)
	ta := &App{App: a, T: t, RedisServer: rs}
	ta.TS = httptest.NewServer(a.Server)
	t.Cleanup(ta.TS.Close)
	return ta
}

// Resp is a finished response with its body read.
type Resp struct {
	Status int
	Header http.Header
	Body   string
}

// Do sends a request without following redirects and without cookies
// unless given.
func (a *App) Do(req *http.Request) *Resp {
	a.T.Helper()
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout: 20 * time.Second}
	res, err := c.Do(req)
	if err != nil {
		a.T.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		a.T.Fatal(err)
	}
	return &Resp{Status: res.StatusCode, Header: res.Header, Body: string(b)}
}

// Get fetches path; extra are header name/value pairs.
func (a *App) Get(path string, extra ...string) *Resp {
	a.T.Helper()
	req, err := http.NewRequest(http.MethodGet, a.TS.URL+path, nil)
	if err != nil {
		a.T.Fatal(err)
	}
	for i := 0; i+1 < len(extra); i += 2 {
		req.Header.Set(extra[i], extra[i+1])
	}
	return a.Do(req)
}

// Post submits a form; extra are header name/value pairs.
func (a *App) Post(path string, form url.Values, extra ...string) *Resp {
	a.T.Helper()
	req, err := http.NewRequest(http.MethodPost, a.TS.URL+path, strings.NewReader(form.Encode()))
	if err != nil {
		a.T.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(extra); i += 2 {
		req.Header.Set(extra[i], extra[i+1])
	}
	return a.Do(req)
}

// Product reads a product straight from the database.
func (a *App) Product(id int64) models.Product {
	a.T.Helper()
	p, err := a.Store.Get(context.Background(), id)
	if err != nil {
		a.T.Fatal(err)
	}
	return p
}

// EditForm is a valid edit of p with the given changes applied.
func EditForm(p models.Product, changes map[string]string) url.Values {
	in := models.InputFrom(p)
	v := url.Values{"name": {in.Name}, "description": {in.Description}, "category": {in.Category},
		"price": {in.Price}, "stock": {in.Stock}, "version": {in.Version}}
	for k, val := range changes {
		v.Set(k, val)
	}
	return v
}
