package teacher

import (
	"context"
	"net"
	"net/http"
	"strconv"
	"time"

	"cacheworkshop/cache"
	"cacheworkshop/cache/page"
	"cacheworkshop/handlers"
)

// pageData is what templates/teacher.html shows: this moment's settings.
type pageData struct {
	AdminToken bool
	Classroom  classroom

	TTL, TTLConfigured string
	TTLSeconds         int
	TTLChanged         bool

	Budget, BudgetConfigured string
	BudgetKiB                int64
	BudgetChanged            bool
	MemoryEntries            int
	MemoryBytes              string

	RedisLabel, RedisPrefix string

	HasWeather, WeatherDown bool

	MinTTL, MaxTTL       int
	MinBudget, MaxBudget int64
}

// servePage shows every control with the current settings. It is this
// moment's state, so it is a live page: never cached.
func (l *Lesson) servePage(w http.ResponseWriter, r *http.Request) error {
	ttl, ttlConf := l.kit.PageTTL()
	budget, budgetConf := l.kit.MemoryBudget()
	st := l.kit.Memory.Stats()
	d := pageData{
		AdminToken: l.kit.AdminToken != "",
		Classroom:  classroomFor(l.cfg.Addr, localPort(r)),
		TTL:        humanTTL(ttl), TTLConfigured: humanTTL(ttlConf), TTLSeconds: max(int(ttl/time.Second), minTTLSeconds),
		TTLChanged: ttl != ttlConf,
		Budget:     handlers.HumanBytes(budget), BudgetConfigured: handlers.HumanBytes(budgetConf),
		BudgetKiB: max(budget>>10, minBudgetKiB), BudgetChanged: budget != budgetConf,
		MemoryEntries: st.Entries, MemoryBytes: handlers.HumanBytes(st.Bytes),
		RedisLabel: l.kit.Label(cache.ModeRedis), RedisPrefix: l.kit.Redis.Prefix(),
		HasWeather: l.cfg.Weather != nil,
		MinTTL:     minTTLSeconds, MaxTTL: maxTTLSeconds, MinBudget: minBudgetKiB, MaxBudget: maxBudgetKiB,
	}
	if d.HasWeather {
		d.WeatherDown = l.cfg.Weather.UpstreamDown()
	}
	return l.kit.Live(w, r, "teacher", "Teacher controls", "teacher", d)
}

// localPort is the port the request arrived on: the listen address's,
// even when ADDR asked for any free port (":0").
func localPort(r *http.Request) string {
	if a, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		if _, port, err := net.SplitHostPort(a.String()); err == nil {
			return port
		}
	}
	return ""
}

// done sends the browser back to the page, which shows msg once.
func (l *Lesson) done(w http.ResponseWriter, r *http.Request, msg string, details ...string) error {
	l.kit.Flash(w, msg, details...)
	http.Redirect(w, r, "/teacher", http.StatusSeeOther)
	return nil
}

// serveClear empties one backend through its cache.Clearer ability: the
// memory cache of this process, or the workshop's keys in Redis (SCAN and
// UNLINK under the prefix; the generation counters and every other
// application's keys stay).
func (l *Lesson) serveClear(w http.ResponseWriter, r *http.Request) error {
	backend, err := choice(w, r, "backend", "memory", "redis")
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(r.Context(), clearTimeout)
	defer cancel()
	if backend == "memory" {
		n := l.kit.Memory.Stats().Entries
		if err := clear(ctx, l.kit.Memory); err != nil {
			return err
		}
		return l.done(w, r, "Cleared the memory cache of this process: "+count(n, "entry", "entries")+" removed and its counters reset.")
	}
	label := l.kit.Label(cache.ModeRedis)
	if err := clear(ctx, l.kit.Redis); err != nil {
		return l.done(w, r, label+" could not be cleared: some keys under "+l.kit.Redis.Prefix()+" may remain.", page.Short(err))
	}
	return l.done(w, r, "Cleared "+label+": every key under "+l.kit.Redis.Prefix()+
		" except the generation counters was removed (SCAN and UNLINK), and the client counters reset. Other keys in the same Redis were not touched.")
}

// clear empties c, which must have the Clearer ability.
func clear(ctx context.Context, c cache.Cache) error {
	cl, ok := c.(cache.Clearer)
	if !ok {
		return handlers.BadRequest("The " + c.Name() + " cache cannot be cleared.")
	}
	return cl.Clear(ctx)
}

