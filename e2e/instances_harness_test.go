package e2e_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"cacheworkshop/models"
)

// The multi-instance tests run two (or more) processes of the real binary
// against one SQLite file and one redis-server that the test kills, pauses
// and restarts for real, as a classroom running several instances would.

// freshBound is the guarantee under test: once an edit has returned its
// 303 and Redis answers, every view of the product on every instance in
// every mode shows the new values within this long, and never the old ones
// after it. The design's own figure is one poll (100 ms) plus one relay
// retry (250 ms); the rest is slack for a loaded 2-core machine.
const freshBound = time.Second

// adminToken is every cluster's ADMIN_TOKEN, so the admin routes the tests
// use (/reset, /faults) are exercised with their guard on.
const adminToken = "e2e-admin"

var (
	portsMu sync.Mutex
	ports   = map[int]bool{}
)

// stablePort is a free loopback port that stays this test process's own:
// below Linux's ephemeral range (32768 and up by default), so that while a
// server the test killed is down, no outgoing connection can be given its
// port and keep it from starting again there, and never handed out twice,
// so parallel tests cannot pick the same one.
func stablePort(t *testing.T) int {
	t.Helper()
	portsMu.Lock()
	defer portsMu.Unlock()
	for try := 0; try < 1000; try++ {
		p := 20000 + rand.IntN(12000)
		if ports[p] {
			continue
		}
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
		if err != nil {
			continue
		}
		_ = l.Close()
		ports[p] = true
		return p
	}
	t.Fatal("no free port from 20000 to 31999")
	return 0
}

// redisProc is one redis-server process on a fixed port that a test can
// kill (SIGKILL), pause (SIGSTOP), resume (SIGCONT) and start again.
// internal/testredis cannot pause its server, so this keeps its own; it
// skips with the same message when redis-server is missing.
type redisProc struct {
	t      *testing.T
	port   int
	dir    string
	cmd    *exec.Cmd
	paused bool
}

func startRedisProc(t *testing.T) *redisProc {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		if os.Getenv("REQUIRE_REDIS") == "1" {
			t.Fatalf("REQUIRE_REDIS=1 but redis-server is not installed: %v", err)
		}
		t.Skip("SKIPPED real-Redis test: redis-server is not installed (apt-get install redis-server)")
	}
	r := &redisProc{t: t, port: stablePort(t), dir: t.TempDir()}
	r.Start(t)
	t.Cleanup(func() {
		if r.paused {
			_ = r.cmd.Process.Signal(syscall.SIGCONT)
		}
		r.Kill()
	})
	return r
}

// URL is the server's redis:// URL, for REDIS_URL.
func (r *redisProc) URL() string { return "redis://" + r.addr() + "/0" }

func (r *redisProc) addr() string { return "127.0.0.1:" + strconv.Itoa(r.port) }

// Start starts the server (empty: it keeps nothing on disk) and returns
// once it answers PING.
func (r *redisProc) Start(t *testing.T) {
	t.Helper()
	if r.cmd != nil {
		t.Fatal("redis-server is already running")
	}
	cmd := exec.Command("redis-server",
		"--port", strconv.Itoa(r.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", r.dir,
		"--logfile", "", "--loglevel", "warning")
	if err := cmd.Start(); err != nil {
		t.Fatalf("start redis-server: %v", err)
	}
	r.cmd = cmd
	r.waitPing(t)
}

// Kill stops the server with SIGKILL, as a crash would; harmless when it
// is not running.
func (r *redisProc) Kill() {
	if r.cmd == nil {
		return
	}
	_ = r.cmd.Process.Kill()
	_ = r.cmd.Wait()
	r.cmd, r.paused = nil, false
}

// Pause freezes the server with SIGSTOP: connections stay open and
// commands are accepted into socket buffers, but nothing answers.
func (r *redisProc) Pause(t *testing.T) {
	t.Helper()
	if err := r.pause(); err != nil {
		t.Fatalf("SIGSTOP redis-server: %v", err)
	}
}

// pause is Pause for a goroutine other than the test's.
func (r *redisProc) pause() error {
	if err := r.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		return err
	}
	r.paused = true
	return nil
}

