package eviction

import (
	"math"
	"strconv"
	"strings"
	"time"

	"cacheworkshop/trace"
)

// pageData is what templates/eviction.html shows.
type pageData struct {
	Seed     uint64
	Skew     string
	Skews    []string
	Lookups  int
	Pages    int
	Distinct int
	// Best is the best hit ratio any policy could reach on this trace:
	// every page's first lookup misses.
	Best      string
	Total     string
	Rows      []row
	Chart     chart
	Took      string
	Fresh     bool
	Ago       string
	MemBudget string
	// MemFits says how many times over the catalogue's pages fit in this
	// server's memory budget (below 1: only part of them do).
	MemFits string
	Redis   redisMemory
}

// row is one budget's results.
type row struct {
	Budget, Pct   string
	LRU, TinyLFU  string
	LRUEvictions  uint64
	TinyEvictions uint64
	// Gain is W-TinyLFU's hit ratio minus the LRU's, in points.
	Gain string
}

// chart is the hit-ratio plot, laid out here and drawn by the template:
// the budget on a logarithmic x axis, the hit ratio on y.
type chart struct {
	W, H                   int
	Left, Right, Top, Base float64
	Series                 []series
	XTicks, YTicks         []tick
	BestY                  float64
}

type series struct {
	Name, Class, Points string
	Dots                []dot
}

type dot struct {
	X, Y  float64
	Title string
}

type tick struct {
	At    float64
	Label string
}

func pct(r float64) string { return strconv.FormatFloat(r*100, 'f', 1, 64) + "%" }

func (l *Lesson) pageData(rep *replay, fresh bool, rm redisMemory) pageData {
	best := 1 - float64(rep.Distinct)/float64(rep.Lookups)
	d := pageData{Seed: rep.Seed, Skew: rep.Skew, Skews: skews, Lookups: rep.Lookups, Pages: rep.Pages, Distinct: rep.Distinct,
		Best: pct(best), Total: humanBytes(rep.TotalCost), Took: trace.Millis(rep.Took), Fresh: fresh,
		Ago: time.Since(rep.At).Round(time.Second).String(), Redis: rm}
	mb := l.kit.Memory.Stats().MaxBytes
	d.MemBudget = humanBytes(mb)
	d.MemFits = strconv.FormatFloat(float64(mb)/float64(rep.TotalCost), 'f', 1, 64)
	for i, pc := range budgetPercents {
		lru, tl := rep.LRU[i], rep.TinyLFU[i]
		d.Rows = append(d.Rows, row{Budget: humanBytes(lru.Budget), Pct: strconv.FormatFloat(pc, 'f', -1, 64) + "%",
			LRU: pct(lru.HitRatio()), TinyLFU: pct(tl.HitRatio()), LRUEvictions: lru.Evictions, TinyEvictions: tl.Evictions,
			Gain: strconv.FormatFloat((tl.HitRatio()-lru.HitRatio())*100, 'f', 1, 64)})
	}
	d.Chart = plot(rep, best)
	return d
}

// plot lays the two series out on a 640 × 320 canvas.
func plot(rep *replay, best float64) chart {
	c := chart{W: 640, H: 320, Left: 56, Right: 624, Top: 16, Base: 280}
	x := func(pc float64) float64 {
		return c.Left + math.Log10(pc)/2*(c.Right-c.Left) // 1 % … 100 %
	}
	y := func(ratio float64) float64 { return c.Base - ratio*(c.Base-c.Top) }
	for _, pc := range budgetPercents {
		c.XTicks = append(c.XTicks, tick{At: round(x(pc)), Label: strconv.FormatFloat(pc, 'f', -1, 64) + "%"})
	}
	for _, r := range []float64{0, .25, .5, .75, 1} {
		c.YTicks = append(c.YTicks, tick{At: round(y(r)), Label: strconv.Itoa(int(r*100)) + "%"})
	}
	c.BestY = round(y(best))
	for _, s := range []struct {
		name, class string
		res         []Result
	}{{"LRU (cache.Memory)", "ev-lru", rep.LRU}, {"W-TinyLFU (otter)", "ev-tinylfu", rep.TinyLFU}} {
		ser := series{Name: s.name, Class: s.class}
		var pts []string
		for i, res := range s.res {
			px, py := round(x(budgetPercents[i])), round(y(res.HitRatio()))
			pts = append(pts, strconv.FormatFloat(px, 'f', -1, 64)+","+strconv.FormatFloat(py, 'f', -1, 64))
			ser.Dots = append(ser.Dots, dot{X: px, Y: py, Title: s.name + " at " + humanBytes(res.Budget) + ": " + pct(res.HitRatio())})
		}
		ser.Points = strings.Join(pts, " ")
		c.Series = append(c.Series, ser)
	}
	return c
}

func round(v float64) float64 { return math.Round(v*10) / 10 }
