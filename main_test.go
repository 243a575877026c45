package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"cacheworkshop/internal/testredis"
)

// configEnv is every variable parseConfig reads; each test starts with all
// of them unset (parseConfig treats empty as unset).
var configEnv = []string{"ADDR", "DATABASE_PATH", "REDIS_URL", "CACHE_DEFAULT", "CACHE_TTL", "SLOW_QUERY_MS",
	"MEMORY_CACHE_MB", "WEATHER_LATENCY_MS", "WEATHER_TTL", "WEATHER_UPSTREAM_URL", "DEV",
	"ADMIN_TOKEN", "EDIT_REQUIRES_ADMIN", "PPROF"}

func TestParseConfig(t *testing.T) {
	tests := []struct {
		name  string
		env   map[string]string
		args  []string
		check func(c config) string
		err   string // part of the expected error; empty means success
	}{
		{name: "defaults", check: func(c config) string {
			if c.Addr != "127.0.0.1:8080" || c.DatabasePath != "data/workshop.db" || c.RedisURL != "redis://127.0.0.1:6379/0" ||
				c.CacheDefault != "memory" || c.CacheTTL != 5*time.Minute || c.SlowQueryMS != 300 || c.MemoryMB != 64 ||
				c.WeatherMS != 1000 || c.WeatherTTL != 60*time.Second || c.Dev {
				return "not the documented defaults"
			}
			return ""
		}},
		{name: "env", env: map[string]string{"ADDR": ":9999", "DATABASE_PATH": "/tmp/x.db", "REDIS_URL": "redis://r:1/2",
			"CACHE_DEFAULT": "redis", "CACHE_TTL": "30s", "SLOW_QUERY_MS": "0", "MEMORY_CACHE_MB": "8",
			"WEATHER_LATENCY_MS": "5", "WEATHER_TTL": "2m", "DEV": "1"}, check: func(c config) string {
			if c.Addr != ":9999" || c.DatabasePath != "/tmp/x.db" || c.RedisURL != "redis://r:1/2" || c.CacheDefault != "redis" ||
				c.CacheTTL != 30*time.Second || c.SlowQueryMS != 0 || c.MemoryMB != 8 || c.WeatherMS != 5 ||
				c.WeatherTTL != 2*time.Minute || !c.Dev {
				return "env values not applied"
			}
			return ""
		}},
		{name: "flag wins over env", env: map[string]string{"ADDR": ":1", "SLOW_QUERY_MS": "10", "CACHE_DEFAULT": "redis", "CACHE_TTL": "1m"},
			args: []string{"-addr", ":2", "-slow-query-ms", "20", "-cache-default", "none", "-cache-ttl", "2m"},
			check: func(c config) string {
				if c.Addr != ":2" || c.SlowQueryMS != 20 || c.CacheDefault != "none" || c.CacheTTL != 2*time.Minute {
					return "flags did not win"
				}
				return ""
			}},
		{name: "empty env is unset", env: map[string]string{"SLOW_QUERY_MS": ""}, check: func(c config) string {
			if c.SlowQueryMS != 300 {
				return "empty SLOW_QUERY_MS not treated as unset"
			}
			return ""
		}},
		{name: "bad ttl", env: map[string]string{"CACHE_TTL": "soon"}, err: "CACHE_TTL"},
		{name: "negative ttl", env: map[string]string{"CACHE_TTL": "-5s"}, err: "CACHE_TTL"},
		{name: "zero ttl flag", args: []string{"-cache-ttl", "0s"}, err: "CACHE_TTL"},
		{name: "slow query not a number", env: map[string]string{"SLOW_QUERY_MS": "fast"}, err: "SLOW_QUERY_MS"},
		{name: "slow query negative", env: map[string]string{"SLOW_QUERY_MS": "-1"}, err: "SLOW_QUERY_MS"},
		{name: "slow query too big", env: map[string]string{"SLOW_QUERY_MS": "60001"}, err: "SLOW_QUERY_MS"},
		{name: "slow query overflow", args: []string{"-slow-query-ms", "99999999999999999999"}, err: "SLOW_QUERY_MS"},
		{name: "memory zero", env: map[string]string{"MEMORY_CACHE_MB": "0"}, err: "MEMORY_CACHE_MB"},
		{name: "memory not a number", env: map[string]string{"MEMORY_CACHE_MB": "lots"}, err: "MEMORY_CACHE_MB"},
		{name: "weather latency bad", env: map[string]string{"WEATHER_LATENCY_MS": "1.5"}, err: "WEATHER_LATENCY_MS"},
		{name: "weather ttl bad", env: map[string]string{"WEATHER_TTL": "60"}, err: "WEATHER_TTL"},
		{name: "unknown mode", env: map[string]string{"CACHE_DEFAULT": "disk"}, err: "CACHE_DEFAULT"},
		{name: "mode alias is not a default", args: []string{"-cache-default", "on"}, err: "CACHE_DEFAULT"},
		{name: "unknown flag", args: []string{"-bogus"}, err: "bogus"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, k := range configEnv {
				t.Setenv(k, "")
			}
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			c, err := parseConfig(tt.args)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error: got %v, want one mentioning %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("error: got %v, want nil", err)
			}
			if msg := tt.check(c); msg != "" {
				t.Errorf("%s: got %+v", msg, c)
			}
		})
	}
}