// Resume continues a paused server and returns once it answers PING.
func (r *redisProc) Resume(t *testing.T) {
	t.Helper()
	if err := r.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatalf("SIGCONT redis-server: %v", err)
	}
	r.paused = false
	r.waitPing(t)
}

func (r *redisProc) waitPing(t *testing.T) {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: r.addr(), DialTimeout: 100 * time.Millisecond})
	defer c.Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		err := c.Ping(ctx).Err()
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("redis-server on %s did not answer: %v", r.addr(), err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Client is a fresh client of the server, closed when the test ends.
func (r *redisProc) Client() *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: r.addr()})
	r.t.Cleanup(func() { _ = c.Close() })
	return c
}

// cluster is one database file and one redis-server shared by the
// instances a test starts.
type cluster struct {
	t     *testing.T
	bin   string
	db    string
	redis *redisProc
	http  *http.Client
}

// newCluster builds the binary and starts redis-server.
func newCluster(t *testing.T) *cluster {
	t.Helper()
	if testing.Short() {
		t.Skip("SKIPPED multi-instance test: -short")
	}
	rp := startRedisProc(t)
	c := &cluster{t: t, bin: buildBinary(t), db: filepath.Join(t.TempDir(), "workshop.db"), redis: rp,
		http: &http.Client{
			Timeout:       10 * time.Second,
			Transport:     &http.Transport{MaxIdleConnsPerHost: 64},
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}}
	return c
}

// instance is one process of the server binary.
type instance struct {
	c      *cluster
	name   string
	addr   string
	URL    string
	cmd    *exec.Cmd
	exited chan error
	out    *syncBuffer
}

// start runs an instance on a new port, with env added to its
// environment. The first instance seeds the database; the others find it
// seeded.
func (c *cluster) start(t *testing.T, name string, env ...string) *instance {
	t.Helper()
	in := &instance{c: c, name: name, addr: "127.0.0.1:" + strconv.Itoa(stablePort(t))}
	in.URL = "http://" + in.addr
	c.t.Cleanup(func() {
		in.stop()
		if c.t.Failed() {
			c.t.Logf("%s output:\n%s", in.name, in.out.String())
		}
	})
	in.run(t, env...)
	return in
}

// restart runs the instance again on its port, after kill.
func (in *instance) restart(t *testing.T, env ...string) {
	t.Helper()
	if in.cmd != nil {
		t.Fatalf("%s is still running", in.name)
	}
	in.run(t, env...)
}

func (in *instance) run(t *testing.T, env ...string) {
	c := in.c
	t.Helper()
	cmd := exec.Command(c.bin)
	cmd.Env = append(os.Environ(),
		"ADDR="+in.addr,
		"DATABASE_PATH="+c.db,
		"REDIS_URL="+c.redis.URL(),
		"SLOW_QUERY_MS=0",
		"WEATHER_LATENCY_MS=0",
		"CACHE_DEFAULT=memory",
		"CACHE_TTL=5m",
		"ADMIN_TOKEN="+adminToken,
		"EDIT_REQUIRES_ADMIN=",
		"DEV=",
	)
	// Later entries win, so env overrides the defaults above.
	cmd.Env = append(cmd.Env, env...)
	if in.out == nil {
		in.out = &syncBuffer{}
	} else {
		fmt.Fprintf(in.out, "%s %s\n", in.name, restartMark)
	}
	cmd.Stdout, cmd.Stderr = in.out, in.out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", in.name, err)
	}
	in.cmd, in.exited = cmd, make(chan error, 1)
	go func(ch chan error) { ch <- cmd.Wait() }(in.exited)
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case err := <-in.exited:
			in.exited <- err
			t.Fatalf("%s exited before answering (%v):\n%s", in.name, err, in.out.String())
		default:
		}
		res, err := c.http.Get(in.URL + "/")
		if err == nil {
			_, _ = io.Copy(io.Discard, res.Body)
			_ = res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s at %s never answered 200 on / (%v):\n%s", in.name, in.URL, err, in.out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// restartMark separates the output of an instance's runs.
const restartMark = "----- restarted -----"

// lastRun is the output of the instance's current (or last) run.
func (in *instance) lastRun() string {
	out := in.out.String()
	if i := strings.LastIndex(out, restartMark); i >= 0 {
		return out[i+len(restartMark):]
	}
	return out
}

// kill ends the process with SIGKILL: no shutdown, no flush.
func (in *instance) kill() {
	if in.cmd == nil {
		return
	}
	_ = in.cmd.Process.Kill()
	<-in.exited
	in.cmd = nil
}

// stop ends the process as a user would (SIGTERM), killing it if it has
// not exited in time.
func (in *instance) stop() {
	if in.cmd == nil {
		return
	}
	_ = in.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-in.exited:
	case <-time.After(8 * time.Second):
		_ = in.cmd.Process.Kill()
		<-in.exited
	}
	in.cmd = nil
}

