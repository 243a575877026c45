package e2e_test

import (
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestLoadtestBrowser runs a small load test from the page as a learner
// does: the stream moves the progress bar and draws the chart while the
// run goes, then the page shows the server's figures, with the chart of
// latency over time in every mode.
func TestLoadtestBrowser(t *testing.T) {
	chromiumPath(t)
	srv := startServer(t)
	br := startBrowser(t, srv.URL)
	tb := br.newTab(t)
	tb.open("/loadtest", http.StatusOK)
	tb.requireBuilt("Load test (/loadtest)")
	// One product's page with SLOW_QUERY_MS=50 and two workers: about
	// 2 s without a cache, long enough to watch the stream.
	tb.do("fill the form",
		chromedp.SetValue(chromedp.CSS("#target"), "detail"),
		chromedp.SetValue(chromedp.CSS("#requests"), "80"),
		chromedp.SetValue(chromedp.CSS("#concurrency"), "2"))
	tb.click("#loadtest-start", http.StatusOK)
	if got := tb.path(); got != "/loadtest?run=1" {
		t.Fatalf("after starting: got %s, want /loadtest?run=1", got)
	}
	tb.do("mark the page", chromedp.Evaluate[chromedp.Void](`window.__e2eLive = true; void 0`))
	tb.waitJS("the stream to move the progress bar and draw points", 20*time.Second,
		`(() => { const p = document.getElementById("loadtest-progress");
			const c = typeof Chart !== "undefined" && Chart.getChart(document.querySelector("canvas.loadtest-chart[data-mode=none]"));
			return window.__e2eLive === true && p !== null && p.value > 0 && !!c && c.data.datasets[0].data.length > 0; })()`)
	tb.waitJS("the finished run's page", 60*time.Second,
		`window.__e2eLive !== true && document.readyState === "complete" &&
			document.querySelector("#loadtest-run") !== null && !document.querySelector("#loadtest-run").hasAttribute("data-events")`)
	done := eval[[]string](tb, `[...document.querySelectorAll("#loadtest-results tr.mode-row")].map(tr => tr.dataset.mode + " " + tr.dataset.done)`)
	if want := []string{"none 80", "memory 80", "redis 80", "tiered 80"}; !slices.Equal(done, want) {
		t.Errorf("results rows: got %v, want %v", done, want)
	}
	// The first requests of a cached mode miss (both workers' first, if
	// they ask at once); every later one hits. Tiered finds the page the
	// memory mode stored.
	type counts struct{ Hits, Misses int }
	xc := eval[[]counts](tb, `[...document.querySelectorAll("#loadtest-results tr.mode-row")].map(tr => ({Hits: +tr.dataset.hits, Misses: +tr.dataset.misses}))`)
	for i, c := range xc {
		cached := i > 0
		minMisses := 1
		if i == 3 {
			minMisses = 0
		}
		if !cached && (c.Hits != 0 || c.Misses != 0) || cached && (c.Hits+c.Misses != 80 || c.Misses < minMisses || c.Misses > 2) {
			t.Errorf("row %d: %d HITs, %d MISSes; want none without a cache, else 80 in all with at most 2 MISSes", i, c.Hits, c.Misses)
		}
	}
	tb.waitJS("a chart for every mode, on one latency axis", 10*time.Second,
		`(() => { const cs = [...document.querySelectorAll("canvas.loadtest-chart")].map(c => typeof Chart !== "undefined" && Chart.getChart(c));
			return cs.length === 4 && cs.every(c => !!c && c.data.datasets.length === 2 && c.data.datasets.every(d => d.data.length > 0) &&
				c.scales.y.min === cs[0].scales.y.min && c.scales.y.max === cs[0].scales.y.max); })()`)
	if n := eval[int](tb, `document.querySelectorAll("#loadtest-history th[scope=rowgroup]").length`); n != 1 {
		t.Errorf("runs in the comparison table: got %d, want 1", n)
	}
	tb.shot("loadtest")
}
