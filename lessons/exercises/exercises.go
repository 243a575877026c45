package exercises

import (
	"fmt"
	"hash/fnv"
	"sort"
	"strconv"
	"strings"
	"time"

	"cacheworkshop/handlers"
	"cacheworkshop/trace"
)

// Exercise is one exercise: what to do, what to predict first, and how
// the learner's own requests show that it was done.
type Exercise struct {
	ID, Title string
	// Goal is what the exercise shows, in one sentence.
	Goal string
	// Known is what learners call the idea in Flask and Django.
	Known string
	// Steps are the pages to open, in the right mode, for a learner's
	// plan (each learner gets products of their own, so a class does not
	// spoil each other's misses).
	Steps func(p plan) []Step
	// Predict is the question to answer before trying.
	Predict string
	// Check reads the learner's events; nil means the exercise is kept
	// in the browser (the strategy the learner writes).
	Check func(h *history) Result
}

// Step is one step: Lead, then a link to URL reading Label, then Tail.
type Step struct {
	Lead, Label, URL, Tail string
}

func step(lead, label, url, tail string) Step {
	return Step{Lead: lead, Label: label, URL: url, Tail: tail}
}

// plan is the products and pages one learner's steps use. Each learner
// gets a block of 25 products of their own, chosen from their id, so that
// in a class of thirty the first load of "your" product is still a MISS.
// Any product passes the checks; the plan only picks the links.
type plan struct {
	First, Compare, Inval, Frag, Doll int64
	// ListA and ListB are two list pages; MGETPage a page of 50 rows;
	// APIPage a page of the JSON list, 5 a page.
	ListA, ListB, MGETPage, APIPage int
}

func planFor(learner string) plan {
	h := fnv.New32a()
	h.Write([]byte(learner))
	v := h.Sum32()
	base := 1 + int64(v%40)*25 // products 1 to 1000 in 40 blocks
	a := int(v/40%45) + 2      // list pages 2 to 46 of 50
	return plan{First: base, Compare: base + 1, Inval: base + 2, Frag: base + 3, Doll: base + 5,
		ListA: a, ListB: a + 1, MGETPage: int(v/1800%20) + 1, APIPage: int(v/36000%190) + 2}
}

func id(n int64) string { return strconv.FormatInt(n, 10) }

func product(n int64, mode string) string { return "/products/" + id(n) + "?cache=" + mode }