// resp is one answer, read whole.
type resp struct {
	Status int
	Header http.Header
	Body   string
}

// do sends one request; headers are name, value pairs. It returns an
// error rather than failing, so goroutines may call it.
func (in *instance) do(method, path string, form url.Values, headers ...string) (*resp, error) {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, in.URL+path, body)
	if err != nil {
		return nil, err
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := in.c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s on %s: %w", method, path, in.name, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, fmt.Errorf("%s %s on %s: %w", method, path, in.name, err)
	}
	return &resp{Status: res.StatusCode, Header: res.Header, Body: string(b)}, nil
}

// get fetches path and requires status 200.
func (in *instance) get(t *testing.T, path string, headers ...string) *resp {
	t.Helper()
	r, err := in.do(http.MethodGet, path, nil, headers...)
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != http.StatusOK {
		t.Fatalf("GET %s on %s: got status %d, want 200: %.300s", path, in.name, r.Status, r.Body)
	}
	return r
}

// product is a product as /api/products/{id} shows it.
type product struct {
	ID          int64  `json:"id"`
	Name        string `json:"name"`
	Description string `json:"description"`
	Category    string `json:"category"`
	PriceCents  int64  `json:"price_cents"`
	Stock       int64  `json:"stock"`
	Version     int64  `json:"version"`
	InCategory  struct {
		AvgCents int64 `json:"avg_cents"`
		MaxCents int64 `json:"max_cents"`
		Rank     int64 `json:"rank"`
	} `json:"price_in_category"`
}

// product reads a product from the database (mode none).
func (in *instance) product(t *testing.T, id int64) product {
	t.Helper()
	r := in.get(t, "/api/products/"+strconv.FormatInt(id, 10)+"?cache=none")
	var p product
	if err := json.Unmarshal([]byte(r.Body), &p); err != nil {
		t.Fatalf("product %d: %v", id, err)
	}
	return p
}

// editForm is the edit form for p with the changes in set.
func editForm(p product, set map[string]string) url.Values {
	f := url.Values{"name": {p.Name}, "description": {p.Description}, "category": {p.Category},
		"price": {models.PriceString(p.PriceCents)}, "stock": {strconv.FormatInt(p.Stock, 10)},
		"version": {strconv.FormatInt(p.Version, 10)}}
	for k, v := range set {
		f.Set(k, v)
	}
	return f
}

// edit saves a product through this instance's edit form, at the version
// the database has now, and returns when the 303 has arrived: the moment
// the guarantee starts.
func (in *instance) edit(t *testing.T, id int64, set map[string]string) time.Time {
	t.Helper()
	return in.editWith(t, id, set, nil)
}

// editWith is edit calling before, if set, as the POST is sent, so a
// fault can race the edit.
func (in *instance) editWith(t *testing.T, id int64, set map[string]string, before func()) time.Time {
	t.Helper()
	p := in.product(t, id)
	if before != nil {
		before()
	}
	r, err := in.do(http.MethodPost, "/products/"+strconv.FormatInt(id, 10)+"/edit", editForm(p, set))
	if err != nil {
		t.Fatal(err)
	}
	at := time.Now()
	if r.Status != http.StatusSeeOther {
		t.Fatalf("edit of product %d on %s: got status %d, want 303: %.300s", id, in.name, r.Status, r.Body)
	}
	return at
}

