package handlers

import (
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
	mem := cache.NewMemory(cache.MemoryConfig{})
	rc := cache.NewRedis(cache.RedisConfig{Client: rdb})
	s, err := NewServer(Config{
		Store: store, Memory: mem, Redis: rc, RedisLabel: "Redis",
		Invalidator: &cache.Invalidator{Memory: mem},
		Logger:      slog.New(slog.NewTextHandler(io.Discard, nil)), TTL: time.Hour,
	})
	if err != nil {
		b.Fatal(err)
	}
	return s
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
			change := int64(0)
			build := func() {
				// A fresh generation each time forces a page miss, so
				// every iteration renders; fragments stay or go per case.
				change++
				_ = s.cfg.Memory.Apply(context.Background(), cache.Change{ID: change, Names: listGens})
				if tc.cold {
					_ = s.cfg.Memory.Clear(context.Background())
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