// All is every exercise, in the order of the path: from seeing what is
// slow, through keys, memoisation and HTTP caching, to invalidation,
// fragments, reliability and monitoring, ending with a strategy of the
// learner's own.
var All = []Exercise{
	{
		ID: "find-slow", Title: "Find what is worth caching",
		Goal:  "Load three kinds of page with no cache at all and find, in the trace, where each one spends its time.",
		Known: "profiling before caching; django-debug-toolbar's timings",
		Steps: func(p plan) []Step {
			return []Step{
				step("Open", "the product list with no cache", "/products?cache=none", " and open its trace panel."),
				step("Open", "product "+id(p.First)+" with no cache", product(p.First, "none"), ": note the simulated database latency."),
				step("Call", "the weather API with no cache", "/api/weather?city=Paris&cache=none", ": a slow upstream service."),
			}
		},
		Predict: "Which of the three will be slowest, and on what will it spend its time?",
		Check:   checkFindSlow,
	},
	{
		ID: "first-hit", Title: "Cache a slow product page",
		Goal:  "Load one product page twice in the same cache mode: the first load is a MISS that pays for the slow query, the second a HIT.",
		Known: "@cache.cached(timeout=60) in Flask, @cache_page(60 * 5) in Django",
		Steps: func(p plan) []Step {
			return []Step{
				step("Open", "product "+id(p.First)+" in memory mode", product(p.First, "memory"), ": the bar says MISS."),
				step("Reload it", "", "", ": the bar says HIT. Compare the two times."),
			}
		},
		Predict: "How much faster will the second load be than the first?",
		Check:   checkFirstHit,
	},
	{
		ID: "compare", Title: "Compare no cache, memory and Redis",
		Goal:  "Load the same page in all three modes and explain the three times you measure.",
		Known: "SimpleCache vs RedisCache in Flask-Caching; LocMemCache vs django-redis",
		Steps: func(p plan) []Step {
			return []Step{
				step("Open", "product "+id(p.Compare)+" with no cache", product(p.Compare, "none"), "."),
				step("Open", "the same page in memory mode", product(p.Compare, "memory"), " and reload it for a HIT."),
				step("Open", "the same page in Redis mode", product(p.Compare, "redis"), " and reload it for a HIT."),
				step("Then see it measured 40 times a mode on", "the comparison page", "/products/compare", "."),
			}
		},
		Predict: "Rank the three modes by speed. How many times faster than Redis will memory be?",
		Check:   checkCompare,
	},
	{
		ID: "pagination", Title: "Cache the product list, page by page",
		Goal:  "See that every page of the list, and every page size, is an entry of its own.",
		Known: "query_string=True in Flask-Caching; Django keys on the full URL",
		Steps: func(p plan) []Step {
			return []Step{
				step("Open", "page "+strconv.Itoa(p.ListA)+" of the list", listLink(p.ListA, 0, "memory"), " twice."),
				step("Open", "page "+strconv.Itoa(p.ListB), listLink(p.ListB, 0, "memory"), " twice."),
				step("Try", "page "+strconv.Itoa(p.ListA)+" with 50 rows", listLink(p.ListA, 50, "memory"), ": a MISS, another key."),
			}
		},
		Predict: "Once one page of the list is cached, will the first load of the next page be a HIT or a MISS?",
		Check:   checkPagination,
	},
	{
		ID: "api-query", Title: "Cache an API response that depends on its query",
		Goal:  "Cache a JSON API under a key made only of the parameters that change the answer, written in one order.",
		Known: "@cache.cached(query_string=True); key_prefix; Django's KEY_FUNCTION",
		Steps: func(p plan) []Step {
			pg := strconv.Itoa(p.APIPage)
			return []Step{
				step("Call", "/api/products?page="+pg+"&per_page=5", "/api/products?page="+pg+"&per_page=5&cache=memory", ": a MISS (see X-Cache in DevTools)."),
				step("Call", "the same query in another order", "/api/products?per_page=5&page="+pg+"&cache=memory", "."),
				step("Call", "it with a tracking parameter", "/api/products?page="+pg+"&per_page=5&utm_source=mail&cache=memory", "."),
				step("Call", "the next page", "/api/products?page="+strconv.Itoa(p.APIPage+1)+"&per_page=5&cache=memory", "."),
			}
		},
		Predict: "Which of these four calls will be HITs?",
		Check:   checkAPIQuery,
	},
	{
		ID: "memoize", Title: "Memoize a function, and find when it does not pay",
		Goal:  "Memoize Fibonacci and find the n below which a memo in Redis is slower than recomputing everything.",
		Known: "@cache.memoize() and functools.lru_cache; cache.get_or_set in Django",
		Steps: func(p plan) []Step {
			return []Step{
				step("Run", "fib(10)", "/benchmark?n=10", ": compare naive recursion with the Redis memo."),
				step("Run", "fib(35)", "/benchmark?n=35", ": the same comparison, a much larger n."),
			}
		},
		Predict: "At n = 10, which is faster: naive recursion or the memo in Redis? And at n = 35?",
		Check:   checkMemoize,
	},
	{
		ID: "http-revalidation", Title: "Let the browser revalidate a page",
		Goal:  "Let the browser keep a page and ask whether it changed: the server answers 304 Not Modified, with no body.",
		Known: "ETag and make_conditional in Flask; @condition and ConditionalGetMiddleware in Django",
		Steps: func(p plan) []Step {
			return []Step{
				step("Open", "the ETag page", "/conditional-content", " and note its ETag."),
				step("Open", "it again", "/conditional-content", " with this link (not a hard reload): the browser sends If-None-Match."),
				step("Do the same with", "the Last-Modified page", "/dynamic-content", ", twice."),
			}
		},
		Predict: "How many bytes of body will the second response carry, and how long will it take?",
		Check:   checkHTTP,
	},
	{
		ID: "fragments", Title: "See what an edit invalidates",
		Goal:  "Edit a product: its page misses and its card is rendered again, while the catalogue sidebar, cached as a fragment of its own, is kept.",
		Known: `{% cache 300 "sidebar" %} in Jinja and Django templates`,
		Steps: func(p plan) []Step {
			return []Step{
				step("Open", "product "+id(p.Frag)+" in memory mode", product(p.Frag, "memory"), ": its card and the sidebar are cached as fragments."),
				step("Within a minute,", "edit product "+id(p.Frag), "/products/"+id(p.Frag)+"/edit", " and save."),
				step("On the page you land on, open the trace panel:", "", "", " product-card MISS, category-stats HIT."),
			}
		},
		Predict: "Which parts of the product page will be rendered again after the edit?",
		Check:   checkFragments,
	},
	{
		ID: "invalidation", Title: "Invalidate a shared cache on save",
		Goal:  "Edit a product and watch its copy in Redis, shared by every instance, give way: a MISS that rebuilds it, then a HIT of the new version.",
		Known: "cache.delete(key) after a save; Flask signals; Django's post_save; versioned keys",
		Steps: func(p plan) []Step {
			return []Step{
				step("Open", "product "+id(p.Inval)+" in Redis mode", product(p.Inval, "redis"), " twice: a HIT."),
				step("Edit", "product "+id(p.Inval), "/products/"+id(p.Inval)+"/edit", ": change its price and save."),
				step("The page you land on is a MISS; reload", "it in Redis mode", product(p.Inval, "redis"), " for a HIT of the new version."),
			}
		},
		Predict: "After the save, will the first Redis-mode load be a HIT or a MISS? And in memory mode?",
		Check:   checkInvalidation,
	},
	{
		ID: "russian-doll", Title: "Russian-doll caching",
		Goal:  "After an edit, a list page is rebuilt from its cached rows: exactly one row, the edited product's, is rendered again.",
		Known: "nested {% cache %} blocks; Rails' cache [product]",
		Steps: func(p plan) []Step {
			pg := listPageOf(p.Doll)
			return []Step{
				step("Open", "page "+strconv.Itoa(pg)+" of the list in memory mode", listLink(pg, 0, "memory"), ": its rows are cached one by one."),
				step("Edit", "product "+id(p.Doll), "/products/"+id(p.Doll)+"/edit", ", which that page shows, and save."),
				step("Open", "page "+strconv.Itoa(pg)+" again", listLink(pg, 0, "memory"), " and open the trace: one product-row MISS, the others HITs."),
			}
		},
		Predict: "After editing one product, how many of the page's 20 rows will be rendered again?",
		Check:   checkRussianDoll,
	},
	{
		ID: "mget", Title: "Fetch many keys in one round trip",
		Goal:  "A list page reads all its rows from Redis with a single MGET: one round trip for fifty keys.",
		Known: "cache.get_many in Flask-Caching and Django; a Redis pipeline",
		Steps: func(p plan) []Step {
			u := listLink(p.MGETPage, 50, "redis")
			return []Step{
				step("Open", "a page of 50 rows in Redis mode", u, " that is not cached yet."),
				step("Open its trace panel:", "", "", " 50 product-row lookups sharing one round trip's time."),
			}
		},
		Predict: "Fifty GETs would be fifty round trips. How long will one MGET of fifty keys take, next to the page's single lookup?",
		Check:   checkMGET,
	},
	{
		ID: "stampede", Title: "Protect a hot key from a stampede",
		Goal:  "Expire a hot key under many concurrent requests and count how many reach the origin with no protection, singleflight and a Redis lock.",
		Known: "a Redis SETNX lock; Rails' race_condition_ttl",
		Steps: func(p plan) []Step {
			return []Step{step("Open", "the stampede lab", "/stampede", " and run it with 50 requests over 4 instances.")}
		},
		Predict: "With 50 concurrent requests over 4 instances, how many origin loads will each protection make?",
		Check:   checkStampede,
	},
	{
		ID: "failure", Title: "Survive a dead cache",
		Goal:  "Switch Redis off and watch Redis-mode pages keep answering from the database, with a notice instead of an error.",
		Known: "try/except around the cache; DJANGO_REDIS_IGNORE_EXCEPTIONS",
		Steps: func(p plan) []Step {
			return []Step{
				step("On", "the faults page", "/faults", ", click Make Redis calls fail."),
				step("Open", "product 3 in Redis mode", product(3, "redis"), ": it still answers."),
				step("Back on", "the faults page", "/faults", ", click Stop failing."),
			}
		},
		Predict: "With Redis failing, will a Redis-mode page break, hang, or answer? How long will it take?",
		Check:   checkFailure,
	},
	{
		ID: "stats", Title: "Judge a hit ratio",
		Goal:  "Read the cache statistics and judge the hit ratio: the server's, and your own.",
		Known: "Redis INFO keyspace_hits; django-debug-toolbar's cache panel",
		Steps: func(p plan) []Step {
			return []Step{
				step("Make at least ten page loads in memory or Redis mode, then open", "the cache statistics", "/cache-stats", "."),
				step("Compare it with", "the same figures as JSON", "/api/cache-stats", "."),
			}
		},
		Predict: "What hit ratio do you expect for your own page loads so far?",
		Check:   checkStats,
	},
	{
		ID: "design", Title: "Design a caching strategy",
		Goal:  "Write down how you would cache an application of your own, answering each question of the checklist.",
		Known: "everything above",
		Steps: func(p plan) []Step {
			return []Step{step("Write your strategy below and tick each question once your text answers it.", "", "", "")}
		},
		Predict: "",
	},
}

