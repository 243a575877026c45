package e2e_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestEvictionBrowser opens the eviction lesson, checks that its plot is
// drawn from the replay (two series of eight points, as many as the
// table's rows), replays another skew from the form, and checks that the
// new pages fit a phone's screen.
func TestEvictionBrowser(t *testing.T) {
	chromiumPath(t)
	srv := startServer(t)
	br := startBrowser(t, srv.URL)
	tb := br.newTab(t)
	tb.open("/eviction?seed=2&skew=0.8", http.StatusOK)
	if got := eval[int](tb, `document.querySelectorAll("svg.ev-svg g.ev-series").length`); got != 2 {
		t.Fatalf("plot: got %d series, want 2", got)
	}
	if got := eval[int](tb, `document.querySelectorAll("svg.ev-svg circle").length`); got != 16 {
		t.Errorf("plot: got %d points, want 16 (8 budgets × 2 policies)", got)
	}
	if got := eval[int](tb, `document.querySelectorAll("table.ev-table tbody tr").length`); got != 8 {
		t.Errorf("table: got %d rows, want 8", got)
	}
	if got := tb.text("#ev-policy"); got == "" {
		t.Error("the Redis policy is not shown")
	}
	before := eval[string](tb, `document.querySelector("g.ev-lru polyline").getAttribute("points")`)
	tb.shot("eviction")
	tb.do("pick skew 1.2", chromedp.SetValue(chromedp.CSS("#ev-skew"), "1.2"))
	tb.click(`form[action="/eviction"] button[type="submit"]`, http.StatusOK)
	if p := tb.path(); !strings.Contains(p, "skew=1.2") || !strings.Contains(p, "seed=2") {
		t.Errorf("after replaying: at %s, want seed=2 and skew=1.2 in the URL", p)
	}
	if after := eval[string](tb, `document.querySelector("g.ev-lru polyline").getAttribute("points")`); after == before {
		t.Error("the LRU curve did not change with the skew")
	}

	tb.do("phone viewport", chromedp.EmulateViewport(390, 844))
	for _, path := range []string{"/eviction", "/account", "/stampede"} {
		tb.open(path, http.StatusOK)
		if w := eval[int](tb, `document.documentElement.scrollWidth - window.innerWidth`); w > 1 {
			t.Errorf("%s at 390 px: the page is %d px wider than the screen", path, w)
		}
	}
}
