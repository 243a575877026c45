package labs_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"cacheworkshop/internal/testapp"
)

// protectionNames are the lab's rows, in order.
var protectionNames = []string{"off", "singleflight", "lock", "stale-while-revalidate", "early-refresh"}

// waitsForOrigin says which protections make some request of the burst
// wait for an origin load.
var waitsForOrigin = map[string]bool{"off": true, "singleflight": true, "lock": true}

var (
	slowestRE  = regexp.MustCompile(`(?s)<tr data-protection="([\w-]+)">.*?<meter min="0" max="[\d.]+" value="([\d.]+)">`)
	answeredRE = regexp.MustCompile(`(?s)<tr data-protection="([\w-]+)">.*?<td class="num"><strong>(\d+)</strong>.*?</td>\s*<td>(.*?)</td>`)
)

// TestStaleAndEarlyProtections: stale-while-revalidate and early refresh
// each load the origin fewer times than no protection; the first answers
// the whole burst with the stale copy and rebuilds once, in the
// background.
func TestStaleAndEarlyProtections(t *testing.T) {
	a := testapp.New(t)
	// A run whose Redis calls timed out (a machine so busy that the
	// client's 150 ms deadline passes) says so on the page, with its
	// error count; such a run measures the machine, not the protections,
	// so it is run again, three times at most.
	var r *testapp.Resp
	for try := 1; ; try++ {
		r = a.Post("/stampede", url.Values{"n": {"60"}, "instances": {"3"}})
		if r.Status != http.StatusOK {
			t.Fatalf("run: got %d", r.Status)
		}
		if !strings.Contains(r.Body, "Redis unavailable") && !strings.Contains(r.Body, "badge-error") {
			break
		}
		if try == 3 {
			t.Fatal("three runs in a row had Redis errors")
		}
		t.Logf("run %d had Redis errors; running again", try)
	}
	loads, answered := map[string]int{}, map[string]string{}
	for _, m := range answeredRE.FindAllStringSubmatch(r.Body, -1) {
		loads[m[1]], _ = strconv.Atoi(m[2])
		answered[m[1]] = m[3]
	}
	t.Logf("origin loads for 60 requests over 3 instances: %v", loads)
	if len(loads) != len(protectionNames) {
		t.Fatalf("results: got %v, want %v", loads, protectionNames)
	}
	for _, p := range []string{"stale-while-revalidate", "early-refresh"} {
		if loads[p] < 1 || loads[p] >= loads["off"] {
			t.Errorf("%s: got %d origin loads, want at least 1 and fewer than off's %d", p, loads[p], loads["off"])
		}
	}
	if loads["stale-while-revalidate"] != 1 {
		t.Errorf("stale-while-revalidate: got %d origin loads, want 1 (one background rebuild in all)", loads["stale-while-revalidate"])
	}
	swr := answered["stale-while-revalidate"]
	if regexp.MustCompile(`waited|loaded it`).MatchString(swr) || !regexp.MustCompile(`data-answered="stale">\d+ stale`).MatchString(swr) ||
		!regexp.MustCompile(`rebuilt in the background`).MatchString(swr) {
		t.Errorf("stale-while-revalidate's burst: got %q, want stale (or fresh) answers only and a background rebuild", swr)
	}
}
