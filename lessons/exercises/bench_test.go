package exercises

import (
	"strconv"
	"testing"
)

// BenchmarkRecord is what a learner's request costs the log once the
// request is served: one event appended, and now and then (a log at its
// cap) the checks run before a fifth of the events is dropped.
func BenchmarkRecord(b *testing.B) {
	l := NewLog(DefaultLimits, All)
	evs := make([]string, 1000)
	for i := range evs {
		evs[i] = strconv.Itoa(i%1000 + 1)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		id, _ := strconv.Atoi(evs[i%len(evs)])
		l.Record("learner", detail(id, "memory", "MISS"))
		i++
	}
}

// BenchmarkProgress checks every exercise against a full learner log, as
// /api/exercises (the header's progress line) does on each page view.
func BenchmarkProgress(b *testing.B) {
	l := NewLog(DefaultLimits, All)
	for i := range DefaultLimits.PerLearner {
		l.Record("learner", detail(i%1000+1, []string{"none", "memory", "redis"}[i%3], []string{"MISS", "HIT"}[i%2]))
	}
	b.ReportAllocs()
	for b.Loop() {
		l.Progress("learner")
	}
}
