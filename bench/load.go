package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http/httputil"
	"runtime"
	"runtime/pprof"
	"sync"
	"sync/atomic"
	"time"

	// HdrHistogram records every latency in fixed memory with bounded
	// relative error (3 significant digits here) and merges per-connection
	// histograms without locks on the hot path; it is the format wrk2 and
	// most serious load tools use, so p50/p99 mean the same thing here as
	// there. Sorting raw samples would cost memory proportional to the
	// request count and allocations inside the measured window.
	"github.com/HdrHistogram/hdrhistogram-go"
)

// The load generator is a minimal HTTP/1.1 client over one keep-alive TCP
// connection per worker: it writes a prebuilt request and parses only the
// status line and the few headers it checks, then discards the body. It
// allocates nothing per request, so the allocation counts in the table
// are the server's, and it leaves as much of the two cores as possible to
// the server. net/http's client would cost a few dozen allocations and
// tens of microseconds per request, comparable to a cached page itself,
// and would compress every ratio towards 1.

// target is what one row loads.
type target struct {
	addr string // host:port
	path string
	// cookie is sent as Cookie: the mode a browser remembers after the
	// learner picked it with ?cache=.
	cookie string
	// wantXCache is the X-Cache value every measured response must carry
	// ("" = the header must be absent, as for the raw handlers).
	wantXCache string
	// wantMode is the expected X-Cache-Mode ("" = absent).
	wantMode string
}

func (t target) request() []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: cacheworkshop-bench\r\nAccept: text/html,application/json\r\n", t.path, t.addr)
	if t.cookie != "" {
		fmt.Fprintf(&b, "Cookie: %s\r\n", t.cookie)
	}
	b.WriteString("\r\n")
	return b.Bytes()
}

// X-Cache values as counted.
const (
	xcAbsent = iota
	xcHit
	xcMiss
	xcBypass
	xcOther
	xcKinds
)

var xcNames = [xcKinds]string{"absent", "HIT", "MISS", "BYPASS", "other"}

func xcKind(v string) int {
	switch v {
	case "":
		return xcAbsent
	case "HIT":
		return xcHit
	case "MISS":
		return xcMiss
	case "BYPASS":
		return xcBypass
	}
	return xcOther
}

// loadResult is one row's measurement.
type loadResult struct {
	requests   int64
	elapsed    time.Duration
	hist       *hdrhistogram.Histogram
	errs       int64 // transport failures (reconnected)
	non200     int64
	badStatus  int
	xcache     [xcKinds]int64
	modeWrong  int64
	bodyMin    int64
	bodyMax    int64
	mallocs    uint64
	allocBytes uint64
	redisRT    int64
	dbQueries  int64
	firstErr   string
}

func (r *loadResult) rps() float64 {
	if r.elapsed <= 0 {
		return 0
	}
	return float64(r.requests) / r.elapsed.Seconds()
}

func (r *loadResult) perReq(n float64) float64 {
	if r.requests == 0 {
		return 0
	}
	return n / float64(r.requests)
}

// add merges another measurement of the same row (a later round).
func (r *loadResult) add(o *loadResult) {
	r.requests += o.requests
	r.elapsed += o.elapsed
	r.hist.Merge(o.hist)
	r.errs += o.errs
	r.non200 += o.non200
	if o.badStatus != 0 {
		r.badStatus = o.badStatus
	}
	for k := range r.xcache {
		r.xcache[k] += o.xcache[k]
	}
	r.modeWrong += o.modeWrong
	if o.requests > 0 && (r.bodyMin == 0 || o.bodyMin < r.bodyMin) {
		r.bodyMin = o.bodyMin
	}
	r.bodyMax = max(r.bodyMax, o.bodyMax)
	r.mallocs += o.mallocs
	r.allocBytes += o.allocBytes
	r.redisRT += o.redisRT
	r.dbQueries += o.dbQueries
	if r.firstErr == "" {
		r.firstErr = o.firstErr
	}
}

// Worker phases. The pause between warm-up and measurement lets every
// connection finish its in-flight request, so the allocation counter read
// at the start of the window covers exactly the requests it measures.
const (
	phaseWarm int32 = iota
	phasePause
	phaseMeasure
	phaseStop
)

type controller struct {
	phase   atomic.Int32
	paused  sync.WaitGroup
	release chan struct{}
}

type worker struct {
	t    target
	req  []byte
	mode []byte
	conn net.Conn
	br   *bufio.Reader
	hist *hdrhistogram.Histogram
	done atomic.Int64 // every completed request, for the progress line

	n, errs, non200, modeWrong int64
	badStatus                  int
	xc                         [xcKinds]int64
	bodyMin, bodyMax           int64
	firstErr                   string
}

