package stats

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	"cacheworkshop/cache"
	"cacheworkshop/cache/page"
	"cacheworkshop/handlers"
	"cacheworkshop/trace"
)

// statsTimeout bounds the Redis calls of one stats request: a dead Redis
// must make the page say so, not hang it.
const statsTimeout = 500 * time.Millisecond

// clearTimeout bounds a clear, which SCANs the whole prefix in batches.
const clearTimeout = 5 * time.Second

// backendStats is one backend's counters as the page and the JSON show
// them.
type backendStats struct {
	Name      string  `json:"name"`
	Label     string  `json:"label"`
	Available bool    `json:"available"`
	Error     string  `json:"error,omitempty"`
	Hits      uint64  `json:"hits"`
	Misses    uint64  `json:"misses"`
	HitRatio  float64 `json:"hit_ratio"`
	Errors    uint64  `json:"errors"`
	Sets      uint64  `json:"sets"`
	Deletes   uint64  `json:"deletes"`
	Evictions uint64  `json:"evictions"`
	// Entries and Bytes are exact for memory. For Redis, Entries is the
	// number of keys under our prefix, counted a few SCAN calls per
	// refresh (see keycount.go), and Bytes is absent: Redis cannot tell
	// one prefix's memory, so its server-wide figures are in Server.
	Entries int `json:"entries"`
	// EntriesEstimate is set while Entries is a count still under way;
	// EntriesCountedAt and EntriesAgeS date the full pass it comes from
	// otherwise; EntriesNote says which in words. Memory's count is
	// always exact and current.
	EntriesEstimate  bool       `json:"entries_estimate"`
	EntriesCountedAt *time.Time `json:"entries_counted_at,omitempty"`
	EntriesAgeS      *int64     `json:"entries_age_s,omitempty"`
	EntriesNote      string     `json:"entries_note,omitempty"`
	Bytes            *int64     `json:"bytes,omitempty"`
	MaxBytes         int64      `json:"max_bytes,omitempty"`
	Prefix           string     `json:"prefix,omitempty"`
	// Server is Redis's own INFO: figures for the whole server, every
	// client included. On a cluster, Nodes has them node by node instead.
	Server *redisInfo  `json:"server,omitempty"`
	Nodes  []nodeStats `json:"nodes,omitempty"`

	// Display forms for the server-rendered page; stats.js formats the
	// same way when it updates the page.
	HitPct     string `json:"-"`
	BytesHuman string `json:"-"`
}

// redisInfo holds the INFO fields the page shows, under INFO's own names.
type redisInfo struct {
	UsedMemoryHuman       string  `json:"used_memory_human"`
	UsedMemoryPeakHuman   string  `json:"used_memory_peak_human"`
	MemFragmentationRatio float64 `json:"mem_fragmentation_ratio"`
	KeyspaceHits          uint64  `json:"keyspace_hits"`
	KeyspaceMisses        uint64  `json:"keyspace_misses"`
	KeyspaceHitRatio      float64 `json:"keyspace_hit_ratio"`
	OpsPerSec             uint64  `json:"instantaneous_ops_per_sec"`
	// DBKeys is every key in our database, every application's: what
	// DBSIZE says, read from INFO's keyspace section.
	DBKeys uint64 `json:"db_keys"`
}

// statsData is the page's content and, as JSON, /api/cache-stats.
type statsData struct {
	Memory      backendStats `json:"memory"`
	Redis       backendStats `json:"redis"`
	GeneratedAt time.Time    `json:"generated_at"`
	UptimeS     int64        `json:"uptime_s"`
	// AdminToken shows the token field on the clear forms (ADMIN_TOKEN).
	AdminToken bool `json:"-"`
	// ScanSteps is ScanStepsPerRefresh, for the page's explanation.
	ScanSteps int `json:"-"`
}

func statsOf(st cache.Stats) backendStats {
	return backendStats{Hits: st.Hits, Misses: st.Misses, HitRatio: st.HitRatio(), Errors: st.Errors,
		Sets: st.Sets, Deletes: st.Deletes, Evictions: st.Evictions, Entries: st.Entries, MaxBytes: st.MaxBytes,
		HitPct: strconv.FormatFloat(st.HitRatio()*100, 'f', 1, 64) + "%"}
}

// humanBytes formats n in binary units, like Redis's *_human fields, so
// the two backends' memory figures read alike.
func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return strconv.FormatFloat(float64(n)/(1<<30), 'f', 2, 64) + "G"
	case n >= 1<<20:
		return strconv.FormatFloat(float64(n)/(1<<20), 'f', 2, 64) + "M"
	case n >= 1<<10:
		return strconv.FormatFloat(float64(n)/(1<<10), 'f', 2, 64) + "K"
	}
	return strconv.FormatInt(n, 10) + "B"
}