// designChecklist is the strategy exercise's questions.
var designChecklist = []struct{ ID, Text string }{
	{"what", "What will you cache, and what not (and why)?"},
	{"key", "What is each key made of? Which inputs change the answer, and which must not be in it?"},
	{"ttl", "How long may each entry live (TTL), and how stale may it be?"},
	{"invalidation", "What invalidates it: which writes, deleting or versioning which keys?"},
	{"failure", "What happens when the cache is down or slow?"},
	{"per-user", "Which data is per user, and how is it kept out of shared entries?"},
}

func checkFindSlow(h *history) Result {
	type target struct {
		name string
		ev   *handlers.Event
	}
	list, detail, weather := &target{name: "the product list"}, &target{name: "a product page"}, &target{name: "the weather API"}
	var elsewhere []string
	for i := range h.evs {
		ev := &h.evs[i]
		if ev.Kind != handlers.EventRequest || ev.Status >= 400 {
			continue
		}
		var t *target
		pk, _ := parseKey(ev.Key)
		switch {
		case pk.Name == "list":
			t = list
		case pk.Name == "detail":
			t = detail
		case ev.Path == "/api/weather":
			t = weather
		default:
			continue
		}
		if ev.Mode == "none" {
			t.ev = ev
		} else if len(elsewhere) < 3 {
			elsewhere = append(elsewhere, t.name+" "+inMode(ev.Mode))
		}
	}
	var seen, missing []string
	for _, t := range []*target{list, detail, weather} {
		if t.ev == nil {
			missing = append(missing, t.name)
			continue
		}
		s := shownURL(*t.ev) + " took " + ms(t.ev.Total)
		if t.ev.Simulated > 0 {
			s += ", " + ms(t.ev.Simulated) + " of it simulated database latency"
		}
		seen = append(seen, s)
	}
	m := strings.Join(seen, "; ")
	if len(missing) == 0 {
		return done("With no cache: %s.", m)
	}
	r := notYet("Still to load in mode none: %s.", strings.Join(missing, ", "))
	if len(elsewhere) > 0 {
		r.Reason += " You loaded " + strings.Join(uniq(elsewhere), ", ") + ": there the cache hides the cost; switch the mode to No cache."
	}
	if m != "" {
		r.Measured = "With no cache: " + m + "."
	}
	return r
}

