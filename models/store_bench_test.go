package models_test

import (
	"context"
	"path/filepath"
	"testing"

	"cacheworkshop/models"
	"cacheworkshop/seed"
)

func benchStore(b *testing.B) *models.Store {
	b.Helper()
	st, err := models.Open(filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = st.Close() })
	if _, err := seed.Seed(context.Background(), st.DB()); err != nil {
		b.Fatal(err)
	}
	return st
}

// BenchmarkList is the query of an uncached list page: 20 products.
func BenchmarkList(b *testing.B) {
	st := benchStore(b)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		ps, err := st.List(ctx, 100, 20)
		if err != nil || len(ps) != 20 {
			b.Fatalf("List: got %d products, %v, want 20", len(ps), err)
		}
	}
}

// BenchmarkCount is the other query of an uncached list page.
func BenchmarkCount(b *testing.B) {
	st := benchStore(b)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if n, err := st.Count(ctx); err != nil || n != 1000 {
			b.Fatalf("Count: got %d, %v, want 1000", n, err)
		}
	}
}
