package labs

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"math"
	mrand "math/rand/v2"
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
	// stampedeTTL is how long a rebuilt entry is fresh: longer than any
	// run, so an entry rebuilt during a run stays fresh to its end.
	stampedeTTL = time.Minute
	// stampedeLead is how long the key has left when a run starts. During
	// it the hot key's ordinary traffic reads it, one read every
	// trickleEvery spread over the instances; the burst arrives the
	// instant it expires.
	stampedeLead = 300 * time.Millisecond
	trickleEvery = 2 * time.Millisecond
	// lockTTL and lockWait bound the lock protection: the holder has 5 s
	// to fill the key, and a waiter gives up after 3 s and loads the
	// origin itself rather than wait for ever.
	lockTTL, lockWait, lockPoll = 5 * time.Second, 3 * time.Second, 10 * time.Millisecond
	// xfetchBeta weighs early refresh: above 1 refreshes earlier, below
	// later. 1 is the value its authors show to be optimal.
	xfetchBeta = 1.0
)

// protections are the lab's runs, in the order the table shows them.
var protections = []struct{ Name, Explain string }{
	{"off", "every request that misses loads the origin itself"},
	{"singleflight", "concurrent misses share one load per instance (golang.org/x/sync/singleflight)"},
	{"lock", "per instance singleflight, plus a Redis lock (SET NX PX with a token) so one instance loads while the others wait for its result"},
	{"stale-while-revalidate", "an expired entry is still served, at once, while one request (per instance singleflight and a Redis lock) rebuilds it in the background"},
	{"early-refresh", "XFetch: every read may rebuild the entry before it expires, with a chance that rises as expiry nears (β = 1, scaled by how long the last rebuild took); an instance already rebuilding starts no second rebuild"},
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
	LeadMS     int64
	TrickleMS  int64
	AdminToken bool
}

// stampedeResult is one protection's run, as measured.
type stampedeResult struct {
	Protection string
	Explain    string
	// Loads counts every origin load of the run; Early those made before
	// the expiry, by the ordinary traffic (early refreshes).
	Loads, Early int64
	// How the burst's requests were answered: from a fresh entry, from a
	// stale one, after waiting for another request's load, or by loading
	// the origin themselves.
	Fresh, Stale, Waited, Loaded int64
	P50, P95, Max                string
	MaxMS                        float64
	ErrorsCount                  int64
	// RebuiltAfter is when the background rebuild finished, counted from
	// the expiry (stale-while-revalidate only).
	RebuiltAfter string
}

// serveStampede shows the lab's form (GET) or runs the lab and shows its
// results (POST).
func (l *Lesson) serveStampede(w http.ResponseWriter, r *http.Request) error {
	d := stampedeData{N: 50, Instances: 4, OriginMS: stampedeOriginDelay.Milliseconds(), LeadMS: stampedeLead.Milliseconds(),
		TrickleMS: trickleEvery.Milliseconds(), AdminToken: l.kit.AdminToken != ""}
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
		l.runAll(r, &d)
	}
	return l.kit.Live(w, r, "stampede", "Stampede lab", "stampede", d)
}

// runAll runs every protection in turn into d, and frees the lab for the
// next run as soon as it is over, before the page is even rendered.
func (l *Lesson) runAll(r *http.Request, d *stampedeData) {
	defer l.running.Store(false)
	ctx := r.Context()
	for _, p := range protections {
		run := &stampedeRun{c: l.lab, protection: p.Name, n: d.N, instances: d.Instances, lead: stampedeLead,
			every: trickleEvery, origin: l.origin}
		res, err := run.run(ctx)
		if err != nil {
			d.Error = "Redis unavailable: " + page.Short(err)
			return
		}
		res.Explain = p.Explain
		d.Results = append(d.Results, res)
		l.kit.RecordLab(r, "stampede", p.Name, map[string]float64{"n": float64(d.N), "instances": float64(d.Instances),
			"loads": float64(res.Loads), "max_ms": res.MaxMS})
		d.MaxMS = max(d.MaxMS, res.MaxMS)
	}
}

