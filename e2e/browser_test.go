package e2e_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// modes is every cache mode, in the order the switch shows them.
var modes = []string{"none", "memory", "redis", "tiered"}

// cachedOutcomes are the outcomes a page may show in a mode when the test
// does not control whether it was loaded before.
func cachedOutcomes(mode string) []string {
	if mode == "none" {
		return []string{"BYPASS"}
	}
	return []string{"MISS", "HIT"}
}

func oneOf(got string, want []string) bool {
	for _, w := range want {
		if got == w {
			return true
		}
	}
	return false
}

// TestBrowser drives one real server through one Chromium the way a
// learner does. Each scenario gets its own tab and cookie jar; the server
// and its caches are shared, so scenarios use products of their own.
func TestBrowser(t *testing.T) {
	chromiumPath(t)
	srv := startServer(t)
	br := startBrowser(t, srv.URL)
	scenarios := []struct {
		name string
		run  func(t *testing.T, br *browser)
	}{
		{"home_list_detail_by_clicks", testHomeListDetail},
		{"mode_switch_sticks_while_navigating", testModeSwitch},
		{"trace_shows_miss_then_hit", testMissThenHit},
		{"edit_shows_new_values_in_every_mode", testEditEveryMode},
		{"validation_error_keeps_input", testValidation},
		{"fibonacci_renders_chart", testFibonacci},
		{"weather_buttons_add_points", testWeather},
		{"compare_run_draws_chart", testCompare},
		{"stats_update_without_reload", testStats},
		{"every_linked_page_loads_clean", testEveryPage},
		{"pages_fit_a_phone", testPhoneWidth},
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			start := time.Now()
			sc.run(t, br)
			t.Logf("%s took %v", sc.name, time.Since(start).Round(time.Millisecond))
		})
	}
}

// testHomeListDetail clicks from the home page to the list, through the
// pager, to a product and its edit form, in each mode.
func testHomeListDetail(t *testing.T, br *browser) {
	tab := br.newTab(t)
	for _, mode := range modes {
		t.Run(mode, func(t *testing.T) {
			tb := tab.in(t)
			// One screenshot per page is enough; memory is the default mode.
			shot := func(name string) {
				if mode == "memory" {
					tb.shot(name)
				}
			}
			tb.open("/?cache="+mode, http.StatusOK)
			if got := tb.mode(); got != mode {
				t.Fatalf("home: got mode %v, want %v", got, mode)
			}
			if got := tb.text("h1"); got != "Cache Workshop" {
				t.Errorf("home h1: got %q, want %q", got, "Cache Workshop")
			}
			shot("home")

			tb.click(`a.card[href="/products"]`, http.StatusOK)
			if got := tb.path(); got != "/products" {
				t.Errorf("after clicking the products card: got %v, want /products", got)
			}
			if got := tb.mode(); got != mode {
				t.Errorf("list: got mode %v, want %v", got, mode)
			}
			if got := eval[int](tb, `document.querySelectorAll("table.products tbody tr").length`); got != 20 {
				t.Errorf("list rows: got %v, want 20", got)
			}
			if got := tb.outcome(); !oneOf(got, cachedOutcomes(mode)) {
				t.Errorf("list outcome: got %v, want one of %v", got, cachedOutcomes(mode))
			}
			shot("list")

			tb.click(`nav.pager a[rel="next"]`, http.StatusOK)
			if got := tb.text(`nav.pager a[aria-current="page"]`); got != "2" {
				t.Errorf("after Next the current page: got %v, want 2", got)
			}
			if got := tb.text("table.products tbody tr:first-child td:first-child"); got != "21" {
				t.Errorf("page 2 first id: got %v, want 21", got)
			}

			const link = "table.products tbody tr:nth-child(3) td:nth-child(2) a"
			name := tb.text(link)
			href := eval[string](tb, `document.querySelector(`+jsString(link)+`).getAttribute("href")`)
			tb.click(link, http.StatusOK)
			if got := tb.path(); got != href {
				t.Errorf("after clicking %q: got %v, want %v", name, got, href)
			}
			if got := tb.text("h1"); got != name {
				t.Errorf("detail h1: got %q, want %q", got, name)
			}
			if got := tb.text(".price"); !strings.HasPrefix(got, "$") {
				t.Errorf("detail price: got %q, want a dollar amount", got)
			}
			if got := tb.mode(); got != mode {
				t.Errorf("detail: got mode %v, want %v", got, mode)
			}
			if got := tb.outcome(); !oneOf(got, cachedOutcomes(mode)) {
				t.Errorf("detail outcome: got %v, want one of %v", got, cachedOutcomes(mode))
			}
			shot("detail")

			tb.click(`article.product a.button[href$="/edit"]`, http.StatusOK)
			if got := tb.value("#name"); got != name {
				t.Errorf("edit form name: got %q, want %q", got, name)
			}
			if got := tb.outcome(); got != "BYPASS" {
				t.Errorf("edit form outcome: got %v, want BYPASS (the form always reads the database)", got)
			}
			shot("edit")

			tb.click(`nav.crumbs a[href="/products"]`, http.StatusOK)
			if got := tb.mode(); got != mode {
				t.Errorf("back on the list: got mode %v, want %v", got, mode)
			}
		})
	}
}