func checkFirstHit(h *history) Result {
	ds := h.pagesOf("detail")
	if len(ds) == 0 {
		return notYet("You have not opened a product page yet.")
	}
	misses := map[string]pageEvent{}
	for _, ev := range ds {
		k := ev.Mode + "|" + ev.Stored
		switch ev.Outcome {
		case trace.Miss:
			misses[k] = ev
		case trace.Hit:
			if m, ok := misses[k]; ok {
				return done("%s %s: MISS in %s, then HIT in %s, %s faster.", capital(what(ev.URL)), inMode(ev.Mode),
					ms(m.Total), ms(ev.Total), ratio(m.Total, ev.Total))
			}
		}
	}
	last := ds[len(ds)-1]
	name := what(last.URL)
	var prev *pageEvent
	for i := len(ds) - 2; i >= 0; i-- {
		if ds[i].URL == last.URL {
			prev = &ds[i]
			break
		}
	}
	n := 0
	allNone := true
	for _, ev := range ds {
		if ev.URL == last.URL {
			n += ev.Count
			allNone = allNone && ev.Mode == "none"
		}
	}
	switch {
	case allNone:
		return notYet("You loaded %s %s, all in mode none (BYPASS): that mode skips the cache. Switch to memory or Redis and load it twice.", name, times(n))
	case last.Outcome == trace.Error:
		return notYet("Your last load of %s %s was an ERROR: the cache could not be read (is Redis switched off on the faults page?), so nothing was stored.", name, inMode(last.Mode))
	case last.Outcome == trace.Hit:
		return notYet("Your loads of %s %s were HITs from the start: someone else had cached it first. Open a product nobody has opened yet, twice.", name, inMode(last.Mode))
	case last.Count > 1:
		return notYet("You loaded %s %s %s and each was a MISS under the same generations: the entry was not kept (it expired, or was evicted from a full cache). Reload it.", name, times(last.Count), inMode(last.Mode))
	case prev == nil:
		return notYet("You loaded %s once %s: a MISS in %s, now stored. Reload it.", name, inMode(last.Mode), ms(last.Total))
	}
	// The last load missed, and there was one before it: say why the
	// one before did not make it a HIT. Two loads read as people say it.
	loads, before := "You loaded "+name+" "+times(n)+", but your last load", "the one before"
	if n == 2 {
		loads, before = "You loaded "+name+" twice, but the second load", "the first one"
	}
	switch {
	case prev.Mode != last.Mode:
		return notYet("%s, %s, was a MISS because %s was %s: each mode has its own cache. Reload it %s.",
			loads, inMode(last.Mode), before, inMode(prev.Mode), inMode(last.Mode))
	case genText(prev.KeyGens) != genText(last.KeyGens):
		return notYet("%s, %s, was a MISS too: the generations changed in between (%s → %s), so an edit had invalidated the copy %s stored. Reload it.",
			loads, inMode(last.Mode), genText(prev.KeyGens), genText(last.KeyGens), before)
	}
	return notYet("%s, %s, was a MISS too: the copy %s stored had expired or been evicted. Reload it.", loads, inMode(last.Mode), before)
}

