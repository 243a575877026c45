package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"cacheworkshop/cache"
)

// redisServer is the Redis the benchmark talks to: a private redis-server
// process when the binary is installed (the numbers then describe real
// Redis), otherwise the embedded miniredis, labelled as such everywhere so
// its figures are never mistaken for a real server's. Every workshop App
// connects to url with NoEmbedded, so none starts an embedded server of
// its own; an App then labels even the embedded server "Redis" in its
// pages (app.New only knows the label of the embedded server it started),
// which is why the table's rows take their label from here.
type redisServer struct {
	url      string
	label    string
	version  string
	embedded bool
	cmd      *exec.Cmd
	emb      *cache.Embedded
	stderr   bytes.Buffer
}

// startRedis launches redis-server on a free loopback port in dir, the way
// internal/testredis does for tests, or falls back to the embedded server.
func startRedis(ctx context.Context, dir string) (*redisServer, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		emb, err := cache.StartEmbedded()
		if err != nil {
			return nil, fmt.Errorf("no redis-server installed and the embedded one failed: %w", err)
		}
		return &redisServer{url: emb.URL(), label: "Redis (embedded)", version: "miniredis", embedded: true, emb: emb}, nil
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	s := &redisServer{label: "Redis"}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	s.url = "redis://" + addr + "/0"
	// No persistence: snapshots forked mid-run would disturb the timings.
	s.cmd = exec.Command(bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", dir, "--logfile", "", "--loglevel", "warning")
	s.cmd.Stderr = &s.stderr
	s.cmd.Stdout = &s.stderr
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start redis-server: %w", err)
	}
	c := redis.NewClient(&redis.Options{Addr: addr, DialTimeout: 100 * time.Millisecond})
	defer c.Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		pctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		err := c.Ping(pctx).Err()
		cancel()
		if err == nil {
			break
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			s.stop()
			return nil, fmt.Errorf("redis-server on %s did not answer: %v %s", addr, err, strings.TrimSpace(s.stderr.String()))
		}
		time.Sleep(20 * time.Millisecond)
	}
	if info, err := c.Info(ctx, "server").Result(); err == nil {
		for _, line := range strings.Split(info, "\n") {
			if v, ok := strings.CutPrefix(strings.TrimSpace(line), "redis_version:"); ok {
				s.version = "redis-server " + v
			}
		}
	}
	return s, nil
}

// stop ends the server; calling it twice is harmless.
func (s *redisServer) stop() {
	if s.emb != nil {
		s.emb.Close()
		s.emb = nil
	}
	if s.cmd != nil && s.cmd.Process != nil {
		_ = s.cmd.Process.Kill()
		_ = s.cmd.Wait()
		s.cmd = nil
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// rtCounter counts Redis round trips made through one client: each command
// sent alone is one, and a pipeline (however many commands) is one. It is
// how the table shows what a hit costs in Redis traffic.
type rtCounter struct{ n *atomic.Int64 }

// DialHook implements redis.Hook.
func (h rtCounter) DialHook(next redis.DialHook) redis.DialHook { return next }

// ProcessHook implements redis.Hook.
func (h rtCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.n.Add(1)
		return next(ctx, cmd)
	}
}

// ProcessPipelineHook implements redis.Hook.
func (h rtCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.n.Add(1)
		return next(ctx, cmds)
	}
}

// envWithout returns the environment minus the named variables, so a
// developer's own settings cannot leak into the child server.
func envWithout(names ...string) []string {
	var out []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		drop := false
		for _, n := range names {
			if k == n {
				drop = true
			}
		}
		if !drop {
			out = append(out, kv)
		}
	}
	return out
}
