// Command bench is `make bench`: it builds the workshop servers in-process
// with app.New, as main.go does (SQLite seeded in a temporary folder, the
// memory cache, a private redis-server), serves each with its App's
// http.Server on loopback, loads every row of the table with 16 keep-alive
// connections, and prints one Markdown table measured in this one run,
// with the architecture targets as ratios of rows measured side by side.
// It also builds the real binary to time start-up and read its resident
// memory.
//
// Every row is checked before it counts: a "hit" row whose responses do
// not all say X-Cache: HIT fails the run, and so does a "fragments hot"
// row (a page rebuilt from cached fragments by a server whose page cache
// is off) whose sampled responses list a fragment lookup that missed.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

type options struct {
	dur, warm  time.Duration
	conns      int
	rounds     int
	out        string
	skipBinary bool
	// only, when set, lists the row ids to load (the raw rows are always
	// loaded, since every ratio needs them); the rest print as n/a.
	only string
	// cpuprofile, when set, records a CPU profile of the measured load
	// (server and load generator together: they share the process).
	cpuprofile string
}

func main() {
	var o options
	flag.DurationVar(&o.dur, "duration", 4*time.Second, "measured time per row")
	flag.DurationVar(&o.warm, "warmup", 500*time.Millisecond, "warm-up per row, not measured")
	flag.IntVar(&o.conns, "conns", 16, "concurrent keep-alive connections")
	flag.IntVar(&o.rounds, "rounds", 5, "rows take turns this many times, each measured for duration/rounds")
	flag.StringVar(&o.out, "out", "bench/out/latest.md", "where to write the Markdown report, relative to the module root")
	flag.BoolVar(&o.skipBinary, "skip-binary", false, "skip building the real binary (start-up and RSS rows become n/a)")
	flag.StringVar(&o.only, "only", "", "comma-separated row ids to load, e.g. list/memory,list/none (raw rows always run)")
	flag.StringVar(&o.cpuprofile, "cpuprofile", "", "write a CPU profile of the measured load to this file")
	flag.Parse()
	if o.conns < 1 || o.dur <= 0 || o.warm < 0 || o.rounds < 1 {
		fmt.Fprintln(os.Stderr, "bench: -conns and -rounds must be at least 1 and -duration positive")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, o)
	stop()
	os.Exit(code)
}

// progress writes to stderr: one line per step, and a live counter on a
// terminal.
type progress struct {
	w     io.Writer
	tty   bool
	start time.Time
	live  bool
}

func newProgress() *progress {
	p := &progress{w: os.Stderr, start: time.Now()}
	if fi, err := os.Stderr.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
		p.tty = true
	}
	return p
}

func (p *progress) stamp() string {
	return fmt.Sprintf("[%5.1fs]", time.Since(p.start).Seconds())
}

// step starts a new line.
func (p *progress) step(msg string) {
	p.endLive()
	fmt.Fprintf(p.w, "%s %s\n", p.stamp(), msg)
}

// update rewrites the current line (terminal only).
func (p *progress) update(msg string) {
	if !p.tty {
		return
	}
	fmt.Fprintf(p.w, "\r\033[K%s %s", p.stamp(), msg)
	p.live = true
}

func (p *progress) endLive() {
	if p.live {
		fmt.Fprint(p.w, "\r\033[K")
		p.live = false
	}
}

func run(ctx context.Context, o options) int {
	p := newProgress()
	err := bench(ctx, o, p)
	p.endLive()
	if errors.Is(err, context.Canceled) {
		fmt.Fprintln(os.Stderr, "bench: interrupted")
		return 130
	}
	var fe *failedError
	if errors.As(err, &fe) {
		fmt.Fprintln(os.Stderr, "\nbench: FAILED, the numbers above are not what they claim:")
		for _, m := range fe.msgs {
			fmt.Fprintln(os.Stderr, "  - "+m)
		}
		return 1
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	return 0
}

// failedError says rows did not serve what they claim; the table is still
// printed so the failure can be seen in context.
type failedError struct{ msgs []string }

// Error implements error.
func (e *failedError) Error() string { return strings.Join(e.msgs, "; ") }

func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && strings.Contains(string(b), "module cacheworkshop") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("run from inside the cacheworkshop module (no go.mod found above the current folder)")
		}
		dir = parent
	}
}