func checkCompare(h *history) Result {
	type seen struct {
		none, memory, redis *pageEvent
		last                int
	}
	byURL := map[string]*seen{}
	for _, ev := range h.pagesOf() {
		s := byURL[ev.URL]
		if s == nil {
			s = &seen{}
			byURL[ev.URL] = s
		}
		switch {
		case ev.Mode == "none" && ev.Outcome == trace.Bypass:
			s.none = &ev
		case ev.Mode == "memory" && ev.Outcome == trace.Hit:
			s.memory = &ev
		case ev.Mode == "redis" && ev.Outcome == trace.Hit:
			s.redis = &ev
		default:
			continue
		}
		s.last = ev.I
	}
	var best string
	score := func(s *seen) int {
		n := 0
		for _, e := range []*pageEvent{s.none, s.memory, s.redis} {
			if e != nil {
				n++
			}
		}
		return n
	}
	urls := make([]string, 0, len(byURL))
	for u := range byURL {
		urls = append(urls, u)
	}
	sort.Strings(urls)
	for _, u := range urls {
		s := byURL[u]
		if best == "" || score(s) > score(byURL[best]) || score(s) == score(byURL[best]) && s.last > byURL[best].last {
			best = u
		}
	}
	if best == "" {
		return notYet("You have not loaded a page in any mode yet.")
	}
	s := byURL[best]
	var have, missing []string
	for _, m := range []struct {
		ev   *pageEvent
		text string
		miss string
	}{
		{s.none, "no cache %s", "a load with no cache"},
		{s.memory, "memory HIT %s", "a HIT in memory mode (load it twice there)"},
		{s.redis, "Redis HIT %s", "a HIT in Redis mode (load it twice there)"},
	} {
		if m.ev == nil {
			missing = append(missing, m.miss)
		} else {
			have = append(have, fmt.Sprintf(m.text, ms(m.ev.Total)))
		}
	}
	measured := capital(what(best)) + ": " + strings.Join(have, ", ") + "."
	if len(missing) == 0 {
		return Result{Done: true, Measured: measured}
	}
	r := notYet("For %s you still need %s.", what(best), strings.Join(missing, " and "))
	if len(have) > 0 {
		r.Measured = measured
	}
	return r
}

func checkPagination(h *history) Result {
	hits := map[string][]string{}
	for _, ev := range h.pagesOf("list") {
		if ev.Outcome == trace.Hit && !contains(hits[ev.Mode], ev.URL) {
			hits[ev.Mode] = append(hits[ev.Mode], ev.URL)
		}
	}
	for _, m := range []string{"memory", "redis"} {
		if u := hits[m]; len(u) >= 2 {
			return done("HITs %s on %s: one entry each.", inMode(m), strings.Join(u, " and "))
		}
	}
	for _, m := range []string{"memory", "redis"} {
		if u := hits[m]; len(u) == 1 {
			r := notYet("You have a HIT %s on %s only: load another page of the list twice in the same mode.", inMode(m), u[0])
			r.Measured = "HIT on " + u[0] + "."
			return r
		}
	}
	if len(h.pagesOf("list")) > 0 {
		return notYet("None of your list loads was a HIT yet: load a page of the list twice in memory or Redis mode.")
	}
	return notYet("You have not opened the product list yet.")
}

func checkAPIQuery(h *history) Result {
	var entries []string
	var normalised *pageEvent
	noneOnly := true
	for _, ev := range h.pagesOf("api-list") {
		if !cachedMode(ev.Mode) {
			continue
		}
		noneOnly = false
		if !contains(entries, ev.URL) {
			entries = append(entries, ev.URL)
		}
		if ev.Outcome == trace.Hit && sentQuery(ev.Query) != canonicalQuery(ev.URL) && normalised == nil {
			normalised = &ev
		}
	}
	var m string
	if normalised != nil {
		m = fmt.Sprintf("You sent ?%s and got a HIT on the entry of %s. ", sentQuery(normalised.Query), normalised.URL)
	}
	if len(entries) > 0 {
		m += "Entries you used: " + strings.Join(entries, ", ") + "."
	}
	switch {
	case normalised != nil && len(entries) >= 2:
		return done("%s", m)
	case noneOnly && len(h.pagesOf("api-list")) > 0:
		return notYet("You called /api/products only in mode none, where nothing is cached: add cache=memory to the query.")
	case len(entries) == 0:
		return notYet("You have not called /api/products in memory or Redis mode yet.")
	case normalised == nil:
		r := notYet("No HIT yet for a query written differently from its key: call the same page with its parameters in another order, or with an extra parameter such as utm_source.")
		r.Measured = m
		return r
	}
	r := notYet("You used one entry only: call another page, whose answer differs and so whose key does.")
	r.Measured = m
	return r
}

