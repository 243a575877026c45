package e2e_test

import (
	"context"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
)

// TestFixesBrowser checks, in a real browser, that pages say what the
// learner then sees: one server and one Chromium, a tab per scenario.
func TestFixesBrowser(t *testing.T) {
	chromiumPath(t)
	srv := startServer(t)
	br := startBrowser(t, srv.URL)
	scenarios := []struct {
		name string
		run  func(t *testing.T, br *browser)
	}{
		{"mode_none_trace_says_built_not_looked_up", testModeNoneTrace},
		{"each_mode_has_its_own_colour", testModeColours},
		{"stats_times_in_utc_and_ratio_judged", testStatsUTC},
		{"faults_breaker_opens_half_opens_closes", testFaultsBreaker},
		{"http_pages_say_when_a_copy_is_reused", testHTTPReuse},
		{"compare_chart_legend_and_memory_bars", testCompareChart},
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			start := time.Now()
			sc.run(t, br)
			t.Logf("%s took %v", sc.name, time.Since(start).Round(time.Millisecond))
		})
	}
}

// testModeNoneTrace opens the trace panel of a list page in mode none: no
// row may read as a lookup, and each fragment row says how many times it
// was rendered.
func testModeNoneTrace(t *testing.T, br *browser) {
	tb := br.newTab(t)
	tb.open("/products?page=7&cache=none", http.StatusOK)
	if got := tb.text("details.trace > summary"); !strings.HasPrefix(got, "Trace: no cache lookups, ") {
		t.Errorf("trace summary: got %q, want it to start with %q", got, "Trace: no cache lookups, ")
	}
	rows := tb.traceRows()
	var rowsNote string
	for _, r := range rows {
		if len(r) < 4 || r[0] == "db" || r[0] == "render" || r[0] == "total" || r[0] == "sim" {
			continue
		}
		if r[3] != "BYPASS" {
			t.Errorf("trace row %v: got outcome %v, want BYPASS", r, r[3])
		}
		if strings.Contains(r[2], "product-row") {
			rowsNote = r[2]
		}
	}
	if want := "rendered 20×, no cache asked"; !strings.Contains(rowsNote, want) {
		t.Errorf("product-row trace row: got %q, want it to say %q", rowsNote, want)
	}
}

// testModeColours reads the colours the browser paints: the header's mode
// border and the current switch link in each mode, and each mode's chip.
// Every mode has its own, and none is the colour of errors.
func testModeColours(t *testing.T, br *browser) {
	tb := br.newTab(t)
	type painted struct {
		Border, Link, Chip, Error string
	}
	seen := map[string]string{}
	var errColour string
	for _, mode := range modes {
		tb.open("/products?cache="+mode, http.StatusOK)
		p := eval[painted](tb, `(() => {
			const chip = document.createElement("span"), err = document.createElement("span");
			chip.className = "chip chip-`+mode+`";
			err.className = "badge badge-error";
			document.body.append(chip, err);
			const out = {
				border: getComputedStyle(document.querySelector("header.site")).borderBottomColor,
				link: getComputedStyle(document.querySelector(".mode-link[aria-current]")).backgroundColor,
				chip: getComputedStyle(chip).color,
				error: getComputedStyle(err).backgroundColor,
			};
			chip.remove(); err.remove();
			return out;
		})()`)
		if p.Border != p.Link || p.Link != p.Chip {
			t.Errorf("mode %s is painted in several colours: header %v, switch %v, chip %v", mode, p.Border, p.Link, p.Chip)
		}
		if p.Link == p.Error {
			t.Errorf("mode %s: got the error colour %v, want a colour of its own", mode, p.Link)
		}
		if other, dup := seen[p.Link]; dup {
			t.Errorf("modes %s and %s share the colour %v", other, mode, p.Link)
		}
		seen[p.Link] = mode
		errColour = p.Error
	}
	if errColour == "" {
		t.Error("no error colour read")
	}
}