// testModeSwitch clicks the switch and checks the mode follows the learner
// through plain links, typed URLs and the keyboard.
func testModeSwitch(t *testing.T, br *browser) {
	tb := br.newTab(t)
	tb.open("/", http.StatusOK)
	if got := tb.mode(); got != "memory" {
		t.Fatalf("first visit: got mode %v, want memory (CACHE_DEFAULT)", got)
	}
	steps := []struct {
		what  string
		act   func()
		path  string // want, "" to skip
		mode  string
		check func(t *testing.T)
	}{
		{"click Redis in the switch", func() { tb.click(`nav.modes a.mode-link[data-mode="redis"]`, http.StatusOK) }, "/?cache=redis", "redis", nil},
		{"click Products in the header", func() { tb.click(`nav.nav a[href="/products"]`, http.StatusOK) }, "/products", "redis", func(t *testing.T) {
			if got := tb.outcome(); !oneOf(got, cachedOutcomes("redis")) {
				t.Errorf("outcome: got %v, want one of %v", got, cachedOutcomes("redis"))
			}
			rows := tb.traceRows()
			if !traceHasBackend(rows, "redis") {
				t.Errorf("trace rows %v: want a page lookup in redis", rows)
			}
		}},
		{"click a product", func() { tb.click(`table.products tbody tr:nth-child(5) td:nth-child(2) a`, http.StatusOK) }, "/products/5", "redis", nil},
		{"click No cache in the switch", func() { tb.click(`nav.modes a.mode-link[data-mode="none"]`, http.StatusOK) }, "/products/5?cache=none", "none", func(t *testing.T) {
			if got := tb.outcome(); got != "BYPASS" {
				t.Errorf("outcome: got %v, want BYPASS", got)
			}
		}},
		{"click the Products breadcrumb", func() { tb.click(`nav.crumbs a[href="/products"]`, http.StatusOK) }, "/products", "none", func(t *testing.T) {
			if got := tb.outcome(); got != "BYPASS" {
				t.Errorf("outcome: got %v, want BYPASS", got)
			}
		}},
		{"type the home URL", func() { tb.open("/", http.StatusOK) }, "/", "none", nil},
		{"press Alt+2", func() {
			res, err := chromedp.RunResponse(tb.ctx, chromedp.KeyEvent("2", chromedp.KeyModifiers(chromedp.ModifierAlt)))
			if err != nil || res == nil || res.Status != http.StatusOK {
				t.Fatalf("Alt+2: got %v, %v; want a 200 page", res, err)
			}
		}, "/?cache=memory", "memory", nil},
		{"focus Redis and press Enter", func() {
			res, err := chromedp.RunResponse(tb.ctx,
				chromedp.Focus(chromedp.CSS(`nav.modes a.mode-link[data-mode="redis"]`)),
				chromedp.KeyEvent("\r"))
			if err != nil || res == nil || res.Status != http.StatusOK {
				t.Fatalf("Enter on the Redis link: got %v, %v; want a 200 page", res, err)
			}
		}, "/?cache=redis", "redis", nil},
		{"click Fibonacci in the header", func() { tb.click(`nav.nav a[href="/benchmark"]`, http.StatusOK) }, "/benchmark", "redis", nil},
	}
	for _, s := range steps {
		s.act()
		if s.path != "" {
			if got := tb.path(); got != s.path {
				t.Errorf("%s: got URL %v, want %v", s.what, got, s.path)
			}
		}
		if got := tb.mode(); got != s.mode {
			t.Errorf("%s: got mode %v, want %v", s.what, got, s.mode)
		}
		if s.check != nil {
			s.check(t)
		}
	}
}

