package exercises

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"cacheworkshop/handlers"
	"cacheworkshop/trace"
)

// This file holds what the checks share: reading a learner's events and
// saying what they show in words.

// Result is one exercise checked against a learner's events.
type Result struct {
	Done bool
	// Reason says what is still missing, in terms of what the learner
	// did; empty when done.
	Reason string
	// Measured is what the learner's own requests measured, shown beside
	// their prediction.
	Measured string
	// At is when the exercise was first found done (zero until then).
	At time.Time
}

func done(measured string, args ...any) Result {
	return Result{Done: true, Measured: fmt.Sprintf(measured, args...)}
}

func notYet(reason string, args ...any) Result {
	return Result{Reason: fmt.Sprintf(reason, args...)}
}

// evaluate checks every exercise against evs, except those already done,
// whose result it takes from done.
func evaluate(exs []Exercise, evs []handlers.Event, done map[string]Result) []Result {
	h := newHistory(evs)
	out := make([]Result, len(exs))
	for i, ex := range exs {
		if r, ok := done[ex.ID]; ok {
			out[i] = r
			continue
		}
		if ex.Check == nil {
			out[i] = Result{Reason: "Kept in your browser: the server does not see it."}
			continue
		}
		out[i] = ex.Check(h)
	}
	return out
}

// history is a learner's events as the checks read them, with every page
// key taken apart once for all the checks.
type history struct {
	evs   []handlers.Event
	pages []pageEvent
}

func newHistory(evs []handlers.Event) *history {
	h := &history{evs: evs}
	for i := range evs {
		ev := &evs[i]
		if ev.Kind != handlers.EventRequest || ev.Status >= 400 {
			continue
		}
		if pk, ok := parseKey(ev.Key); ok {
			h.pages = append(h.pages, pageEvent{Event: ev, pageKey: pk, I: i})
		}
	}
	return h
}

// pageKey is a page lookup's key taken apart: "page:detail:9f3a:/products/7
// @g2k.9" is the page detail, the URL /products/7 and the generations
// 2k and 9 (base 36).
type pageKey struct {
	Name, URL string
	// KeyGens are the generation values the entry was read under.
	KeyGens []int64
	// Stored is the key without its generations: what the entry is
	// stored under.
	Stored string
}

func parseKey(k string) (pageKey, bool) {
	stored, gens, _ := strings.Cut(k, " @g")
	rest, ok := strings.CutPrefix(stored, "page:")
	if !ok {
		return pageKey{}, false
	}
	name, rest, ok1 := strings.Cut(rest, ":")
	_, url, ok2 := strings.Cut(rest, ":")
	if !ok1 || !ok2 || strings.Contains(url, " ") {
		return pageKey{}, false
	}
	pk := pageKey{Name: name, URL: url, Stored: stored}
	for gens != "" {
		var g string
		g, gens, _ = strings.Cut(gens, ".")
		n, err := strconv.ParseInt(g, 36, 64)
		if err != nil {
			return pageKey{}, false
		}
		pk.KeyGens = append(pk.KeyGens, n)
	}
	return pk, true
}

// pageEvent is a request event for a cached page (or JSON) answered
// without an error status, with its key taken apart.
type pageEvent struct {
	*handlers.Event
	pageKey
	// I is the event's index in the learner's log.
	I int
}