// servePageTTL sets the lifetime of the pages this process stores from now
// on: seconds=N (a whole number of seconds), or restore=1 for CACHE_TTL.
func (l *Lesson) servePageTTL(w http.ResponseWriter, r *http.Request) error {
	restore, n, err := settingForm(w, r, "seconds", minTTLSeconds, maxTTLSeconds)
	if err != nil {
		return err
	}
	_, conf := l.kit.PageTTL()
	if restore {
		l.kit.SetPageTTL(0)
		return l.done(w, r, "Page TTL restored to "+humanTTL(conf)+" (CACHE_TTL).")
	}
	ttl := time.Duration(n) * time.Second
	l.kit.SetPageTTL(ttl)
	l.kit.Log.Info("teacher: page TTL changed", "ttl", ttl)
	return l.done(w, r, "Pages this process stores from now on live "+humanTTL(ttl)+" (CACHE_TTL is "+humanTTL(conf)+
		"). Pages stored before keep their lifetime: clear a cache to start afresh.")
}

// serveMemoryBudget sets the memory cache's byte budget: kib=N, or
// restore=1 for the configured one. A smaller budget evicts at once.
func (l *Lesson) serveMemoryBudget(w http.ResponseWriter, r *http.Request) error {
	restore, n, err := settingForm(w, r, "kib", minBudgetKiB, maxBudgetKiB)
	if err != nil {
		return err
	}
	_, conf := l.kit.MemoryBudget()
	budget := int64(n) << 10
	if restore {
		budget = conf
	}
	evicted := l.kit.SetMemoryBudget(budget)
	l.kit.Log.Info("teacher: memory budget changed", "bytes", budget, "evicted", evicted)
	what := "Memory budget set to " + handlers.HumanBytes(budget)
	if restore {
		what = "Memory budget restored to " + handlers.HumanBytes(budget) + " (MEMORY_CACHE_MB)"
	}
	return l.done(w, r, what+": "+count(evicted, "entry was", "entries were")+
		" evicted to fit. From now on the least recently used entries are evicted whenever a new one does not fit; a page larger than the whole budget is not stored at all.")
}

// serveWeather takes the simulated weather upstream down or up.
func (l *Lesson) serveWeather(w http.ResponseWriter, r *http.Request) error {
	if l.cfg.Weather == nil {
		return handlers.NotFound("This server has no weather lesson to switch.")
	}
	state, err := choice(w, r, "upstream", "down", "up")
	if err != nil {
		return err
	}
	down := state == "down"
	l.cfg.Weather.SetUpstreamDown(down)
	l.kit.Log.Info("teacher: weather upstream switched", "down", down)
	if down {
		return l.done(w, r, "The simulated weather upstream is down: every call answers 503. Cached readings are still served while fresh, then the stale copy (kept a day), then an error.")
	}
	return l.done(w, r, "The simulated weather upstream is up again.")
}

// choice reads a required form field that must be one of values.
func choice(w http.ResponseWriter, r *http.Request, name string, values ...string) (string, error) {
	if err := handlers.ParseForm(w, r); err != nil {
		return "", err
	}
	v, _, err := handlers.FormValue(r, name)
	if err != nil {
		return "", err
	}
	for _, ok := range values {
		if v == ok {
			return v, nil
		}
	}
	msg := "The field " + name + " must be "
	for i, ok := range values {
		if i > 0 {
			msg += " or "
		}
		msg += ok
	}
	return "", handlers.BadRequest(msg + " (got " + strconv.Quote(clip(v, 24)) + ").")
}

// settingForm reads a setting's form: either name=N, a whole number from
// lo to hi, or restore=1 for the configured value; never both, never
// neither.
func settingForm(w http.ResponseWriter, r *http.Request, name string, lo, hi int) (restore bool, n int, err error) {
	if err := handlers.ParseForm(w, r); err != nil {
		return false, 0, err
	}
	rv, rGiven, err := handlers.FormValue(r, "restore")
	if err != nil {
		return false, 0, err
	}
	_, nGiven, err := handlers.FormValue(r, name)
	if err != nil {
		return false, 0, err
	}
	switch {
	case rGiven && nGiven:
		return false, 0, handlers.BadRequest("Give either " + name + " or restore=1, not both.")
	case rGiven && rv != "1":
		return false, 0, handlers.BadRequest("The field restore must be 1 (got " + strconv.Quote(clip(rv, 24)) + ").")
	case rGiven:
		return true, 0, nil
	}
	n, err = handlers.FormInt(r, name, lo, hi)
	return false, n, err
}

// humanTTL writes a lifetime the way people say it: "5 min", "90 s",
// "1.5 s".
func humanTTL(d time.Duration) string {
	switch {
	case d >= time.Hour && d%time.Hour == 0:
		return strconv.Itoa(int(d/time.Hour)) + " h"
	case d >= time.Minute && d%time.Minute == 0:
		return strconv.Itoa(int(d/time.Minute)) + " min"
	case d%time.Second == 0:
		return strconv.Itoa(int(d/time.Second)) + " s"
	}
	return strconv.FormatFloat(d.Seconds(), 'f', -1, 64) + " s"
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
