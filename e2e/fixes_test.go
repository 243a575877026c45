package e2e_test

import (
	"net/http"
	"strings"
	"testing"
	"time"
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