// origin is the simulated slow origin: a real aggregate query, then a
// pause long enough for the other requests to pile up behind it.
func (l *Lesson) origin(ctx context.Context) ([]byte, error) {
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

// labEntry is what the lab stores under its key: the value with the time
// it stops being fresh and how long its rebuild took (XFetch's δ). The
// expiry is kept in the value rather than left to Redis's TTL, so that a
// stale copy can still be read after it (stale-while-revalidate) and every
// protection sees the same instant of expiry.
type labEntry struct {
	Expires time.Time
	Delta   time.Duration
	Value   []byte
}

func (e labEntry) encode() []byte {
	b := binary.BigEndian.AppendUint64(nil, uint64(e.Expires.UnixNano()))
	b = binary.BigEndian.AppendUint64(b, uint64(e.Delta))
	return append(b, e.Value...)
}

func decodeEntry(b []byte) (labEntry, bool) {
	if len(b) < 16 {
		return labEntry{}, false
	}
	return labEntry{Expires: time.Unix(0, int64(binary.BigEndian.Uint64(b))), Delta: time.Duration(binary.BigEndian.Uint64(b[8:])), Value: b[16:]}, true
}

// The ways a burst request was answered.
const (
	answeredFresh = iota
	answeredStale
	answeredWaited
	answeredLoaded
)

// stampedeRun is one protection's run: a hot key with lead left to live,
// read by ordinary traffic until it expires, then n concurrent requests
// the instant it does, spread over simulated instances (each with its own
// singleflight group, as separate processes would have).
type stampedeRun struct {
	c          *cache.Redis
	protection string
	n          int
	instances  int
	lead       time.Duration
	every      time.Duration
	origin     func(context.Context) ([]byte, error)
	// answered, when set, is called once every burst request has been
	// answered, before the run waits for work still in the background.
	answered func()

	key     string
	loads   atomic.Int64
	early   atomic.Int64
	inBurst atomic.Bool
	// background collects the stale-while-revalidate rebuilds started,
	// and rebuiltAt when the last finished.
	bgMu       sync.Mutex
	background []<-chan singleflight.Result
	rebuiltAt  atomic.Int64
}

// instance is one simulated server process.
type instance struct {
	flight singleflight.Group
	// refreshing is set while this instance rebuilds the key early.
	refreshing atomic.Bool
}

// run performs the run and measures it.
//
// The lab's own reads are not recorded in the request's trace: they are
// the simulated instances' lookups, hundreds of them, which the results
// table reports; the trace is this request's.
func (s *stampedeRun) run(ctx context.Context) (stampedeResult, error) {
	res := stampedeResult{Protection: s.protection}
	// A fresh key per run, so nothing of an earlier run is read.
	id := make([]byte, 6)
	_, _ = rand.Read(id)
	s.key = s.protection + ":" + hex.EncodeToString(id)
	defer func() { _ = s.c.Delete(context.WithoutCancel(ctx), s.key, "lock:"+s.key) }()
	if err := s.c.Ping(ctx); err != nil {
		return res, err
	}
	start := time.Now()
	expires := start.Add(s.lead)
	// The entry as its last rebuild left it: it took the origin's usual
	// time, and has lead left.
	seed := labEntry{Expires: expires, Delta: stampedeOriginDelay, Value: []byte("catalogue summary")}
	if err := s.c.Set(ctx, s.key, seed.encode(), 2*stampedeTTL); err != nil {
		return res, err
	}
	insts := make([]instance, s.instances)
	var errs atomic.Int64

	// The ordinary traffic before the expiry: one read every s.every, on
	// the instances in turn, each in its own goroutine as concurrent
	// requests are.
	var trickle sync.WaitGroup
	tick := time.NewTicker(s.every)
	for i := 0; time.Now().Before(expires); i++ {
		trickle.Go(func() {
			if _, err := s.load(ctx, &insts[i%s.instances]); err != nil {
				errs.Add(1)
			}
		})
		select {
		case <-ctx.Done():
			tick.Stop()
			trickle.Wait()
			return res, ctx.Err()
		case <-tick.C:
		}
	}
	tick.Stop()
	if d := time.Until(expires); d > 0 {
		time.Sleep(d)
	}

	// The burst, the instant the entry expires.
	s.inBurst.Store(true)
	lat := make([]time.Duration, s.n)
	how := make([]int, s.n)
	release := make(chan struct{})
	var burst sync.WaitGroup
	for i := range s.n {
		burst.Go(func() {
			<-release
			t0 := time.Now()
			a, err := s.load(ctx, &insts[i%s.instances])
			if err != nil {
				errs.Add(1)
			}
			lat[i], how[i] = time.Since(t0), a
		})
	}
	close(release)
	burst.Wait()
	if s.answered != nil {
		s.answered()
	}
	trickle.Wait()
	s.bgMu.Lock()
	bg := s.background
	s.bgMu.Unlock()
	for _, ch := range bg {
		if r := <-ch; r.Err != nil {
			errs.Add(1)
		}
	}

	for _, a := range how {
		switch a {
		case answeredFresh:
			res.Fresh++
		case answeredStale:
			res.Stale++
		case answeredWaited:
			res.Waited++
		default:
			res.Loaded++
		}
	}
	slices.Sort(lat)
	pct := func(p float64) time.Duration { return lat[min(len(lat)-1, int(p*float64(len(lat))))] }
	slowest := lat[len(lat)-1]
	res.Loads, res.Early, res.ErrorsCount = s.loads.Load(), s.early.Load(), errs.Load()
	res.P50, res.P95, res.Max = trace.Millis(pct(0.50)), trace.Millis(pct(0.95)), trace.Millis(slowest)
	res.MaxMS = float64(slowest) / float64(time.Millisecond)
	if at := s.rebuiltAt.Load(); at != 0 {
		res.RebuiltAfter = trace.Millis(time.Unix(0, at).Sub(expires))
	}
	return res, nil
}

// read returns the entry under the key, if any.
func (s *stampedeRun) read(ctx context.Context) (labEntry, bool, error) {
	v, found, err := s.c.Get(ctx, s.key)
	if err != nil || !found {
		return labEntry{}, false, err
	}
	e, ok := decodeEntry(v)
	return e, ok, nil
}

// fill loads the origin and stores the result, fresh for stampedeTTL.
func (s *stampedeRun) fill(ctx context.Context) error {
	s.loads.Add(1)
	if !s.inBurst.Load() {
		s.early.Add(1)
	}
	t0 := time.Now()
	v, err := s.origin(ctx)
	if err != nil {
		return err
	}
	e := labEntry{Expires: time.Now().Add(stampedeTTL), Delta: time.Since(t0), Value: v}
	return s.c.Set(ctx, s.key, e.encode(), 2*stampedeTTL)
}

// lockedFill lets one caller among every instance fill the key; the
// others wait for a fresh entry, and load it themselves only if the
// holder takes too long.
func (s *stampedeRun) lockedFill(ctx context.Context) (int, error) {
	lock, ok, err := s.c.TryLock(ctx, "lock:"+s.key, lockTTL)
	if err != nil {
		return answeredLoaded, err
	}
	if ok {
		defer func() { _ = lock.Unlock(context.WithoutCancel(ctx)) }()
		return answeredLoaded, s.fill(ctx)
	}
	deadline := time.Now().Add(lockWait)
	for time.Now().Before(deadline) {
		if e, found, err := s.read(ctx); err != nil || (found && time.Now().Before(e.Expires)) {
			return answeredWaited, err
		}
		t := time.NewTimer(lockPoll)
		select {
		case <-ctx.Done():
			t.Stop()
			return answeredWaited, ctx.Err()
		case <-t.C:
		}
	}
	return answeredLoaded, s.fill(ctx)
}

// shared runs fill through the instance's singleflight group and says
// whether this caller loaded or waited for another's load.
func shared(inst *instance, key string, fill func() (int, error)) (int, error) {
	ran := false
	v, err, _ := inst.flight.Do(key, func() (any, error) {
		ran = true
		return fill()
	})
	a, _ := v.(int)
	if !ran {
		a = answeredWaited
	}
	return a, err
}

// load is one request for the key under the run's protection.
func (s *stampedeRun) load(ctx context.Context, inst *instance) (int, error) {
	e, found, err := s.read(ctx)
	if err != nil {
		return answeredLoaded, err
	}
	now := time.Now()
	fresh := found && now.Before(e.Expires)
	plainFill := func() (int, error) { return answeredLoaded, s.fill(ctx) }
	lockedFill := func() (int, error) { return s.lockedFill(ctx) }
	switch s.protection {
	case "singleflight":
		if fresh {
			return answeredFresh, nil
		}
		return shared(inst, s.key, plainFill)
	case "lock":
		if fresh {
			return answeredFresh, nil
		}
		return shared(inst, s.key, lockedFill)
	case "stale-while-revalidate":
		if fresh {
			return answeredFresh, nil
		}
		if !found {
			return shared(inst, s.key, lockedFill)
		}
		s.revalidate(ctx, inst)
		return answeredStale, nil
	case "early-refresh":
		if fresh && xfetch(now, e, mrand.Float64()) && inst.refreshing.CompareAndSwap(false, true) {
			defer inst.refreshing.Store(false)
			return answeredLoaded, s.fill(ctx)
		}
		if fresh {
			return answeredFresh, nil
		}
		return shared(inst, s.key, plainFill)
	}
	if fresh {
		return answeredFresh, nil
	}
	return plainFill()
}

// revalidate starts the background rebuild of a stale entry, unless this
// instance has one under way; across instances the Redis lock lets one
// rebuild. The caller does not wait: it has a stale copy to serve.
func (s *stampedeRun) revalidate(ctx context.Context, inst *instance) {
	ch := inst.flight.DoChan("revalidate:"+s.key, func() (any, error) {
		lock, ok, err := s.c.TryLock(ctx, "lock:"+s.key, lockTTL)
		if err != nil || !ok {
			return nil, err
		}
		defer func() { _ = lock.Unlock(context.WithoutCancel(ctx)) }()
		// Another instance may have rebuilt it since we read it.
		if e, found, err := s.read(ctx); err != nil || (found && time.Now().Before(e.Expires)) {
			return nil, err
		}
		err = s.fill(ctx)
		if err == nil {
			s.rebuiltAt.Store(time.Now().UnixNano())
		}
		return nil, err
	})
	s.bgMu.Lock()
	s.background = append(s.background, ch)
	s.bgMu.Unlock()
}

// xfetch decides whether a read at now of the fresh entry e rebuilds it
// early (Vattani, Chierichetti and Lowenstein, "Optimal Probabilistic
// Cache Stampede Prevention", 2015): yes when now − δ·β·ln(u) has reached
// the expiry, for u uniform in (0, 1]. −ln(u) is exponentially
// distributed, so the chance is exp(−(time left)/(δ·β)): tiny while the
// entry is young, 1/e when one rebuild's time is left, certain at expiry.
// A slow rebuild (large δ) starts earlier.
func xfetch(now time.Time, e labEntry, u float64) bool {
	u = 1 - u // rand's [0, 1) into (0, 1], so ln(u) is finite
	early := time.Duration(-float64(e.Delta) * xfetchBeta * math.Log(u))
	return !now.Add(early).Before(e.Expires)
}