func newHist() *hdrhistogram.Histogram {
	// Microseconds from 1 µs to 60 s.
	return hdrhistogram.New(1, 60_000_000, 3)
}

func (w *worker) run(ctl *controller) {
	for {
		switch ctl.phase.Load() {
		case phasePause:
			ctl.paused.Done()
			<-ctl.release
			continue
		case phaseStop:
			if w.conn != nil {
				_ = w.conn.Close()
			}
			return
		}
		rec := ctl.phase.Load() == phaseMeasure
		t0 := time.Now()
		status, xc, modeOK, body, err := w.do()
		d := time.Since(t0)
		w.done.Add(1)
		if !rec {
			if err != nil {
				time.Sleep(10 * time.Millisecond)
			}
			continue
		}
		if err != nil {
			w.errs++
			if w.firstErr == "" {
				w.firstErr = err.Error()
			}
			time.Sleep(10 * time.Millisecond)
			continue
		}
		w.n++
		us := d.Microseconds()
		if us < 1 {
			us = 1
		}
		if us > 60_000_000 {
			us = 60_000_000
		}
		_ = w.hist.RecordValue(us)
		if status != 200 {
			w.non200++
			w.badStatus = status
		}
		w.xc[xc]++
		if !modeOK {
			w.modeWrong++
		}
		if w.bodyMin == 0 || body < w.bodyMin {
			w.bodyMin = body
		}
		if body > w.bodyMax {
			w.bodyMax = body
		}
	}
}

var (
	hContentLength    = []byte("Content-Length")
	hTransferEncoding = []byte("Transfer-Encoding")
	hConnection       = []byte("Connection")
	hXCache           = []byte("X-Cache")
	hXCacheMode       = []byte("X-Cache-Mode")
	vChunked          = []byte("chunked")
	vClose            = []byte("close")
	vHit              = []byte("HIT")
	vMiss             = []byte("MISS")
	vBypass           = []byte("BYPASS")
)

// do sends one request and reads the whole response.
func (w *worker) do() (status, xc int, modeOK bool, body int64, err error) {
	if w.conn == nil {
		c, err := net.DialTimeout("tcp", w.t.addr, 2*time.Second)
		if err != nil {
			return 0, 0, false, 0, err
		}
		w.conn = c
		if w.br == nil {
			w.br = bufio.NewReaderSize(c, 64<<10)
		} else {
			w.br.Reset(c)
		}
	}
	fail := func(e error) (int, int, bool, int64, error) {
		_ = w.conn.Close()
		w.conn = nil
		return 0, 0, false, 0, e
	}
	// A server that hangs must fail the row, not the whole benchmark.
	_ = w.conn.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := w.conn.Write(w.req); err != nil {
		return fail(err)
	}
	line, err := w.br.ReadSlice('\n')
	if err != nil {
		return fail(err)
	}
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) {
		return fail(fmt.Errorf("bad status line %q", line))
	}
	status = int(line[9]-'0')*100 + int(line[10]-'0')*10 + int(line[11]-'0')
	cl := int64(-1)
	chunked, closeConn := false, false
	xc = xcAbsent
	modeSet := false
	for {
		line, err = w.br.ReadSlice('\n')
		if err != nil {
			return fail(err)
		}
		if len(line) <= 2 {
			break
		}
		i := bytes.IndexByte(line, ':')
		if i < 0 {
			return fail(fmt.Errorf("bad header line %q", line))
		}
		name, val := line[:i], bytes.TrimSpace(line[i+1:])
		switch {
		case bytes.EqualFold(name, hContentLength):
			var n int64
			for _, c := range val {
				if c < '0' || c > '9' {
					return fail(fmt.Errorf("bad Content-Length %q", val))
				}
				n = n*10 + int64(c-'0')
			}
			cl = n
		case bytes.EqualFold(name, hTransferEncoding):
			chunked = bytes.Contains(val, vChunked)
		case bytes.EqualFold(name, hConnection):
			closeConn = bytes.EqualFold(val, vClose)
		case bytes.EqualFold(name, hXCache):
			switch {
			case bytes.Equal(val, vHit):
				xc = xcHit
			case bytes.Equal(val, vMiss):
				xc = xcMiss
			case bytes.Equal(val, vBypass):
				xc = xcBypass
			default:
				xc = xcOther
			}
		case bytes.EqualFold(name, hXCacheMode):
			// ReadSlice's buffer is reused by the next read, so
			// compare now rather than keep the slice.
			modeSet = true
			modeOK = bytes.Equal(val, w.mode)
		}
	}
	if !modeSet {
		modeOK = len(w.mode) == 0
	}
	switch {
	case cl >= 0:
		n, err := w.br.Discard(int(cl))
		body = int64(n)
		if err != nil {
			return fail(err)
		}
	case chunked:
		n, err := io.Copy(io.Discard, httputil.NewChunkedReader(w.br))
		body = n
		if err != nil {
			return fail(err)
		}
		for {
			l, err := w.br.ReadSlice('\n')
			if err != nil {
				return fail(err)
			}
			if len(l) <= 2 {
				break
			}
		}
	default:
		n, err := io.Copy(io.Discard, w.br)
		body = n
		if err != nil {
			return fail(err)
		}
		closeConn = true
	}
	if closeConn {
		_ = w.conn.Close()
		w.conn = nil
	}
	return status, xc, modeOK, body, nil
}

