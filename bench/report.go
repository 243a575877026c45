package main

import (
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// envInfo describes where the numbers were taken.
type envInfo struct {
	cpu, commit, goVersion string
	procs                  int
}

func readEnv(root string) envInfo {
	e := envInfo{goVersion: runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH, procs: runtime.GOMAXPROCS(0)}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "model name"); ok {
				e.cpu = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	if out, err := exec.Command("git", "-C", root, "rev-parse", "--short", "HEAD").Output(); err == nil {
		e.commit = strings.TrimSpace(string(out))
		if st, err := exec.Command("git", "-C", root, "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(st) > 0 {
			e.commit += " with uncommitted changes"
		}
	}
	return e
}

func readLoadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// report is everything one run measured.
type report struct {
	opts        options
	env         envInfo
	redis       *redisServer
	rawSize     int
	seedDur     time.Duration
	seeded      int
	total       int64
	selfRSSList int64
	bin         *binaryResult
	rows        []*row
	loadStart   string
	loadEnd     string
	logs        string
	took        time.Duration
}

func (rep *report) row(id string) *row {
	for _, r := range rep.rows {
		if r.id == id && r.res != nil {
			return r
		}
	}
	return nil
}

func (rep *report) rps(id string) float64 {
	if r := rep.row(id); r != nil {
		return r.res.rps()
	}
	return 0
}

func (rep *report) markdown() string {
	var b strings.Builder
	o := rep.opts
	fmt.Fprintf(&b, "# make bench, %s\n\n", time.Now().Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(&b, "- Machine: %s, GOMAXPROCS=%d, %s; load average %s at the start of the rows, %s at the end (other work on the machine shows up here).\n",
		orQ(rep.env.cpu), rep.env.procs, rep.env.goVersion, rep.loadStart, rep.loadEnd)
	if rep.env.commit != "" {
		fmt.Fprintf(&b, "- Code: commit %s.\n", rep.env.commit)
	}
	redisDesc := rep.redis.version + ", a private instance on loopback"
	if rep.redis.embedded {
		redisDesc = "no redis-server installed: Redis (embedded), the in-process miniredis; its rows say so and do not describe a real Redis (and its own allocations count in allocs/req)"
	}
	fmt.Fprintf(&b, "- Redis: %s.\n", redisDesc)
	fmt.Fprintf(&b, "- Load: %d keep-alive connections on loopback, closed loop, %s measured per row in %d rounds (rows take turns; %s warm-up before the first round's window, up to 100ms before later ones), generated in this process by a minimal HTTP/1.1 client that allocates nothing per request; latencies in an HdrHistogram (3 significant digits).\n",
		o.conns, o.dur, o.rounds, o.warm)
	fmt.Fprintf(&b, "- Server: the workshop built in-process by app.New, as main.go builds it (app.Defaults() with SQLite seeded with %d products, memory cache 64 MiB, TTL 5m, the Redis above with NoEmbedded), served by its App's http.Server, whose timeouts the raw handlers' servers copy. **SLOW_QUERY_MS=0** (no simulated latency) except on the row that says 300, which is a second App with SlowQuery 300 ms on the same database.\n",
		rep.total)
	fmt.Fprintf(&b, "- Fragments hot: a third App on the same database with NoPageCache and RedisPrefix %q (its own memory cache, as every App has), loaded in memory mode: every page misses the page cache (X-Cache: MISS) and is rebuilt from its cached fragments, with SLOW_QUERY_MS=0. X-Cache is checked on every response; %d consecutive responses read with net/http before and after the load must list only fragment hits in Server-Timing, or the run fails.\n",
		fragPrefix, fragSamples)
	fmt.Fprintf(&b, "- The raw handlers serve exactly the bytes of the list page as a memory hit sends them (%s), so they move the same payload; the body column shows each row's size (a miss or an uncached page is larger: its trace panel lists every fragment lookup).\n", fmtBytes(int64(rep.rawSize)))
	b.WriteString("- \"raw handler sending a memory hit's headers\" is the floor of any hit that carries per-request markup: the same eight headers with fixed values and the stored body with one real response's bar spliced back in through a pooled buffer, with no routing, lookup, trace or formatting. What a memory hit costs beyond it is the workshop's own work.\n\n")

	raw := rep.rps("raw")
	rawGet := rep.rps("rawget")
	b.WriteString("| Response | Mode | body | req/s | p50 | p99 | allocs/req | × raw | × raw+GET | Redis round trips/req | DB queries/req | X-Cache seen |\n")
	b.WriteString("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|\n")
	for _, r := range rep.rows {
		if r.na != "" || r.res == nil {
			na := "n/a"
			if r.na != "" {
				na = "n/a (" + r.na + ")"
			}
			fmt.Fprintf(&b, "| %s | %s | | %s | | | | | | | | |\n", r.name, r.mode, na)
			continue
		}
		res := r.res
		vsGet := ""
		if r.vsRawGet && rawGet > 0 {
			vsGet = fmt.Sprintf("%.2f", res.rps()/rawGet)
		}
		ratio := ""
		if raw > 0 {
			ratio = fmt.Sprintf("%.2f", res.rps()/raw)
		}
		seen := r.xcacheSeen()
		if r.fragNote != "" {
			seen += "; " + r.fragNote
		}
		if len(r.problems) > 0 {
			seen += " ✗"
		}
		body := fmtBytes(res.bodyMax)
		if res.bodyMax-res.bodyMin > 64 {
			body = fmtBytes(res.bodyMin) + "–" + fmtBytes(res.bodyMax)
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
			r.name, r.mode, body, fmtRate(res.rps()), fmtUS(res.hist.ValueAtQuantile(50)), fmtUS(res.hist.ValueAtQuantile(99)),
			fmtFloat(res.perReq(float64(res.mallocs))), ratio, vsGet,
			fmt.Sprintf("%.2f", res.perReq(float64(res.redisRT))), fmt.Sprintf("%.2f", res.perReq(float64(res.dbQueries))), seen)
	}
	b.WriteString("\n")
	b.WriteString("allocs/req is runtime.MemStats.Mallocs over the measured window divided by the requests in it, for the whole process (server + load generator); the generator allocates nothing per request, so the raw row is net/http's own floor. Redis round trips count each command sent alone and each pipeline once, through a hook passed to app.New (outside the workshop's circuit breaker). DB queries are models.Store.Queries, counted where each statement is timed into the request trace, so they agree with Server-Timing's db entry. X-Cache seen lists the header on every measured response; a hit row that was not hitting fails the run.\n\n")

	b.WriteString("## Targets (architecture issue), from this run\n\n")
	b.WriteString("Each is a ratio of two rows measured side by side in this run, so machine speed cancels out. A missed target says **no** here; it does not fail the run.\n\n")
	b.WriteString("| Target | Measured | Wanted | Met |\n|---|--:|--:|---|\n")
	for _, t := range rep.archTargets() {
		fmt.Fprintf(&b, "| %s | %s | ≥ %s | %s |\n", t.name, t.measured(), strconv.FormatFloat(t.min, 'f', -1, 64), t.met())
	}
	b.WriteString("\n")
	if floor, worked := rep.rps("rawhit"), rep.rps("rawhit-work"); floor > 0 && worked > 0 {
		fmt.Fprintf(&b, "How much per-request work these ratios leave room for, on this machine: the floor after %s of CPU work (a busy loop, sized before the load) ran at **%.2f** × the floor in this run.\n\n",
			floorWork, worked/floor)
	}

	var fails []string
	for _, r := range rep.rows {
		for _, m := range r.problems {
			fails = append(fails, fmt.Sprintf("- **%s · %s**: %s", r.name, r.mode, m))
		}
	}
	if len(fails) > 0 {
		b.WriteString("## FAILED: rows that did not serve what they claim\n\n")
		b.WriteString(strings.Join(fails, "\n"))
		b.WriteString("\n\n")
	}

	b.WriteString("## Server time\n\n")
	fmt.Fprintf(&b, "The server's own total from Server-Timing (median of %d sequential requests on one connection after the load, so no queueing and no client): what the learner sees in the request bar. Under load, req/s also pays for net/http, the network stack and the load generator, which are the same for every row.\n\n", serverTimeSamples)
	b.WriteString("| Response | Mode | server time |\n|---|---|--:|\n")
	for _, r := range rep.rows {
		if r.serverTime > 0 {
			fmt.Fprintf(&b, "| %s | %s | %s ms |\n", r.name, r.mode, fmtMS3(r.serverTime))
		}
	}
	b.WriteString("\n")

	b.WriteString("## Other targets (issue 6) and checks, from this run\n\n")
	b.WriteString("| Target | Measured | Met |\n|---|--:|---|\n")
	ratio := func(a, base float64) (string, float64) {
		if a == 0 || base == 0 {
			return "n/a", -1
		}
		return fmt.Sprintf("%.2f", a/base), a / base
	}
	met := func(v, min float64) string {
		switch {
		case v < 0:
			return "n/a"
		case v >= min:
			return "yes"
		}
		return "**no**"
	}
	yes := func(ok bool) string {
		if ok {
			return "yes"
		}
		return "**no**"
	}
	listNone, listMem, listRedis := rep.rps("list/none"), rep.rps("list/memory"), rep.rps("list/redis")
	s, v := ratio(listMem, raw)
	fmt.Fprintf(&b, "| Memory-hit list page ≥ 0.9 × raw handler | %s | %s |\n", s, met(v, 0.9))
	if hitFloor := rep.rps("rawhit"); hitFloor > 0 {
		s, _ = ratio(hitFloor, raw)
		fmt.Fprintf(&b, "| (the floor: raw handler sending a hit's headers and bar, × raw handler) | %s | — |\n", s)
	}
	if r := rep.row("list/redis"); r != nil {
		rt := r.res.perReq(float64(r.res.redisRT))
		fmt.Fprintf(&b, "| Hot list page in Redis mode: ≤ 2 Redis round trips | %.2f | %s |\n", rt, yes(rt <= 2))
	}
	s, v = ratio(listMem, listNone)
	fmt.Fprintf(&b, "| Cached (memory hit) vs uncached list page ≥ 10× (req/s) | %s× | %s |\n", s, met(v, 10))
	s, v = ratio(listRedis, listNone)
	fmt.Fprintf(&b, "| Cached (%s hit) vs uncached list page ≥ 10× (req/s) | %s× | %s |\n", rep.redis.label, s, met(v, 10))
	for _, id := range []string{"list/memory", "list/redis", "detail/memory", "detail/redis"} {
		r := rep.row(id)
		if r == nil {
			continue
		}
		q := r.res.perReq(float64(r.res.dbQueries))
		render, noRender := "?", false
		if r.probe != nil {
			st := r.probe.header.Get("Server-Timing")
			render = serverTiming(st, "render")
			d, parsed := serverTimingDur(st, "render")
			noRender = parsed && d == 0
		}
		ok := yes(q == 0 && noRender)
		fmt.Fprintf(&b, "| %s %s: no database query, no template (DB queries/req; Server-Timing render on a hit) | %.2f queries, render %s ms | %s |\n",
			r.name, r.mode, q, render, ok)
	}
	bin := rep.bin
	mb := func(n int64) string { return fmt.Sprintf("%.1f MB", float64(n)/1e6) }
	if bin.skippedCause == "" {
		fmt.Fprintf(&b, "| Resident memory ≤ 100 MB after every page was cached once (server binary, memory mode: %d list + %d detail pages) | %s | %s |\n",
			bin.listPages, bin.detailPages, mb(bin.rssAll), yes(bin.rssAll <= 100e6))
	} else {
		fmt.Fprintf(&b, "| Resident memory ≤ 100 MB after every page was cached once | n/a (%s) | n/a |\n", bin.skippedCause)
	}
	fmt.Fprintf(&b, "| Seeding %d products into a new SQLite file < 1 s (in-process) | %s | %s |\n",
		rep.seeded, fmtDur(rep.seedDur), yes(rep.seedDur < time.Second))
	if bin.skippedCause == "" {
		fmt.Fprintf(&b, "| Process start to first 200 on `/` < 2 s (server binary, new database, seeding included) | %s | %s |\n",
			fmtDur(bin.coldStart), yes(bin.coldStart < 2*time.Second))
	} else {
		fmt.Fprintf(&b, "| Process start to first 200 on `/` < 2 s | n/a (%s) | n/a |\n", bin.skippedCause)
	}
	b.WriteString("\n## Memory and start-up\n\n| Measure | Value |\n|---|--:|\n")
	fmt.Fprintf(&b, "| Seeding %d products into a new SQLite file (in-process, seed.Seed inside app.New) | %s |\n", rep.seeded, fmtDur(rep.seedDur))
	fmt.Fprintf(&b, "| This process's RSS (server + Redis client + load generator) after every list page was cached once in memory mode | %s |\n", mb(rep.selfRSSList))
	if bin.skippedCause == "" {
		fmt.Fprintf(&b, "| `go build` of the server binary into a temporary folder | %s |\n", fmtDur(bin.buildDur))
		seed := ""
		if bin.childSeed != "" {
			seed = " (of which seeding, as the server logs it: " + bin.childSeed + ")"
		}
		fmt.Fprintf(&b, "| Server binary: process start to first 200 on `/`, new database%s | %s |\n", seed, fmtDur(bin.coldStart))
		fmt.Fprintf(&b, "| Server binary: process start to first 200 on `/`, database already seeded | %s |\n", fmtDur(bin.warmStart))
		fmt.Fprintf(&b, "| Server binary RSS after all %d list pages were cached once (memory mode) | %s |\n", bin.listPages, mb(bin.rssList))
		fmt.Fprintf(&b, "| Server binary RSS after all %d list and %d detail pages were cached once | %s |\n", bin.listPages, bin.detailPages, mb(bin.rssAll))
		for _, n := range bin.notes {
			fmt.Fprintf(&b, "| note | %s |\n", n)
		}
	}
	b.WriteString("\n")
	if rep.logs != "" {
		lines := strings.Split(strings.TrimSpace(rep.logs), "\n")
		fmt.Fprintf(&b, "The server logged %d warnings or errors during the run", len(lines))
		if len(lines) > 5 {
			lines = lines[:5]
			b.WriteString("; the first 5")
		}
		b.WriteString(":\n\n```\n" + strings.Join(lines, "\n") + "\n```\n\n")
	}
	fmt.Fprintf(&b, "The whole run took %s.\n", rep.took.Round(time.Second))
	return b.String()
}

func orQ(s string) string {
	if s == "" {
		return "unknown CPU"
	}
	return s
}

// fmtRate prints a rate with thousands separators.
func fmtRate(x float64) string {
	n := strconv.FormatInt(int64(x+0.5), 10)
	var out []byte
	for i := range len(n) {
		if i > 0 && (len(n)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, n[i])
	}
	return string(out)
}

func fmtUS(us int64) string {
	ms := float64(us) / 1000
	switch {
	case ms < 10:
		return fmt.Sprintf("%.2f ms", ms)
	case ms < 100:
		return fmt.Sprintf("%.1f ms", ms)
	}
	return fmt.Sprintf("%.0f ms", ms)
}

func fmtFloat(x float64) string {
	if x < 10 {
		return fmt.Sprintf("%.1f", x)
	}
	return fmt.Sprintf("%.0f", x)
}

func fmtDur(d time.Duration) string {
	if d < time.Second {
		return fmt.Sprintf("%d ms", d.Milliseconds())
	}
	return fmt.Sprintf("%.2f s", d.Seconds())
}

func fmtBytes(n int64) string {
	if n < 1024 {
		return strconv.FormatInt(n, 10) + " B"
	}
	return fmt.Sprintf("%.1f KB", float64(n)/1024)
}

// fmtMS3 formats d in milliseconds with three decimals.
func fmtMS3(d time.Duration) string {
	return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 3, 64)
}

// archTarget is one target of the architecture issue: a ratio of two
// measurements taken in this run, and the least it should be.
type archTarget struct {
	name  string
	value float64 // -1: a side was not measured
	min   float64
	// digits is how many decimals the measured value is printed with.
	digits int
}

func (t archTarget) measured() string {
	if t.value < 0 {
		return "n/a"
	}
	return strconv.FormatFloat(t.value, 'f', t.digits, 64)
}

func (t archTarget) met() string {
	switch {
	case t.value < 0:
		return "n/a"
	case t.value >= t.min:
		return "yes"
	}
	return "**no**"
}

// archTargets are the ratios the workshop holds itself to, each
// of two rows of this run: -1 when either was not measured.
func (rep *report) archTargets() []archTarget {
	ratio := func(a, base float64) float64 {
		if a <= 0 || base <= 0 {
			return -1
		}
		return a / base
	}
	var st float64 = -1
	if none, mem := rep.row("list/none"), rep.row("list/memory"); none != nil && mem != nil {
		st = ratio(float64(none.serverTime), float64(mem.serverTime))
	}
	return []archTarget{
		{name: "Memory-hit list page × floor (raw handler sending a memory hit's headers and bytes), req/s",
			value: ratio(rep.rps("list/memory"), rep.rps("rawhit")), min: 0.9, digits: 2},
		{name: rep.redis.label + "-hit list page × raw handler doing one go-redis GET, req/s",
			value: ratio(rep.rps("list/redis"), rep.rps("rawget")), min: 0.85, digits: 2},
		{name: "Uncached list page × raw handler, req/s",
			value: ratio(rep.rps("list/none"), rep.rps("raw")), min: 0.10, digits: 2},
		{name: "List page with fragments hot × list page with no cache, req/s",
			value: ratio(rep.rps("list/fragments"), rep.rps("list/none")), min: 1.5, digits: 2},
		{name: "Server time (Server-Timing total) of the uncached list page ÷ the memory hit's",
			value: st, min: 10, digits: 1},
		{name: "Tiered-hit list page × memory-hit list page, req/s",
			value: ratio(rep.rps("list/tiered"), rep.rps("list/memory")), min: 0.9, digits: 2},
		{name: "Tiered-hit detail page × memory-hit detail page, req/s",
			value: ratio(rep.rps("detail/tiered"), rep.rps("detail/memory")), min: 0.9, digits: 2},
	}
}
