package fib_test

import (
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"cacheworkshop/internal/testapp"
)

// TestBenchmarkRunsAndDurations checks that the first three ways run
// several times and the page's verdict names their medians and run
// counts, and that every duration on the page reads as people write one.
func TestBenchmarkRunsAndDurations(t *testing.T) {
	a := testapp.New(t) // CACHE_TTL is one minute
	r := a.Get("/benchmark?cache=memory&n=20")
	if r.Status != http.StatusOK {
		t.Fatalf("status %v, want %v", r.Status, http.StatusOK)
	}
	rows := regexp.MustCompile(`data-way="(\w+)" data-name="[^"]*" data-ns="(\d+)" data-total-ns="(\d+)" data-runs="(\d+)" data-time="([^"]*)"`).
		FindAllStringSubmatch(r.Body, -1)
	if len(rows) != 4 {
		t.Fatalf("ways that ran: got %d, want 4", len(rows))
	}
	spoken := regexp.MustCompile(`^\d+(\.\d+)? (ns|µs|ms|s)$`)
	for _, row := range rows {
		way, runs := row[1], row[4]
		median, _ := strconv.ParseInt(row[2], 10, 64)
		total, _ := strconv.ParseInt(row[3], 10, 64)
		n, _ := strconv.Atoi(runs)
		want := 5 // fib(20) is quick every way: each runs the most times
		if way == "result" {
			want = 1 // the request's own lookup
		}
		if n != want {
			t.Errorf("%s: got %d runs, want %d", way, n, want)
		}
		if median <= 0 || total < median || (n > 1 && total <= median) {
			t.Errorf("%s: median %d ns, total %d ns over %d runs: inconsistent", way, median, total, n)
		}
		if !spoken.MatchString(row[5]) {
			t.Errorf("%s: time %q does not read as a duration people write", way, row[5])
		}
	}
	verdicts := regexp.MustCompile(`(?s)<ul class="fib-verdicts" id="fib-verdicts">(.*?)</ul>`).FindStringSubmatch(r.Body)
	if verdicts == nil || strings.Count(verdicts[1], "<li") != 3 {
		t.Fatalf("got verdicts %v, want three", verdicts)
	}
	for _, want := range []string{"than naive recursion", "medians of 5 and 5 runs", "Memoised in process memory is "} {
		if !strings.Contains(verdicts[1], want) {
			t.Errorf("verdicts lack %q: %s", want, verdicts[1])
		}
	}
	// Durations the way people write them, Go's form nowhere.
	if strings.Contains(r.Body, "1m0s") || !strings.Contains(r.Body, "1 min. The first request computes") {
		t.Errorf("the page does not write the one-minute TTL as \"1 min\"")
	}
	if m := regexp.MustCompile(`\d+m\d+s|\d+(\.\d+)?µs\b`).FindString(r.Body); m != "" {
		t.Errorf("the page writes a duration as Go does: %q", m)
	}
	// The bar: a miss, stored for the TTL.
	if !strings.Contains(r.Body, "then stored for 1 min.") {
		t.Error("the bar does not say the result is stored for 1 min")
	}
}
