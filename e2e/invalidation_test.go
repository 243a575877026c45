package e2e_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestInvalidationLab walks the invalidation lab as a learner does: in
// memory, "delete the key" leaves the list page and the category page
// stale and the page says which; in Redis, write-through leaves nothing
// stale, and its race replay shows write-through losing to a slow reader
// while the workshop's order does not; then "TTL only" is watched by the
// page's script until its entries expire; then one click resets the lab.
func TestInvalidationLab(t *testing.T) {
	chromiumPath(t)
	srv := startServer(t)
	br := startBrowser(t, srv.URL)
	tb := br.newTab(t)

	tb.open("/invalidation?cache=memory", http.StatusOK)
	if got := tb.text("h1"); got != "Invalidation strategies, side by side" {
		t.Fatalf("h1: got %q", got)
	}
	if got := tb.mode(); got != "memory" {
		t.Fatalf("mode: got %v, want memory", got)
	}
	if !tb.has("aside.tip") {
		t.Error("no Try this box")
	}

	// Delete the key, product 3, new price typed in.
	tb.do("fill the edit form",
		chromedp.SetValue(chromedp.CSS("#product"), "3"),
		chromedp.SetValue(chromedp.CSS("#price"), "11.11"),
		chromedp.Click(chromedp.CSS("#s-delete"), chromedp.NodeVisible),
	)
	tb.click("#run-edit", http.StatusOK)
	if got := tb.text(`#lab-run [data-figure="stale"]`); got != "2 of 15" {
		t.Errorf("delete the key: stale %q, want 2 of 15", got)
	}
	if got := tb.text(`#lab-run [data-figure="stale-views"]`); got != "List page 1, Category cocoa" {
		t.Errorf("delete the key: still stale %q, want the list page and the category page", got)
	}
	if got := tb.text(`#lab-now tr[data-view="v:list:1"] td:nth-child(4)`); got != "v1 $8.25" {
		t.Errorf("list page 1 served: got %q, want the old v1 $8.25", got)
	}
	if got := tb.text(`#lab-now tr[data-view="v:list:1"] td:nth-child(5)`); got != "v2 $11.11" {
		t.Errorf("list page 1 database: got %q, want v2 $11.11", got)
	}
	if got := tb.text(`#lab-now tr[data-view="v:product:3"] td:nth-child(6)`); got != "fresh" {
		t.Errorf("product 3 detail: got %q, want fresh", got)
	}
	tb.shot("invalidation-delete")

	// Write-through, in Redis, through the mode switch.
	tb.click(`nav.modes a[data-mode="redis"]`, http.StatusOK)
	if got := tb.mode(); got != "redis" {
		t.Fatalf("mode after the switch: got %v, want redis", got)
	}
	tb.do("pick write-through", chromedp.Click(chromedp.CSS("#s-write-through"), chromedp.NodeVisible),
		chromedp.SetValue(chromedp.CSS("#price"), "12.00"))
	tb.click("#run-edit", http.StatusOK)
	if got := tb.text("#lab-run h2"); !strings.Contains(got, "Write-through") || !strings.Contains(got, "Redis") {
		t.Errorf("run heading: got %q", got)
	}
	if got := tb.text(`#lab-run [data-figure="stale"]`); got != "0 of 15" {
		t.Errorf("write-through: stale %q, want 0 of 15", got)
	}
	if got := tb.text(`#lab-run [data-figure="commands"]`); !strings.Contains(got, "SET ×3") {
		t.Errorf("write-through commands: got %q, want three SETs", got)
	}
	for race, want := range map[string]string{"write-through": "STALE", "bump-then-commit": "STALE", "commit-then-bump": "FRESH"} {
		if got := tb.text(`#race [data-race="` + race + `"] h3 .badge`); got != want {
			t.Errorf("race replay %s: got %q, want %q", race, got, want)
		}
	}
	if n := eval[int](tb, `document.querySelectorAll("#side-by-side tbody tr").length`); n != 2 {
		t.Errorf("side-by-side rows: got %d, want 2 (one per run)", n)
	}
	tb.shot("invalidation-write-through")

	// TTL only, 1 s: the script reads the views again until they are
	// fresh, and the page then says how long they were stale.
	tb.do("pick TTL only", chromedp.Click(chromedp.CSS("#s-ttl"), chromedp.NodeVisible),
		chromedp.SetValue(chromedp.CSS("#ttl"), "1"))
	tb.click("#run-edit", http.StatusOK)
	if !tb.has("#lab-now[data-watch]") {
		t.Fatal("TTL only: the page is not watching the stale views")
	}
	tb.waitJS("the staleness to end", 15*time.Second, `(() => { const e = document.querySelector('#lab-run [data-figure="stale-for"]');
		return !!e && / ms$/.test(e.textContent.trim()); })()`)
	if tb.has("#lab-now[data-watch]") {
		t.Error("still watching after every view was fresh")
	}
	if n := eval[int](tb, `document.querySelectorAll("#lab-now tr[data-stale]").length`); n != 0 {
		t.Errorf("stale rows after the watch ended: got %d, want 0", n)
	}

	tb.click("#reset-lab", http.StatusOK)
	if tb.has("#lab-run") {
		t.Error("after the reset a run is still shown")
	}
	if got := tb.text(`#lab-data tr[data-id="3"] td:nth-child(4)`); got != "$8.25" {
		t.Errorf("product 3 after the reset: got %q, want $8.25", got)
	}
}
