package cache

import (
	"context"
	"time"

	"github.com/alicebob/miniredis/v2"
)

// Embedded is a Redis-protocol server inside the process (miniredis), used
// when nothing answers at REDIS_URL so `make run` works on a machine without
// Redis. It is labelled "Redis (embedded)" everywhere: its timings show a
// loopback round trip but not a real server's behaviour.
type Embedded struct {
	srv  *miniredis.Miniredis
	stop context.CancelFunc
}

// StartEmbedded starts the server on a free loopback port.
func StartEmbedded() (*Embedded, error) {
	srv := miniredis.NewMiniRedis()
	if err := srv.StartAddr("127.0.0.1:0"); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	e := &Embedded{srv: srv, stop: cancel}
	// miniredis only expires keys when told time has passed; keep its
	// clock moving so TTLs behave as on a real server.
	go func() {
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				srv.FastForward(250 * time.Millisecond)
			}
		}
	}()
	return e, nil
}

// URL is the redis:// address of the embedded server.
func (e *Embedded) URL() string { return "redis://" + e.srv.Addr() + "/0" }

// Addr is host:port of the embedded server.
func (e *Embedded) Addr() string { return e.srv.Addr() }

// Close stops the server.
func (e *Embedded) Close() {
	e.stop()
	e.srv.Close()
}
