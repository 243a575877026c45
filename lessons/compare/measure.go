package compare

import (
	"context"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"time"

	"cacheworkshop/cache"
	"cacheworkshop/trace"
)

// Sampling. Warm-up requests fill each cache (and the database's page
// cache) so the samples measure steady state; samples are interleaved
// across modes so a burst of noise on a shared machine hurts every mode
// alike instead of one.
const (
	warmup  = 2
	samples = 40
	// detailSamples is the sample count for a detail page, whose every
	// uncached load pays the simulated slow query (SLOW_QUERY_MS, 300 ms
	// by default): mode none's samples alone take a few seconds.
	detailSamples = 10
	// degraded is the sample count for a cache that missed its last
	// warm-up (Redis down): each such request may wait for a connection
	// timeout, and a few samples already show the problem.
	degraded = 5
)

// modeRow is one mode's measurements, a row of the results table.
type modeRow struct {
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
	// Failed counts samples that were not a 200; they are not timed.
	Failed int
}

// sampler collects one mode's requests.
type sampler struct {
	mode     cache.Mode
	limit    int    // samples to take
	last     string // X-Cache of the last warm-up
	times    []time.Duration
	outcomes map[string]int
	failed   int
}

// measure fetches target through the real handler stack in each mode, n
// times each, in process: what is timed is the server's own work (lookup,
// or query and render), without the network between it and a browser.
func (l *Lesson) measure(r *http.Request, target string, n int) ([]modeRow, error) {
	sep := "?"
	if strings.Contains(target, "?") {
		sep = "&"
	}
	// The samples are new requests, not parts of this one: they share its
	// cancellation (closing the tab stops the run) but none of its context
	// values, such as its trace or the router's state for this request.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	defer context.AfterFunc(r.Context(), cancel)()

	handler := l.k.Handler()
	// fetch sends one request in s's mode and returns its status, X-Cache
	// and duration. The response carries no cookie back to the learner,
	// so their own mode is left alone.
	fetch := func(s *sampler) (int, string, time.Duration, error) {
		if err := ctx.Err(); err != nil {
			return 0, "", 0, err
		}
		req := httptest.NewRequestWithContext(ctx, http.MethodGet, target+sep+"cache="+s.mode.String(), nil)
		rec := httptest.NewRecorder()
		t0 := time.Now()
		handler.ServeHTTP(rec, req)
		return rec.Code, rec.Header().Get("X-Cache"), time.Since(t0), nil
	}

	ss := make([]*sampler, len(cache.Modes))
	for i, m := range cache.Modes {
		s := &sampler{mode: m, limit: n, outcomes: map[string]int{}}
		for range warmup {
			_, xc, _, err := fetch(s)
			if err != nil {
				return nil, err
			}
			s.last = xc
		}
		if m != cache.ModeNone && s.last != trace.Hit {
			s.limit = min(degraded, n)
		}
		ss[i] = s
	}
	for range n {
		for _, s := range ss {
			if len(s.times)+s.failed >= s.limit {
				continue
			}
			code, xc, d, err := fetch(s)
			if err != nil {
				return nil, err
			}
			if code != http.StatusOK {
				s.failed++
				continue
			}
			s.times = append(s.times, d)
			s.outcomes[xc]++
		}
	}
	rows := make([]modeRow, len(ss))
	for i, s := range ss {
		rows[i] = l.row(s, n)
	}
	return rows, nil
}

// row summarises a sampler's measurements; n is the samples it was to take.
func (l *Lesson) row(s *sampler, n int) modeRow {
	row := modeRow{Mode: s.mode.String(), Label: l.k.Label(s.mode), Samples: s.times, Failed: s.failed,
		Degraded: s.limit < n}
	sorted := slices.Sorted(slices.Values(s.times))
	if n := len(sorted); n > 0 {
		row.Median = percentile(sorted, 0.5)
		row.P95 = percentile(sorted, 0.95)
		row.Min, row.Max = sorted[0], sorted[n-1]
	}
	ms := make([]string, len(s.times))
	for j, d := range s.times {
		ms[j] = trace.Millis(d)
	}
	row.SamplesMS = strings.Join(ms, " ")
	var parts []string
	for _, o := range []string{trace.Hit, trace.Miss, trace.Bypass} {
		if n := s.outcomes[o]; n > 0 {
			parts = append(parts, strconv.Itoa(n)+" "+o)
		}
	}
	row.Outcomes = strings.Join(parts, ", ")
	row.AllHits = s.mode != cache.ModeNone && len(s.times) > 0 && s.outcomes[trace.Hit] == len(s.times)
	return row
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