func checkMemoize(h *history) Result {
	var slower, faster *handlers.Event
	ran := 0
	for _, ev := range h.labRuns("fib") {
		naive, okN := ev.Figures["naive_ms"]
		memo, okR := ev.Figures["redis_ms"]
		ran++
		if !okN || !okR {
			continue
		}
		if memo > naive {
			slower = &ev
		} else {
			faster = &ev
		}
	}
	say := func(ev *handlers.Event) string {
		return fmt.Sprintf("at %s naive recursion took %s and the Redis memo %s", ev.Setting,
			msf(ev.Figures["naive_ms"]), msf(ev.Figures["redis_ms"]))
	}
	switch {
	case slower != nil && faster != nil:
		return done("The memo lost %s; it won %s.", say(slower), say(faster))
	case slower != nil:
		r := notYet("You found where the memo in Redis is slower than recomputing; now find where it wins: try a large n, such as 35.")
		r.Measured = capital(say(slower)) + "."
		return r
	case faster != nil:
		r := notYet("You found where the memo in Redis wins; now find where recomputing is faster: try a small n, such as 10.")
		r.Measured = capital(say(faster)) + "."
		return r
	case ran > 0:
		return notYet("Your runs did not time both naive recursion and the Redis memo: naive recursion runs up to n = 36, and the Redis memo needs Redis up.")
	}
	return notYet("You have not run the Fibonacci benchmark yet.")
}

func checkHTTP(h *history) Result {
	loads := map[string]int{}
	var order []string
	var last200 *handlers.Event
	for i := range h.evs {
		ev := &h.evs[i]
		if ev.Kind != handlers.EventRequest || (ev.Path != "/dynamic-content" && ev.Path != "/conditional-content") {
			continue
		}
		if ev.Status == 304 {
			m := fmt.Sprintf("304 Not Modified on %s, with no body, in %s", ev.Path, ms(ev.Total))
			if last200 != nil && last200.Path == ev.Path {
				m += " (its last full 200 took " + ms(last200.Total) + ")"
			}
			return done("%s.", m)
		}
		if ev.Status == 200 {
			last200 = ev
			if loads[ev.Path] == 0 {
				order = append(order, ev.Path)
			}
			loads[ev.Path] += ev.Count
		}
	}
	if len(order) == 0 {
		return notYet("You have not opened /conditional-content or /dynamic-content yet.")
	}
	var said []string
	for _, p := range order {
		said = append(said, fmt.Sprintf("%s %s", p, times(loads[p])))
	}
	return notYet("You loaded %s, each a full 200: your browser did not ask with If-None-Match or If-Modified-Since. Open the page again from a link or with a plain reload (a hard reload, Ctrl+Shift+R, or DevTools' Disable cache skips revalidation).",
		strings.Join(said, " and "))
}

// afterEdit walks the learner's events after their latest edit that fn
// finds done; fn sees each page event after an edit of that product.
// It returns fn's result for the first edit that passes, or the latest
// edit's result.
func afterEdit(h *history, names []string, noEdit string, fn func(edit handlers.Event, after []pageEvent) Result) Result {
	evs := h.evs
	es := h.edits()
	if len(es) == 0 {
		return notYet("%s", noEdit)
	}
	all := h.pagesOf(names...)
	var r Result
	for i, ei := range es {
		end := len(evs)
		if i+1 < len(es) {
			end = es[i+1]
		}
		e := evs[ei]
		var after []pageEvent
		for _, pe := range all {
			if pe.I > ei && pe.I < end {
				after = append(after, pe)
			}
		}
		if r = fn(e, after); r.Done {
			return r
		}
	}
	return r
}

func editText(e handlers.Event) string {
	return fmt.Sprintf("product %d (now version %d; change #%d raised %s)", e.Product, e.Version, e.Change, strings.Join(e.Gens, ", "))
}

func checkInvalidation(h *history) Result {
	return afterEdit(h, []string{"detail"}, "You have not saved an edit yet: edit a product, change its price and save.",
		func(e handlers.Event, after []pageEvent) Result {
			var first, miss *pageEvent
			var otherModes []string
			for _, pe := range after {
				if productOf(pe.URL) != e.Product {
					continue
				}
				if pe.Mode != "redis" {
					otherModes = append(otherModes, inMode(pe.Mode))
					continue
				}
				if first == nil {
					first = &pe
				}
				switch {
				case pe.Outcome == trace.Miss && len(pe.KeyGens) > 0 && pe.KeyGens[0] >= e.Change:
					miss = &pe
				case pe.Outcome == trace.Hit && miss != nil && pe.Key == miss.Key:
					return done("After your edit of product %d (change #%d): a Redis MISS rebuilt it under %s in %s, then a HIT of the new version in %s.",
						e.Product, e.Change, genText(miss.KeyGens), ms(miss.Total), ms(pe.Total))
				}
			}
			switch {
			case first == nil:
				r := notYet("You edited %s but have not loaded it in Redis mode since.", editText(e))
				if len(otherModes) > 0 {
					r.Reason += " You loaded it " + strings.Join(uniq(otherModes), " and ") + ": do the same in Redis mode."
				}
				return r
			case miss != nil:
				r := notYet("After your edit of product %d, its Redis-mode load was a MISS that rebuilt it: reload it for a HIT of the new version.", e.Product)
				r.Measured = fmt.Sprintf("Redis MISS under %s in %s.", genText(miss.KeyGens), ms(miss.Total))
				return r
			case first.Outcome == trace.Hit:
				return notYet("Your first Redis-mode load of product %d after your edit was already a HIT: another request had rebuilt it first. Edit it again and load it at once.", e.Product)
			case first.Outcome == trace.Error:
				return notYet("After your edit, product %d's Redis-mode load was an ERROR: Redis could not be read (is it switched off on the faults page?). Switch it back and reload.", e.Product)
			}
			return notYet("You edited %s; load it in Redis mode, then reload it.", editText(e))
		})
}