// collect reads both backends. Memory cannot fail; a Redis failure becomes
// Available=false with the reason, never an error page: the statistics
// page is where a learner goes to find out that Redis is down.
func (l *Lesson) collect(ctx context.Context) statsData {
	d := statsData{GeneratedAt: time.Now().UTC(), UptimeS: int64(time.Since(l.started) / time.Second),
		AdminToken: l.kit.AdminToken != "", ScanSteps: ScanStepsPerRefresh}
	ms := l.memory.Stats()
	d.Memory = statsOf(ms)
	d.Memory.Name, d.Memory.Label, d.Memory.Available = "memory", l.kit.Label(cache.ModeMemory), true
	d.Memory.Bytes, d.Memory.BytesHuman = &ms.Bytes, humanBytes(ms.Bytes)

	d.Redis = statsOf(l.redis.Stats())
	d.Redis.Name, d.Redis.Label, d.Redis.Prefix = "redis", l.kit.Label(cache.ModeRedis), l.redis.Prefix()
	ctx, cancel := context.WithTimeout(ctx, statsTimeout)
	defer cancel()
	var nodes []cache.NodeInfo
	err := traceRedis(ctx, "INFO memory stats keyspace", func() (err error) {
		if nodes, err = l.redis.NodesInfo(ctx, "memory", "stats", "keyspace"); err == nil {
			for _, n := range nodes {
				if err == nil {
					err = n.Err
				}
			}
		}
		return err
	})
	var kc keyCount
	var perNode map[string]keyCount
	if err == nil {
		kc, perNode, err = l.countKeys(ctx, nodes)
	}
	if l.redis.Cluster() && nodes != nil {
		d.Redis.Nodes = nodeRows(nodes, perNode, l.redis.DB())
	}
	if err != nil {
		d.Redis.Error = "Redis unavailable: " + page.Short(err)
		return d
	}
	d.Redis.Available = true
	if !l.redis.Cluster() {
		d.Redis.Server = parseRedisInfo(nodes[0].Info, l.redis.DB())
	}
	d.Redis.Entries, d.Redis.EntriesEstimate, d.Redis.EntriesNote = kc.N, kc.Estimate, kc.note(d.GeneratedAt)
	if !kc.Estimate {
		at, age := kc.CountedAt.UTC(), int64(d.GeneratedAt.Sub(kc.CountedAt)/time.Second)
		d.Redis.EntriesCountedAt, d.Redis.EntriesAgeS = &at, &age
	}
	return d
}

// countKeys advances the count of our keys and records in the trace the
// SCAN calls it made, if any (another refresh may be making them).
func (l *Lesson) countKeys(ctx context.Context, nodes []cache.NodeInfo) (keyCount, map[string]keyCount, error) {
	t0 := time.Now()
	kc, perNode, steps, ended, err := l.keys.refresh(ctx, nodes)
	if steps == 0 {
		return kc, perNode, err
	}
	what := "SCAN " + l.redis.Prefix() + "* ×" + strconv.Itoa(steps)
	if ended {
		what += ", pass complete"
	} else {
		what += ", pass continues"
	}
	lk := trace.Lookup{Layer: "stats", Backend: "redis", Key: what, Outcome: "read", Dur: time.Since(t0)}
	if err != nil {
		lk.Outcome = trace.Error
	}
	trace.From(ctx).Cache(lk)
	return kc, perNode, err
}

// traceRedis runs one raw Redis command of the stats read and records it
// in the request's trace. These are not cache lookups (cache.Traced records
// those), but the trace should still show what reading the figures cost.
func traceRedis(ctx context.Context, what string, call func() error) error {
	t0 := time.Now()
	err := call()
	l := trace.Lookup{Layer: "stats", Backend: "redis", Key: what, Outcome: "read", Dur: time.Since(t0)}
	if err != nil {
		l.Outcome = trace.Error
	}
	trace.From(ctx).Cache(l)
	return err
}