func traceHasBackend(rows [][]string, backend string) bool {
	for _, r := range rows {
		if len(r) >= 2 && r[0] == "page" && strings.Contains(strings.ToLower(r[1]), backend) {
			return true
		}
	}
	return false
}

// testMissThenHit loads pages nobody else loads, then reloads them: the bar
// and the trace panel must say MISS then HIT, or BYPASS twice with no cache.
func testMissThenHit(t *testing.T, br *browser) {
	tests := []struct {
		mode          string
		path          string
		first, second string
	}{
		{"none", "/products/101", "BYPASS", "BYPASS"},
		{"memory", "/products/102", "MISS", "HIT"},
		{"redis", "/products/103", "MISS", "HIT"},
		{"none", "/products?page=11", "BYPASS", "BYPASS"},
		{"memory", "/products?page=12", "MISS", "HIT"},
		{"redis", "/products?page=13", "MISS", "HIT"},
	}
	tab := br.newTab(t)
	for _, tt := range tests {
		t.Run(tt.mode+tt.path, func(t *testing.T) {
			tb := tab.in(t)
			sep := "?"
			if strings.Contains(tt.path, "?") {
				sep = "&"
			}
			tb.open(tt.path+sep+"cache="+tt.mode, http.StatusOK)
			for i, want := range []string{tt.first, tt.second} {
				if i == 1 {
					tb.reload()
				}
				if got := tb.outcome(); got != want {
					t.Errorf("load %d: bar says %v, want %v", i+1, got, want)
				}
				if got := tb.text("section.reqbar .badge"); got != want {
					t.Errorf("load %d: badge says %v, want %v", i+1, got, want)
				}
				if got := tb.pageLookup(); got != want {
					t.Errorf("load %d: trace page lookup says %v, want %v", i+1, got, want)
				}
			}
			if tt.mode == "redis" && strings.HasPrefix(tt.path, "/products/") {
				tb.shot("detail-hit-trace-open")
			}
		})
	}
}

// listRow is one product's row on the list page.
type listRow struct {
	OK    bool   `json:"ok"`
	Name  string `json:"name"`
	Price string `json:"price"`
}

func (tb *tab) listRow(id string) listRow {
	tb.t.Helper()
	return eval[listRow](tb, `(() => {
		const tr = [...document.querySelectorAll("table.products tbody tr")].find(tr => tr.cells[0].textContent.trim() === `+jsString(id)+`);
		return tr ? {ok: true, name: tr.cells[1].textContent.trim(), price: tr.cells[3].textContent.trim()} : {ok: false, name: "", price: ""};
	})()`)
}

// typeInto replaces a field's text by typing, as a learner would.
func (tb *tab) typeInto(sel, text string) {
	tb.t.Helper()
	tb.do("type into "+sel, chromedp.Clear(chromedp.CSS(sel)), chromedp.SendKeys(chromedp.CSS(sel), text))
	if got := tb.value(sel); got != text {
		tb.t.Fatalf("typed %q into %s, field holds %q", text, sel, got)
	}
}