func checkFragments(h *history) Result {
	return afterEdit(h, []string{"detail"}, "You have not saved an edit yet: open a product page in memory mode, then edit that product.",
		func(e handlers.Event, after []pageEvent) Result {
			var last *pageEvent
			for _, pe := range after {
				if productOf(pe.URL) != e.Product || !cachedMode(pe.Mode) {
					continue
				}
				card, side := frag(pe.Event, "product-card"), frag(pe.Event, "category-stats")
				if pe.Outcome == trace.Miss && card.Misses > 0 && side.Hits > 0 {
					return done("Product %d after your edit, %s: product-card MISS (rendered again), category-stats HIT (kept); the page was rebuilt in %s.",
						e.Product, inMode(pe.Mode), ms(pe.Total))
				}
				last = &pe
			}
			switch {
			case last == nil:
				return notYet("You edited product %d but have not loaded its page in memory or Redis mode since (fragments are not cached in mode none).", e.Product)
			case last.Outcome == trace.Hit:
				return notYet("After your edit, product %d's page was a HIT: another request had rebuilt it first. Edit it again and load it at once.", e.Product)
			case frag(last.Event, "category-stats").Misses > 0:
				return notYet("After your edit of product %d, its page rebuilt the card but the sidebar missed too: that fragment lives one minute (its TTL) and had expired, or was not cached %s yet. Open any product page %s, then edit again within a minute.",
					e.Product, inMode(last.Mode), inMode(last.Mode))
			}
			return notYet("After your edit, product %d's page looked up no fragments (Redis failing?). Load it again %s.", e.Product, inMode(last.Mode))
		})
}

func checkRussianDoll(h *history) Result {
	return afterEdit(h, []string{"list"}, "You have not saved an edit yet: load a list page in memory mode, then edit a product it shows.",
		func(e handlers.Event, after []pageEvent) Result {
			want := listURL(listPageOf(e.Product))
			prefix := id(e.Product) + ":"
			var reason string
			for _, pe := range after {
				if !cachedMode(pe.Mode) {
					reason = fmt.Sprintf("Your list loads after the edit were in mode none, where fragments are not cached: open %s in memory mode.", want)
					continue
				}
				rows := frag(pe.Event, "product-row")
				looked := rows.Hits + rows.Misses
				switch {
				case rows.Misses == 1 && rows.Hits > 0 && strings.HasPrefix(rows.Missed[0], prefix):
					return done("%s after your edit, %s: %d rows HIT, 1 MISS (product %d, version %d), page rebuilt in %s.",
						pe.URL, inMode(pe.Mode), rows.Hits, e.Product, e.Version, ms(pe.Total))
				case pe.Outcome == trace.Hit:
					reason = fmt.Sprintf("Your load of %s after the edit was a HIT: another request had rebuilt it first. Edit again and load the page at once.", pe.URL)
				case looked == 0:
					reason = fmt.Sprintf("%s was rebuilt around its cached table, whole: it does not show product %d. Open %s, the page that does.", pe.URL, e.Product, want)
				case rows.Misses == looked:
					reason = fmt.Sprintf("All %d rows of %s missed: they were not cached %s before your edit. Load the page, edit product %d again, and load the page again.", looked, pe.URL, inMode(pe.Mode), e.Product)
				case rows.Misses > 1:
					reason = fmt.Sprintf("%d rows of %s missed, not one: others were not cached yet (or were edited too). Load the page once more, edit product %d again, and reload.", rows.Misses, pe.URL, e.Product)
				default:
					reason = fmt.Sprintf("On %s the row that missed was %s, not product %d: someone else's edit.", pe.URL, rows.Missed[0], e.Product)
				}
			}
			if reason == "" {
				reason = fmt.Sprintf("You edited product %d; now open %s in memory mode, the list page that shows it.", e.Product, want)
			}
			return notYet("%s", reason)
		})
}

