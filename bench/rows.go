package main

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"cacheworkshop/handlers"
)

// The pages every row loads: one fixed URL each, so rows compare the same
// work.
const (
	listPath   = "/products?page=1"
	detailPath = "/products/42"
	apiPath    = "/api/products"
)

// floorWork is the CPU work of the floor's calibration row, timed on the
// idle machine before the load. Its ratio to the floor says what that
// much per-request work costs under load here, where the server, the
// load generator and the kernel share two CPUs: a hit's ratio to the
// floor reads as microseconds of work beyond it.
const floorWork = 10 * time.Microsecond

// row is one line of the table.
type row struct {
	id    string // stable key used by the targets section
	group string // raw, list, detail, api
	name  string
	mode  string
	t     target
	// na, when set, is why the row was not measured.
	na string
	// hit rows must be served from the cache on every measured request.
	hit bool
	// checkProbe: fetch the page with net/http before loading it, to warm
	// the cache and check the headers the row claims.
	checkProbe bool
	// vsRawGet: also report the ratio to the raw handler doing one
	// go-redis GET (the Redis-hit target is relative to it).
	vsRawGet bool
	// fragHot rows are served by the server whose page cache is off: every
	// response must be a page MISS rebuilt from fragments that all hit,
	// which a sample read with net/http checks before and after the load.
	fragHot bool
	// noFrags: the row is n/a because the response has no fragments; one
	// request to the fragments-hot server checks that claim.
	noFrags bool

	// expires, when set, is the longest the row's page entry may live (the
	// detail page's entry goes with its one-minute sidebar), so a hit row
	// that spans it may see a rebuild: at most one MISS per connection
	// each time the entry expires. firstWindow and lastWindow bound the
	// row's measured windows across all rounds.
	expires                 time.Duration
	firstWindow, lastWindow time.Time
	// refills is how many MISS responses verify put down to expiries.
	refills int64

	// fragNote summarises the fragments-hot sample for the table.
	fragNote string
	// serverTime is the median Server-Timing total of serverTimeSamples
	// sequential requests after the load (0: not sampled).
	serverTime time.Duration
	probe      *probeResult
	res        *loadResult
	problems   []string
}

// plan lists the rows. nginx is the proxy's address, or "" with noNginx
// saying why there is none.
func plan(app, slowApp, fragApp, raw, rawGet, rawHit, rawHitWork, redisLabel, nginx, noNginx string) []*row {
	rows := []*row{
		{id: "raw", group: "raw", name: "raw net/http handler, fixed bytes", mode: "—",
			t: target{addr: raw, path: "/"}},
		{id: "rawhit", group: "raw", name: "raw handler sending a memory hit's headers, bar spliced in", mode: "—",
			t: target{addr: rawHit, path: "/", wantXCache: "HIT", wantMode: "memory"}},
		{id: "rawhit-work", group: "raw", name: "the same, after " + floorWork.String() + " of CPU work (a busy loop)", mode: "—",
			t: target{addr: rawHitWork, path: "/", wantXCache: "HIT", wantMode: "memory"}},
		{id: "rawget", group: "raw", name: "raw handler + one go-redis GET of the same bytes", mode: redisLabel,
			t: target{addr: rawGet, path: "/"}, vsRawGet: true},
	}
	pages := []struct{ group, name, path string }{
		{"list", "list page `" + listPath + "`", listPath},
		{"detail", "detail page `" + detailPath + "`", detailPath},
		{"api", "`" + apiPath + "`", apiPath},
	}
	for _, pg := range pages {
		mk := func(suffix, mode, addr, cookieMode, xc string, hit bool) *row {
			return &row{id: pg.group + "/" + suffix, group: pg.group, name: pg.name, mode: mode, hit: hit, checkProbe: true,
				t: target{addr: addr, path: pg.path, cookie: "cache_mode=" + cookieMode, wantXCache: xc, wantMode: cookieMode}}
		}
		rows = append(rows, mk("none", "none", app, "none", "BYPASS", false))
		if pg.group == "detail" {
			rows = append(rows, mk("none-slow", "none, SLOW_QUERY_MS=300", slowApp, "none", "BYPASS", false))
		}
		hits := []*row{
			mk("memory", "memory hit", app, "memory", "HIT", true),
			mk("redis", redisLabel+" hit", app, "redis", "HIT", true),
			mk("tiered", "tiered hit (memory in front of "+redisLabel+")", app, "tiered", "HIT", true),
		}
		hits[1].vsRawGet = true
		if pg.group == "detail" {
			for _, h := range hits {
				h.expires = handlers.CategoryStatsTTL
			}
		}
		rows = append(rows, hits...)
		if pg.group == "list" {
			n := mk("nginx", "memory hit through nginx", nginx, "memory", "HIT", true)
			if nginx == "" {
				n.na, n.checkProbe = noNginx, false
			}
			rows = append(rows, n)
		}
		f := mk("fragments", fragMode, fragApp, "memory", "MISS", false)
		if pg.group == "api" {
			f.checkProbe, f.noFrags, f.na = false, true, "no fragments in JSON"
		} else {
			f.fragHot = true
		}
		rows = append(rows, f)
	}
	return rows
}