// warm loads path in mode until the server says it is cached (asked over
// plain HTTP: the precondition of a browser check, not the check itself).
func warm(t *testing.T, base, path, mode string) {
	t.Helper()
	want := map[string]string{"none": "BYPASS", "memory": "HIT", "redis": "HIT", "tiered": "HIT"}[mode]
	var got string
	for i := 0; i < 2; i++ {
		res, err := http.Get(base + path + "?cache=" + mode)
		if err != nil {
			t.Fatalf("warm %s in %s: %v", path, mode, err)
		}
		_ = res.Body.Close()
		got = res.Header.Get("X-Cache")
	}
	if got != want {
		t.Fatalf("warming %s in %s: got X-Cache %v, want %v", path, mode, got, want)
	}
}

// testEditEveryMode warms the detail and list pages in every mode, edits
// the product through the form in one mode, then checks that every mode
// shows the new values on its very next load. It repeats with the edit
// made in each mode.
func testEditEveryMode(t *testing.T, br *browser) {
	const id = "7"
	edits := []struct {
		mode, price, stock string
	}{
		{"none", "111.11", "41"},
		{"memory", "222.22", "42"},
		{"redis", "3333.33", "43"},
	}
	tab := br.newTab(t)
	for _, e := range edits {
		t.Run("edited_in_"+e.mode, func(t *testing.T) {
			tb := tab.in(t)
			for _, m := range modes {
				warm(t, tb.base, "/products/"+id, m)
				warm(t, tb.base, "/products", m)
			}

			tb.open("/products/"+id+"/edit?cache="+e.mode, http.StatusOK)
			name := "Edited in " + e.mode + " mode"
			tb.typeInto("#name", name)
			tb.typeInto("#price", e.price)
			tb.typeInto("#stock", e.stock)
			tb.click(`form.form button[type="submit"]`, http.StatusOK)
			if got := tb.path(); got != "/products/"+id {
				t.Fatalf("after saving: got URL %v, want /products/%s", got, id)
			}
			if got := tb.text(".flash"); !strings.Contains(got, "Saved") {
				t.Errorf("flash: got %q, want a Saved message", got)
			}
			wantPrice := "$" + e.price
			if e.price == "3333.33" {
				wantPrice = "$3,333.33"
			}
			if got := tb.text("h1"); got != name {
				t.Errorf("detail after saving: got name %q, want %q", got, name)
			}
			if got := tb.text(".price"); got != wantPrice {
				t.Errorf("detail after saving: got price %q, want %q", got, wantPrice)
			}
			if e.mode == "memory" {
				tb.shot("detail-after-edit")
			}
			tb.reload()
			if tb.has(".flash") {
				t.Errorf("the flash message is still there after a reload")
			}

			for _, m := range modes {
				tb.open("/products/"+id+"?cache="+m, http.StatusOK)
				// The redirect after saving already loaded (and cached) the
				// detail page in the editing mode.
				want := map[string]string{"none": "BYPASS", "memory": "MISS", "redis": "MISS", "tiered": "MISS"}[m]
				if m == e.mode && m != "none" {
					want = "HIT"
				}
				if got := tb.outcome(); got != want {
					t.Errorf("detail in %s: got outcome %v, want %v", m, got, want)
				}
				if got := tb.text("h1"); got != name {
					t.Errorf("detail in %s: got name %q, want %q", m, got, name)
				}
				if got := tb.text(".price"); got != wantPrice {
					t.Errorf("detail in %s: got price %q, want %q", m, got, wantPrice)
				}
				if got := tb.text(".facts dd:nth-of-type(2)"); got != e.stock {
					t.Errorf("detail in %s: got stock %q, want %q", m, got, e.stock)
				}

				tb.open("/products?cache="+m, http.StatusOK)
				want = map[string]string{"none": "BYPASS", "memory": "MISS", "redis": "MISS", "tiered": "MISS"}[m]
				if got := tb.outcome(); got != want {
					t.Errorf("list in %s: got outcome %v, want %v", m, got, want)
				}
				row := tb.listRow(id)
				if !row.OK || row.Name != name || row.Price != wantPrice {
					t.Errorf("list in %s: got row %+v, want name %q price %q", m, row, name, wantPrice)
				}
			}
		})
	}
}

