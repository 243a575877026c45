package handlers

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"cacheworkshop/cache"
	"cacheworkshop/models"
	"cacheworkshop/seed"
	"cacheworkshop/trace"
)

// benchServer is a server with a seeded database and a memory cache. Its
// Redis client points nowhere: these benchmarks never use Redis mode.
func benchServer(b *testing.B) *Server {
	b.Helper()
	store, err := models.Open(filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = store.Close() })
	if _, err := seed.Seed(context.Background(), store.DB()); err != nil {
		b.Fatal(err)
	}
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	b.Cleanup(func() { _ = rdb.Close() })
	s, err := NewServer(ServerConfig{
		Store: store, Memory: cache.NewMemory(cache.MemoryConfig{}),
		Redis:  cache.NewRedis(cache.RedisConfig{Client: rdb}),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), TTL: time.Hour,
	})
	if err != nil {
		b.Fatal(err)
	}
	return s
}

// BenchmarkFragmentHit is the cost of one {{fragment}} call that hits the
// memory cache: key building, lookup, trace record.
func BenchmarkFragmentHit(b *testing.B) { benchFragment(b, cache.ModeMemory) }

// BenchmarkFragmentRender is the same row rendered without a cache, for
// comparison with a hit.
func BenchmarkFragmentRender(b *testing.B) { benchFragment(b, cache.ModeNone) }

// benchFragment calls {{fragment}} for one product row in mode, as inside
// a page render: the fragment writes into the page's buffer.
func benchFragment(b *testing.B, mode cache.Mode) {
	s := benchServer(b)
	t, _, err := s.pages.get("list")
	if err != nil {
		b.Fatal(err)
	}
	ctx := trace.NewContext(cache.WithMode(context.Background(), mode), trace.New())
	rr := s.newRenderReq(ctx, "list")
	rr.tmpl = t
	row := rowOf(models.Product{ID: 7, Name: "Harbor USB-C Speaker", Category: "Electronics", Price: 49399, Stock: 3, Version: 1})
	var page bytes.Buffer
	rr.out = &page
	if _, err := fragment(rr, "product-row", row.FragKey, row); err != nil { // fills the cache
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		page.Reset()
		if _, err := fragment(rr, "product-row", row.FragKey, row); err != nil {
			b.Fatal(err)
		}
		// Keep the trace from growing without bound across iterations.
		rr.ctx = trace.NewContext(ctx, trace.New())
	}
}

// BenchmarkListRender measures building the list page on a page-cache miss
// (database and rendering) with fragments hot, cold, and with no cache.
func BenchmarkListRender(b *testing.B) {
	for _, tc := range []struct {
		name string
		mode cache.Mode
		cold bool
	}{
		{"fragments-hot", cache.ModeMemory, false},
		{"fragments-cold", cache.ModeMemory, true},
		{"no-cache", cache.ModeNone, false},
	} {
		b.Run(tc.name, func(b *testing.B) {
			s := benchServer(b)
			req := httptest.NewRequest("GET", "/products?page=1", nil)
			build := func() {
				// A fresh generation each time forces a page miss, so
				// every iteration renders; fragments stay or go per case.
				_ = s.inval.Memory.Bump(context.Background(), genList)
				if tc.cold {
					s.memory.Clear()
				}
				rec := httptest.NewRecorder()
				ctx := trace.NewContext(cache.WithMode(context.Background(), tc.mode), trace.New())
				if err := s.serveList(rec, req.WithContext(ctx)); err != nil {
					b.Fatal(err)
				}
			}
			build()
			b.ReportAllocs()
			for b.Loop() {
				build()
			}
		})
	}
}
