package instances

import (
	"net/http"
	"sync"
	"time"

	"cacheworkshop/cache"
	"cacheworkshop/handlers"
)

// modeRow is one mode's counters on one instance.
type modeRow struct {
	Mode     string
	Requests int64
	HitRatio string
}

// instanceRow is one line of the instances table.
type instanceRow struct {
	Name, Addr string
	Self       bool
	Uptime     string
	Seen       string
	Modes      []modeRow
}

// pageData is /instances's content.
type pageData struct {
	Rows []instanceRow
	// RedisDown says why only this instance is listed.
	RedisDown string
	Self      string
	Cross     bool
	DB        item
	// Probe is the demo's last probe ("item" or "product"), Results its
	// answers, one per instance.
	Probe      string
	ProductID  int
	Results    []probeResult
	AdminToken bool
}

// servePage lists the instances and runs the probe named by ?probe=.
func (l *Lesson) servePage(w http.ResponseWriter, r *http.Request) error {
	probe, _, err := handlers.Param(r, "probe")
	if err != nil {
		return err
	}
	if probe != "" && probe != "item" && probe != "product" {
		return handlers.BadRequest("probe must be item or product.")
	}
	id, err := handlers.IntParam(r, "id", 7, 1, 1_000_000)
	if err != nil {
		return err
	}
	ctx := r.Context()
	list, lerr := l.list(ctx)
	d := pageData{Self: l.kit.Instance(), Cross: l.cross(ctx), Probe: probe, ProductID: id, AdminToken: l.kit.AdminToken != ""}
	if lerr != nil {
		d.RedisDown = lerr.Error()
	}
	now := time.Now()
	for _, a := range list {
		row := instanceRow{Name: a.Name, Addr: a.Addr, Self: a.Name == d.Self,
			Uptime: handlers.Ago(now.Sub(a.Started)), Seen: handlers.Ago(now.Sub(a.Seen)) + " ago"}
		for _, m := range cache.Modes {
			c := a.Modes[m.String()]
			ratio := "—"
			if c.Hits+c.Misses > 0 {
				ratio = formatRatio(c.HitRatio())
			}
			row.Modes = append(row.Modes, modeRow{Mode: m.String(), Requests: c.Requests, HitRatio: ratio})
		}
		d.Rows = append(d.Rows, row)
	}
	if d.DB, err = l.readDB(ctx); err != nil {
		return err
	}
	if probe != "" {
		d.Results = l.probe(r, list, probe, id, d.DB)
	}
	return l.kit.Live(w, r, "instances", "Many instances", "instances", d)
}

// probe asks every listed instance, at once, for the demo item or a
// product page in memory mode.
func (l *Lesson) probe(r *http.Request, list []Announcement, what string, id int, db item) []probeResult {
	out := make([]probeResult, len(list))
	var wg sync.WaitGroup
	for i, a := range list {
		wg.Go(func() {
			res := probeResult{Instance: a.Name}
			path := "/api/instances/item"
			if what == "product" {
				path = "/products/" + itoa(id) + "?cache=memory"
			}
			outcome, body, took, err := l.fetch.get(r.Context(), a.Addr, path)
			res.Took = took
			switch {
			case err != nil:
				res.Outcome, res.Err = "ERROR", err.Error()
			case what == "item":
				it, derr := decodeAPI(body)
				if derr != nil {
					res.Outcome, res.Err = "ERROR", derr.Error()
					break
				}
				res.Outcome, res.Value, res.Version = it.Outcome, it.Value, it.Version
				res.Stale = it.Version < db.Version
			default:
				res.Outcome = outcome
			}
			out[i] = res
		})
	}
	wg.Wait()
	return out
}

// itemAnswer is GET /api/instances/item's body.
type itemAnswer struct {
	Instance string `json:"instance"`
	Value    string `json:"value"`
	Version  int64  `json:"version"`
	Outcome  string `json:"outcome"`
}

// serveItem answers with this instance's copy of the demo item.
func (l *Lesson) serveItem(w http.ResponseWriter, r *http.Request) error {
	it, hit, err := l.read(r.Context())
	if err != nil {
		return err
	}
	outcome := "MISS"
	if hit {
		outcome = "HIT"
	}
	w.Header().Set("X-Cache", outcome)
	l.kit.JSON(w, r, http.StatusOK, itemAnswer{Instance: l.kit.Instance(), Value: it.Value, Version: it.Version, Outcome: outcome})
	return nil
}

// demoValues are the colours the edit form offers: a fixed list keeps
// the demo's input trivially valid.
var demoValues = map[string]bool{"blue": true, "green": true, "orange": true, "purple": true}

// serveItemPost edits the demo item on this instance.
func (l *Lesson) serveItemPost(w http.ResponseWriter, r *http.Request) error {
	if err := handlers.ParseForm(w, r); err != nil {
		return err
	}
	v, _, err := handlers.FormValue(r, "value")
	if err != nil {
		return err
	}
	if !demoValues[v] {
		return handlers.BadRequest("value must be one of blue, green, orange, purple.")
	}
	told, err := l.write(r.Context(), v)
	if err != nil && !told {
		l.kit.Flash(w, "Saved "+v+" on "+l.kit.Instance()+". The other instances could not be told: "+err.Error())
	} else if told {
		l.kit.Flash(w, "Saved "+v+" on "+l.kit.Instance()+", deleted its own copy and published the key over Redis: every other instance deleted its copy too.")
	} else {
		l.kit.Flash(w, "Saved "+v+" on "+l.kit.Instance()+" and deleted only its own copy: cross-instance invalidation is off, so the others keep their old copy.")
	}
	http.Redirect(w, r, "/instances?probe=item", http.StatusSeeOther)
	return nil
}

// serveSwitch turns the demo's cross-instance invalidation on or off.
func (l *Lesson) serveSwitch(w http.ResponseWriter, r *http.Request) error {
	if err := handlers.ParseForm(w, r); err != nil {
		return err
	}
	v, _, err := handlers.FormValue(r, "cross")
	if err != nil {
		return err
	}
	if v != "on" && v != "off" {
		return handlers.BadRequest("cross must be on or off.")
	}
	if err := l.setCross(r.Context(), v == "on"); err != nil {
		return &handlers.Error{Status: http.StatusServiceUnavailable, Msg: "The switch lives in Redis, which is not answering.", Cause: err}
	}
	http.Redirect(w, r, "/instances", http.StatusSeeOther)
	return nil
}

// apiData is GET /api/instances's body.
type apiData struct {
	Instances []Announcement `json:"instances"`
	// RedisDown is set when only this instance could be listed.
	RedisDown string `json:"redis_down,omitempty"`
}

// serveAPI lists the instances as JSON.
func (l *Lesson) serveAPI(w http.ResponseWriter, r *http.Request) error {
	list, err := l.list(r.Context())
	d := apiData{Instances: list}
	if err != nil {
		d.RedisDown = err.Error()
	}
	l.kit.JSON(w, r, http.StatusOK, d)
	return nil
}
