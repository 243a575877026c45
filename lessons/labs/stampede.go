package labs

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"

	"cacheworkshop/cache"
	"cacheworkshop/cache/page"
	"cacheworkshop/handlers"
	"cacheworkshop/trace"
)

const (
	maxStampedeN         = 500
	maxStampedeInstances = 8
	// stampedeOriginDelay is the simulated origin's latency on top of its
	// real query: the window in which concurrent misses pile up.
	stampedeOriginDelay = 100 * time.Millisecond
	// stampedeTTL outlives any run: the key must not expire mid-run.
	stampedeTTL = time.Minute
	// lockTTL and lockWait bound the lock protection: the holder has 5 s
	// to fill the key, and a waiter gives up after 3 s and loads the
	// origin itself rather than wait for ever.
	lockTTL, lockWait, lockPoll = 5 * time.Second, 3 * time.Second, 10 * time.Millisecond
)

// protections are the lab's three runs, in the order the table shows them.
var protections = []struct{ Name, Explain string }{
	{"off", "every request that misses loads the origin itself"},
	{"singleflight", "concurrent misses share one load per instance (golang.org/x/sync/singleflight)"},
	{"lock", "per instance singleflight, plus a Redis lock (SET NX PX with a token) so one instance loads while the others wait for its result"},
}

// stampedeData is the lab page's content: the form's values and, after a
// run, one result per protection.
type stampedeData struct {
	N, Instances int
	Results      []stampedeResult
	Error        string
	// MaxMS is the slowest request of all runs: the scale of the meters.
	MaxMS      float64
	OriginMS   int64
	AdminToken bool
}

// stampedeResult is one protection's run, as measured.
type stampedeResult struct {
	Protection  string
	Explain     string
	Loads       int64
	P50, P95    string
	Max         string
	MaxMS       float64
	ErrorsCount int64
}

// serveStampede shows the lab's form (GET) or runs the lab and shows its
// results (POST).
func (l *Lesson) serveStampede(w http.ResponseWriter, r *http.Request) error {
	d := stampedeData{N: 50, Instances: 4, OriginMS: stampedeOriginDelay.Milliseconds(), AdminToken: l.kit.AdminToken != ""}
	if r.Method == http.MethodPost {
		if err := handlers.ParseForm(w, r); err != nil {
			return err
		}
		var err error
		if d.N, err = handlers.FormInt(r, "n", 1, maxStampedeN); err != nil {
			return err
		}
		if d.Instances, err = handlers.FormInt(r, "instances", 1, maxStampedeInstances); err != nil {
			return err
		}
		if !l.running.CompareAndSwap(false, true) {
			w.Header().Set("Retry-After", "5")
			return &handlers.Error{Status: http.StatusTooManyRequests,
				Msg: "A stampede run is already under way on this server, and one runs at a time: its timings would skew each other's. Try again in a few seconds."}
		}
		defer l.running.Store(false)
		for _, p := range protections {
			res, err := l.runStampede(r.Context(), p.Name, d.N, d.Instances)
			if err != nil {
				d.Error = "Redis unavailable: " + page.Short(err)
				break
			}
			res.Explain = p.Explain
			d.Results = append(d.Results, res)
			l.kit.RecordLab(r, "stampede", p.Name, map[string]float64{"n": float64(d.N), "instances": float64(d.Instances),
				"loads": float64(res.Loads), "max_ms": res.MaxMS})
			d.MaxMS = max(d.MaxMS, res.MaxMS)
		}
	}
	return l.kit.Live(w, r, "stampede", "Stampede lab", "stampede", d)
}

// runStampede fires n concurrent requests at a key that is missing, as a
// hot key is the moment it expires, spread over simulated instances (each
// with its own singleflight group, as separate processes would have), and
// counts the origin loads.
//
// The lab's own reads are not recorded in the request's trace: they are
// the simulated instances' lookups, thousands of them, which the results
// table reports; the trace is this request's.
func (l *Lesson) runStampede(ctx context.Context, protection string, n, instances int) (stampedeResult, error) {
	res := stampedeResult{Protection: protection}
	c := l.lab
	// A fresh key per run, so it is missing when the run starts.
	id := make([]byte, 6)
	_, _ = rand.Read(id)
	key := protection + ":" + hex.EncodeToString(id)
	defer func() { _ = c.Delete(context.WithoutCancel(ctx), key) }()
	if err := c.Ping(ctx); err != nil {
		return res, err
	}
	var loads, errs atomic.Int64
	// origin is the simulated slow origin: a real aggregate query, then a
	// pause long enough for the other requests to pile up behind it.
	origin := func() ([]byte, error) {
		loads.Add(1)
		if _, err := l.store.CatalogueSummary(ctx); err != nil {
			return nil, err
		}
		t := time.NewTimer(stampedeOriginDelay)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-t.C:
		}
		return []byte("catalogue summary"), nil
	}
	fill := func() (any, error) {
		v, err := origin()
		if err != nil {
			return nil, err
		}
		return nil, c.Set(ctx, key, v, stampedeTTL)
	}
	// lockedFill lets one caller among every instance fill the key; the
	// others wait for its result, and load it themselves only if the
	// holder takes too long.
	lockedFill := func() (any, error) {
		lock, ok, err := c.TryLock(ctx, "lock:"+key, lockTTL)
		if err != nil {
			return nil, err
		}
		if ok {
			defer func() { _ = lock.Unlock(context.WithoutCancel(ctx)) }()
			return fill()
		}
		if _, found, err := cache.WaitFor(ctx, c, key, lockWait, lockPoll); err != nil || found {
			return nil, err
		}
		return fill()
	}
	load := func(inst *singleflight.Group) error {
		if _, found, err := c.Get(ctx, key); err != nil || found {
			return err
		}
		var err error
		switch protection {
		case "singleflight":
			_, err, _ = inst.Do(key, fill)
		case "lock":
			_, err, _ = inst.Do(key, lockedFill)
		default:
			_, err = fill()
		}
		return err
	}

	groups := make([]singleflight.Group, instances)
	lat := make([]time.Duration, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start // all at once, like the requests that follow an expiry
			t0 := time.Now()
			if err := load(&groups[i%instances]); err != nil {
				errs.Add(1)
			}
			lat[i] = time.Since(t0)
		})
	}
	close(start)
	wg.Wait()

	slices.Sort(lat)
	pct := func(p float64) time.Duration { return lat[min(len(lat)-1, int(p*float64(len(lat))))] }
	slowest := lat[len(lat)-1]
	res.Loads, res.ErrorsCount = loads.Load(), errs.Load()
	res.P50, res.P95, res.Max = trace.Millis(pct(0.50)), trace.Millis(pct(0.95)), trace.Millis(slowest)
	res.MaxMS = float64(slowest) / float64(time.Millisecond)
	return res, nil
}
