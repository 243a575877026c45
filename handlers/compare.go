package handlers

import (
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"cacheworkshop/cache"
	"cacheworkshop/trace"
)

// Comparison sampling. Warm-up requests fill each cache (and the database's
// page cache) so the samples measure steady state; samples are interleaved
// across modes so a burst of noise on a shared machine hurts every mode
// alike instead of one.
const (
	compareWarmup  = 2
	compareSamples = 40
	// compareDegraded is the sample count for a cache that missed its
	// last warm-up (Redis down): each such request may wait for a
	// connection timeout, and a few samples already show the problem.
	compareDegraded = 5
)

// compareRoutes registers the cache comparison page.
func (s *Server) compareRoutes(r chi.Router) {
	r.Get("/products/compare", s.handle(s.serveCompare))
}

// compareRow is one mode's measurements.
type compareRow struct {
	Mode    string
	Label   string
	Median  time.Duration
	P95     time.Duration
	Min     time.Duration
	Max     time.Duration
	Samples []time.Duration
	// Outcomes counts the X-Cache values the samples got, so a Redis
	// outage shows as MISSes rather than as a fast "Redis".
	Outcomes string
	AllHits  bool
	Fastest  bool
	// Degraded says the cache missed its warm-up, so fewer samples were
	// taken.
	Degraded bool
	// SamplesMS is the sample list for the chart, in milliseconds.
	SamplesMS string
	Failed    int
}

type compareData struct {
	Page     int
	LastPage int
	PrevURL  string
	NextURL  string
	ListURL  string
	Warmup   int
	Samples  int
	Rows     []compareRow
	Took     time.Duration
	Speedup  string
}

func compareURL(page int) string { return "/products/compare?page=" + strconv.Itoa(page) }

func (s *Server) serveCompare(w http.ResponseWriter, r *http.Request) error {
	page, err := parsePositive(r, "page", 1, 1, 1_000_000)
	if err != nil {
		return err
	}
	total, err := s.store.Count(r.Context())
	if err != nil {
		return err
	}
	last := max(int((total+defaultPerPage-1)/defaultPerPage), 1)
	if page > last {
		return errBadRequest(fmt.Sprintf("page must be from 1 to %d (got %d).", last, page))
	}
	d := compareData{Page: page, LastPage: last, ListURL: listURL(page, defaultPerPage),
		Warmup: compareWarmup, Samples: compareSamples}
	if page > 1 {
		d.PrevURL = compareURL(page - 1)
	}
	if page < last {
		d.NextURL = compareURL(page + 1)
	}
	t0 := time.Now()
	rows, err := s.measureList(r, page)
	if err != nil {
		return err
	}
	d.Took = time.Since(t0)
	d.Rows = rows
	fast := -1
	for i := range rows {
		if len(rows[i].Samples) > 0 && (fast < 0 || rows[i].Median < rows[fast].Median) {
			fast = i
		}
	}
	if fast >= 0 {
		rows[fast].Fastest = true
	}
	if fast > 0 && rows[0].Median > 0 && rows[fast].Median > 0 {
		d.Speedup = strconv.FormatFloat(float64(rows[0].Median)/float64(rows[fast].Median), 'f', 1, 64)
	}
	return s.writeLive(w, r, "compare", fmt.Sprintf("Cache comparison, page %d", page), "compare",
		fmt.Sprintf("This page is a measurement, so it is never cached: it just fetched the list page %d times in each mode.", compareWarmup+compareSamples), d)
}

// measureList fetches the list page through the real handler stack in
// each mode, in process: what is timed is the server's own work (lookup,
// or query and render), without the network between it and a browser.
func (s *Server) measureList(r *http.Request, page int) ([]compareRow, error) {
	target := "/products?page=" + strconv.Itoa(page) + "&cache="
	samples := make([][]time.Duration, len(cache.Modes))
	outcomes := make([]map[string]int, len(cache.Modes))
	failed := make([]int, len(cache.Modes))
	for i := range outcomes {
		outcomes[i] = map[string]int{}
	}
	limit := make([]int, len(cache.Modes))
	last := make([]string, len(cache.Modes))
	one := func(i int, m cache.Mode, keep bool) error {
		if err := r.Context().Err(); err != nil {
			return err
		}
		if keep && len(samples[i])+failed[i] >= limit[i] {
			return nil
		}
		req := httptest.NewRequestWithContext(r.Context(), http.MethodGet, target+m.String(), nil)
		rec := httptest.NewRecorder()
		t0 := time.Now()
		s.ServeHTTP(rec, req)
		d := time.Since(t0)
		if !keep {
			last[i] = rec.Header().Get("X-Cache")
			return nil
		}
		if rec.Code != http.StatusOK {
			failed[i]++
			return nil
		}
		samples[i] = append(samples[i], d)
		outcomes[i][rec.Header().Get("X-Cache")]++
		return nil
	}
	for i, m := range cache.Modes {
		for range compareWarmup {
			if err := one(i, m, false); err != nil {
				return nil, err
			}
		}
		limit[i] = compareSamples
		if m != cache.ModeNone && last[i] != trace.Hit {
			limit[i] = compareDegraded
		}
	}
	for range compareSamples {
		for i, m := range cache.Modes {
			if err := one(i, m, true); err != nil {
				return nil, err
			}
		}
	}
	rows := make([]compareRow, len(cache.Modes))
	for i, m := range cache.Modes {
		row := compareRow{Mode: m.String(), Label: m.Label(), Samples: samples[i], Failed: failed[i],
			Degraded: limit[i] < compareSamples}
		if m == cache.ModeRedis {
			row.Label = s.redisLabel()
		}
		sorted := slices.Clone(samples[i])
		slices.Sort(sorted)
		if n := len(sorted); n > 0 {
			row.Median = percentile(sorted, 0.5)
			row.P95 = percentile(sorted, 0.95)
			row.Min, row.Max = sorted[0], sorted[n-1]
		}
		ms := make([]string, len(samples[i]))
		for j, d := range samples[i] {
			ms[j] = trace.Millis(d)
		}
		row.SamplesMS = strings.Join(ms, " ")
		var parts []string
		for _, o := range []string{trace.Hit, trace.Miss, trace.Bypass} {
			if n := outcomes[i][o]; n > 0 {
				parts = append(parts, strconv.Itoa(n)+" "+o)
			}
		}
		row.Outcomes = strings.Join(parts, ", ")
		row.AllHits = m != cache.ModeNone && outcomes[i][trace.Hit] == len(samples[i]) && len(samples[i]) > 0
		rows[i] = row
	}
	return rows, nil
}

// percentile is the nearest-rank percentile of sorted samples: always one
// of the measured values, never an interpolation.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(p*float64(len(sorted)))) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}
