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
