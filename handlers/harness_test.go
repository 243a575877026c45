package handlers_test

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

	"cacheworkshop/cache"
	"cacheworkshop/handlers"
	"cacheworkshop/internal/testredis"
	"cacheworkshop/models"
	"cacheworkshop/seed"
)

// app is a workshop server on a loopback port with its own SQLite file and
// its own real redis-server.
type app struct {
	t      testing.TB
	srv    *handlers.Server
	ts     *httptest.Server
	store  *models.Store
	redis  *testredis.Server
	memory *cache.Memory
	rcache *cache.Redis
}

// newApp starts a seeded server. opts adjust the config before start; by
// default SLOW_QUERY_MS is 0 so tests run fast.
func newApp(t testing.TB, opts ...func(*handlers.ServerConfig)) *app {
	t.Helper()
	rs := testredis.Start(t)
	store, err := models.Open(filepath.Join(t.TempDir(), "test.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	if _, err := seed.Seed(context.Background(), store.DB()); err != nil {
		t.Fatal(err)
	}
	client, err := cache.NewRedisClient(rs.URL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Close() })
	a := &app{t: t, store: store, redis: rs,
		memory: cache.NewMemory(cache.MemoryConfig{MaxBytes: 32 << 20}),
		rcache: cache.NewRedis(cache.RedisConfig{Client: client, Prefix: "cw:", Guard: cache.NewGuard()}),
	}
	cfg := handlers.ServerConfig{
		Store: store, Memory: a.memory, Redis: a.rcache,
		DefaultMode: cache.ModeMemory, TTL: time.Minute,
		Logger:         slog.New(slog.NewTextHandler(io.Discard, nil)),
		WeatherLatency: 20 * time.Millisecond, WeatherTTL: time.Minute,
	}
	for _, o := range opts {
		o(&cfg)
	}
	a.srv, err = handlers.NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	a.ts = httptest.NewServer(a.srv)
	t.Cleanup(a.ts.Close)
	return a
}

// resp is a finished response with its body read.
type resp struct {
	Status int
	Header http.Header
	Body   string
}

// do sends a request without following redirects and without cookies
// unless given.
func (a *app) do(req *http.Request) *resp {
	a.t.Helper()
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout: 20 * time.Second}
	res, err := c.Do(req)
	if err != nil {
		a.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		a.t.Fatal(err)
	}
	return &resp{Status: res.StatusCode, Header: res.Header, Body: string(b)}
}

// get fetches path; extra are header name/value pairs.
func (a *app) get(path string, extra ...string) *resp {
	a.t.Helper()
	req, err := http.NewRequest(http.MethodGet, a.ts.URL+path, nil)
	if err != nil {
		a.t.Fatal(err)
	}
	for i := 0; i+1 < len(extra); i += 2 {
		req.Header.Set(extra[i], extra[i+1])
	}
	return a.do(req)
}

// post submits a form; extra are header name/value pairs.
func (a *app) post(path string, form url.Values, extra ...string) *resp {
	a.t.Helper()
	req, err := http.NewRequest(http.MethodPost, a.ts.URL+path, strings.NewReader(form.Encode()))
	if err != nil {
		a.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(extra); i += 2 {
		req.Header.Set(extra[i], extra[i+1])
	}
	return a.do(req)
}

// product reads a product straight from the database.
func (a *app) product(id int64) models.Product {
	a.t.Helper()
	p, err := a.store.Get(context.Background(), id)
	if err != nil {
		a.t.Fatal(err)
	}
	return p
}

// editForm is a valid edit of p with the given changes applied.
func editForm(p models.Product, changes map[string]string) url.Values {
	in := models.InputFrom(p)
	v := url.Values{"name": {in.Name}, "description": {in.Description}, "category": {in.Category},
		"price": {in.Price}, "stock": {in.Stock}, "version": {in.Version}}
	for k, val := range changes {
		v.Set(k, val)
	}
	return v
}