// testValidation submits bad values: the form comes back with 422, says
// what is wrong next to the field, keeps every value typed, and saves
// nothing.
func testValidation(t *testing.T, br *browser) {
	const id = "8"
	tests := []struct {
		name      string
		fields    map[string]string // selector → text typed
		wantError string            // id of the field error shown
	}{
		{"bad_price", map[string]string{"#name": "Kept name typed in the browser", "#price": "twelve dollars", "#stock": "9"}, "price-error"},
		{"empty_name", map[string]string{"#name": "", "#price": "19.99", "#description": "Kept description typed in the browser"}, "name-error"},
		{"negative_stock", map[string]string{"#name": "Another kept name", "#stock": "-3"}, "stock-error"},
	}
	tab := br.newTab(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tb := tab.in(t)
			tb.open("/products/"+id, http.StatusOK)
			origName, origPrice := tb.text("h1"), tb.text(".price")
			tb.open("/products/"+id+"/edit", http.StatusOK)
			for sel, v := range tt.fields {
				if v == "" {
					tb.do("clear "+sel, chromedp.Clear(chromedp.CSS(sel)))
					continue
				}
				tb.typeInto(sel, v)
			}
			// Chromium logs a 422 document answer as a failed load.
			tb.allow("status of 422")
			tb.click(`form.form button[type="submit"]`, http.StatusUnprocessableEntity)
			if !tb.has("#" + tt.wantError + ".field-error") {
				t.Fatalf("no .field-error #%s after submitting %v", tt.wantError, tt.fields)
			}
			if got := tb.text("#" + tt.wantError); got == "" {
				t.Errorf("#%s is empty, want a message", tt.wantError)
			}
			field := "#" + strings.TrimSuffix(tt.wantError, "-error")
			if got := eval[string](tb, `document.querySelector(`+jsString(field)+`).getAttribute("aria-invalid") || ""`); got != "true" {
				t.Errorf("%s aria-invalid: got %q, want true", field, got)
			}
			for sel, v := range tt.fields {
				if got := tb.value(sel); got != v {
					t.Errorf("%s after the error: got %q, want the typed %q", sel, got, v)
				}
			}
			if tt.name == "bad_price" {
				tb.shot("edit-invalid")
			}
			tb.open("/products/"+id, http.StatusOK)
			if got := tb.text("h1"); got != origName {
				t.Errorf("after the rejected edit: got name %q, want unchanged %q", got, origName)
			}
			if got := tb.text(".price"); got != origPrice {
				t.Errorf("after the rejected edit: got price %q, want unchanged %q", got, origPrice)
			}
		})
	}
}

// chartPointsJS counts the data points of every Chart.js chart on the
// page; -1 means no canvas has a chart yet.
const chartPointsJS = `(() => {
	if (typeof Chart === "undefined") return -1;
	const charts = [...document.querySelectorAll("canvas")].map(c => Chart.getChart(c)).filter(Boolean);
	if (charts.length === 0) return -1;
	return charts.reduce((n, ch) => n + ch.data.datasets.reduce((m, d) => m + d.data.filter(v => v !== null && v !== undefined).length, 0), 0);
})()`

func (tb *tab) chartPoints() int {
	tb.t.Helper()
	return eval[int](tb, chartPointsJS)
}

// waitChart waits until the page's charts hold more than min points.
func (tb *tab) waitChart(what string, min int, timeout time.Duration) int {
	tb.t.Helper()
	tb.waitJS(what, timeout, chartPointsJS+` > `+fmt.Sprint(min))
	return tb.chartPoints()
}

// mainButtons is the selector of the page's own enabled buttons (not the
// header's, nor the trace panel's "explain" buttons).
const mainButtons = `main button:not([disabled]):not(.explain)`