// syncBuffer collects a process's output while it runs.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestGracefulShutdown runs the real binary, sends SIGTERM while a slow
// request is in flight, and checks the request completes, new connections
// are refused, and the process exits 0 after logging a clean stop.
func TestGracefulShutdown(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "cw")
	build := exec.Command("go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	rs := testredis.Start(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()

	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), "ADDR="+addr, "DATABASE_PATH="+filepath.Join(dir, "db", "cw.db"),
		"REDIS_URL="+rs.URL(), "SLOW_QUERY_MS=1500", "CACHE_DEFAULT=memory")
	var logs syncBuffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
		}
	})

	base := "http://" + addr
	deadline := time.Now().Add(60 * time.Second)
	for {
		res, err := http.Get(base + "/")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				break
			}
		}
		select {
		case err := <-exited:
			t.Fatalf("the server exited before serving: %v\n%s", err, logs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no 200 on / within 60 s: %v\n%s", err, logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}

	// The slow request: an uncached detail page waits SLOW_QUERY_MS.
	type result struct {
		status int
		body   string
		took   time.Duration
		err    error
	}
	wrote := make(chan struct{})
	done := make(chan result, 1)
	go func() {
		ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{
			WroteRequest: func(httptrace.WroteRequestInfo) { close(wrote) },
		})
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/products/5?cache=none", nil)
		t0 := time.Now()
		res, err := (&http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 30 * time.Second}).Do(req)
		if err != nil {
			done <- result{err: err, took: time.Since(t0)}
			return
		}
		b, err := io.ReadAll(res.Body)
		res.Body.Close()
		done <- result{status: res.StatusCode, body: string(b), err: err, took: time.Since(t0)}
	}()
	select {
	case <-wrote:
	case <-time.After(10 * time.Second):
		t.Fatal("the slow request was never sent")
	}
	// Let the server pick the request up before the signal.
	time.Sleep(200 * time.Millisecond)
	signalled := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}

	// New connections are refused once the listener is closed.
	var refusedAfter time.Duration
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err != nil {
			if !errors.Is(err, syscall.ECONNREFUSED) {
				t.Logf("dial after SIGTERM: %v", err)
			}
			refusedAfter = time.Since(signalled)
			break
		}
		c.Close()
		if time.Since(signalled) > 5*time.Second {
			t.Fatal("new connections still accepted 5 s after SIGTERM")
		}
		time.Sleep(10 * time.Millisecond)
	}

	var r result
	select {
	case r = <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("the in-flight request did not finish")
	}
	if r.err != nil || r.status != 200 {
		t.Fatalf("in-flight request: status %d, err %v; want 200\n%s", r.status, r.err, logs.String())
	}
	if !strings.Contains(r.body, "<dt>Version</dt>") {
		t.Errorf("in-flight request: the body is not the product page (%d bytes)", len(r.body))
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("exit: got %v, want status 0\n%s", err, logs.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("the server did not exit within 20 s of SIGTERM\n%s", logs.String())
	}
	if !strings.Contains(logs.String(), "stopped cleanly") {
		t.Errorf("the log lacks \"stopped cleanly\":\n%s", logs.String())
	}
	t.Logf("in-flight request took %v and got 200; new connections refused %v after SIGTERM; exit status 0",
		r.took.Round(time.Millisecond), refusedAfter.Round(time.Millisecond))
}