// admin posts an admin form (with the token) and requires its 303.
func (in *instance) admin(t *testing.T, path string, form url.Values) time.Time {
	t.Helper()
	r, err := in.do(http.MethodPost, path, form, "X-Admin-Token", adminToken)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Now()
	if r.Status != http.StatusSeeOther {
		t.Fatalf("POST %s on %s: got status %d, want 303: %.300s", path, in.name, r.Status, r.Body)
	}
	return at
}

// view is one way of seeing a product: a page or API response, in one
// mode, on one instance.
type view struct {
	in   *instance
	path string // with its query, without cache=
	mode string
	// shows reports whether the body shows a product named name.
	shows func(body, name string) bool
}

func (v view) url() string {
	sep := "?"
	if strings.Contains(v.path, "?") {
		sep = "&"
	}
	return v.path + sep + "cache=" + v.mode
}

func (v view) String() string { return v.in.name + " " + v.url() }

// Names in these tests are fixed-width and made of letters, digits and
// dashes, so none is a substring of another and none needs escaping in
// HTML or JSON: "shows name" and "shows no old name" are plain searches.
func showsHTMLCard(body, name string) bool { return strings.Contains(body, "<h1>"+name+"</h1>") }
func showsHTMLRow(body, name string) bool  { return strings.Contains(body, ">"+name+"</a></td>") }
func showsJSON(body, name string) bool     { return strings.Contains(body, `"name":"`+name+`"`) }

// productViews are every view of product id (detail, the list page that
// shows it, the JSON list page, the JSON detail) in every mode on every
// instance given.
func productViews(id int64, ins ...*instance) []view {
	pageNo := (id-1)/20 + 1
	paths := []struct {
		path  string
		shows func(body, name string) bool
	}{
		{fmt.Sprintf("/products/%d", id), showsHTMLCard},
		{fmt.Sprintf("/products?page=%d", pageNo), showsHTMLRow},
		{fmt.Sprintf("/api/products?page=%d", pageNo), showsJSON},
		{fmt.Sprintf("/api/products/%d", id), showsJSON},
	}
	var out []view
	for _, in := range ins {
		for _, p := range paths {
			for _, m := range modes {
				out = append(out, view{in: in, path: p.path, mode: m, shows: p.shows})
			}
		}
	}
	return out
}

// onlyModes keeps the views in the given modes.
func onlyModes(vs []view, keep ...string) []view {
	var out []view
	for _, v := range vs {
		for _, m := range keep {
			if v.mode == m {
				out = append(out, v)
			}
		}
	}
	return out
}

// observation is what one read of a view showed.
type observation struct {
	status int
	xcache string
	fresh  bool   // shows the wanted name and no old one
	old    string // the old name it showed, if any
	err    error
}

func (o observation) String() string {
	if o.err != nil {
		return o.err.Error()
	}
	s := fmt.Sprintf("status %d, X-Cache %s", o.status, o.xcache)
	if o.old != "" {
		s += ", shows the old name " + strconv.Quote(o.old)
	}
	return s
}

// observe reads v once: fresh means it answered 200, showing want (unless
// want is empty) and no name in old.
func (v view) observe(want string, old []string) observation {
	r, err := v.in.do(http.MethodGet, v.url(), nil)
	if err != nil {
		return observation{err: err}
	}
	o := observation{status: r.Status, xcache: r.Header.Get("X-Cache")}
	for _, n := range old {
		if strings.Contains(r.Body, n) {
			o.old = n
			break
		}
	}
	o.fresh = r.Status == http.StatusOK && o.old == "" && (want == "" || v.shows(r.Body, want))
	return o
}

// warmViews reads every view until it is a HIT (modes with a cache), so an edit
// has cached copies to invalidate, and requires each to show want. Right
// after a Redis outage a Redis-mode view needs a moment before it caches
// again (the circuit breaker's cooldown), hence the deadline.
func warmViews(t *testing.T, vs []view, want string) {
	t.Helper()
	for _, v := range vs {
		deadline := time.Now().Add(5 * time.Second)
		for {
			o := v.observe(want, nil)
			if !o.fresh {
				t.Fatalf("warm-up %s: does not show %q (%s)", v, want, o)
			}
			if v.mode == "none" || o.xcache == "HIT" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("warm-up %s: no HIT within 5s (last %s)", v, o)
			}
			if o.xcache == "ERROR" {
				time.Sleep(20 * time.Millisecond)
			}
		}
	}
}