// ensureChart makes a demo page draw its chart: it waits for one drawn on
// load, and failing that clicks the page's first button, as the "Try this"
// box tells a learner to.
func (tb *tab) ensureChart(page string, timeout time.Duration) int {
	tb.t.Helper()
	if !tb.has("canvas") {
		tb.t.Fatalf("%s has no <canvas> for its chart", page)
	}
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		if n := tb.chartPoints(); n > 0 {
			return n
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !tb.has(mainButtons) {
		tb.t.Fatalf("%s drew no chart on load and has no button to start one", page)
	}
	tb.do("click the first button", chromedp.Click(chromedp.CSS(mainButtons), chromedp.NodeVisible))
	return tb.waitChart(page+" to draw its chart", 0, timeout)
}

// testFibonacci: the benchmark page renders its chart.
func testFibonacci(t *testing.T, br *browser) {
	tb := br.newTab(t)
	tb.open("/benchmark", http.StatusOK)
	tb.requireBuilt("Fibonacci benchmark (/benchmark)")
	n := tb.ensureChart("/benchmark", 60*time.Second)
	t.Logf("Fibonacci chart: %d points", n)
	tb.shot("benchmark")
}

// driveWeather clicks the weather page's buttons and requires each click
// to add points to the chart.
func driveWeather(t *testing.T, tb *tab) {
	t.Helper()
	if !tb.has("canvas") {
		t.Fatal("/weather has no <canvas> for its chart")
	}
	tb.waitJS("the weather chart to exist", 10*time.Second, chartPointsJS+` >= 0`)
	buttons := eval[int](tb, `document.querySelectorAll(`+jsString(mainButtons)+`).length`)
	if buttons == 0 {
		t.Fatal("/weather has no buttons")
	}
	before := tb.chartPoints()
	// As the "Try this" box says: the last button (through the cache)
	// twice, then the first (fresh) once.
	for i, idx := range []int{buttons - 1, buttons - 1, 0} {
		nth := chromedp.JSPath(fmt.Sprintf(`document.querySelectorAll(%s)[%d]`, jsString(mainButtons), idx))
		tb.do(fmt.Sprintf("click weather button %d", idx+1), chromedp.Click(nth, chromedp.NodeVisible))
		after := tb.waitChart(fmt.Sprintf("click %d to add a point (had %d)", i+1, before), before, 20*time.Second)
		t.Logf("weather click %d: %d → %d points", i+1, before, after)
		before = after
	}
}

// testWeather: each button click adds points to the chart.
func testWeather(t *testing.T, br *browser) {
	tb := br.newTab(t)
	tb.open("/weather?cache=memory", http.StatusOK)
	tb.requireBuilt("Weather API (/weather)")
	driveWeather(t, tb)
	tb.shot("weather")
	// The buttons name their own mode per request; the mode the learner
	// picked in the header must survive them.
	tb.open("/weather", http.StatusOK)
	if got := tb.mode(); got != "memory" {
		t.Errorf("mode after using the weather buttons: got %v, want memory (the one picked in the header)", got)
	}
}

// runCompare starts the comparison page's in-browser run and waits for it
// to finish and draw.
func runCompare(t *testing.T, tb *tab) int {
	t.Helper()
	if !tb.has("canvas") {
		t.Fatal("/products/compare has no <canvas> for its chart")
	}
	if !tb.has(mainButtons) {
		t.Fatal("/products/compare has no button to start a run")
	}
	// The page may draw the server's own measurement on load; the run must
	// add to it.
	tb.waitJS("the comparison charts to exist", 10*time.Second, chartPointsJS+` >= 0`)
	before := tb.chartPoints()
	if before < 0 {
		before = 0
	}
	tb.do("start the run", chromedp.Click(chromedp.CSS(mainButtons), chromedp.NodeVisible))
	// The run is over when the charts hold a result for every mode more
	// and no button is left disabled.
	tb.waitJS("the comparison run to finish", 90*time.Second,
		chartPointsJS+fmt.Sprintf(` >= %d && document.querySelectorAll("main button[disabled]").length === 0`, before+3))
	return tb.chartPoints()
}

// testCompare: the in-browser run completes and draws its chart.
func testCompare(t *testing.T, br *browser) {
	tb := br.newTab(t)
	tb.open("/products/compare?cache=redis", http.StatusOK)
	tb.requireBuilt("Cache comparison (/products/compare)")
	n := runCompare(t, tb)
	t.Logf("comparison charts: %d points", n)
	tb.shot("compare")
	// The run requests every mode; the learner's own mode must survive it.
	tb.open("/products/compare", http.StatusOK)
	if got := tb.mode(); got != "redis" {
		t.Errorf("mode after the in-browser run: got %v, want redis (the one picked in the header)", got)
	}
}

// testStats: while requests hit the server, the stats page changes by
// itself; a marker set in the page survives, so it was not reloaded.
func testStats(t *testing.T, br *browser) {
	tb := br.newTab(t)
	tb.open("/cache-stats", http.StatusOK)
	tb.requireBuilt("Cache statistics (/cache-stats)")
	tb.do("mark the page", chromedp.Evaluate[chromedp.Void](`window.__e2eNotReloaded = true; window.__e2eBefore = document.querySelector("main").innerText; void 0`))
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		client := &http.Client{Timeout: 5 * time.Second}
		for i := 0; ; i++ {
			for _, m := range []string{"memory", "redis"} {
				res, err := client.Get(fmt.Sprintf("%s/products/%d?cache=%s", tb.base, 500+i%20, m))
				if err == nil {
					_ = res.Body.Close()
				}
			}
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
	}()
	defer func() { close(stop); <-done }()
	tb.waitJS("the stats to change without a reload", 30*time.Second,
		`window.__e2eNotReloaded === true && document.querySelector("main").innerText !== window.__e2eBefore`)
	tb.shot("cache-stats")
}

// testEveryPage opens every page the home page and the header link to,
// in each mode, and screenshots each once: any console error, CSP
// violation or broken resource on any of them fails the test.
func testEveryPage(t *testing.T, br *browser) {
	tb := br.newTab(t)
	tb.open("/", http.StatusOK)
	paths := eval[[]string](tb, `[...new Set([...document.querySelectorAll("a.card, header nav.nav a")]
		.map(a => a.getAttribute("href")).filter(h => h.startsWith("/")))]`)
	if len(paths) < 5 {
		t.Fatalf("home links to %v, want at least the five workshop pages", paths)
	}
	for _, p := range paths {
		for _, m := range modes {
			sep := "?"
			if strings.Contains(p, "?") {
				sep = "&"
			}
			tb.open(p+sep+"cache="+m, http.StatusOK)
			if got := tb.mode(); got != m {
				t.Errorf("%s: got mode %v, want %v", p, got, m)
			}
			if m == "memory" {
				name := "page" + strings.NewReplacer("/", "-", "?", "-", "=", "-", "&", "-").Replace(p)
				tb.shot(name)
			}
		}
	}
	t.Logf("checked %d linked pages in %d modes: %v", len(paths), len(modes), paths)
}

// testPhoneWidth loads every page at a phone's width (390 CSS pixels): no
// page may be wider than the screen, so nothing needs sideways scrolling
// (wide tables scroll inside their own box instead).
func testPhoneWidth(t *testing.T, br *browser) {
	tb := br.newTab(t)
	tb.do("phone viewport", chromedp.EmulateViewport(390, 844))
	for _, path := range []string{"/", "/products?cache=memory", "/products/7?cache=memory", "/products/7/edit",
		"/products/compare", "/benchmark", "/weather", "/cache-stats", "/static-content", "/dynamic-content",
		"/conditional-content", "/stampede", "/faults"} {
		tb.open(path, http.StatusOK)
		if w := eval[int](tb, `document.documentElement.scrollWidth - window.innerWidth`); w > 1 {
			t.Errorf("%s at 390 px: the page is %d px wider than the screen", path, w)
		}
	}
}
