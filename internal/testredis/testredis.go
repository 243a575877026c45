// Package testredis starts a private redis-server for a test, on a free
// loopback port, so tests never share state with each other or with a
// running workshop.
//
// When redis-server is not installed the test is skipped with a message
// saying so, unless REQUIRE_REDIS=1 (set by CI), which turns the skip into a
// failure: CI must never go green without having talked to a real Redis.
package testredis

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Server is one running redis-server process.
type Server struct {
	Addr string
	port int
	dir  string
	// extra are more redis-server arguments: a cluster node's.
	extra []string
	cmd   *exec.Cmd
	tb    testing.TB
}

// Start launches redis-server and stops it when the test ends.
func Start(tb testing.TB) *Server {
	tb.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("REQUIRE_REDIS") == "1" {
			tb.Fatalf("REQUIRE_REDIS=1 but redis-server is not installed: %v", err)
		}
		tb.Skip("SKIPPED real-Redis test: redis-server is not installed (apt-get install redis-server)")
	}
	_ = bin
	s := &Server{port: freePort(tb), dir: tb.TempDir(), tb: tb}
	s.Addr = "127.0.0.1:" + strconv.Itoa(s.port)
	s.start()
	tb.Cleanup(s.Stop)
	return s
}

// URL is the redis:// URL of the server.
func (s *Server) URL() string { return "redis://" + s.Addr + "/0" }

// Client returns a fresh client; it is closed when the test ends.
func (s *Server) Client() *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: s.Addr})
	s.tb.Cleanup(func() { _ = c.Close() })
	return c
}

func (s *Server) start() {
	s.tb.Helper()
	args := []string{"--port", strconv.Itoa(s.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", s.dir,
		"--logfile", "", "--loglevel", "warning"}
	s.cmd = exec.Command("redis-server", append(args, s.extra...)...)
	if err := s.cmd.Start(); err != nil {
		s.tb.Fatalf("start redis-server: %v", err)
	}
	c := redis.NewClient(&redis.Options{Addr: s.Addr, DialTimeout: 100 * time.Millisecond})
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
			s.tb.Fatalf("redis-server on %s did not answer: %v", s.Addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stop kills the server; calling it twice is harmless.
func (s *Server) Stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
	s.cmd = nil
}

// Restart starts the server again on the same port (empty, as after a crash
// of a server that keeps nothing on disk).
func (s *Server) Restart() {
	s.tb.Helper()
	s.Stop()
	s.start()
}

func freePort(tb testing.TB) int {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// String describes the server for logs.
func (s *Server) String() string { return fmt.Sprintf("redis-server at %s", s.Addr) }

// quietLog drops go-redis's pool chatter, which floods test output while a
// test has deliberately stopped the server.
type quietLog struct{}

// Printf implements go-redis's internal logger.
func (quietLog) Printf(context.Context, string, ...any) {}

func init() { redis.SetLogger(quietLog{}) }