// probe is one condition awaited: read reports whether it holds now and
// what it saw.
type probe struct {
	name string
	read func() (ok bool, saw string, err error)
}

// freshness is what await measured: for each probe, how long after the
// start of the guarantee it first held.
type freshness struct {
	latency map[string]time.Duration
	max     time.Duration
}

// await checks a guarantee: each probe must hold within bound of from,
// and every read of every probe from from+bound to from+bound+hold (two
// rounds at least) must hold too; a negative hold skips that check.
// Probes are read round-robin; a read
// that fails (an error, or a status other than the probe allows) fails
// the test. It reports every late or broken probe with what it saw.
func await(t *testing.T, what string, ps []probe, from time.Time, bound, hold time.Duration) freshness {
	t.Helper()
	f := freshness{latency: map[string]time.Duration{}}
	deadline := from.Add(bound)
	last := map[string]string{}
	pending := map[string]bool{}
	for _, p := range ps {
		pending[p.name] = true
	}
	read := map[string]bool{}
	for len(pending) > 0 {
		for _, p := range ps {
			if !pending[p.name] {
				continue
			}
			started := time.Now()
			ok, saw, err := p.read()
			last[p.name] = saw
			if err != nil {
				t.Errorf("%s: %s: %v", what, p.name, err)
				delete(pending, p.name)
				continue
			}
			// A probe first read after the deadline (a slow harness)
			// is judged by the reads after the bound below; one read
			// before it and failing then is late.
			if ok && read[p.name] && started.After(deadline) {
				t.Errorf("%s: %s: so only %v after the start of the guarantee (bound %v)",
					what, p.name, started.Sub(from).Round(time.Millisecond), bound)
			}
			read[p.name] = true
			if ok {
				d := time.Since(from)
				f.latency[p.name] = d
				f.max = max(f.max, d)
				delete(pending, p.name)
			}
		}
		if len(pending) > 0 && time.Now().After(deadline) {
			for _, p := range ps {
				if pending[p.name] {
					t.Errorf("%s: %s: still not so %v after the start of the guarantee (bound %v): %s",
						what, p.name, time.Since(from).Round(time.Millisecond), bound, last[p.name])
				}
			}
			return f
		}
	}
	if hold < 0 {
		return f
	}
	// Once the deadline has passed the bound holds for everyone: from
	// then on not one read may fail it.
	if d := time.Until(deadline); d > 0 {
		time.Sleep(d)
	}
	end := time.Now().Add(hold)
	for rounds := 0; rounds < 2 || time.Now().Before(end); rounds++ {
		for _, p := range ps {
			ok, saw, err := p.read()
			if err != nil || !ok {
				t.Errorf("%s: %s: after the bound (%v after the start): %s %v", what, p.name,
					time.Since(from).Round(time.Millisecond), saw, err)
				return f
			}
		}
	}
	return f
}

// freshProbes are probes that vs show want and none of old; every read
// must answer 200.
func freshProbes(vs []view, want string, old []string) []probe {
	ps := make([]probe, len(vs))
	for i, v := range vs {
		ps[i] = probe{name: v.String(), read: func() (bool, string, error) {
			o := v.observe(want, old)
			if o.err == nil && o.status != http.StatusOK {
				o.err = fmt.Errorf("status %d, want 200 (every read must answer)", o.status)
			}
			return o.fresh, o.String(), o.err
		}}
	}
	return ps
}

// awaitFresh is await for every view showing want and no name in old.
func awaitFresh(t *testing.T, what string, vs []view, want string, old []string, from time.Time, hold time.Duration) freshness {
	t.Helper()
	return await(t, what, freshProbes(vs, want, old), from, freshBound, hold)
}

// serverTimingKey is the page key of a miss, from Server-Timing.
var serverTimingKey = regexp.MustCompile(`cache;desc="(?:redis|memory)[^"]* miss (page:[^ "]+)`)
