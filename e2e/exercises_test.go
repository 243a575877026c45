package e2e_test

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// TestExercisesBrowser walks every exercise the way a learner does: from
// the /exercises page, following its step links and filling the forms
// they lead to. Each check says "not yet" before its steps and "done"
// after them; a second learner, in a browser context of their own (its
// own cookies and localStorage), sees their own progress untouched.
func TestExercisesBrowser(t *testing.T) {
	chromiumPath(t)
	srv := startServer(t)
	br := startBrowser(t, srv.URL)
	me := br.longTab(t, 10*time.Minute)
	other := br.longTab(t, 2*time.Minute)
	stranger := br.longTab(t, 2*time.Minute)

	// A visitor who never opened the exercises has no progress line and
	// no cookie: the header stays as the cached page has it.
	stranger.open("/products", http.StatusOK)
	stranger.waitJS("the page's scripts", 10*time.Second, `document.readyState === "complete"`)
	time.Sleep(300 * time.Millisecond)
	if !eval[bool](stranger, `document.getElementById("exercise-progress").hidden`) {
		t.Error("a visitor without the learner cookie sees a progress line")
	}

	other.open("/exercises", http.StatusOK)
	me.open("/exercises", http.StatusOK)
	ids := eval[[]string](me, `[...document.querySelectorAll("[data-exercise]")].map(s => s.dataset.exercise)`)
	if len(ids) < 12 {
		t.Fatalf("exercises on the page: got %v, want about a dozen", ids)
	}
	// A prediction typed before trying is kept by the browser.
	me.fill("#ex-first-hit textarea[data-predict]", "about 300 times faster")
	me.reload()
	if got := me.value("#ex-first-hit textarea[data-predict]"); got != "about 300 times faster" {
		t.Errorf("prediction after a reload: got %q, want it kept", got)
	}

	walks := exerciseWalks()
	for _, id := range ids {
		walk, ok := walks[id]
		if !ok {
			t.Errorf("exercise %s has no walk in this test", id)
			continue
		}
		t.Run(id, func(t *testing.T) {
			tb := me.in(t)
			tb.open("/exercises", http.StatusOK)
			if got := tb.exStatus(id); got != "not yet" {
				t.Fatalf("before the steps: got %q, want not yet", got)
			}
			if id != "design" && !strings.HasPrefix(tb.text("#ex-"+id+" .ex-check"), "Not yet:") {
				t.Errorf("before the steps: the check gives no reason: %q", tb.text("#ex-"+id+" .ex-check"))
			}
			links := eval[[]string](tb, `[...document.querySelectorAll("#ex-`+id+` .ex-steps a")].map(a => a.getAttribute("href"))`)
			walk(t, tb, links)
			tb.open("/exercises", http.StatusOK)
			if got := tb.exStatus(id); got != "done" {
				t.Fatalf("after the steps: got %q, want done (%s)", got, tb.text("#ex-"+id+" .ex-result, #ex-"+id+" .ex-design"))
			}
			if id != "design" {
				t.Logf("measured: %s", tb.text("#ex-"+id+" .ex-measured"))
			}
		})
	}

	// The prediction sits beside what was measured.
	me.open("/exercises", http.StatusOK)
	if got := me.value("#ex-first-hit textarea[data-predict]"); got != "about 300 times faster" {
		t.Errorf("prediction at the end: got %q", got)
	}
	if m := me.text("#ex-first-hit .ex-measured"); !strings.Contains(m, "MISS") || !strings.Contains(m, "HIT") {
		t.Errorf("first-hit measured: got %q, want the MISS and the HIT", m)
	}
	total := len(ids)
	me.open("/products", http.StatusOK)
	me.waitJS("the progress line", 15*time.Second, `document.getElementById("exercise-progress").textContent === "`+fmt.Sprintf("%d of %d done", total, total)+`"`)
	if got := eval[string](me, `document.getElementById("exercise-progress").getAttribute("href")`); got != "/exercises" {
		t.Errorf("progress line link: got %q, want /exercises", got)
	}
	me.open("/exercises", http.StatusOK)
	me.shot("exercises")

	// The other learner did none of it.
	other.open("/exercises", http.StatusOK)
	for _, id := range ids {
		if got := other.exStatus(id); got != "not yet" {
			t.Errorf("the other learner's %s: got %q, want not yet", id, got)
		}
	}
	other.open("/products", http.StatusOK)
	other.waitJS("the other learner's progress line", 15*time.Second,
		`document.getElementById("exercise-progress").textContent === "`+fmt.Sprintf("0 of %d done", total)+`"`)

	// Both pages fit a phone.
	me.do("phone viewport", chromedp.EmulateViewport(390, 844))
	for _, p := range []string{"/exercises", "/exercises/class", "/"} {
		me.open(p, http.StatusOK)
		if w := eval[int](me, `document.documentElement.scrollWidth - window.innerWidth`); w > 1 {
			t.Errorf("%s at 390 px: the page is %d px wider than the screen", p, w)
		}
	}
	me.do("desktop viewport", chromedp.EmulateViewport(1280, 800))
	me.open("/exercises/class", http.StatusOK)
	if !regexp.MustCompile(`Learners known to this server: \d+`).MatchString(me.text("main")) {
		t.Errorf("class view: got %.200q", me.text("main"))
	}
	me.shot("exercises-class")
}

