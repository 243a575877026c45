// Package fib is the Fibonacci lesson (GET /benchmark): memoisation is
// caching at its finest grain, and where the memo lives decides what it
// costs. The page computes fib(n) four ways on every request and times
// each: naive recursion (no cache), a memo in a Go map (nanoseconds a
// lookup), a memo in Redis (a network round trip a lookup, so slower than
// the map by orders of magnitude and, for small n, than recomputing), and
// the whole result cached under one key in the request's cache mode (one
// lookup, however large n is). The lesson: cache coarse results over a
// network, fine-grained ones in process.
package fib

import (
	"sync/atomic"

	"github.com/go-chi/chi/v5"

	"cacheworkshop/handlers"
)

// Lesson serves the Fibonacci benchmark.
type Lesson struct {
	k *handlers.Kit
	// naiveSlot admits one costly naive run at a time in this process: a
	// run keeps a CPU core busy for up to a second, and a few of them at
	// once would slow every other page of the server down, cached hits
	// included.
	naiveSlot chan struct{}
	// naiveQueued counts the requests holding or waiting for the slot, so
	// that a burst waits in a short queue and the rest are told at once
	// to come back, instead of piling up.
	naiveQueued atomic.Int32
}

// New returns the lesson; it gets what it needs from the Kit in Register.
func New() *Lesson { return &Lesson{naiveSlot: make(chan struct{}, 1)} }

// Register implements handlers.Lesson.
func (l *Lesson) Register(r chi.Router, k *handlers.Kit) {
	l.k = k
	r.Get("/benchmark", k.Handle(l.serveBenchmark))
}
