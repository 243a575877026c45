package main

import (
	"context"
	"fmt"
	"net/http"
	"strings"
)

// The pages every row loads: one fixed URL each, so rows compare the same
// work.
const (
	listPath   = "/products?page=1"
	detailPath = "/products/42"
	apiPath    = "/api/products"
)

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

	probe    *probeResult
	res      *loadResult
	problems []string
}

func plan(app, slowApp, raw, rawGet, redisLabel string) []*row {
	rows := []*row{
		{id: "raw", group: "raw", name: "raw net/http handler, fixed bytes", mode: "—",
			t: target{addr: raw, path: "/"}},
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
		rows = append(rows, mk("memory", "memory hit", app, "memory", "HIT", true))
		r := mk("redis", redisLabel+" hit", app, "redis", "HIT", true)
		r.vsRawGet = true
		rows = append(rows, r)
		rows = append(rows, &row{id: pg.group + "/fragments", group: pg.group, name: pg.name, mode: "fragments hot",
			na: "the server has no switch yet to serve a page miss with hot fragments"})
	}
	return rows
}

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

// verify checks every measured response against the row's claims.
func (r *row) verify() {
	res := r.res
	if res.errs > 0 {
		r.problems = append(r.problems, fmt.Sprintf("%d transport errors (first: %s)", res.errs, res.firstErr))
	}
	if res.non200 > 0 {
		r.problems = append(r.problems, fmt.Sprintf("%d responses were not 200 (e.g. %d)", res.non200, res.badStatus))
	}
	want := xcKind(r.t.wantXCache)
	if got := res.xcache[want]; got != res.requests {
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
		parts = append(parts, s)
	}
	return strings.Join(parts, ", ")
}

func (r *row) problemSuffix() string {
	if len(r.problems) == 0 {
		return ""
	}
	return "  ✗ " + strings.Join(r.problems, "; ")
}
