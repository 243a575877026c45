package main

import (
	"context"
	"fmt"
	"net/http"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// binaryResult is what the real server binary showed: how fast it starts
// and how much memory it holds once the catalogue is cached.
type binaryResult struct {
	buildDur     time.Duration
	coldStart    time.Duration // new database: includes creating and seeding it
	warmStart    time.Duration // database already there
	childSeed    string        // the binary's own "seeded catalogue took=" figure
	rssList      int64         // after every list page was cached once
	rssAll       int64         // after every list and detail page
	listPages    int
	detailPages  int
	notes        []string
	skippedCause string
}

// child is one running server binary.
type child struct {
	cmd  *exec.Cmd
	addr string
	logs *syncBuffer
}

func startChild(bin, dbPath, redisURL string) (*child, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	c := &child{addr: "127.0.0.1:" + strconv.Itoa(port), logs: &syncBuffer{}}
	c.cmd = exec.Command(bin)
	c.cmd.Env = append(envWithout("ADDR", "DATABASE_PATH", "REDIS_URL", "CACHE_DEFAULT", "CACHE_TTL",
		"SLOW_QUERY_MS", "MEMORY_CACHE_MB", "DEV", "WEATHER_LATENCY_MS", "WEATHER_TTL"),
		"ADDR="+c.addr, "DATABASE_PATH="+dbPath, "REDIS_URL="+redisURL,
		"CACHE_DEFAULT=memory", "SLOW_QUERY_MS=0")
	c.cmd.Stdout, c.cmd.Stderr = c.logs, c.logs
	if err := c.cmd.Start(); err != nil {
		return nil, err
	}
	return c, nil
}

// firstOK polls / until it answers 200 and returns the time since start.
func (c *child) firstOK(ctx context.Context, start time.Time) (time.Duration, error) {
	cl := &http.Client{Timeout: 2 * time.Second}
	deadline := start.Add(30 * time.Second)
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+c.addr+"/", nil)
		res, err := cl.Do(req)
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return time.Since(start), nil
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return 0, fmt.Errorf("no 200 on / within 30 s (last error %v); server log:\n%s", err, c.logs.String())
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// stop asks for a clean shutdown, then kills after a grace period.
func (c *child) stop() {
	if c.cmd.Process == nil {
		return
	}
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = c.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = c.cmd.Process.Kill()
		<-done
	}
}

var seededRe = regexp.MustCompile(`seeded catalogue"? products=\d+ took=(\S+)`)

// measureBinary builds the real server with `go build`, then times start to
// first 200 twice (new database, existing database) and reads its RSS after
// every page has been cached once in memory mode.
func measureBinary(ctx context.Context, root, dir, redisURL string, total int64, step func(string)) (*binaryResult, error) {
	r := &binaryResult{}
	gobin, err := exec.LookPath("go")
	if err != nil {
		r.skippedCause = "go is not on PATH, so the binary could not be built"
		return r, nil
	}
	bin := filepath.Join(dir, "cacheworkshop")
	step("building the server binary (go build)")
	t0 := time.Now()
	// A cold build cache on a busy machine can take minutes; the run
	// must still finish within its 3 minutes, so a slow build makes these
	// rows n/a instead.
	bctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	build := exec.CommandContext(bctx, gobin, "build", "-o", bin, ".")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		if bctx.Err() != nil && ctx.Err() == nil {
			r.skippedCause = "go build took over 60 s"
			return r, nil
		}
		return nil, fmt.Errorf("go build: %v\n%s", err, out)
	}
	r.buildDur = time.Since(t0)

	dbPath := filepath.Join(dir, "binary.db")
	step("starting the binary with a new database")
	start := time.Now()
	c, err := startChild(bin, dbPath, redisURL)
	if err != nil {
		return nil, err
	}
	r.coldStart, err = c.firstOK(ctx, start)
	if err != nil {
		c.stop()
		return nil, err
	}
	if m := seededRe.FindStringSubmatch(c.logs.String()); m != nil {
		r.childSeed = m[1]
	}
	pid := strconv.Itoa(c.cmd.Process.Pid)
	cookie := "cache_mode=memory"
	r.listPages = int((total + 19) / 20)
	step(fmt.Sprintf("binary: caching all %d list pages in memory mode", r.listPages))
	for p := 1; p <= r.listPages; p++ {
		if err := wantOK(ctx, c.addr, "/products?page="+strconv.Itoa(p), cookie); err != nil {
			c.stop()
			return nil, err
		}
	}
	if r.rssList, err = vmRSS(pid); err != nil {
		r.notes = append(r.notes, err.Error())
	}
	step(fmt.Sprintf("binary: caching all %d detail pages in memory mode", total))
	for id := int64(1); id <= total; id++ {
		if err := wantOK(ctx, c.addr, "/products/"+strconv.FormatInt(id, 10), cookie); err != nil {
			c.stop()
			return nil, err
		}
		r.detailPages++
	}
	if r.rssAll, err = vmRSS(pid); err != nil {
		r.notes = append(r.notes, err.Error())
	}
	c.stop()

	step("starting the binary again on the seeded database")
	start = time.Now()
	c, err = startChild(bin, dbPath, redisURL)
	if err != nil {
		return nil, err
	}
	r.warmStart, err = c.firstOK(ctx, start)
	c.stop()
	if err != nil {
		return nil, err
	}
	return r, nil
}

func wantOK(ctx context.Context, addr, path, cookie string) error {
	p, err := probe(ctx, addr, path, cookie)
	if err != nil {
		return fmt.Errorf("GET %s: %w", path, err)
	}
	if p.status != http.StatusOK {
		return fmt.Errorf("GET %s: status %d, want 200: %s", path, p.status, clip(string(p.body), 200))
	}
	return nil
}

func clip(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