// progressFunc reports a row's progress: its phase, time spent and total
// in that phase, and requests completed so far.
type progressFunc func(phase string, elapsed, total time.Duration, done int64)

// counters are read at the edges of the measurement window: Redis round
// trips and database statements so far.
type counters struct {
	redisRT, dbQueries func() int64
}

// runLoad drives conns connections at t for warm then dur, and measures
// the second part.
func runLoad(ctx context.Context, t target, conns int, warm, dur time.Duration, ctr counters, progress progressFunc) (*loadResult, error) {
	ctl := &controller{release: make(chan struct{})}
	ws := make([]*worker, conns)
	var wg sync.WaitGroup
	req := t.request()
	for i := range ws {
		w := &worker{t: t, req: req, mode: []byte(t.wantMode), hist: newHist()}
		// Connect before the clock starts: the row measures requests,
		// not handshakes.
		c, err := net.DialTimeout("tcp", t.addr, 2*time.Second)
		if err != nil {
			for _, w := range ws[:i] {
				_ = w.conn.Close()
			}
			return nil, fmt.Errorf("connect %s: %w", t.addr, err)
		}
		w.conn, w.br = c, bufio.NewReaderSize(c, 64<<10)
		ws[i] = w
	}
	runtime.GC()
	for _, w := range ws {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// The client's share of a -cpuprofile, per target.
			pprof.Do(ctx, pprof.Labels("client", t.path+" "+t.addr), func(context.Context) { w.run(ctl) })
		}()
	}
	sum := func() int64 {
		var n int64
		for _, w := range ws {
			n += w.done.Load()
		}
		return n
	}
	stop := func() {
		ctl.phase.Store(phaseStop)
		// Workers parked in the pause must see the stop too.
		select {
		case <-ctl.release:
		default:
			close(ctl.release)
		}
		wg.Wait()
	}
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	wait := func(phase string, d time.Duration) error {
		start := time.Now()
		end := start.Add(d)
		for {
			left := time.Until(end)
			if left <= 0 {
				return nil
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-tick.C:
				progress(phase, time.Since(start), d, sum())
			case <-time.After(left):
				return nil
			}
		}
	}
	if err := wait("warm-up", warm); err != nil {
		stop()
		return nil, err
	}
	ctl.paused.Add(conns)
	ctl.phase.Store(phasePause)
	ctl.paused.Wait()
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	rt0, db0 := ctr.redisRT(), ctr.dbQueries()
	t0 := time.Now()
	ctl.phase.Store(phaseMeasure)
	close(ctl.release)
	err := wait("measuring", dur)
	ctl.phase.Store(phaseStop)
	wg.Wait()
	elapsed := time.Since(t0)
	runtime.ReadMemStats(&m1)
	rt1, db1 := ctr.redisRT(), ctr.dbQueries()
	if err != nil {
		return nil, err
	}
	res := &loadResult{elapsed: elapsed, hist: newHist(),
		mallocs: m1.Mallocs - m0.Mallocs, allocBytes: m1.TotalAlloc - m0.TotalAlloc,
		redisRT: rt1 - rt0, dbQueries: db1 - db0}
	for _, w := range ws {
		res.hist.Merge(w.hist)
		res.requests += w.n
		res.errs += w.errs
		res.non200 += w.non200
		res.modeWrong += w.modeWrong
		if w.badStatus != 0 {
			res.badStatus = w.badStatus
		}
		for k := range w.xc {
			res.xcache[k] += w.xc[k]
		}
		if w.n > 0 && (res.bodyMin == 0 || w.bodyMin < res.bodyMin) {
			res.bodyMin = w.bodyMin
		}
		if w.bodyMax > res.bodyMax {
			res.bodyMax = w.bodyMax
		}
		if res.firstErr == "" {
			res.firstErr = w.firstErr
		}
	}
	if res.requests == 0 {
		msg := "no request completed"
		if res.firstErr != "" {
			msg += ": " + res.firstErr
		}
		return res, errors.New(msg)
	}
	return res, nil
}
