package handlers_test

import (
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"cacheworkshop/cache"
	"cacheworkshop/handlers"
)

func TestFaultSwitches(t *testing.T) {
	a := newApp(t)
	a.get("/products/2?cache=redis")
	if r := a.post("/faults", url.Values{"action": {"fail-on"}}); r.Status != 303 {
		t.Fatalf("fail-on: got %d", r.Status)
	}
	r := a.get("/products/2?cache=redis")
	if r.Status != 200 || !strings.Contains(r.Body, "Redis unavailable") {
		t.Errorf("with Redis failing: got %d, notice shown %v", r.Status, strings.Contains(r.Body, "Redis unavailable"))
	}
	if page := a.get("/faults").Body; !strings.Contains(page, "FAILING") {
		t.Error("faults page does not show the fail switch on")
	}
	a.post("/faults", url.Values{"action": {"reset"}})
	// The breaker may still be open for its cooldown; wait for a hit.
	deadline := time.Now().Add(5 * time.Second)
	for a.get("/products/2?cache=redis").Header.Get("X-Cache") != "HIT" {
		if time.Now().After(deadline) {
			t.Fatal("Redis mode did not return to HIT after the switches were reset")
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, bad := range []url.Values{{"action": {"explode"}}, {}} {
		if r := a.post("/faults", bad); r.Status != 400 {
			t.Errorf("action %v: got %d, want 400", bad, r.Status)
		}
	}
	if r := a.post("/faults", url.Values{"action": {"fail-on"}}, "Sec-Fetch-Site", "cross-site"); r.Status != 403 {
		t.Errorf("cross-site fault switch: got %d, want 403", r.Status)
	}
}

func TestAdminToken(t *testing.T) {
	a := newApp(t, func(c *handlers.ServerConfig) { c.AdminToken, c.EditRequiresAdmin = "s3cret", true })
	p := a.product(5)
	tests := []struct {
		path string
		form url.Values
	}{
		{"/faults", url.Values{"action": {"fail-on"}}},
		{"/cache-stats/clear", url.Values{"backend": {"memory"}}},
		{"/reset", url.Values{}},
		{"/products/5/edit", editForm(p, map[string]string{"name": "Admin edit"})},
	}
	for _, tt := range tests {
		if r := a.post(tt.path, tt.form); r.Status != 403 {
			t.Errorf("%s without token: got %d, want 403", tt.path, r.Status)
		}
		f := url.Values{}
		for k, v := range tt.form {
			f[k] = v
		}
		f.Set("admin_token", "wrong")
		if r := a.post(tt.path, f); r.Status != 403 {
			t.Errorf("%s with a wrong token: got %d, want 403", tt.path, r.Status)
		}
		f.Set("admin_token", "s3cret")
		if r := a.post(tt.path, f); r.Status != 303 {
			t.Errorf("%s with the token: got %d, want 303", tt.path, r.Status)
		}
	}
	if a.rcache.Guard().State().FailAll != true {
		t.Error("fault switch with the token did not take effect")
	}
	a.rcache.Guard().SetFail(false)
	if !strings.Contains(a.get("/products/5/edit").Body, `name="admin_token"`) {
		t.Error("edit form lacks the admin token field when edits need it")
	}
}

func TestEditOpenWithoutEditRequiresAdmin(t *testing.T) {
	a := newApp(t, func(c *handlers.ServerConfig) { c.AdminToken = "s3cret" })
	p := a.product(6)
	if r := a.post("/products/6/edit", editForm(p, map[string]string{"name": "Open edit"})); r.Status != 303 {
		t.Errorf("edit with ADMIN_TOKEN set but not EDIT_REQUIRES_ADMIN: got %d, want 303", r.Status)
	}
}

func TestReset(t *testing.T) {
	a := newApp(t)
	p := a.product(3)
	a.post("/products/3/edit", editForm(p, map[string]string{"name": "Before reset"}))
	a.get("/products/3?cache=memory")
	if r := a.post("/reset", url.Values{}); r.Status != 303 {
		t.Fatalf("reset: got %d", r.Status)
	}
	if got := a.product(3); got.Name != p.Name || got.Version != 1 {
		t.Errorf("after reset: got %q v%d, want %q v1", got.Name, got.Version, p.Name)
	}
	for _, m := range modes {
		if body := a.get("/products/3?cache=" + m).Body; strings.Contains(body, "Before reset") {
			t.Errorf("%s: edited name still served after reset", m)
		}
	}
}

var loadsRE = regexp.MustCompile(`<th scope="row">(\w+)<br>.*?<td class="num"><strong>(\d+)</strong>`)

func TestStampedeLab(t *testing.T) {
	a := newApp(t)
	if r := a.get("/stampede"); r.Status != 200 || !strings.Contains(r.Body, "Stampede lab") {
		t.Fatalf("lab page: %d", r.Status)
	}
	r := a.post("/stampede", url.Values{"n": {"60"}, "instances": {"3"}})
	if r.Status != 200 {
		t.Fatalf("run: got %d", r.Status)
	}
	loads := map[string]int{}
	for _, m := range loadsRE.FindAllStringSubmatch(r.Body, -1) {
		loads[m[1]], _ = strconv.Atoi(m[2])
	}
	t.Logf("origin loads for 60 requests over 3 instances: %v", loads)
	if len(loads) != 3 {
		t.Fatalf("results: got %v, want three protections", loads)
	}
	if loads["lock"] != 1 {
		t.Errorf("lock: got %d origin loads, want 1", loads["lock"])
	}
	if loads["singleflight"] < 1 || loads["singleflight"] > 3 {
		t.Errorf("singleflight: got %d origin loads, want 1 to 3 (one per instance at most)", loads["singleflight"])
	}
	if loads["off"] <= loads["singleflight"] {
		t.Errorf("off: got %d origin loads, want more than singleflight's %d", loads["off"], loads["singleflight"])
	}
	for _, bad := range []url.Values{{"n": {"0"}, "instances": {"2"}}, {"n": {"501"}, "instances": {"2"}},
		{"n": {"10"}, "instances": {"9"}}, {"n": {"x"}, "instances": {"2"}}, {}} {
		if r := a.post("/stampede", bad); r.Status != 400 {
			t.Errorf("%v: got %d, want 400", bad, r.Status)
		}
	}
}

// TestStampedeAcrossInstances: two servers share one Redis; concurrent
// misses on one page build it once per instance at most (singleflight)
// and once in all (the Redis lock).
func TestStampedeAcrossInstances(t *testing.T) {
	a := newApp(t, func(c *handlers.ServerConfig) { c.SlowQuery = 200 * time.Millisecond })
	client, err := cache.NewRedisClient(a.redis.URL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Close() })
	second, err := handlers.NewServer(handlers.ServerConfig{
		Store: a.store, Memory: cache.NewMemory(cache.MemoryConfig{}),
		Redis:       cache.NewRedis(cache.RedisConfig{Client: client, Prefix: "cw:"}),
		DefaultMode: cache.ModeMemory, TTL: time.Minute, SlowQuery: 200 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	ts2 := httptest.NewServer(second)
	t.Cleanup(ts2.Close)

	const perInstance = 15
	var mu sync.Mutex
	builds, statuses := 0, map[string]int{}
	var wg sync.WaitGroup
	for i := range 2 * perInstance {
		base := a.ts.URL
		if i%2 == 1 {
			base = ts2.URL
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := a.ts.Client().Get(base + "/products/77?cache=redis")
			if err != nil {
				t.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
			st := res.Header.Get("Server-Timing")
			mu.Lock()
			defer mu.Unlock()
			statuses[res.Header.Get("X-Cache")+fmt.Sprint(res.StatusCode)]++
			if strings.Contains(st, "sim;") { // only a build pays the simulated latency
				builds++
			}
		}()
	}
	wg.Wait()
	t.Logf("30 concurrent misses over 2 instances: %d builds, responses %v", builds, statuses)
	if builds != 1 {
		t.Errorf("builds: got %d, want 1 across both instances", builds)
	}
	if statuses["MISS200"]+statuses["HIT200"] != 2*perInstance {
		t.Errorf("responses: got %v, want all 200", statuses)
	}
}