// exerciseWalks are each exercise's steps as a learner does them, given
// the step links of their /exercises page.
func exerciseWalks() map[string]func(t *testing.T, tb *tab, links []string) {
	need := func(t *testing.T, links []string, n int) {
		t.Helper()
		if len(links) < n {
			t.Fatalf("step links: got %v, want at least %d", links, n)
		}
	}
	return map[string]func(t *testing.T, tb *tab, links []string){
		"find-slow": func(t *testing.T, tb *tab, links []string) {
			need(t, links, 3)
			for _, l := range links {
				tb.open(l, http.StatusOK)
			}
		},
		"first-hit": func(t *testing.T, tb *tab, links []string) {
			need(t, links, 1)
			tb.open(links[0], http.StatusOK)
			if got := tb.outcome(); got != "MISS" {
				t.Errorf("first load: got %v, want MISS", got)
			}
			tb.reload()
			if got := tb.outcome(); got != "HIT" {
				t.Errorf("reload: got %v, want HIT", got)
			}
		},
		"compare": func(t *testing.T, tb *tab, links []string) {
			need(t, links, 3)
			tb.open(links[0], http.StatusOK)
			for _, l := range links[1:3] {
				tb.open(l, http.StatusOK)
				tb.reload()
			}
		},
		"pagination": func(t *testing.T, tb *tab, links []string) {
			need(t, links, 2)
			for _, l := range links[:2] {
				tb.open(l, http.StatusOK)
				tb.reload()
			}
		},
		"api-query": func(t *testing.T, tb *tab, links []string) {
			need(t, links, 4)
			for _, l := range links {
				tb.open(l, http.StatusOK)
			}
		},
		"memoize": func(t *testing.T, tb *tab, links []string) {
			need(t, links, 2)
			for _, l := range links {
				tb.open(l, http.StatusOK)
			}
		},
		"http-revalidation": func(t *testing.T, tb *tab, links []string) {
			need(t, links, 2)
			tb.open(links[0], http.StatusOK)
			// The browser answers the page from its cache once the server
			// says 304; DevTools reports either.
			tb.openAny(links[1], http.StatusOK, http.StatusNotModified)
		},
		"fragments": func(t *testing.T, tb *tab, links []string) {
			need(t, links, 2)
			tb.open(links[0], http.StatusOK)
			tb.saveEdit(links[1], "31.41")
		},
		"invalidation": func(t *testing.T, tb *tab, links []string) {
			need(t, links, 3)
			tb.open(links[0], http.StatusOK)
			tb.reload()
			tb.saveEdit(links[1], "27.18")
			if got := tb.outcome(); got != "MISS" {
				t.Errorf("the page after saving: got %v, want MISS", got)
			}
			tb.open(links[2], http.StatusOK)
			if got := tb.outcome(); got != "HIT" {
				t.Errorf("the page reloaded: got %v, want HIT", got)
			}
		},
		"russian-doll": func(t *testing.T, tb *tab, links []string) {
			need(t, links, 3)
			tb.open(links[0], http.StatusOK)
			tb.saveEdit(links[1], "16.18")
			tb.open(links[2], http.StatusOK)
		},
		"mget": func(t *testing.T, tb *tab, links []string) {
			need(t, links, 1)
			tb.open(links[0], http.StatusOK)
			rows := tb.traceRows()
			n := 0
			for _, r := range rows {
				if len(r) >= 3 && r[0] == "frag" && strings.Contains(r[2], "product-row") {
					n++
				}
			}
			if n != 50 {
				t.Errorf("trace panel: got %d product-row lookups, want 50", n)
			}
		},
		"stampede": func(t *testing.T, tb *tab, links []string) {
			need(t, links, 1)
			tb.open(links[0], http.StatusOK)
			tb.click(`main form button[type="submit"]`, http.StatusOK)
		},
		"failure": func(t *testing.T, tb *tab, links []string) {
			need(t, links, 3)
			tb.open(links[0], http.StatusOK)
			// The faults page flips its switches in place (fetch, no
			// navigation): click, then give the request a moment.
			tb.do("make Redis calls fail", chromedp.Click(chromedp.CSS(`button[value="fail-on"]`), chromedp.NodeVisible), chromedp.Sleep(time.Second))
			tb.open(links[1], http.StatusOK)
			if got := tb.outcome(); got != "ERROR" {
				t.Errorf("a Redis-mode page with Redis failing: got %v, want ERROR", got)
			}
			tb.open(links[2], http.StatusOK)
			tb.do("reset the switches", chromedp.Click(chromedp.CSS(`button[value="reset"]`), chromedp.NodeVisible), chromedp.Sleep(time.Second))
		},
		"stats": func(t *testing.T, tb *tab, links []string) {
			need(t, links, 1)
			tb.open(links[0], http.StatusOK)
		},
		"design": func(t *testing.T, tb *tab, links []string) {
			tb.fill("textarea[data-design-text]", "A shop: product pages cached for 5 min, keyed by id and version; prices invalidated on save.")
			n := eval[int](tb, `document.querySelectorAll("input[data-design-item]").length`)
			for i := 1; i <= n; i++ {
				tb.do("tick a question", chromedp.Click(chromedp.CSS(fmt.Sprintf(`.ex-checklist label:nth-of-type(%d) input`, i)), chromedp.NodeVisible))
			}
			if got := tb.exStatus("design"); got != "done" {
				t.Errorf("with every question ticked: got %q, want done at once", got)
			}
		},
	}
}

