package cache

import (
	"context"
	"time"
)

// None is the backend of mode none: every Get misses and nothing is stored.
// It exists so code paths stay identical across modes and the difference a
// learner measures is the cache alone.
type None struct{}

var _ Cache = None{}

// Name implements Cache.
func (None) Name() string { return "none" }

// Get implements Cache: always a miss.
func (None) Get(context.Context, string) ([]byte, bool, error) { return nil, false, nil }

// GetMulti implements Cache: every key misses.
func (None) GetMulti(_ context.Context, keys []string) ([][]byte, error) {
	return make([][]byte, len(keys)), nil
}

// Set implements Cache: nothing is kept.
func (None) Set(context.Context, string, []byte, time.Duration) error { return nil }

// Delete implements Cache.
func (None) Delete(context.Context, ...string) error { return nil }

// DeletePrefix implements Cache.
func (None) DeletePrefix(context.Context, string) error { return nil }
