package handlers

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"cacheworkshop/cache"
	"cacheworkshop/trace"
)

// statsTimeout bounds the Redis calls of one stats request: a dead Redis
// must make the page say so, not hang it.
const statsTimeout = 500 * time.Millisecond

// statsRoutes registers the cache statistics page, its JSON and the
// per-backend clear action.
func (s *Server) statsRoutes(r chi.Router) {
	r.Get("/cache-stats", s.handle(s.serveStats))
	r.Get("/api/cache-stats", s.handle(s.serveStatsJSON))
	r.Post("/cache-stats/clear", s.handle(s.serveStatsClear))
}

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
	// number of keys under our prefix, and Bytes is absent: Redis cannot
	// tell one prefix's memory, so its server-wide figures are in Server.
	Entries  int    `json:"entries"`
	Bytes    *int64 `json:"bytes,omitempty"`
	MaxBytes int64  `json:"max_bytes,omitempty"`
	Prefix   string `json:"prefix,omitempty"`
	// Server is Redis's own INFO: figures for the whole server, every
	// client included.
	Server *redisInfo `json:"server,omitempty"`

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
}

type statsData struct {
	Memory      backendStats `json:"memory"`
	Redis       backendStats `json:"redis"`
	GeneratedAt time.Time    `json:"generated_at"`
	UptimeS     int64        `json:"uptime_s"`
	// Message is a one-time result of a clear, for the page only.
	Message string `json:"-"`
	Warn    bool   `json:"-"`
	// AdminToken shows the token field on the clear forms (ADMIN_TOKEN).
	AdminToken bool `json:"-"`
}

func statsOf(st cache.Stats) backendStats {
	return backendStats{Hits: st.Hits, Misses: st.Misses, HitRatio: st.HitRatio(), Errors: st.Errors,
		Sets: st.Sets, Deletes: st.Deletes, Evictions: st.Evictions, Entries: st.Entries,
		MaxBytes: st.MaxBytes,
		HitPct:   strconv.FormatFloat(st.HitRatio()*100, 'f', 1, 64) + "%", BytesHuman: humanBytes(st.Bytes)}
}

// humanBytes formats n in binary units, like Redis's *_human fields.
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

// collectStats reads both backends. Memory cannot fail; Redis failures
// become Available=false with the reason, never an error page.
func (s *Server) collectStats(ctx context.Context) statsData {
	d := statsData{GeneratedAt: time.Now().UTC(), UptimeS: int64(time.Since(s.started) / time.Second), AdminToken: s.cfg.AdminToken != ""}
	ms := s.memory.Stats()
	d.Memory = statsOf(ms)
	d.Memory.Bytes = &ms.Bytes
	d.Memory.Name, d.Memory.Label, d.Memory.Available = "memory", "Memory", true

	d.Redis = statsOf(s.redis.Stats())
	d.Redis.Name, d.Redis.Label, d.Redis.Prefix = "redis", s.redisLabel(), s.redis.Prefix()
	ctx, cancel := context.WithTimeout(ctx, statsTimeout)
	defer cancel()
	t0 := time.Now()
	raw, err := s.redis.Client().Info(ctx, "memory", "stats").Result()
	l := trace.Lookup{Layer: "stats", Backend: "redis", Key: "INFO memory stats", Outcome: "read", Dur: time.Since(t0)}
	if err != nil {
		l.Outcome = trace.Error
		trace.From(ctx).Cache(l)
		d.Redis.Error = "Redis unavailable: " + short(err)
		return d
	}
	trace.From(ctx).Cache(l)
	t0 = time.Now()
	n, err := s.redis.CountKeys(ctx)
	l = trace.Lookup{Layer: "stats", Backend: "redis", Key: "SCAN " + s.redis.Prefix() + "*", Outcome: "read", Dur: time.Since(t0)}
	if err != nil {
		l.Outcome = trace.Error
		trace.From(ctx).Cache(l)
		d.Redis.Error = "Redis unavailable: " + short(err)
		return d
	}
	trace.From(ctx).Cache(l)
	d.Redis.Available = true
	d.Redis.Entries = n
	d.Redis.Server = parseRedisInfo(raw)
	return d
}

// parseRedisInfo picks our fields out of INFO's "name:value" lines.
func parseRedisInfo(raw string) *redisInfo {
	in := &redisInfo{}
	for line := range strings.Lines(raw) {
		k, v, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok {
			continue
		}
		switch k {
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

const statsWhy = "Statistics are live figures: they are read on every request and never cached."

func (s *Server) serveStats(w http.ResponseWriter, r *http.Request) error {
	d := s.collectStats(r.Context())
	if f, ok := s.takeFlash(w, r); ok {
		d.Message = f.Message
		d.Warn = len(f.Details) > 0
	}
	return s.writeLive(w, r, "stats", "Cache statistics", "stats", statsWhy, d)
}

func (s *Server) serveStatsJSON(w http.ResponseWriter, r *http.Request) error {
	tr := trace.From(r.Context())
	tr.Cache(trace.Lookup{Layer: "page", Backend: "none", Key: "api-cache-stats", Outcome: trace.Bypass})
	d := s.collectStats(r.Context())
	body, err := json.Marshal(d)
	if err != nil {
		return err
	}
	h := w.Header()
	h.Set("X-Cache", trace.Bypass)
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(body)+1))
	h.Set("Server-Timing", tr.Snapshot().ServerTiming())
	_, _ = w.Write(append(body, '\n'))
	return nil
}

// serveStatsClear empties one backend. Cross-site posts never get here:
// the router's CrossOriginProtection refuses them.
func (s *Server) serveStatsClear(w http.ResponseWriter, r *http.Request) error {
	r.Body = http.MaxBytesReader(w, r.Body, 4<<10)
	if err := r.ParseForm(); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return err
		}
		return errBadRequest("The form could not be read: " + clip(err.Error(), 100))
	}
	if vs := r.PostForm["backend"]; len(vs) > 1 && slices.ContainsFunc(vs[1:], func(v string) bool { return v != vs[0] }) {
		return errBadRequest("backend was sent several times with different values; send it once.")
	}
	var f flash
	switch b := r.PostForm.Get("backend"); b {
	case "memory":
		n := s.memory.Stats().Entries
		s.memory.Clear()
		f.Message = "Cleared the memory cache of this instance: " + strconv.Itoa(n) + " entries removed and its counters reset."
	case "redis":
		ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
		defer cancel()
		before := s.redis.Stats().Deletes
		// Only keys under our prefix go (SCAN + UNLINK, never FLUSHDB),
		// the generation counters (gen:*) included. That is safe by
		// design: RedisGens re-creates a missing counter at the current
		// time in nanoseconds, a value no stored entry was built under,
		// so no old entry can match again.
		if err := s.redis.DeletePrefix(ctx, ""); err != nil {
			f.Message = "Redis unavailable: nothing was cleared (" + short(err) + ")."
			f.Details = []string{"error"}
			break
		}
		// UNLINK's own count, not a SCAN beforehand: keys can come and
		// go between the two.
		n := s.redis.Stats().Deletes - before
		s.redis.ResetStats()
		f.Message = "Cleared " + s.redisLabel() + ": " + strconv.FormatUint(n, 10) + " keys under " + s.redis.Prefix() + " removed and the client counters reset. Other keys in the same Redis were not touched."
	default:
		return errBadRequest("backend must be memory or redis (got " + strconv.Quote(clip(b, 24)) + ").")
	}
	setFlash(w, f)
	http.Redirect(w, r, "/cache-stats", http.StatusSeeOther)
	return nil
}