// testStatsUTC opens the statistics in a browser set to New York time: the
// figures' time, redrawn by the page's script, stays in UTC as the server
// writes it; and once there have been lookups the hit ratio has a verdict.
func testStatsUTC(t *testing.T, br *browser) {
	tb := br.newTab(t)
	tb.do("set the time zone", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, emulation.SetTimezoneOverride, emulation.SetTimezoneOverrideParams{TimezoneID: "America/New_York"})
		return err
	}))
	if got := eval[string](tb, `Intl.DateTimeFormat().resolvedOptions().timeZone`); got != "America/New_York" {
		t.Fatalf("browser time zone: got %v, want America/New_York", got)
	}
	tb.open("/cache-stats", http.StatusOK)
	first := eval[string](tb, `document.getElementById("stats-updated").getAttribute("datetime")`)
	// Lookups for a verdict: one miss, then hits, in memory mode.
	eval[bool](tb, `(() => { (async () => { for (let i = 0; i < 30; i++) await fetch("/api/products/41?cache=memory");
		window.lookupsDone = true; })(); return true; })()`)
	tb.waitJS("30 lookups", 10*time.Second, `window.lookupsDone === true`)
	tb.waitJS("a poll after the lookups", 10*time.Second,
		`document.getElementById("stats-updated").getAttribute("datetime") !== `+jsString(first)+
			` && !document.querySelector('[data-judge="memory"]').classList.contains("ratio-few")`)
	type shown struct {
		Datetime, Text, Class, Verdict string
	}
	got := eval[shown](tb, `(() => {
		const w = document.getElementById("stats-updated"), c = document.querySelector('[data-judge="memory"]');
		return {datetime: w.getAttribute("datetime"), text: w.textContent, class: c.className,
			verdict: c.querySelector(".ratio-verdict").textContent};
	})()`)
	at, err := time.Parse(time.RFC3339Nano, got.Datetime)
	if err != nil {
		t.Fatalf("datetime %q: %v", got.Datetime, err)
	}
	if want := at.UTC().Format("15:04:05") + " UTC"; got.Text != want {
		t.Errorf("last read: got %q, want %q (UTC)", got.Text, want)
	}
	verdict := regexp.MustCompile(`ratio-(good|fair|poor)\b`).FindStringSubmatch(got.Class)
	if verdict == nil || !strings.HasPrefix(got.Verdict, verdict[1]+":") {
		t.Errorf("memory hit ratio: got class %q and verdict %q, want a judged ratio that says so", got.Class, got.Verdict)
	}
}

// testFaultsBreaker sends Redis-mode traffic from the faults page, flips
// the fail switch on and off without leaving the page, and watches the
// breaker the page describes open, half-open and close, live.
func testFaultsBreaker(t *testing.T, br *browser) {
	tb := br.newTab(t)
	tb.open("/faults", http.StatusOK)
	breaker := `document.getElementById("breaker-state").textContent.trim()`
	newest := `(document.querySelector("#traffic-strip li .badge") || {}).textContent`
	if got := eval[string](tb, breaker); got != "closed" {
		t.Fatalf("breaker at first: got %v, want closed", got)
	}
	tb.do("start the traffic", chromedp.Click(chromedp.CSS("#traffic-toggle"), chromedp.NodeVisible))
	tb.waitJS("a Redis HIT in the strip", 10*time.Second, newest+` === "HIT"`)

	tb.do("make Redis calls fail", chromedp.Click(chromedp.CSS(`button[value="fail-on"]`), chromedp.NodeVisible))
	tb.waitJS("the breaker open", 10*time.Second, breaker+` === "open"`)
	if got := eval[string](tb, newest); got != "ERROR" {
		t.Errorf("newest response with Redis failing: got %v, want ERROR", got)
	}
	// After the cooldown a trial fails, with the switch still on: the
	// history shows the breaker half-open, then open again.
	tb.waitJS("a failed trial in the history", 10*time.Second,
		`[...document.querySelectorAll("#breaker-history .breaker")].map(e => e.textContent).slice(0, 2).join(",") === "open,half-open"`)

	tb.do("stop failing", chromedp.Click(chromedp.CSS(`button[value="fail-off"]`), chromedp.NodeVisible))
	tb.waitJS("the breaker closed again", 10*time.Second, breaker+` === "closed"`)
	tb.waitJS("HITs again", 10*time.Second, newest+` === "HIT"`)
	if got := tb.path(); got != "/faults" {
		t.Errorf("after flipping the switches: got %v, want to stay on /faults", got)
	}
	if got := tb.text("#breaker-history li:first-child .breaker"); got != "closed" {
		t.Errorf("newest change of state: got %v, want closed", got)
	}
	tb.do("stop the traffic", chromedp.Click(chromedp.CSS("#traffic-stop"), chromedp.NodeVisible))
}