// fragMode is the mode column of the fragments-hot rows.
const fragMode = "fragments hot (memory, page cache off)"

// warmAndCheck fetches the row's URL with net/http until it is served the
// way the row claims (a hit row may need one miss first to fill the
// cache), recording every claim that does not hold.
func warmAndCheck(ctx context.Context, r *row) (*probeResult, error) {
	var pr *probeResult
	var err error
	for attempt := 0; attempt < 3; attempt++ {
		pr, err = probe(ctx, r.t.addr, r.t.path, r.t.cookie)
		if err != nil {
			return nil, fmt.Errorf("%s · %s: %w", r.name, r.mode, err)
		}
		if pr.status != http.StatusOK || pr.header.Get("X-Cache") == r.t.wantXCache {
			break
		}
	}
	if pr.status != http.StatusOK {
		return pr, nil
	}
	if got := pr.header.Get("X-Cache"); got != r.t.wantXCache {
		r.problems = append(r.problems, fmt.Sprintf("probe: X-Cache %q after 3 requests, want %q", got, r.t.wantXCache))
	}
	if got := pr.header.Get("X-Cache-Mode"); got != r.t.wantMode {
		r.problems = append(r.problems, fmt.Sprintf("probe: X-Cache-Mode %q, want %q", got, r.t.wantMode))
	}
	st := pr.header.Get("Server-Timing")
	if !strings.Contains(st, "total;dur=") || !strings.Contains(st, "db;") {
		r.problems = append(r.problems, fmt.Sprintf("probe: Server-Timing %q lacks db and total entries", st))
	}
	return pr, nil
}

// serverTiming returns the dur of the named Server-Timing entry ("" if
// absent).
func serverTiming(header, name string) string {
	for _, part := range strings.Split(header, ",") {
		part = strings.TrimSpace(part)
		n, rest, _ := strings.Cut(part, ";")
		if n != name {
			continue
		}
		for _, p := range strings.Split(rest, ";") {
			if v, ok := strings.CutPrefix(strings.TrimSpace(p), "dur="); ok {
				return v
			}
		}
	}
	return ""
}

// verify checks every measured response against the row's claims; conns
// is how many connections loaded it.
func (r *row) verify(conns int) {
	res := r.res
	if res.errs > 0 {
		r.problems = append(r.problems, fmt.Sprintf("%d transport errors (first: %s)", res.errs, res.firstErr))
	}
	if res.non200 > 0 {
		r.problems = append(r.problems, fmt.Sprintf("%d responses were not 200 (e.g. %d)", res.non200, res.badStatus))
	}
	want := xcKind(r.t.wantXCache)
	got := res.xcache[want]
	if r.hit && r.expires > 0 && got < res.requests {
		// Each expiry of the entry within the row's span allows one
		// rebuild, seen as a MISS by at most every connection.
		expiries := int64(r.lastWindow.Sub(r.firstWindow)/r.expires) + 1
		if misses := res.xcache[xcMiss]; misses == res.requests-got && misses <= expiries*int64(conns) {
			r.refills = misses
			got = res.requests
		}
	}
	if got != res.requests {
		msg := fmt.Sprintf("X-Cache was %q on %d of %d responses (%s)", r.t.wantXCache, got, res.requests, r.xcacheSeen())
		if r.hit {
			msg = "NOT HITTING: " + msg
		}
		r.problems = append(r.problems, msg)
	}
	if res.modeWrong > 0 {
		r.problems = append(r.problems, fmt.Sprintf("X-Cache-Mode was not %q on %d responses", r.t.wantMode, res.modeWrong))
	}
}

