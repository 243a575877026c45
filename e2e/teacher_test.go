package e2e_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestTeacherControls uses the teacher page as a teacher would, by typing
// and clicking, and checks what learners see change: the request bar says
// the page TTL and the memory budget changed (and stops saying so once
// they are restored), the weather API fails while its upstream is down,
// the caches clear, the catalogue resets. It also opens a lesson's Flask /
// Django panel.
func TestTeacherControls(t *testing.T) {
	chromiumPath(t)
	srv := startServer(t)
	br := startBrowser(t, srv.URL)
	tb := br.newTab(t)

	tb.open("/teacher", http.StatusOK)
	if got := tb.text(".classroom"); !strings.Contains(got, "loopback only") {
		t.Errorf("classroom line for a 127.0.0.1 server: got %q, want it to say loopback only", got)
	}

	t.Run("page_ttl_shown_in_the_bar", func(t *testing.T) {
		tb := tb.in(t)
		tb.open("/teacher", http.StatusOK)
		tb.typeInto("#ttl-seconds", "7")
		tb.click("#ttl-set", http.StatusOK)
		if got := tb.text(".flash"); !strings.Contains(got, "live 7 s") {
			t.Errorf("flash after setting the TTL: got %q", got)
		}
		if got := tb.text("#ttl-now"); got != "7 s" {
			t.Errorf("TTL shown: got %q, want 7 s", got)
		}
		tb.open("/products?page=3&cache=memory", http.StatusOK)
		if got := tb.outcome(); got != "MISS" {
			t.Errorf("first load: got %s, want MISS", got)
		}
		if got := tb.text("section.reqbar"); !strings.Contains(got, "then stored for 7 s") {
			t.Errorf("bar: got %q, want the page stored for 7 s", got)
		}
		if got := tb.text("[data-changed-settings]"); !strings.Contains(got, "pages are now stored for 7 s (CACHE_TTL is 5 min)") {
			t.Errorf("settings line: got %q", got)
		}
		tb.reload()
		if got := tb.outcome(); got != "HIT" || !tb.has("[data-changed-settings]") {
			t.Errorf("reload: got %s, settings line %v; want a HIT that still says the TTL changed", got, tb.has("[data-changed-settings]"))
		}
	})

	t.Run("memory_budget_shown_in_the_bar", func(t *testing.T) {
		tb := tb.in(t)
		for _, p := range []string{"/products?page=4", "/products?page=5", "/products/4", "/products/5"} {
			tb.open(p+sepFor(p)+"cache=memory", http.StatusOK)
		}
		tb.open("/teacher", http.StatusOK)
		tb.typeInto("#budget-kib", "64")
		tb.click("#budget-set", http.StatusOK)
		if got := tb.text(".flash"); !strings.Contains(got, "Memory budget set to 64 KiB") || !strings.Contains(got, "evicted") {
			t.Errorf("flash after setting the budget: got %q", got)
		}
		tb.open("/products/3?cache=memory", http.StatusOK)
		got := tb.text("[data-changed-settings]")
		if !strings.Contains(got, "the memory cache's budget is 64 KiB") || !strings.Contains(got, "7 s") {
			t.Errorf("settings line: got %q, want both changes", got)
		}
	})

	t.Run("restore_removes_the_line", func(t *testing.T) {
		tb := tb.in(t)
		tb.open("/teacher", http.StatusOK)
		tb.click("#ttl-restore", http.StatusOK)
		if got := tb.text(".flash"); !strings.Contains(got, "Page TTL restored to 5 min") {
			t.Errorf("flash after restoring the TTL: got %q", got)
		}
		tb.click("#budget-restore", http.StatusOK)
		if got := tb.text("#budget-now"); got != "64 MiB" {
			t.Errorf("budget shown after restoring: got %q, want 64 MiB", got)
		}
		if tb.has("#ttl-restore") || tb.has("#budget-restore") {
			t.Error("the restore buttons are still shown with both settings as configured")
		}
		tb.open("/products?page=6&cache=memory", http.StatusOK)
		if tb.has("[data-changed-settings]") {
			t.Errorf("settings line still shown: %q", tb.text("[data-changed-settings]"))
		}
		if got := tb.text("section.reqbar"); !strings.Contains(got, "then stored for 5 min") {
			t.Errorf("bar after restoring: got %q, want the page stored for 5 min", got)
		}
	})

	t.Run("weather_upstream_down_and_up", func(t *testing.T) {
		tb := tb.in(t)
		tb.open("/teacher", http.StatusOK)
		tb.click("#weather-down", http.StatusOK)
		if got := tb.text("#weather-state"); !strings.Contains(got, "DOWN") {
			t.Errorf("weather state: got %q, want DOWN", got)
		}
		status := func() int {
			t.Helper()
			st, err := chromedp.Run(tb.ctx, chromedp.Evaluate[int](`fetch("/api/weather?city=oslo&cache=none").then(r => r.status)`,
				chromedp.EvalAwaitPromise))
			if err != nil {
				t.Fatalf("fetch the weather API: %v", err)
			}
			return st
		}
		// A 502 is what the API answers with the upstream down: expected.
		tb.allow("/api/weather?city=oslo")
		if got := status(); got != http.StatusBadGateway {
			t.Errorf("weather API with the upstream down: got %d, want 502", got)
		}
		tb.click("#weather-up", http.StatusOK)
		if got := status(); got != http.StatusOK {
			t.Errorf("weather API with the upstream up: got %d, want 200", got)
		}
	})

	t.Run("clear_and_reset", func(t *testing.T) {
		tb := tb.in(t)
		tb.open("/products/8?cache=memory", http.StatusOK)
		tb.open("/teacher", http.StatusOK)
		tb.click("#clear-memory", http.StatusOK)
		if got := tb.text(".flash"); !strings.Contains(got, "Cleared the memory cache of this process") {
			t.Errorf("flash after clearing memory: got %q", got)
		}
		tb.open("/products/8?cache=memory", http.StatusOK)
		if got := tb.outcome(); got != "MISS" {
			t.Errorf("a page after clearing memory: got %s, want MISS", got)
		}
		tb.open("/teacher", http.StatusOK)
		tb.click("#clear-redis", http.StatusOK)
		if got := tb.text(".flash"); !strings.Contains(got, "Cleared Redis") {
			t.Errorf("flash after clearing Redis: got %q", got)
		}
		tb.click("#reset-catalogue", http.StatusOK)
		if got := tb.path(); got != "/products" {
			t.Errorf("after the reset: got %s, want /products", got)
		}
		if got := tb.text(".flash"); !strings.Contains(got, "Catalogue reset") {
			t.Errorf("flash after the reset: got %q", got)
		}
	})

	t.Run("flask_django_panel_opens", func(t *testing.T) {
		tb := tb.in(t)
		tb.open("/products/7", http.StatusOK)
		if eval[bool](tb, `document.querySelector("details.code-panel").open`) {
			t.Fatal("the panel is open before it is clicked")
		}
		tb.do("open the panel", chromedp.Click(chromedp.CSS("details.code-panel > summary"), chromedp.NodeVisible))
		if !eval[bool](tb, `document.querySelector("details.code-panel").open`) {
			t.Fatal("clicking the summary did not open the panel")
		}
		text := tb.text("details.code-panel")
		for _, want := range []string{"@cache.cached(timeout=300", "@cache_page(60 * 5)", "{% cache 60 catalogue_summary %}", "Server.productSpec"} {
			if !strings.Contains(text, want) {
				t.Errorf("the open panel lacks %q", want)
			}
		}
		// The code is shown as text, in a visible block.
		if h := eval[float64](tb, `document.querySelector("details.code-panel pre").getBoundingClientRect().height`); h < 100 {
			t.Errorf("the first code block is %.0f px high, want it visible", h)
		}
		tb.shot("detail-code-panel")
	})
}

func sepFor(u string) string {
	if strings.Contains(u, "?") {
		return "&"
	}
	return "?"
}
