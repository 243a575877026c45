package e2e_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestAccountBrowser drives the per-user data lesson with two browsers'
// worth of cookies (two tabs, each in its own browser context): the wrong
// variant shows the first visitor's greeting to the second, flagged as a
// leak, and both right variants greet each visitor by name.
func TestAccountBrowser(t *testing.T) {
	chromiumPath(t)
	srv := startServer(t)
	br := startBrowser(t, srv.URL)
	first, second := br.newTab(t), br.newTab(t)

	// signIn types a name into the form and submits it, as a learner does.
	signIn := func(tb *tab, name string) {
		tb.t.Helper()
		tb.typeInto("#account-name", name)
		tb.click(`form[action="/account/sign-in"] button[type="submit"]`, http.StatusOK)
	}
	// choose moves the lesson's switch from tb.
	choose := func(tb *tab, variant string) {
		tb.t.Helper()
		tb.do("pick "+variant, chromedp.Click(chromedp.CSS(`input[name="variant"][value="`+variant+`"]`), chromedp.NodeVisible))
		tb.click(`form[action="/account/variant"] button[type="submit"]`, http.StatusOK)
		if got := eval[string](tb, `document.querySelector('input[name="variant"]:checked').value`); got != variant {
			tb.t.Fatalf("the switch shows %q after choosing %q", got, variant)
		}
	}
	// greeting is the name the page greets its visitor with.
	greeting := func(tb *tab) string {
		tb.t.Helper()
		return tb.text("p.account-hello")
	}

	// Quentin signs in, then moves the switch: the page the switch sends
	// him back to is the first of the round, stored with his greeting.
	first.open("/account?cache=memory", http.StatusOK)
	signIn(first, "Quentin")
	choose(first, "shared")
	if !first.has("section.account-wrong") {
		t.Fatal("the wrong variant is not labelled on the page")
	}
	if g := greeting(first); !strings.Contains(g, "Quentin") || first.has("section.account-leak") {
		t.Errorf("Quentin's own page: greeting %q, leak flagged %v; want Quentin and no leak", g, first.has("section.account-leak"))
	}

	second.open("/account?cache=memory", http.StatusOK)
	signIn(second, "Ulrike")
	if g := greeting(second); !strings.Contains(g, "Quentin") {
		t.Errorf("wrong variant, Ulrike's browser: greeting %q, want Quentin's (the leak)", g)
	}
	if !second.has("section.account-leak") || !strings.Contains(second.text("section.account-leak"), "Ulrike") {
		t.Error("the leak is not flagged with Ulrike's own name beside it")
	}
	if got := second.outcome(); got != "HIT" {
		t.Errorf("wrong variant, Ulrike's load: got %s, want HIT (Quentin's stored page)", got)
	}
	second.shot("account-wrong-variant-leak")

	for _, v := range []string{"per-user", "spliced"} {
		choose(first, v)
		for _, c := range []struct {
			tb   *tab
			name string
		}{{first, "Quentin"}, {second, "Ulrike"}} {
			c.tb.open("/account?cache=memory", http.StatusOK)
			if g := greeting(c.tb); !strings.Contains(g, c.name) || c.tb.has("section.account-leak") {
				t.Errorf("%s, %s's browser: greeting %q, leak flagged %v; want %s and no leak", v, c.name, g, c.tb.has("section.account-leak"), c.name)
			}
		}
		if v == "spliced" {
			if got := second.outcome(); got != "HIT" {
				t.Errorf("spliced, Ulrike's load after Quentin's: got %s, want HIT (one shared entry)", got)
			}
			second.shot("account-spliced")
		}
	}
	// A name the form refuses is a 422 page, and the browser stays signed
	// in as before.
	second.allow("422")
	second.typeInto("#account-name", "Ul<b>")
	second.click(`form[action="/account/sign-in"] button[type="submit"]`, http.StatusUnprocessableEntity)
	second.open("/account?cache=memory", http.StatusOK)
	if g := greeting(second); !strings.Contains(g, "Ulrike") {
		t.Errorf("after a refused name: greeting %q, want Ulrike still", g)
	}
}
