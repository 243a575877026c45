package labs_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"cacheworkshop/app"
	"cacheworkshop/internal/testapp"
	"cacheworkshop/internal/testredis"
)

func TestFaultSwitches(t *testing.T) {
	a := testapp.New(t)
	a.Get("/products/2?cache=redis")
	if r := a.Post("/faults", url.Values{"action": {"fail-on"}}); r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/faults" {
		t.Fatalf("fail-on: got %d to %q, want 303 to /faults", r.Status, r.Header.Get("Location"))
	}
	r := a.Get("/products/2?cache=redis")
	if r.Status != http.StatusOK || !strings.Contains(r.Body, "Redis unavailable") {
		t.Errorf("with Redis failing: got %d, notice shown %v", r.Status, strings.Contains(r.Body, "Redis unavailable"))
	}
	page := a.Get("/faults")
	if !strings.Contains(page.Body, "FAILING") {
		t.Error("faults page does not show the fail switch on")
	}
	if got := page.Header.Get("X-Cache"); got != "BYPASS" {
		t.Errorf("faults page X-Cache: got %q, want BYPASS (a live page)", got)
	}
	a.Post("/faults", url.Values{"action": {"latency-on"}})
	if st := a.Redis.Guard().State(); st.Latency != 200*time.Millisecond {
		t.Errorf("latency-on: got %v, want 200ms", st.Latency)
	}
	if !strings.Contains(a.Get("/faults").Body, "+200 ms") {
		t.Error("faults page does not show the added latency")
	}
	a.Post("/faults", url.Values{"action": {"reset"}})
	if st := a.Redis.Guard().State(); st.FailAll || st.Latency != 0 {
		t.Errorf("after reset: got fail %v latency %v, want both off", st.FailAll, st.Latency)
	}
	// The breaker may still be open for its cooldown; wait for a hit.
	deadline := time.Now().Add(5 * time.Second)
	for a.Get("/products/2?cache=redis").Header.Get("X-Cache") != "HIT" {
		if time.Now().After(deadline) {
			t.Fatal("Redis mode did not return to HIT after the switches were reset")
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, bad := range []url.Values{{"action": {"explode"}}, {}, {"action": {"fail-on", "fail-off"}}} {
		if r := a.Post("/faults", bad); r.Status != http.StatusBadRequest {
			t.Errorf("action %v: got %d, want 400", bad, r.Status)
		}
	}
	if a.Redis.Guard().State().FailAll {
		t.Error("a refused action flipped the fail switch")
	}
	if r := a.Post("/faults", url.Values{"action": {"fail-on"}}, "Sec-Fetch-Site", "cross-site"); r.Status != http.StatusForbidden {
		t.Errorf("cross-site fault switch: got %d, want 403", r.Status)
	}
	if a.Redis.Guard().State().FailAll {
		t.Error("a cross-site post flipped the fail switch")
	}
}

// TestLabsNeedAdminToken: with ADMIN_TOKEN set, what the labs post needs
// the token; their pages stay open and show the token field.
func TestLabsNeedAdminToken(t *testing.T) {
	a := testapp.New(t, func(c *app.Config) { c.AdminToken = "s3cret" })
	tests := []struct {
		path string
		form url.Values
		want int
	}{
		{"/faults", url.Values{"action": {"fail-on"}}, http.StatusSeeOther},
		{"/stampede", url.Values{"n": {"5"}, "instances": {"2"}}, http.StatusOK},
	}
	for _, tt := range tests {
		if r := a.Post(tt.path, tt.form); r.Status != http.StatusForbidden {
			t.Errorf("%s without token: got %d, want 403", tt.path, r.Status)
		}
		f := url.Values{}
		for k, v := range tt.form {
			f[k] = v
		}
		f.Set("admin_token", "wrong")
		if r := a.Post(tt.path, f); r.Status != http.StatusForbidden {
			t.Errorf("%s with a wrong token: got %d, want 403", tt.path, r.Status)
		}
		if a.Redis.Guard().State().FailAll {
			t.Fatalf("%s: a refused post flipped the fail switch", tt.path)
		}
		f.Set("admin_token", "s3cret")
		r := a.Post(tt.path, f)
		if r.Status != tt.want {
			t.Errorf("%s with the token: got %d, want %d", tt.path, r.Status, tt.want)
		}
		if tt.path == "/faults" {
			if !a.Redis.Guard().State().FailAll {
				t.Error("fault switch with the token did not take effect")
			}
			a.Redis.Guard().SetFail(false)
		} else if !loadsRE.MatchString(r.Body) {
			t.Error("stampede run with the token shows no results")
		}
		page := a.Get(tt.path)
		if page.Status != http.StatusOK || !strings.Contains(page.Body, `name="admin_token"`) {
			t.Errorf("GET %s: got %d, token field shown %v; want 200 with it", tt.path, page.Status, strings.Contains(page.Body, `name="admin_token"`))
		}
	}
}

var loadsRE = regexp.MustCompile(`<th scope="row">(\w+)<br>.*?<td class="num"><strong>(\d+)</strong>`)

func TestStampedeLab(t *testing.T) {
	a := testapp.New(t)
	if r := a.Get("/stampede"); r.Status != http.StatusOK || !strings.Contains(r.Body, "Stampede lab") {
		t.Fatalf("lab page: %d", r.Status)
	}
	ctx := context.Background()
	before := a.Redis.Stats()
	r := a.Post("/stampede", url.Values{"n": {"60"}, "instances": {"3"}})
	if r.Status != http.StatusOK {
		t.Fatalf("run: got %d", r.Status)
	}
	if got := r.Header.Get("X-Cache"); got != "BYPASS" {
		t.Errorf("X-Cache: got %q, want BYPASS (a live page)", got)
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
	// The figures are measured: every request waits for the simulated
	// 100 ms origin, so the slowest of each run is at least that.
	for _, m := range regexp.MustCompile(`<meter min="0" max="[\d.]+" value="([\d.]+)">`).FindAllStringSubmatch(r.Body, -1) {
		if ms, _ := strconv.ParseFloat(m[1], 64); ms < 100 {
			t.Errorf("slowest request: got %v ms, want at least the origin's 100 ms", ms)
		}
	}
	// The lab's keys live under its own prefix and are gone after the
	// run; its reads do not count as the pages' Redis lookups.
	if keys, err := a.RedisServer.Client().Keys(ctx, a.Redis.Prefix()+"lab:stampede:*").Result(); err != nil || len(keys) != 0 {
		t.Errorf("lab keys after the run: got %v (%v), want none", keys, err)
	}
	if after := a.Redis.Stats(); after.Hits != before.Hits || after.Misses != before.Misses || after.Sets != before.Sets {
		t.Errorf("page client counters: got %+v after the run, want %+v unchanged", after, before)
	}
}

// TestStampedeFormStrict: the lab's two numbers are whole numbers written
// with digits only, given once; anything else is a 400 that names the
// field, and runs nothing.
func TestStampedeFormStrict(t *testing.T) {
	a := testapp.New(t)
	ctx := context.Background()
	rdb := a.RedisServer.Client()
	if err := rdb.ConfigResetStat(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		form  url.Values
		field string // named in the message
	}{
		{"n zero", url.Values{"n": {"0"}, "instances": {"2"}}, "n"},
		{"n over the maximum", url.Values{"n": {"501"}, "instances": {"2"}}, "n"},
		{"n not a number", url.Values{"n": {"x"}, "instances": {"2"}}, "n"},
		{"n with a plus sign", url.Values{"n": {"+5"}, "instances": {"2"}}, "n"},
		{"n with a minus sign", url.Values{"n": {"-5"}, "instances": {"2"}}, "n"},
		{"n with an exponent", url.Values{"n": {"5e2"}, "instances": {"2"}}, "n"},
		{"n with a leading space", url.Values{"n": {" 5"}, "instances": {"2"}}, "n"},
		{"n with a trailing space", url.Values{"n": {"5 "}, "instances": {"2"}}, "n"},
		{"n with a tab", url.Values{"n": {"\t5"}, "instances": {"2"}}, "n"},
		{"n in hexadecimal", url.Values{"n": {"0x10"}, "instances": {"2"}}, "n"},
		{"n with a decimal point", url.Values{"n": {"5.0"}, "instances": {"2"}}, "n"},
		{"n in fullwidth digits", url.Values{"n": {"５"}, "instances": {"2"}}, "n"},
		{"n empty", url.Values{"n": {""}, "instances": {"2"}}, "n"},
		{"n missing", url.Values{"instances": {"2"}}, "n"},
		{"n twice, conflicting", url.Values{"n": {"5", "500"}, "instances": {"2"}}, "n"},
		{"instances zero", url.Values{"n": {"10"}, "instances": {"0"}}, "instances"},
		{"instances over the maximum", url.Values{"n": {"10"}, "instances": {"9"}}, "instances"},
		{"instances with a plus sign", url.Values{"n": {"10"}, "instances": {"+2"}}, "instances"},
		{"instances with an exponent", url.Values{"n": {"10"}, "instances": {"2e0"}}, "instances"},
		{"instances with a leading space", url.Values{"n": {"10"}, "instances": {" 2"}}, "instances"},
		{"instances twice, conflicting", url.Values{"n": {"10"}, "instances": {"2", "8"}}, "instances"},
		{"nothing", url.Values{}, "n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := a.Post("/stampede", tt.form)
			if got, want := r.Status, http.StatusBadRequest; got != want {
				t.Fatalf("got %v, want %v", got, want)
			}
			if !strings.Contains(r.Body, "The field "+tt.field+" ") {
				t.Errorf("the 400 page does not name the field %q", tt.field)
			}
			if loadsRE.MatchString(r.Body) {
				t.Error("a refused form shows results")
			}
		})
	}
	// Nothing ran: a run writes its keys under the lab's prefix, so the
	// Redis server received no SET at all.
	info, err := rdb.Info(ctx, "commandstats").Result()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(info, "cmdstat_set:") {
		t.Errorf("Redis received SETs during refused runs:\n%s", info)
	}
	// The same numbers written plainly, and a field repeated with one
	// value, are accepted.
	if r := a.Post("/stampede", url.Values{"n": {"5", "5"}, "instances": {"2"}}); r.Status != http.StatusOK || !loadsRE.MatchString(r.Body) {
		t.Errorf("n=5&n=5: got %v, want 200 with results", r.Status)
	}
}

func TestStampedeRedisDown(t *testing.T) {
	a := testapp.New(t)
	a.RedisServer.Stop()
	r := a.Post("/stampede", url.Values{"n": {"5"}, "instances": {"2"}})
	if r.Status != http.StatusOK || !strings.Contains(r.Body, "Redis unavailable") {
		t.Errorf("with Redis down: got %d, notice shown %v; want 200 with it", r.Status, strings.Contains(r.Body, "Redis unavailable"))
	}
	if loadsRE.MatchString(r.Body) {
		t.Error("with Redis down: the page shows results")
	}
}

// TestStampedeOneRunAtATime: concurrent runs are refused with a clear 429,
// never a 500, and the lab is free again once the run is over.
func TestStampedeOneRunAtATime(t *testing.T) {
	a := testapp.New(t)
	const runs = 4
	var wg sync.WaitGroup
	res := make([]*testapp.Resp, runs)
	start := make(chan struct{})
	for i := range runs {
		wg.Go(func() {
			<-start
			res[i] = a.Post("/stampede", url.Values{"n": {"20"}, "instances": {"2"}})
		})
	}
	close(start)
	wg.Wait()
	statuses := map[int]int{}
	for _, r := range res {
		statuses[r.Status]++
		if r.Status == http.StatusTooManyRequests {
			if !strings.Contains(r.Body, "already under way") || r.Header.Get("Retry-After") == "" {
				t.Errorf("refused run: got Retry-After %q and a body without the reason", r.Header.Get("Retry-After"))
			}
		}
	}
	// Each run takes at least 3 × 100 ms of simulated origin, so the
	// requests, sent together, overlap.
	if statuses[http.StatusOK] != 1 || statuses[http.StatusTooManyRequests] != runs-1 {
		t.Errorf("statuses: got %v, want one 200 and %d 429", statuses, runs-1)
	}
	if r := a.Post("/stampede", url.Values{"n": {"5"}, "instances": {"1"}}); r.Status != http.StatusOK {
		t.Errorf("after the run: got %d, want 200", r.Status)
	}
}

// TestStampedeAcrossInstances checks what the lab's tip says of the
// workshop's own pages: two servers share one Redis and one database, and
// concurrent misses on one page build it once in all (singleflight within
// each instance, the Redis lock across them). The Redis is a single server
// or a Redis Cluster.
func TestStampedeAcrossInstances(t *testing.T) {
	for _, k := range testredis.Kinds() {
		t.Run(k.Name, func(t *testing.T) { stampedeAcrossInstances(t, k.Start(t).URL()) })
	}
}

func stampedeAcrossInstances(t *testing.T, redisURL string) {
	a := testapp.New(t, func(c *app.Config) { c.SlowQuery = 200 * time.Millisecond; c.RedisURL = redisURL })
	second, err := app.New(context.Background(), a.Config, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(second.Close)
	ts2 := httptest.NewServer(second.Server)
	t.Cleanup(ts2.Close)

	const perInstance = 15
	var mu sync.Mutex
	builds, statuses := 0, map[string]int{}
	var wg sync.WaitGroup
	for i := range 2 * perInstance {
		base := a.TS.URL
		if i%2 == 1 {
			base = ts2.URL
		}
		wg.Go(func() {
			res, err := a.TS.Client().Get(base + "/products/77?cache=redis")
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
		})
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
