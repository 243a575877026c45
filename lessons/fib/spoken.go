package fib

import (
	"strconv"
	"strings"
	"time"
)

// spoken writes a duration the way people write one: "850 ns", "340 µs",
// "12.5 ms", "1.2 s", "5 min", "1 h 30 min", with three significant
// digits below a minute, rather than Go's "5m0s" or a column of
// milliseconds where a map lookup reads as 0.000.
func spoken(d time.Duration) string {
	switch {
	case d < 0:
		return "-" + spoken(-d)
	// Each unit serves up to what would round to 1000 of it (60 for
	// seconds), so 999.7 µs reads "1 ms", not "1000 µs".
	case d < time.Microsecond:
		return strconv.FormatInt(int64(d), 10) + " ns"
	case d < 999500*time.Nanosecond:
		return sig3(float64(d)/float64(time.Microsecond)) + " µs"
	case d < 999500*time.Microsecond:
		return sig3(float64(d)/float64(time.Millisecond)) + " ms"
	case d < 59950*time.Millisecond:
		return sig3(d.Seconds()) + " s"
	case d < time.Hour-30*time.Second:
		d = d.Round(time.Second)
		return withRest(int(d/time.Minute), "min", int(d%time.Minute/time.Second), "s")
	}
	d = d.Round(time.Minute)
	return withRest(int(d/time.Hour), "h", int(d%time.Hour/time.Minute), "min")
}

// sig3 writes x (at least 1) with three significant digits, without
// trailing zeros: 340, 12.5, 1.2.
func sig3(x float64) string {
	prec := 2
	switch {
	case x >= 99.95:
		prec = 0
	case x >= 9.995:
		prec = 1
	}
	s := strconv.FormatFloat(x, 'f', prec, 64)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}

// withRest writes "5 min" or "5 min 30 s": the smaller unit only when it
// is not zero.
func withRest(n int, unit string, rest int, restUnit string) string {
	s := strconv.Itoa(n) + " " + unit
	if rest > 0 {
		s += " " + strconv.Itoa(rest) + " " + restUnit
	}
	return s
}
