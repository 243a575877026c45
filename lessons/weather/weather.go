package weather

// This file is the pure part of the lesson: validating and normalising
// city names into cache keys, the list of cities the simulated upstream
// knows, and its readings, which drift with time but are a deterministic
// function of city and instant, so tests and learners can reason about
// them.

import (
	"errors"
	"hash/fnv"
	"math"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// City is a place the simulated weather service knows: its name as shown,
// and other names people use for it. Case, spacing and the apostrophe's
// shape never matter (see Normalize), so aliases list only real
// differences: other languages, accents left out, abbreviations.
type City struct {
	Name    string
	Aliases []string
}

// cities is everything the simulated upstream knows; it answers 404 for
// any other name. It is also what bounds the API's cache, since only a
// listed city gets keys of its own: a list, unlike the names clients
// send, has an end.
var cities = []City{
	{"Amsterdam", nil},
	{"Athens", []string{"Athina"}},
	{"Bangkok", nil},
	{"Barcelona", nil},
	{"Beijing", []string{"Peking", "北京"}},
	{"Bergen", nil},
	{"Berlin", nil},
	{"Brussels", []string{"Bruxelles", "Brussel"}},
	{"Buenos Aires", nil},
	{"Cairo", nil},
	{"Cape Town", []string{"Kaapstad"}},
	{"Chicago", nil},
	{"Copenhagen", []string{"København", "Kobenhavn"}},
	{"Delhi", []string{"New Delhi"}},
	{"Dublin", nil},
	{"Helsinki", nil},
	{"Istanbul", nil},
	{"Kraków", []string{"Krakow", "Cracow"}},
	{"L'Aquila", nil},
	{"Lagos", nil},
	{"Lisbon", []string{"Lisboa"}},
	{"London", nil},
	{"Los Angeles", []string{"LA"}},
	{"Lyon", []string{"Lyons"}},
	{"Madrid", nil},
	{"Mexico City", []string{"Ciudad de México", "Ciudad de Mexico", "CDMX"}},
	{"Montréal", []string{"Montreal"}},
	{"Moscow", []string{"Moskva"}},
	{"Mumbai", []string{"Bombay"}},
	{"N'Djamena", []string{"Ndjamena"}},
	{"Nairobi", nil},
	{"Nantes", nil},
	{"New York", []string{"NYC", "New York City"}},
	{"Oslo", nil},
	{"Paris", nil},
	{"Prague", []string{"Praha"}},
	{"Rio de Janeiro", []string{"Rio"}},
	{"Rome", []string{"Roma"}},
	{"Saint-Étienne", []string{"Saint-Etienne", "St-Étienne", "St-Etienne"}},
	{"San Francisco", []string{"SF"}},
	{"São Paulo", []string{"Sao Paulo"}},
	{"Seoul", nil},
	{"Singapore", nil},
	{"Stockholm", nil},
	{"Sydney", nil},
	{"Tokyo", []string{"東京"}},
	{"Toronto", nil},
	{"Vienna", []string{"Wien"}},
	{"Warsaw", []string{"Warszawa"}},
	{"Zürich", []string{"Zurich"}},
}

// known maps the normalised form of every name and alias in cities to
// the normalised name of its city: the key its readings are cached under.
// names maps those keys back to the names as written.
var known, names = index(cities)

func index(list []City) (known, names map[string]string) {
	known, names = map[string]string{}, map[string]string{}
	for _, c := range list {
		key, err := Normalize(c.Name)
		if err != nil {
			panic("weather: city " + c.Name + ": " + err.Error())
		}
		names[key] = c.Name
		for _, n := range append([]string{c.Name}, c.Aliases...) {
			k, err := Normalize(n)
			if err != nil {
				panic("weather: alias " + n + ": " + err.Error())
			}
			if other, dup := known[k]; dup && other != key {
				panic("weather: " + n + " names both " + other + " and " + key)
			}
			known[k] = key
		}
	}
	return known, names
}

// Canonical returns the key of the listed city that the normalised name
// stands for ("nyc" and "new york city" give "new york"), or false when
// the weather service does not know it.
func Canonical(normalized string) (string, bool) {
	key, ok := known[normalized]
	return key, ok
}

// Cities returns the names of the cities the weather service knows, in
// alphabetical order.
func Cities() []string {
	out := make([]string, 0, len(cities))
	for _, c := range cities {
		out = append(out, c.Name)
	}
	slices.Sort(out)
	return out
}

// MaxCityLen is the longest accepted city name, in characters.
const MaxCityLen = 64

// ErrCity explains what a valid city name is; validation errors wrap it.
var ErrCity = errors.New("a city is 1 to 64 letters, spaces, hyphens or apostrophes")

// Normalize validates a city name and returns its cache key form: trimmed,
// inner runs of spaces collapsed to one, lower case. " Paris ", "PARIS" and
// "paris" are one key, so case and stray spaces never create new entries.
func Normalize(city string) (string, error) {
	if len(city) > 4*MaxCityLen+64 {
		return "", cityErr("the name is too long", city)
	}
	if !utf8.ValidString(city) {
		return "", cityErr("the name is not valid UTF-8", "")
	}
	var b strings.Builder
	b.Grow(len(city))
	n, letters, space := 0, 0, false
	for _, r := range strings.TrimSpace(city) {
		switch {
		case unicode.IsSpace(r):
			space = true
			continue
		case unicode.IsLetter(r):
			letters++
		case unicode.Is(unicode.Mn, r), r == '-', r == '\'', r == '’':
			// Combining accents belong to the letter before them.
		default:
			return "", cityErr("it contains "+quoteRune(r), city)
		}
		if space {
			b.WriteByte(' ')
			n++
			space = false
		}
		if r == '’' {
			r = '\''
		}
		b.WriteRune(unicode.ToLower(r))
		n++
	}
	switch {
	case n == 0:
		return "", cityErr("the name is empty", "")
	case n > MaxCityLen:
		return "", cityErr("the name is over 64 characters", city)
	case letters == 0:
		return "", cityErr("the name has no letters", city)
	}
	return b.String(), nil
}

func quoteRune(r rune) string {
	if unicode.IsPrint(r) {
		return "“" + string(r) + "”"
	}
	return "an unprintable character"
}

// cityError is a validation failure with the reason and the offending
// input, clipped for display.
type cityError struct{ reason, input string }

func cityErr(reason, input string) error { return &cityError{reason, input} }

// Error implements error.
func (e *cityError) Error() string {
	msg := "Invalid city: " + e.reason
	if e.input != "" {
		in := e.input
		if utf8.RuneCountInString(in) > 40 {
			in = string([]rune(in)[:40]) + "…"
		}
		msg += " (got “" + in + "”)"
	}
	return msg + "; " + ErrCity.Error() + ", like “Paris” or “Saint-Étienne”."
}

// Unwrap makes every city error match ErrCity.
func (e *cityError) Unwrap() error { return ErrCity }

// Display turns a normalised key back into a name for people: a listed
// city's name as written, otherwise the first letter of each word (after
// a space or hyphen) in upper case.
func Display(key string) string {
	if name, ok := names[key]; ok {
		return name
	}
	rs := []rune(key)
	start := true
	for i, r := range rs {
		if start {
			rs[i] = unicode.ToUpper(r)
		}
		start = r == ' ' || r == '-'
	}
	return string(rs)
}

// Reading is what the upstream service reports for a city.
type Reading struct {
	City        string    `json:"city"`
	Temperature float64   `json:"temperature"`
	Conditions  string    `json:"conditions"`
	ObservedAt  time.Time `json:"observed_at"`
}

// Period is how long the simulated weather takes to go round one cycle:
// short enough that a reading fetched after a 60 s TTL has visibly moved.
const Period = 10 * time.Minute

// Observe returns the simulated reading of the city with normalised name
// key at instant t, to the second. Each city has its own base temperature
// and phase (from a hash of its name), and the values follow slow sine
// waves, so they drift smoothly rather than jump at random.
func Observe(key string, t time.Time) Reading {
	h := fnv.New64a()
	h.Write([]byte(key))
	sum := h.Sum64()
	base := float64(sum%300)/10 - 5       // -5.0 .. 24.9 °C
	phase := float64(sum>>16%1000) / 1000 // fraction of a cycle
	t = t.UTC().Truncate(time.Second)
	x := 2 * math.Pi * (float64(t.UnixNano())/float64(Period) + phase)
	temp := base + 6*math.Sin(x) + 1.5*math.Sin(3*x+1)
	temp = math.Round(temp*10) / 10
	if temp == 0 {
		temp = 0 // no "-0" in JSON
	}
	wet := math.Sin(x/2 + 2*math.Pi*phase*7)
	var cond string
	switch {
	case wet > 0.6 && temp <= 0.5:
		cond = "snow"
	case wet > 0.6:
		cond = "rain"
	case wet > 0.2:
		cond = "cloudy"
	case wet > -0.3:
		cond = "partly cloudy"
	default:
		cond = "sunny"
	}
	return Reading{City: Display(key), Temperature: temp, Conditions: cond, ObservedAt: t}
}
