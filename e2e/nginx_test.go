package e2e_test

import (
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"cacheworkshop/deploy"
)

// The nginx test runs what make run-many runs: three real processes of the
// server behind a real nginx with the repository's own deploy/nginx.conf,
// as load balancer and shared HTTP cache.

// nginxPath finds nginx, or skips the test the way the Redis and browser
// tests do (REQUIRE_NGINX=1, set by CI, makes that a failure).
func nginxPath(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("SKIPPED nginx test: -short")
	}
	for _, p := range []string{"nginx", "/usr/sbin/nginx"} {
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	if os.Getenv("REQUIRE_NGINX") == "1" {
		t.Fatal("nginx is not installed and REQUIRE_NGINX=1")
	}
	t.Skip("SKIPPED nginx test: nginx is not installed (apt-get install nginx); REQUIRE_NGINX=1 makes this a failure")
	return ""
}

// startNginx renders deploy/nginx.conf for the instances and runs nginx in
// front of them. The proxy is returned as an instance, so every helper of
// the multi-instance tests can send requests through it.
func startNginx(t *testing.T, c *cluster, ins ...*instance) *instance {
	t.Helper()
	bin := nginxPath(t)
	run := t.TempDir()
	if err := os.MkdirAll(filepath.Join(run, "cache"), 0o755); err != nil {
		t.Fatal(err)
	}
	var ups []string
	for _, in := range ins {
		ups = append(ups, in.addr)
	}
	addr := "127.0.0.1:" + strconv.Itoa(stablePort(t))
	conf := deploy.NginxConfig(run, addr, ups, os.Geteuid() == 0)
	path := filepath.Join(run, "nginx.conf")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-p", run, "-c", path, "-e", filepath.Join(run, "error.log"))
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			log, _ := os.ReadFile(filepath.Join(run, "error.log"))
			t.Logf("nginx output:\n%s\nerror.log:\n%s", out.String(), log)
		}
	})
	px := &instance{c: c, name: "nginx", addr: addr, URL: "http://" + addr}
	deadline := time.Now().Add(10 * time.Second)
	for {
		select {
		case <-done:
			t.Fatalf("nginx exited:\n%s", out.String())
		default:
		}
		if r, err := px.do(http.MethodGet, "/", nil); err == nil && r.Status == http.StatusOK {
			return px
		}
		if time.Now().After(deadline) {
			t.Fatalf("nginx at %s never answered 200 on /:\n%s", addr, out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestNginxInFront is make run-many under test: round robin, a shared
// cache that stores only what may be shared, an edit through the proxy
// fresh on every instance, and stale copies while every instance is down.
func TestNginxInFront(t *testing.T) {
	nginxPath(t)
	c := newCluster(t)
	ins := []*instance{c.start(t, "A", "INSTANCE=A"), c.start(t, "B", "INSTANCE=B"), c.start(t, "C", "INSTANCE=C")}
	px := startNginx(t, c, ins...)

	get := func(t *testing.T, path string, headers ...string) *resp {
		t.Helper()
		return px.get(t, path, headers...)
	}

	t.Run("round robin", func(t *testing.T) {
		seen := map[string]int{}
		for range 6 {
			seen[get(t, "/products?page=2&cache=memory").Header.Get("X-Instance")]++
		}
		for _, in := range ins {
			if seen[in.name] != 2 {
				t.Errorf("six requests: got %v, want each of A, B and C twice", seen)
				break
			}
		}
	})

	t.Run("public is stored, private and no-store never", func(t *testing.T) {
		tests := []struct {
			kind   string
			stored bool
		}{{"public", true}, {"private", false}, {"no-store", false}}
		for _, tc := range tests {
			first := get(t, "/proxy-cache/demo/"+tc.kind)
			var builds []string
			for range 3 {
				r := get(t, "/proxy-cache/demo/"+tc.kind)
				builds = append(builds, r.Header.Get("X-Instance")+"#"+r.Header.Get("X-Demo-Build"))
				got := r.Header.Get("X-Proxy-Cache")
				if tc.stored && got != "HIT" {
					t.Errorf("%s, again: got X-Proxy-Cache %q, want HIT", tc.kind, got)
				}
				if !tc.stored && got == "HIT" {
					t.Errorf("%s: got X-Proxy-Cache HIT: nginx stored a response it must not", tc.kind)
				}
			}
			firstBuild := first.Header.Get("X-Instance") + "#" + first.Header.Get("X-Demo-Build")
			for _, b := range builds {
				if tc.stored && b != firstBuild {
					t.Errorf("%s: got build %s, want the stored %s", tc.kind, b, firstBuild)
				}
				if !tc.stored && b == firstBuild {
					t.Errorf("%s: got build %s again: a copy was reused", tc.kind, b)
				}
			}
		}
	})

	t.Run("vary keeps one copy per language", func(t *testing.T) {
		var got []string
		for _, lang := range []string{"en", "fr", "en", "fr"} {
			r := get(t, "/proxy-cache/demo/vary", "Accept-Language", lang)
			got = append(got, lang+":"+r.Header.Get("X-Proxy-Cache"))
			if lang == "fr" && !strings.Contains(r.Body, "Bonjour") {
				t.Errorf("fr got the page of another language")
			}
		}
		if want := "en:MISS fr:MISS en:HIT fr:HIT"; strings.Join(got, " ") != want {
			t.Errorf("got %s, want %s", strings.Join(got, " "), want)
		}
	})

	t.Run("the lock absorbs a stampede", func(t *testing.T) {
		var mu sync.Mutex
		builds := map[string]bool{}
		var wg sync.WaitGroup
		for range 20 {
			wg.Go(func() {
				r, err := px.do(http.MethodGet, "/proxy-cache/demo/slow?round=7", nil)
				if err != nil || r.Status != http.StatusOK {
					t.Errorf("slow demo: %v %v", err, r)
					return
				}
				mu.Lock()
				builds[r.Header.Get("X-Instance")+"#"+r.Header.Get("X-Demo-Build")] = true
				mu.Unlock()
			})
		}
		wg.Wait()
		if len(builds) != 1 {
			t.Errorf("20 concurrent requests: got %d builds %v, want 1", len(builds), builds)
		}
	})

	t.Run("no page crosses modes", func(t *testing.T) {
		for _, path := range []string{"/products/5", "/products?page=1", "/api/products/5", "/"} {
			for round := range 2 {
				for _, m := range modes {
					for _, how := range []string{"cookie", "query"} {
						var r *resp
						if how == "cookie" {
							r = get(t, path, "Cookie", "cache_mode="+m)
						} else {
							sep := "?"
							if strings.Contains(path, "?") {
								sep = "&"
							}
							r = get(t, path+sep+"cache="+m)
						}
						if got := r.Header.Get("X-Cache-Mode"); got != m {
							t.Errorf("round %d, %s by %s %s: got X-Cache-Mode %q", round, path, how, m, got)
						}
						if got := r.Header.Get("X-Proxy-Cache"); got == "HIT" || got == "STALE" {
							t.Errorf("%s in %s: nginx served a stored copy (%s) of a dynamic page", path, m, got)
						}
					}
				}
			}
		}
	})

	t.Run("an edit through the proxy is fresh everywhere", func(t *testing.T) {
		const id = 44
		vs := prime(t, px, id, nm("ngx", 1), ins...)
		vs = append(vs, productViews(id, px)...)
		want := nm("ngx", 2)
		at := px.edit(t, id, map[string]string{"name": want})
		awaitFresh(t, "edit through nginx", vs, want, []string{nm("ngx", 1)}, at, 300*time.Millisecond)
	})

	t.Run("stale-if-error while every instance is down", func(t *testing.T) {
		first := get(t, "/proxy-cache/demo/stale?round=1")
		if got := first.Header.Get("X-Proxy-Cache"); got != "MISS" {
			t.Fatalf("first request: got X-Proxy-Cache %q, want MISS", got)
		}
		stored := time.Now()
		for _, in := range ins {
			in.stop()
		}
		// s-maxage is 5 s: past it, the copy is stale and only
		// stale-if-error lets nginx serve it.
		time.Sleep(time.Until(stored.Add(6 * time.Second)))
		r, err := px.do(http.MethodGet, "/proxy-cache/demo/stale?round=1", nil)
		if err != nil {
			t.Fatal(err)
		}
		if r.Status != http.StatusOK || r.Header.Get("X-Proxy-Cache") != "STALE" {
			t.Fatalf("with every instance down: got %d, X-Proxy-Cache %q, want 200 STALE", r.Status, r.Header.Get("X-Proxy-Cache"))
		}
		if got, want := r.Header.Get("X-Demo-Build"), first.Header.Get("X-Demo-Build"); got != want {
			t.Errorf("got build %s, want the stored %s", got, want)
		}
		if r, err := px.do(http.MethodGet, "/products/5?cache=memory", nil); err == nil && r.Status == http.StatusOK {
			t.Errorf("a dynamic page answered 200 with every instance down: it was stored")
		}
	})
}
