package e2e_test

import (
	"bytes"
	"image/png"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// maxScreenshotBytes keeps the committed README images light.
const maxScreenshotBytes = 300 << 10

// TestScreenshots writes the README's screenshots, 1280x800 PNGs of the
// main pages as a learner first sees them, into SCREENSHOTS_DIR (relative
// paths are taken from the repository root):
//
//	SCREENSHOTS_DIR=docs/screenshots go test -count=1 -run TestScreenshots ./e2e/
//
// Without SCREENSHOTS_DIR it skips, so `make test` never rewrites them.
func TestScreenshots(t *testing.T) {
	dir := os.Getenv("SCREENSHOTS_DIR")
	if dir == "" {
		t.Skip("SCREENSHOTS_DIR is not set: set it (for example to docs/screenshots) to write the README screenshots")
	}
	if !filepath.IsAbs(dir) {
		dir = filepath.Join(repoRoot, dir)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	chromiumPath(t)
	srv := startServer(t)
	br := startBrowser(t, srv.URL)
	first := br.newTab(t)

	shots := []struct {
		name, path string
		prepare    func(t *testing.T, tb *tab)
		// scrollTo is the element put at the top of the picture; empty
		// means the top of the page.
		scrollTo string
	}{
		{"home", "/", nil, ""},
		{"list", "/products", nil, ""},
		// A HIT needs the page cached first; a URL the browser has not
		// seen yet guarantees it shows this response's own bar.
		{"detail-hit", "/products/42?cache=memory", func(t *testing.T, tb *tab) {
			if got := tb.outcome(); got != "HIT" {
				t.Fatalf("detail: got %v, want HIT", got)
			}
			tb.traceRows()
		}, ""},
		{"edit", "/products/42/edit", nil, ""},
		{"category", "/categories/home-kitchen?cache=memory", nil, ""},
		{"product-new", "/products/new", nil, ""},
		{"fibonacci", "/benchmark", func(t *testing.T, tb *tab) { tb.ensureChart("/benchmark", 60*time.Second) }, "main canvas"},
		{"weather", "/weather?cache=memory", driveWeather, "main form"},
		{"compare", "/products/compare?cache=memory", func(t *testing.T, tb *tab) { runCompare(t, tb) }, "#browser-run"},
		{"cache-stats", "/cache-stats?cache=memory", nil, ""},
		{"stampede", "/stampede", func(t *testing.T, tb *tab) {
			tb.do("run the lab", chromedp.Click(chromedp.CSS(`main form button[type=submit]`), chromedp.NodeVisible))
			tb.do("wait for the results", chromedp.WaitVisible(chromedp.CSS(`main table`)))
		}, "main table"},
		{"faults", "/faults", nil, ""},
		{"http-caching", "/static-content", nil, ""},
		// A learner's exercise done, with the prediction beside what they
		// measured.
		{"exercises", "/exercises", func(t *testing.T, tb *tab) {
			tb.open("/products/9?cache=memory", http.StatusOK)
			tb.reload()
			tb.open("/exercises", http.StatusOK)
			tb.fill("#ex-first-hit textarea[data-predict]", "About a hundred times faster: no query, no template.")
		}, "#ex-first-hit"},
		{"code-panel", "/products/42?cache=memory", func(t *testing.T, tb *tab) {
			tb.do("open the panel", chromedp.Click(chromedp.CSS("details.code-panel > summary"), chromedp.NodeVisible))
		}, "details.code-panel"},
		{"teacher", "/teacher", nil, ""},
		{"invalidation", "/invalidation?cache=redis", nil, ""},
		{"account", "/account", nil, ""},
		{"eviction", "/eviction", nil, ""},
		{"loadtest", "/loadtest", nil, ""},
		{"instances", "/instances", nil, ""},
		{"proxy-cache", "/proxy-cache", nil, ""},
	}
	warm(t, srv.URL, "/products/42", "memory")
	for _, s := range shots {
		t.Run(s.name, func(t *testing.T) {
			tb := first.in(t)
			tb.open(s.path, http.StatusOK)
			tb.requireBuilt(s.path)
			if s.prepare != nil {
				s.prepare(t, tb)
			}
			scroll := `window.scrollTo(0, 0)`
			if s.scrollTo != "" {
				// Demo pages: their controls and chart, not the header.
				// A chart goes at the bottom with what explains it above; any
				// other element's section or form goes at the top.
				scroll = `(() => { const e = document.querySelector(` + jsString(s.scrollTo) + `);
					if (e.tagName === "CANVAS") { e.scrollIntoView({block: "end"}); window.scrollBy(0, 24); return; }
					(e.closest("section, form") || e).scrollIntoView({block: "start"}); })()`
			}
			tb.do("scroll", chromedp.Evaluate[chromedp.Void](scroll+`; void 0`))
			buf, err := chromedp.Run(tb.ctx, chromedp.CaptureScreenshot())
			if err != nil {
				t.Fatalf("screenshot: %v", err)
			}
			cfg, err := png.DecodeConfig(bytes.NewReader(buf))
			if err != nil {
				t.Fatalf("screenshot is not a PNG: %v", err)
			}
			if cfg.Width != 1280 || cfg.Height != 800 {
				t.Errorf("screenshot size: got %dx%d, want 1280x800", cfg.Width, cfg.Height)
			}
			if err := notBlank(buf); err != nil {
				t.Errorf("screenshot of %s: %v", s.path, err)
			}
			if len(buf) > maxScreenshotBytes {
				t.Errorf("screenshot of %s: got %d KB, want at most %d KB", s.path, len(buf)>>10, maxScreenshotBytes>>10)
			}
			p := filepath.Join(dir, s.name+".png")
			if err := os.WriteFile(p, buf, 0o644); err != nil {
				t.Fatal(err)
			}
			t.Logf("wrote %s (%d KB)", p, len(buf)>>10)
		})
	}
}
