package cache_test

import (
	"bytes"
	"context"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"cacheworkshop/cache"
	"cacheworkshop/internal/testredis"
)

// benchSizes are a fragment-sized value and a whole rendered page.
var benchSizes = []struct {
	name string
	n    int
}{{"1KB", 1 << 10}, {"24KB", 24 << 10}}

type benchBackend struct {
	name string
	new  func(b *testing.B) cache.Cache
}

func benchBackends() []benchBackend {
	return []benchBackend{
		{"memory", func(b *testing.B) cache.Cache {
			return cache.NewMemory(cache.MemoryConfig{MaxBytes: 256 << 20})
		}},
		{"redis", func(b *testing.B) cache.Cache {
			srv := testredis.Start(b)
			c, err := cache.NewRedisClient(srv.URL())
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = c.Close() })
			return cache.NewRedis(cache.RedisConfig{Client: c, Prefix: "bench:"})
		}},
	}
}

func benchValue(n int) []byte {
	return bytes.Repeat([]byte("<tr><td>cache</td></tr>"), n/23+1)[:n]
}

// BenchmarkGet reads one hot key: the cost of a page hit before any
// decoding or writing.
func BenchmarkGet(b *testing.B) {
	for _, be := range benchBackends() {
		b.Run(be.name, func(b *testing.B) {
			c := be.new(b)
			for _, sz := range benchSizes {
				b.Run(sz.name, func(b *testing.B) {
					ctx := context.Background()
					key := "get:" + sz.name
					if err := c.Set(ctx, key, benchValue(sz.n), time.Minute); err != nil {
						b.Fatal(err)
					}
					b.SetBytes(int64(sz.n))
					b.ReportAllocs()
					for b.Loop() {
						v, found, err := c.Get(ctx, key)
						if err != nil || !found || len(v) != sz.n {
							b.Fatalf("Get: got %d bytes, %v, %v, want %d, true, nil", len(v), found, err, sz.n)
						}
					}
				})
			}
		})
	}
}

// BenchmarkSet overwrites one key: the cost of storing a page after a miss.
func BenchmarkSet(b *testing.B) {
	for _, be := range benchBackends() {
		b.Run(be.name, func(b *testing.B) {
			c := be.new(b)
			for _, sz := range benchSizes {
				b.Run(sz.name, func(b *testing.B) {
					ctx := context.Background()
					v := benchValue(sz.n)
					b.SetBytes(int64(sz.n))
					b.ReportAllocs()
					for b.Loop() {
						if err := c.Set(ctx, "set:"+sz.name, v, time.Minute); err != nil {
							b.Fatal(err)
						}
					}
					if got, found, err := c.Get(ctx, "set:"+sz.name); err != nil || !found || !bytes.Equal(got, v) {
						b.Fatalf("Get after Set: got %d bytes, %v, %v, want %d, true, nil", len(got), found, err, sz.n)
					}
				})
			}
		})
	}
}

// BenchmarkGetParallel reads 64 hot keys from every P at once, as
// concurrent page hits do; for memory it shows the lock's contention.
func BenchmarkGetParallel(b *testing.B) {
	for _, be := range benchBackends() {
		b.Run(be.name, func(b *testing.B) {
			c := be.new(b)
			for _, sz := range benchSizes {
				b.Run(sz.name, func(b *testing.B) {
					ctx := context.Background()
					keys := make([]string, 64)
					for i := range keys {
						keys[i] = "pget:" + sz.name + ":" + strconv.Itoa(i)
						if err := c.Set(ctx, keys[i], benchValue(sz.n), time.Minute); err != nil {
							b.Fatal(err)
						}
					}
					var next atomic.Uint64
					b.SetBytes(int64(sz.n))
					b.ReportAllocs()
					b.RunParallel(func(pb *testing.PB) {
						i := next.Add(1)
						for pb.Next() {
							v, found, err := c.Get(ctx, keys[i%uint64(len(keys))])
							if err != nil || !found || len(v) != sz.n {
								b.Errorf("Get: got %d bytes, %v, %v, want %d, true, nil", len(v), found, err, sz.n)
								return
							}
							i++
						}
					})
				})
			}
		})
	}
}

// BenchmarkSetParallel stores into 64 keys from every P at once.
func BenchmarkSetParallel(b *testing.B) {
	for _, be := range benchBackends() {
		b.Run(be.name, func(b *testing.B) {
			c := be.new(b)
			for _, sz := range benchSizes {
				b.Run(sz.name, func(b *testing.B) {
					ctx := context.Background()
					v := benchValue(sz.n)
					keys := make([]string, 64)
					for i := range keys {
						keys[i] = "pset:" + sz.name + ":" + strconv.Itoa(i)
					}
					var next atomic.Uint64
					b.SetBytes(int64(sz.n))
					b.ReportAllocs()
					b.RunParallel(func(pb *testing.PB) {
						i := next.Add(1)
						for pb.Next() {
							if err := c.Set(ctx, keys[i%uint64(len(keys))], v, time.Minute); err != nil {
								b.Errorf("Set: %v", err)
								return
							}
							i++
						}
					})
				})
			}
		})
	}
}

// BenchmarkGetMulti reads eight 1 KB values in one call (one MGET on
// Redis): what a page assembled from eight hot fragments pays for them.
func BenchmarkGetMulti(b *testing.B) {
	for _, be := range benchBackends() {
		b.Run(be.name, func(b *testing.B) {
			c := be.new(b)
			ctx := context.Background()
			keys := make([]string, 8)
			for i := range keys {
				keys[i] = "multi:" + strconv.Itoa(i)
				if err := c.Set(ctx, keys[i], benchValue(1<<10), time.Minute); err != nil {
					b.Fatal(err)
				}
			}
			b.SetBytes(8 << 10)
			b.ReportAllocs()
			for b.Loop() {
				vs, err := c.GetMulti(ctx, keys)
				if err != nil || len(vs) != len(keys) {
					b.Fatalf("GetMulti: got %d values, %v, want %d, nil", len(vs), err, len(keys))
				}
				for i, v := range vs {
					if len(v) != 1<<10 {
						b.Fatalf("GetMulti[%d]: got %d bytes, want %d", i, len(v), 1<<10)
					}
				}
			}
		})
	}
}