// testHTTPReuse walks the HTTP caching pages as a learner does: a first
// visit is a new copy; following a link to the fresh-for-an-hour page
// again shows the browser's copy, unasked; reloading the ETag page gets a
// 304. Each time the page says which it is, from the browser's own
// Navigation Timing entry, and the curl commands name this server.
func testHTTPReuse(t *testing.T, br *browser) {
	tb := br.newTab(t)
	reused := `(() => { const n = document.getElementById("reuse-note");
		return n.hidden ? "" : n.getAttribute("data-reused"); })()`
	visible := `[...document.querySelectorAll("#reuse-note [data-reuse]")].filter(p => !p.hidden).map(p => p.dataset.reuse).join(",")`

	tb.open("/static-content", http.StatusOK)
	if got := eval[string](tb, reused); got != "" {
		t.Errorf("first visit: got reuse note %q, want none", got)
	}
	if got, want := tb.text("code .curl-origin"), tb.base; got != want {
		t.Errorf("curl command's address: got %q, want %q", got, want)
	}
	built := tb.text(".rendered-at")
	tb.click(`main a[href="/static-content"]:not(.subnav a)`, http.StatusOK)
	if got := eval[string](tb, reused); got != "cache" {
		t.Errorf("the same page by a link: got reuse note %q, want cache (transferSize %v)", got,
			eval[float64](tb, `performance.getEntriesByType("navigation")[0].transferSize`))
	}
	if got := eval[string](tb, visible); got != "cache" {
		t.Errorf("visible explanation: got %q, want only the cache one", got)
	}
	if got := tb.text(".rendered-at"); got != built {
		t.Errorf("render time of the reused copy: got %q, want %q (the server was not asked)", got, built)
	}

	tb.click(`.subnav a[href="/conditional-content"]`, http.StatusOK)
	if got := tb.text(`.subnav a[aria-current="page"]`); !strings.HasPrefix(got, "Validators") {
		t.Errorf("sub-navigation's current page: got %q, want the ETag page", got)
	}
	if got := eval[string](tb, reused); got != "" {
		t.Errorf("first visit to /conditional-content: got reuse note %q, want none", got)
	}
	if !strings.Contains(tb.text("main"), "The request that built this copy carried no If-None-Match") {
		t.Error("the ETag page does not say what the request that built it carried")
	}
	if _, err := chromedp.RunResponse(tb.ctx, chromedp.Reload()); err != nil {
		t.Fatalf("reload: %v", err)
	}
	if got := eval[string](tb, reused); got != "revalidated" {
		t.Errorf("reloaded ETag page: got reuse note %q, want revalidated (status %v, transferSize %v, body %v)", got,
			eval[float64](tb, `performance.getEntriesByType("navigation")[0].responseStatus || 0`),
			eval[float64](tb, `performance.getEntriesByType("navigation")[0].transferSize`),
			eval[float64](tb, `performance.getEntriesByType("navigation")[0].encodedBodySize`))
	}
	if got := eval[string](tb, visible); got != "revalidated" {
		t.Errorf("visible explanation: got %q, want only the revalidation one", got)
	}
}

// testCompareChart reads the comparison chart Chart.js drew, for a list
// page and for a detail page: each legend entry has its bars' colour,
// which is its mode's, and every bar, memory's microseconds included, is
// tall enough to see.
func testCompareChart(t *testing.T, br *browser) {
	tb := br.newTab(t)
	for _, path := range []string{"/products/compare?page=5", "/products/compare?product=45"} {
		t.Run(path, func(t *testing.T) {
			tb := tb.in(t)
			tb.open(path, http.StatusOK)
			tb.waitJS("the chart", 10*time.Second, `!!Chart.getChart(document.getElementById("compare-chart"))`)
			type drawn struct {
				Legend, Bars, Modes []string
				MinHeight           float64
				Scale               string
			}
			d := eval[drawn](tb, `(() => {
				const c = Chart.getChart(document.getElementById("compare-chart"));
				const css = m => getComputedStyle(document.documentElement).getPropertyValue("--" + m).trim();
				const modes = [...document.querySelectorAll("#compare-results tr.mode-row")].map(tr => tr.dataset.mode);
				let min = Infinity;
				c.data.datasets.forEach((ds, i) => c.getDatasetMeta(i).data.forEach(b => { min = Math.min(min, b.height); }));
				return {
					legend: c.legend.legendItems.map(li => li.text + " " + li.fillStyle),
					bars: c.data.datasets.map(ds => ds.label + " " + ds.backgroundColor),
					modes: modes.map((m, i) => c.data.datasets[i].label + " " + css(m)),
					minHeight: min, scale: c.scales.y.type,
				};
			})()`)
			if strings.Join(d.Legend, ",") != strings.Join(d.Bars, ",") {
				t.Errorf("legend %v does not match the bars %v", d.Legend, d.Bars)
			}
			if strings.Join(d.Bars, ",") != strings.Join(d.Modes, ",") {
				t.Errorf("bar colours %v, want the modes' own %v", d.Bars, d.Modes)
			}
			if d.Scale != "logarithmic" || d.MinHeight < 10 {
				t.Errorf("got a %s axis whose shortest bar is %.1f px, want a logarithmic one with every bar at least 10 px", d.Scale, d.MinHeight)
			}
		})
	}
}