// exStatus is an exercise's status badge on /exercises.
func (tb *tab) exStatus(id string) string {
	tb.t.Helper()
	// The strategy's badge is drawn by the page's script.
	if id == "design" {
		tb.waitJS("the strategy's status", 10*time.Second, `document.querySelector("#ex-design .ex-status").textContent !== "in your browser"`)
	}
	return tb.text("#ex-" + id + " .ex-status")
}

// fill types text into a text box that may be empty (chromedp.Clear
// needs text to clear), as a learner would.
func (tb *tab) fill(sel, text string) {
	tb.t.Helper()
	eval[bool](tb, `(() => { document.querySelector(`+jsString(sel)+`).value = ""; return true; })()`)
	tb.do("type into "+sel, chromedp.SendKeys(chromedp.CSS(sel), text))
	if got := tb.value(sel); got != text {
		tb.t.Fatalf("typed %q into %s, it holds %q", text, sel, got)
	}
}

// openAny navigates to path and accepts any of the statuses.
func (tb *tab) openAny(path string, want ...int) {
	tb.t.Helper()
	res, err := chromedp.Run(tb.ctx, chromedp.NavigateResponse(tb.base+path))
	if err != nil {
		tb.t.Fatalf("open %s: %v", path, err)
	}
	for _, w := range want {
		if res.Status == int64(w) {
			return
		}
	}
	tb.t.Fatalf("open %s: got status %d, want one of %v", path, res.Status, want)
}

// saveEdit opens an edit form, types a new price and saves, landing on
// the product's page.
func (tb *tab) saveEdit(formPath, price string) {
	tb.t.Helper()
	tb.open(formPath, http.StatusOK)
	tb.typeInto("#price", price)
	tb.click(`form.form button[type="submit"]`, http.StatusOK)
	if want := strings.TrimSuffix(formPath, "/edit"); tb.path() != want {
		tb.t.Fatalf("after saving: got %s, want %s", tb.path(), want)
	}
}

// longTab is newTab with a longer limit on the tab's actions: walking
// every exercise takes minutes on a busy machine.
func (b *browser) longTab(t *testing.T, limit time.Duration) *tab {
	t.Helper()
	tb := &tab{t: t, base: b.base, recorder: &recorder{urls: map[network.RequestID]string{}}}
	ctx, cancel := chromedp.NewContext(b.ctx, chromedp.WithNewBrowserContext(), chromedp.WithListener(tb.onEvent))
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 800)); err != nil {
		cancel()
		t.Fatalf("open tab: %v", err)
	}
	tctx, tcancel := context.WithTimeout(ctx, limit)
	tb.ctx = tctx
	t.Cleanup(func() {
		tb.assertClean()
		tcancel()
		cancel()
	})
	return tb
}