// parseRedisInfo picks our fields out of INFO's "name:value" lines; db is
// the database number whose keyspace line ("db0:keys=12,expires=3,...")
// gives DBKeys.
func parseRedisInfo(raw string, db int) *redisInfo {
	in := &redisInfo{}
	dbName := "db" + strconv.Itoa(db)
	for line := range strings.Lines(raw) {
		k, v, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok {
			continue
		}
		switch k {
		case dbName:
			for _, kv := range strings.Split(v, ",") {
				if n, ok := strings.CutPrefix(kv, "keys="); ok {
					in.DBKeys, _ = strconv.ParseUint(n, 10, 64)
				}
			}
		case "used_memory_human":
			in.UsedMemoryHuman = v
		case "used_memory_peak_human":
			in.UsedMemoryPeakHuman = v
		case "mem_fragmentation_ratio":
			in.MemFragmentationRatio, _ = strconv.ParseFloat(v, 64)
		case "keyspace_hits":
			in.KeyspaceHits, _ = strconv.ParseUint(v, 10, 64)
		case "keyspace_misses":
			in.KeyspaceMisses, _ = strconv.ParseUint(v, 10, 64)
		case "instantaneous_ops_per_sec":
			in.OpsPerSec, _ = strconv.ParseUint(v, 10, 64)
		}
	}
	if t := in.KeyspaceHits + in.KeyspaceMisses; t > 0 {
		in.KeyspaceHitRatio = float64(in.KeyspaceHits) / float64(t)
	}
	return in
}

// servePage is the statistics page. Its figures are this moment's, so it
// is a live page: never cached, its bar says BYPASS. A clear's result
// arrives as a flash message, which the bar shows.
func (l *Lesson) servePage(w http.ResponseWriter, r *http.Request) error {
	return l.kit.Live(w, r, "stats", "Cache statistics", "stats", l.collect(r.Context()))
}

// serveJSON is what stats.js polls to update the page in place.
func (l *Lesson) serveJSON(w http.ResponseWriter, r *http.Request) error {
	trace.From(r.Context()).Cache(trace.Lookup{Layer: "page", Backend: "none", Key: "api-cache-stats", Outcome: trace.Bypass})
	l.kit.JSON(w, r, http.StatusOK, l.collect(r.Context()))
	return nil
}

// serveClear empties one backend, then sends the browser back to the page
// with a message saying what went. Cross-site posts never get here: the
// router's CrossOriginProtection refuses them.
func (l *Lesson) serveClear(w http.ResponseWriter, r *http.Request) error {
	if err := handlers.ParseForm(w, r); err != nil {
		return err
	}
	backend, _, err := handlers.FormValue(r, "backend")
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(r.Context(), clearTimeout)
	defer cancel()
	switch backend {
	case "memory":
		n := l.memory.Stats().Entries
		_ = l.memory.Clear(ctx) // memory cannot fail
		l.kit.Flash(w, "Cleared the memory cache of this instance: "+count(n, "entry", "entries")+" removed and its counters reset.")
	case "redis":
		l.clearRedis(ctx, w)
	default:
		return handlers.BadRequest("backend must be memory or redis (got " + strconv.Quote(clip(backend, 24)) + ").")
	}
	http.Redirect(w, r, "/cache-stats", http.StatusSeeOther)
	return nil
}

// clearRedis removes our keys from the shared Redis. Clear (the
// cache.Clearer ability) deletes only keys under our prefix, with SCAN and
// UNLINK, never FLUSHDB, so other applications' data in the same Redis
// survives. It keeps the generation counters ({gen}:*): every instance
// sharing this Redis checks its entries against them.
func (l *Lesson) clearRedis(ctx context.Context, w http.ResponseWriter) {
	label, prefix := l.kit.Label(cache.ModeRedis), l.redis.Prefix()
	before, err := l.redis.CountKeys(ctx)
	if err != nil {
		l.kit.Flash(w, "Redis unavailable: nothing was cleared.", page.Short(err))
		return
	}
	err = l.redis.Clear(ctx)
	// Whatever went, the count the page shows is wrong now.
	l.keys.reset()
	if err != nil {
		l.kit.Flash(w, "Redis failed during the clear: some keys under "+prefix+" may remain.", page.Short(err))
		return
	}
	// Clear zeroes the counters that could have said how many keys went,
	// so the figure is the difference of two counts. What remains is the
	// generation counters, plus any key another request stored meanwhile.
	after, err := l.redis.CountKeys(ctx)
	if err != nil {
		l.kit.Flash(w, "Cleared "+label+": the keys under "+prefix+" were removed and the client counters reset."+
			" Other keys in the same Redis were not touched.", "The keys left could not be counted: "+page.Short(err))
		return
	}
	l.kit.Flash(w, "Cleared "+label+": "+count(max(0, before-after), "key", "keys")+" under "+prefix+
		" removed and the client counters reset; "+count(after, "key remains", "keys remain")+
		", the generation counters a clear keeps. Other keys in the same Redis were not touched.")
}

// count writes n with the singular or plural noun.
func count(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}

// clip shortens s for an error message.
func clip(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