func checkMGET(h *history) Result {
	var redisLists, memRows int
	for _, pe := range h.pagesOf("list") {
		rows := frag(pe.Event, "product-row")
		looked := rows.Hits + rows.Misses
		if pe.Mode == "memory" && looked > 0 {
			memRows++
		}
		if pe.Mode != "redis" {
			continue
		}
		redisLists++
		if looked >= 10 {
			return done("%s: %d row keys in one MGET, %s in all (%s a key); the page's own lookup took %s.",
				pe.URL, looked, ms(rows.Dur), ms(rows.Dur/time.Duration(looked)), ms(pe.KeyDur))
		}
	}
	switch {
	case redisLists > 0:
		return notYet("Your Redis-mode list loads read no rows: a page HIT comes whole from one key, and a page already seen reuses its cached table. Open a list page nobody has loaded in Redis mode, with per_page=50.")
	case memRows > 0:
		return notYet("You read rows in memory mode, where a lookup is no round trip at all: do it in Redis mode.")
	}
	return notYet("You have not loaded a list page in Redis mode yet.")
}

func checkStampede(h *history) Result {
	runs := h.labRuns("stampede")
	if len(runs) == 0 {
		return notYet("You have not run the stampede lab yet.")
	}
	loads := map[string]float64{}
	var order []string
	for _, ev := range runs {
		if _, ok := loads[ev.Setting]; !ok {
			order = append(order, ev.Setting)
		}
		loads[ev.Setting] = ev.Figures["loads"]
	}
	last := runs[len(runs)-1]
	var parts []string
	distinct := map[float64]bool{}
	for _, p := range order {
		parts = append(parts, fmt.Sprintf("%s %g", p, loads[p]))
		distinct[loads[p]] = true
	}
	m := fmt.Sprintf("Origin loads: %s (last run: %g requests over %g instances).", strings.Join(parts, ", "),
		last.Figures["n"], last.Figures["instances"])
	switch {
	case len(order) >= 2 && len(distinct) >= 2:
		return Result{Done: true, Measured: m}
	case len(order) < 2:
		r := notYet("You ran one protection only: run the lab so that at least two are compared.")
		r.Measured = m
		return r
	}
	r := notYet("In your runs every protection loaded the origin as often: with one request they cannot differ. Run it with more requests, say 50 over 4 instances.")
	r.Measured = m
	return r
}

func checkFailure(h *history) Result {
	switched := -1
	var sawRedis, failedStatus *handlers.Event
	for i := range h.evs {
		ev := &h.evs[i]
		if ev.Kind == handlers.EventFault {
			switched = i
			continue
		}
		if switched < 0 || ev.Kind != handlers.EventRequest || ev.Mode != "redis" {
			continue
		}
		if _, ok := parseKey(ev.Key); !ok {
			continue
		}
		sawRedis = ev
		if ev.Outcome == trace.Error {
			if ev.Status < 400 {
				return done("%s %s while Redis failed: answered %d in %s, built from the database.", capital(shownURL(*ev)), inMode("redis"), ev.Status, ms(ev.Total))
			}
			failedStatus = ev
		}
	}
	switch {
	case switched < 0:
		return notYet("You have not flipped a switch on the faults page yet.")
	case failedStatus != nil:
		return notYet("%s answered %d while Redis failed: a cache failure should never fail a page. Try another page.", shownURL(*failedStatus), failedStatus.Status)
	case sawRedis != nil:
		return notYet("Your Redis-mode pages since your switch were served by Redis (%s): Redis was not failing. Click Make Redis calls fail (added latency slows Redis without failing it), then reload.", sawRedis.Outcome)
	}
	return notYet("Since you flipped a fault switch you have loaded no page in Redis mode: open one while Redis fails.")
}

func checkStats(h *history) Result {
	hits, misses, visited := 0, 0, false
	for _, ev := range h.evs {
		if ev.Kind != handlers.EventRequest || ev.Status >= 400 {
			continue
		}
		if ev.Path == "/cache-stats" || ev.Path == "/api/cache-stats" {
			visited = true
		}
		if _, ok := parseKey(ev.Key); !ok || !cachedMode(ev.Mode) {
			continue
		}
		switch ev.Outcome {
		case trace.Hit:
			hits += ev.Count
		case trace.Miss:
			misses += ev.Count
		}
	}
	var m string
	if n := hits + misses; n > 0 {
		m = fmt.Sprintf("Your page loads in memory and Redis mode: %d HIT, %d MISS, a hit ratio of %d %%.", hits, misses, hits*100/n)
	}
	const enough = 10
	switch {
	case hits+misses >= enough && visited:
		return Result{Done: true, Measured: m}
	case hits+misses < enough:
		r := notYet("You have made %d page loads in memory or Redis mode: make at least %d, so that a ratio means something, then open the statistics.", hits+misses, enough)
		r.Measured = m
		return r
	}
	r := notYet("Now open the cache statistics page and compare its ratio with yours.")
	r.Measured = m
	return r
}

// shownURL is the page an event was for: the key's canonical URL, or
// the path and query sent (without the mode).
func shownURL(ev handlers.Event) string {
	if pk, ok := parseKey(ev.Key); ok {
		return pk.URL
	}
	if q := sentQuery(ev.Query); q != "" {
		return ev.Path + "?" + q
	}
	return ev.Path
}

func capital(s string) string {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

func uniq(list []string) []string {
	var out []string
	for _, s := range list {
		if !contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}