func bench(ctx context.Context, o options, p *progress) error {
	root, err := moduleRoot()
	if err != nil {
		return err
	}
	env := readEnv(root)
	tmp, err := os.MkdirTemp("", "cw-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	p.step("starting Redis")
	rs, err := startRedis(ctx, tmp)
	if err != nil {
		return err
	}
	defer rs.stop()
	p.step("using " + rs.version + " at " + rs.url)

	p.step("opening and seeding SQLite in " + tmp)
	w, err := newWorkshop(ctx, filepath.Join(tmp, "bench.db"), rs)
	if err != nil {
		return err
	}
	defer w.close()
	mainSrv, err := serve("app", w.main.HTTP)
	if err != nil {
		return err
	}
	defer mainSrv.close()
	slowSrv, err := serve("slow", w.slow.HTTP)
	if err != nil {
		return err
	}
	defer slowSrv.close()
	fragSrv, err := serve("fragments", w.frag.HTTP)
	if err != nil {
		return err
	}
	defer fragSrv.close()

	// The raw handlers serve exactly the bytes of the list page as a
	// memory hit sends them (a miss is larger: its trace panel lists every
	// fragment lookup), so the target rows move the same payload.
	var lp *probeResult
	for range 2 {
		if lp, err = probe(ctx, mainSrv.addr, listPath, "cache_mode=memory"); err != nil {
			return err
		}
		if lp.status != 200 {
			return fmt.Errorf("GET %s: status %d, want 200: %s", listPath, lp.status, clip(string(lp.body), 300))
		}
	}
	if got := lp.header.Get("X-Cache"); got != "HIT" {
		return fmt.Errorf("GET %s in memory mode twice: X-Cache %q, want HIT", listPath, got)
	}
	rawBody := lp.body
	raw, err := serve("raw", withAppSettings(w.main, rawHandler(rawBody)))
	if err != nil {
		return err
	}
	defer raw.close()
	const rawKey = "bench:raw-page"
	if err := w.rawRdb.Set(ctx, rawKey, rawBody, 0).Err(); err != nil {
		return fmt.Errorf("store the raw page in Redis: %w", err)
	}
	rawGet, err := serve("rawget", withAppSettings(w.main, rawRedisHandler(w.rawRdb, rawKey)))
	if err != nil {
		return err
	}
	defer rawGet.close()

	rep := &report{opts: o, env: env, redis: rs, rawSize: len(rawBody), seedDur: w.seedDur, seeded: w.seeded, total: w.total,
		loadStart: readLoadavg()}

	// Memory, before any load: every list page, then every detail page,
	// cached once in memory mode.
	listPages := int((w.total + 19) / 20)
	p.step(fmt.Sprintf("in-process: caching all %d list pages in memory mode", listPages))
	for i := 1; i <= listPages; i++ {
		if err := wantOK(ctx, mainSrv.addr, "/products?page="+strconv.Itoa(i), "cache_mode=memory"); err != nil {
			return err
		}
	}
	rep.selfRSSList, _ = vmRSS("self")

	if o.skipBinary {
		rep.bin = &binaryResult{skippedCause: "skipped with -skip-binary"}
	} else {
		rep.bin, err = measureBinary(ctx, root, tmp, rs.url, w.total, p.step)
		if err != nil {
			return fmt.Errorf("server binary: %w", err)
		}
	}

	// The bar and trace panel of the probed hit mark where its slot was.
	slotStart := bytes.Index(rawBody, []byte(`<section class="reqbar`))
	slotEnd := bytes.Index(rawBody, []byte(`</details>`)) + len(`</details>`)
	if slotStart < 0 || slotEnd < slotStart {
		return fmt.Errorf("GET %s: no request bar found in the memory hit's body", listPath)
	}
	rawHit, err := serve("rawhit", withAppSettings(w.main, rawHitHandler(lp.header, rawBody, slotStart, slotEnd, 0)))
	if err != nil {
		return err
	}
	defer rawHit.close()
	rawHitWork, err := serve("rawhit-work", withAppSettings(w.main, rawHitHandler(lp.header, rawBody, slotStart, slotEnd, floorWork)))
	if err != nil {
		return err
	}
	defer rawHitWork.close()

	nginxAddr, noNginx := "", ""
	if px, err := startNginx(tmp, mainSrv.addr); err != nil {
		noNginx = err.Error()
	} else {
		defer px.stop()
		nginxAddr = px.addr
	}
	rows := plan(mainSrv.addr, slowSrv.addr, fragSrv.addr, raw.addr, rawGet.addr, rawHit.addr, rawHitWork.addr, rs.label, nginxAddr, noNginx)
	if err := selectRows(rows, o.only); err != nil {
		return err
	}
	ctr := counters{redisRT: w.redisRT.Load, dbQueries: w.queries}
	// Check every row once before any load: a hit row's first request
	// may fill the cache, and a missing route makes its rows n/a.
	p.step("checking every row's headers with one request each")
	apiMissing := ""
	var live []*row
	for _, r := range rows {
		if r.na == "" && r.group == "api" && apiMissing != "" {
			r.na = apiMissing
		}
		if r.na == "" && r.checkProbe {
			pr, err := warmAndCheck(ctx, r)
			if err != nil {
				return err
			}
			switch {
			case r.group == "api" && pr.status == 404:
				apiMissing = "404: not built yet"
				r.na = apiMissing
			case pr.status != 200:
				r.problems = append(r.problems, fmt.Sprintf("probe got status %d: %s", pr.status, clip(string(pr.body), 200)))
			}
			r.probe = pr
		}
		if r.na == "" && r.fragHot {
			if err := checkFragments(ctx, r, "before the load"); err != nil {
				return err
			}
		}
		if r.noFrags {
			if err := checkNoFrags(ctx, r); err != nil {
				return err
			}
		}
		if r.na == "" {
			live = append(live, r)
		}
	}
	// Rows take turns in rounds, so a burst of other work on the machine
	// lands on several rows instead of skewing one row's ratio.
	per := o.dur / time.Duration(o.rounds)
	if o.cpuprofile != "" {
		stopProf, err := startCPUProfile(o.cpuprofile)
		if err != nil {
			return err
		}
		defer stopProf()
	}
	for round := 1; round <= o.rounds; round++ {
		warm := o.warm
		if round > 1 && warm > 100*time.Millisecond {
			warm = 100 * time.Millisecond // caches and connections are hot already
		}
		for i, r := range live {
			label := fmt.Sprintf("round %d/%d, row %d/%d: %s · %s", round, o.rounds, i+1, len(live), r.name, r.mode)
			if !p.tty {
				p.step(label)
			}
			if r.firstWindow.IsZero() {
				r.firstWindow = time.Now()
			}
			res, err := runLoad(ctx, r.t, o.conns, warm, per, ctr, func(phase string, el, tot time.Duration, done int64) {
				p.update(fmt.Sprintf("%s: %s %.1f/%.1fs, %d requests", label, phase, el.Seconds(), tot.Seconds(), done))
			})
			if err != nil {
				return fmt.Errorf("%s: %w", label, err)
			}
			r.lastWindow = time.Now()
			if r.res == nil {
				r.res = res
			} else {
				r.res.add(res)
			}
		}
	}
	p.endLive()
	// The load checks X-Cache on every response; whether the fragments
	// behind a fragments-hot page still hit is read from a sample.
	for _, r := range live {
		if r.fragHot && len(r.problems) == 0 {
			if err := checkFragments(ctx, r, "after the load"); err != nil {
				return err
			}
		}
	}
	p.step(fmt.Sprintf("sampling Server-Timing totals: %d sequential requests per page row", serverTimeSamples))
	for _, r := range live {
		if r.group != "raw" && len(r.problems) == 0 {
			if err := sampleServerTime(ctx, r); err != nil {
				return err
			}
		}
	}
	for _, r := range live {
		r.verify(o.conns)
		res := r.res
		fmt.Fprintf(p.w, "%s %s · %s: %s req/s, p50 %s, p99 %s, %s allocs/req%s\n", p.stamp(), r.name, r.mode, fmtRate(res.rps()),
			fmtUS(res.hist.ValueAtQuantile(50)), fmtUS(res.hist.ValueAtQuantile(99)),
			fmtFloat(res.perReq(float64(res.mallocs))), r.problemSuffix())
	}
	rep.rows = rows
	rep.loadEnd = readLoadavg()
	rep.logs = w.logs.String()
	rep.took = time.Since(p.start)

	md := rep.markdown()
	fmt.Println(md)
	out := o.out
	if !filepath.IsAbs(out) {
		out = filepath.Join(root, out)
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(out, []byte(md), 0o644); err != nil {
		return err
	}
	p.step("wrote " + out)
	var fails []string
	for _, r := range rep.rows {
		for _, m := range r.problems {
			fails = append(fails, r.name+" · "+r.mode+": "+m)
		}
	}
	if len(fails) > 0 {
		return &failedError{fails}
	}
	return nil
}