// xcacheSeen summarises the X-Cache values of the measured responses.
func (r *row) xcacheSeen() string {
	res := r.res
	if res == nil || res.requests == 0 {
		return ""
	}
	if res.xcache[xcAbsent] == res.requests {
		return "—"
	}
	var parts []string
	for k, n := range res.xcache {
		if n == 0 {
			continue
		}
		pct := 100 * float64(n) / float64(res.requests)
		s := fmt.Sprintf("%s %.1f%%", xcNames[k], pct)
		if n == res.requests {
			s = xcNames[k] + " 100%"
		}
		if k == xcMiss && r.refills > 0 {
			s = fmt.Sprintf("%s (%d responses: the entry expired with its %s sidebar and was rebuilt)", s, n, humanTTL(r.expires))
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, ", ")
}

// humanTTL writes a lifetime as "1-minute" or "30s".
func humanTTL(d time.Duration) string {
	if d%time.Minute == 0 {
		return strconv.Itoa(int(d/time.Minute)) + "-minute"
	}
	return d.String()
}

func (r *row) problemSuffix() string {
	if len(r.problems) == 0 {
		return ""
	}
	return "  ✗ " + strings.Join(r.problems, "; ")
}

// stEntry is one Server-Timing entry: its name and its desc parameter.
type stEntry struct{ name, desc string }

// serverTimingEntries splits a Server-Timing header into its entries. A
// comma inside a quoted desc does not end an entry.
func serverTimingEntries(header string) []stEntry {
	var out []stEntry
	for header != "" {
		i, quoted := 0, false
		for ; i < len(header); i++ {
			if c := header[i]; c == '"' {
				quoted = !quoted
			} else if c == ',' && !quoted {
				break
			}
		}
		part := strings.TrimSpace(header[:i])
		header = header[min(i+1, len(header)):]
		if part == "" {
			continue
		}
		name, params, _ := strings.Cut(part, ";")
		e := stEntry{name: strings.TrimSpace(name)}
		if _, rest, ok := strings.Cut(params, `desc="`); ok {
			e.desc, _, _ = strings.Cut(rest, `"`)
		}
		out = append(out, e)
	}
	return out
}

// fragSeen is what one response's Server-Timing says about its fragments.
type fragSeen struct {
	pageOff bool // the page cache was bypassed because it is switched off
	lookups int
	hits    int
	other   []string // descs of fragment lookups that did not hit
	names   []string // fragment names, in order, one per lookup
}

// readFragments reads a response's page and fragment lookups in mode.
func readFragments(header, mode string) fragSeen {
	var f fragSeen
	for _, e := range serverTimingEntries(header) {
		switch e.name {
		case "cache":
			if strings.HasPrefix(e.desc, mode+" bypass ") && strings.HasSuffix(e.desc, "(page cache off)") {
				f.pageOff = true
			}
		case "frag":
			f.lookups++
			rest, hit := strings.CutPrefix(e.desc, mode+" hit ")
			if !hit {
				f.other = append(f.other, e.desc)
				continue
			}
			f.hits++
			// The key is frag:{<name>}:<template digest>:<caller's key>.
			name := strings.TrimPrefix(rest, "frag:")
			name, _, _ = strings.Cut(name, ":")
			name = strings.Trim(name, "{}")
			f.names = append(f.names, name)
		}
	}
	return f
}

// fragProblems lists the claims of a fragments-hot row that one response
// does not hold.
func fragProblems(pr *probeResult, mode string) []string {
	if pr.status != http.StatusOK {
		return []string{fmt.Sprintf("status %d: %s", pr.status, clip(string(pr.body), 200))}
	}
	var out []string
	if got := pr.header.Get("X-Cache"); got != "MISS" {
		out = append(out, fmt.Sprintf("X-Cache %q, want \"MISS\" (the page cache is off)", got))
	}
	if got := pr.header.Get("X-Cache-Mode"); got != mode {
		out = append(out, fmt.Sprintf("X-Cache-Mode %q, want %q", got, mode))
	}
	st := pr.header.Get("Server-Timing")
	f := readFragments(st, mode)
	switch {
	case !f.pageOff:
		out = append(out, fmt.Sprintf("no cache;desc=\"%s bypass ... (page cache off)\" entry in Server-Timing %q", mode, clip(st, 300)))
	case f.lookups == 0:
		out = append(out, "FRAGMENTS NOT HITTING: Server-Timing lists no fragment lookup")
	case len(f.other) > 0:
		out = append(out, fmt.Sprintf("FRAGMENTS NOT HITTING: %d of %d fragment lookups were not %s hits (first: %q)",
			len(f.other), f.lookups, mode, f.other[0]))
	}
	return out
}

// fragSamples is how many consecutive responses a fragments-hot check
// reads after its warm-up requests.
const fragSamples = 5

// checkFragments fetches a fragments-hot row's page with net/http: two
// unchecked requests first (so a fragment whose TTL ran out, such as the
// one-minute catalogue summary, is filled again, as the first request
// after any expiry does), then fragSamples responses that must each be a
// 200 page MISS in the row's mode, with the page cache bypassed and at
// least one fragment lookup, every one a hit. Failed claims go to
// r.problems prefixed with when; the last response is summarised in
// r.fragNote.
func checkFragments(ctx context.Context, r *row, when string) error {
	for range 2 {
		if _, err := probe(ctx, r.t.addr, r.t.path, r.t.cookie); err != nil {
			return fmt.Errorf("%s · %s: %w", r.name, r.mode, err)
		}
	}
	var last fragSeen
	for i := range fragSamples {
		pr, err := probe(ctx, r.t.addr, r.t.path, r.t.cookie)
		if err != nil {
			return fmt.Errorf("%s · %s: %w", r.name, r.mode, err)
		}
		if ps := fragProblems(pr, r.t.wantMode); len(ps) > 0 {
			r.problems = append(r.problems, fmt.Sprintf("%s, sampled response %d of %d: %s", when, i+1, fragSamples, strings.Join(ps, "; ")))
			r.fragNote = "fragments NOT all hitting in the sample " + when
			return nil
		}
		last = readFragments(pr.header.Get("Server-Timing"), r.t.wantMode)
	}
	r.fragNote = fmt.Sprintf("%d sampled %s: %d fragment hits each (%s)", fragSamples, when, last.hits, countNames(last.names))
	return nil
}

// countNames lists names in order of first appearance, with a count when
// one repeats: "product-row ×20, site-nav".
func countNames(names []string) string {
	n := map[string]int{}
	var order []string
	for _, s := range names {
		if n[s] == 0 {
			order = append(order, s)
		}
		n[s]++
	}
	parts := make([]string, len(order))
	for i, s := range order {
		parts[i] = s
		if n[s] > 1 {
			parts[i] = fmt.Sprintf("%s ×%d", s, n[s])
		}
	}
	return strings.Join(parts, ", ")
}

// checkNoFrags backs an n/a row's claim that its response has no
// fragments: one request to the fragments-hot server must list no
// fragment lookup.
func checkNoFrags(ctx context.Context, r *row) error {
	pr, err := probe(ctx, r.t.addr, r.t.path, r.t.cookie)
	if err != nil {
		return fmt.Errorf("%s · %s: %w", r.name, r.mode, err)
	}
	if pr.status != http.StatusOK {
		return nil // a missing route is reported by the row's other modes
	}
	if f := readFragments(pr.header.Get("Server-Timing"), r.t.wantMode); f.lookups > 0 {
		r.problems = append(r.problems, fmt.Sprintf("marked n/a (%s) but its Server-Timing lists %d fragment lookups: measure it", r.na, f.lookups))
	}
	return nil
}

// selectRows marks every row not named in only (comma-separated ids) as
// n/a; raw rows always stay, since the ratios are measured against them.
func selectRows(rows []*row, only string) error {
	if only == "" {
		return nil
	}
	want := map[string]bool{}
	for _, id := range strings.Split(only, ",") {
		if id = strings.TrimSpace(id); id != "" {
			want[id] = true
		}
	}
	known := map[string]bool{}
	for _, r := range rows {
		known[r.id] = true
	}
	for id := range want {
		if !known[id] {
			ids := make([]string, 0, len(rows))
			for _, r := range rows {
				ids = append(ids, r.id)
			}
			return fmt.Errorf("-only: no row %q (rows: %s)", id, strings.Join(ids, ", "))
		}
	}
	for _, r := range rows {
		if r.group != "raw" && !want[r.id] && r.na == "" {
			r.na = "not selected with -only"
		}
	}
	return nil
}

// serverTimeSamples is how many sequential requests sampleServerTime reads.
const serverTimeSamples = 101

// sampleServerTime reads the server's own account of a row's requests:
// the total of Server-Timing, over sequential requests on one keep-alive
// connection after the load, so no queueing is in it. Only responses with
// the row's X-Cache count.
func sampleServerTime(ctx context.Context, r *row) error {
	var ds []time.Duration
	for range serverTimeSamples {
		pr, err := probe(ctx, r.t.addr, r.t.path, r.t.cookie)
		if err != nil {
			return fmt.Errorf("%s · %s: %w", r.name, r.mode, err)
		}
		if pr.header.Get("X-Cache") != r.t.wantXCache {
			continue
		}
		if d, ok := serverTimingTotal(pr.header.Get("Server-Timing")); ok {
			ds = append(ds, d)
		}
	}
	if len(ds) > 0 {
		slices.Sort(ds)
		r.serverTime = ds[len(ds)/2]
	}
	return nil
}

// serverTimingTotal reads "total;dur=<ms>" from a Server-Timing value.
func serverTimingTotal(v string) (time.Duration, bool) {
	return serverTimingDur(v, "total")
}

// serverTimingDur is serverTiming's entry as a duration.
func serverTimingDur(v, name string) (time.Duration, bool) {
	f, err := strconv.ParseFloat(serverTiming(v, name), 64)
	if err != nil || f < 0 {
		return 0, false
	}
	return time.Duration(f * float64(time.Millisecond)), true
}