// pagesOf returns the learner's requests of the named pages (any page
// when no name is given) that were answered below 400.
func (h *history) pagesOf(names ...string) []pageEvent {
	if len(names) == 0 {
		return h.pages
	}
	var out []pageEvent
	for _, pe := range h.pages {
		if contains(names, pe.Name) {
			out = append(out, pe)
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// edits returns the indexes of the learner's saved edits, oldest first.
func (h *history) edits() []int {
	var out []int
	for i, ev := range h.evs {
		if ev.Kind == handlers.EventEdit {
			out = append(out, i)
		}
	}
	return out
}

// labRuns returns the learner's runs of one lab, oldest first.
func (h *history) labRuns(lab string) []handlers.Event {
	var out []handlers.Event
	for _, ev := range h.evs {
		if ev.Kind == handlers.EventLab && ev.Lab == lab {
			out = append(out, ev)
		}
	}
	return out
}

// frag returns an event's lookups of one fragment.
func frag(ev *handlers.Event, name string) handlers.FragStat {
	for _, f := range ev.Frags {
		if f.Name == name {
			return f
		}
	}
	return handlers.FragStat{Name: name}
}

// inMode names a mode in a sentence: "in mode none", "in memory mode".
func inMode(m string) string {
	switch m {
	case "none":
		return "in mode none"
	case "redis":
		return "in Redis mode"
	}
	return "in " + m + " mode"
}

func cachedMode(m string) bool { return m == "memory" || m == "redis" }

// ms writes a duration as the request bars do: "0.052 ms", "51.20 ms".
func ms(d time.Duration) string { return trace.Millis(d) + " ms" }

// msf writes milliseconds held as a float, as the lab figures are.
func msf(v float64) string { return ms(time.Duration(v * float64(time.Millisecond))) }

// times says how many times: "once", "twice", "3 times".
func times(n int) string {
	switch n {
	case 1:
		return "once"
	case 2:
		return "twice"
	}
	return strconv.Itoa(n) + " times"
}

// ratio says how many times faster fast was than slow: "640×".
func ratio(slow, fast time.Duration) string {
	if fast <= 0 {
		return "far"
	}
	r := float64(slow) / float64(fast)
	if r >= 10 {
		return strconv.FormatFloat(r, 'f', 0, 64) + "×"
	}
	return strconv.FormatFloat(r, 'f', 1, 64) + "×"
}

// productOf reads the id of a product page's URL (/products/7,
// /api/products/7), or 0.
func productOf(url string) int64 {
	for _, p := range []string{"/products/", "/api/products/"} {
		if rest, ok := strings.CutPrefix(url, p); ok {
			if id, err := strconv.ParseInt(rest, 10, 64); err == nil {
				return id
			}
		}
	}
	return 0
}

// what names a page's URL for a sentence: "product 7", "/products?page=2".
func what(url string) string {
	if id := productOf(url); id > 0 && strings.HasPrefix(url, "/products/") {
		return "product " + strconv.FormatInt(id, 10)
	}
	return url
}

// sentQuery is the query the learner sent, without the cache mode, which
// picks the backend and is never part of a key.
func sentQuery(raw string) string {
	var kept []string
	for p := range strings.SplitSeq(raw, "&") {
		if p == "" || p == "cache" || strings.HasPrefix(p, "cache=") {
			continue
		}
		kept = append(kept, p)
	}
	return strings.Join(kept, "&")
}

// canonicalQuery is the query part of a key's URL.
func canonicalQuery(url string) string {
	_, q, _ := strings.Cut(url, "?")
	return q
}

// genText writes generations as the trace does: "@g2k.9".
func genText(gens []int64) string {
	parts := make([]string, len(gens))
	for i, g := range gens {
		parts[i] = strconv.FormatInt(g, 36)
	}
	return "@g" + strings.Join(parts, ".")
}

// listPageOf is the list page (20 a page, the default) that shows a
// product: the list is ordered by id.
func listPageOf(id int64) int { return int((id-1)/20) + 1 }

func listURL(page int) string {
	if page <= 1 {
		return "/products"
	}
	return "/products?page=" + strconv.Itoa(page)
}

// listLink is a list page in a mode; perPage 0 is the default size.
func listLink(page, perPage int, mode string) string {
	u := "/products?page=" + strconv.Itoa(page)
	if perPage > 0 {
		u += "&per_page=" + strconv.Itoa(perPage)
	}
	return u + "&cache=" + mode
}
