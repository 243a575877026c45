package invalidation_test

import (
	"context"
	"encoding/json"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"cacheworkshop/app"
	"cacheworkshop/internal/testapp"
)

// labRow is a lab product as stored in an entry, or in the database.
type labRow struct {
	ID      int64 `json:"id"`
	Price   int64 `json:"price"`
	Version int64 `json:"version"`
}

func dbRow(t *testing.T, a *testapp.App, id int64) labRow {
	t.Helper()
	var r labRow
	if err := a.Store.DB().Raw(`SELECT id, price, version FROM lab_invalidation_products WHERE id = ?`, id).Scan(&r).Error; err != nil {
		t.Fatal(err)
	}
	return r
}

func allRows(t *testing.T, a *testapp.App) []labRow {
	t.Helper()
	var rs []labRow
	if err := a.Store.DB().Raw(`SELECT id, price, version FROM lab_invalidation_products ORDER BY id`).Scan(&rs).Error; err != nil {
		t.Fatal(err)
	}
	return rs
}

// redisEntry reads a lab entry straight from the Redis server: the copy any
// reader gets.
func redisEntry(t *testing.T, a *testapp.App, key string) ([]labRow, bool) {
	t.Helper()
	b, err := a.RedisServer.Client().Get(context.Background(), a.Redis.Prefix()+"lab:invalidation:"+key).Bytes()
	if err != nil {
		return nil, false
	}
	var rows []labRow
	if err := json.Unmarshal(b, &rows); err != nil {
		t.Fatalf("entry %s: %v", key, err)
	}
	return rows, true
}

func rowOf(rows []labRow, id int64) (labRow, bool) {
	for _, r := range rows {
		if r.ID == id {
			return r, true
		}
	}
	return labRow{}, false
}

func editForm(strategy string, id int64, price string) url.Values {
	return url.Values{"strategy": {strategy}, "product": {strconv.FormatInt(id, 10)}, "price": {price}, "ttl": {"15"}}
}

// runEdit posts an edit and returns the body of the page the redirect
// leads to.
func runEdit(t *testing.T, a *testapp.App, mode string, form url.Values) string {
	t.Helper()
	r := a.Post("/invalidation/edit?cache="+mode, form)
	if r.Status != http.StatusSeeOther {
		t.Fatalf("edit: got %d, want 303\n%s", r.Status, r.Body)
	}
	page := a.Get("/invalidation?cache=" + mode)
	if page.Status != http.StatusOK {
		t.Fatalf("page: got %d", page.Status)
	}
	if got := page.Header.Get("X-Cache"); got != "BYPASS" {
		t.Errorf("X-Cache: got %q, want BYPASS (a lab page is never cached)", got)
	}
	if got := page.Header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control: got %q, want no-store", got)
	}
	if strings.Contains(page.Body, `class="notice notice-error"`) {
		t.Fatalf("the run failed:\n%s", between(page.Body, `notice-error`, `</p>`))
	}
	return page.Body
}

func between(s, from, to string) string {
	_, rest, ok := strings.Cut(s, from)
	if !ok {
		return ""
	}
	v, _, _ := strings.Cut(rest, to)
	return v
}

var tagRE = regexp.MustCompile(`<[^>]+>`)

// figure is the text of the page's data-figure cell name.
func figure(body, name string) string {
	v := between(body, `data-figure="`+name+`">`, `</td>`)
	return strings.Join(strings.Fields(html.UnescapeString(tagRE.ReplaceAllString(v, " "))), " ")
}

// viewRow is one row of the "read again now" table.
type viewRow struct {
	Stale         bool
	Served, DB    string
	Read, Verdict string
}

var viewRE = regexp.MustCompile(`(?s)<tr data-view="([^"]+)"( data-stale="1")?>(.*?)</tr>`)
var cellRE = regexp.MustCompile(`(?s)<td>(.*?)</td>`)

func viewRows(body string) map[string]viewRow {
	out := map[string]viewRow{}
	for _, m := range viewRE.FindAllStringSubmatch(body, -1) {
		cells := cellRE.FindAllStringSubmatch(m[3], -1)
		text := func(i int) string {
			if i >= len(cells) {
				return ""
			}
			return strings.Join(strings.Fields(tagRE.ReplaceAllString(cells[i][1], " ")), " ")
		}
		out[m[1]] = viewRow{Stale: m[2] != "", Read: text(1), Served: text(2), DB: text(3), Verdict: text(4)}
	}
	return out
}

func money(cents int64) string {
	return "$" + strconv.FormatInt(cents/100, 10) + "." + strconv.FormatInt(cents%100/10, 10) + strconv.FormatInt(cents%10, 10)
}

// TestForgetServesStaleCopy: after "forget", the page shows the stale copy
// beside the database row, and that copy really is what the cache holds.
func TestForgetServesStaleCopy(t *testing.T) {
	a := testapp.New(t)
	for _, mode := range []string{"memory", "redis"} {
		t.Run(mode, func(t *testing.T) {
			before := dbRow(t, a, 3)
			page := runEdit(t, a, mode, editForm("forget", 3, "9.99"))
			after := dbRow(t, a, 3)
			if after.Price != 999 || after.Version != before.Version+1 {
				t.Fatalf("database: got %+v, want price 999 at v%d", after, before.Version+1)
			}
			if got := figure(page, "stale"); got != "3 of 15" {
				t.Errorf("stale reads: got %q, want %q", got, "3 of 15")
			}
			if got := figure(page, "touched"); got != "0" {
				t.Errorf("keys touched: got %q, want 0", got)
			}
			rows := viewRows(page)
			for _, key := range []string{"v:product:3", "v:list:1", "v:category:cocoa"} {
				vr := rows[key]
				if !vr.Stale || vr.Served != "v"+strconv.FormatInt(before.Version, 10)+" "+money(before.Price) ||
					vr.DB != "v"+strconv.FormatInt(after.Version, 10)+" $9.99" {
					t.Errorf("%s: got %+v, want stale, served the old row beside the database's", key, vr)
				}
				if mode == "redis" {
					entry, ok := redisEntry(t, a, key)
					r, shown := rowOf(entry, 3)
					if !ok || !shown || r.Price != before.Price {
						t.Errorf("%s in Redis: got %+v (%v), want the old price %d", key, entry, ok, before.Price)
					}
				}
			}
			if n := strings.Count(page, `data-stale="1"`); n != 3 {
				t.Errorf("stale rows on the page: got %d, want 3", n)
			}
		})
	}
}

// TestDeleteKeyLeavesListsStale: deleting the product's key makes its
// detail fresh and leaves the pages that list it stale, named on the page
// and stale in Redis itself; deleting those too leaves nothing stale.
func TestDeleteKeyLeavesListsStale(t *testing.T) {
	a := testapp.New(t)
	page := runEdit(t, a, "redis", editForm("delete", 3, "7.77"))
	if got := figure(page, "stale-views"); got != "List page 1, Category cocoa" {
		t.Errorf("still stale: got %q, want %q", got, "List page 1, Category cocoa")
	}
	if !strings.Contains(page, `data-command="UNLINK">UNLINK ×1<`) {
		t.Errorf("commands: got %q, want one UNLINK", figure(page, "commands"))
	}
	detail, _ := redisEntry(t, a, "v:product:3")
	list, _ := redisEntry(t, a, "v:list:1")
	if r, _ := rowOf(detail, 3); r.Price != 777 {
		t.Errorf("detail in Redis: got %+v, want the new price", detail)
	}
	if r, _ := rowOf(list, 3); r.Price == 777 {
		t.Errorf("list page in Redis: got %+v, want the old price", list)
	}

	form := editForm("delete", 3, "7.78")
	form.Set("also", "pages")
	page = runEdit(t, a, "redis", form)
	if got := figure(page, "stale"); got != "0 of 15" {
		t.Errorf("with the pages deleted too: stale %q, want 0 of 15", got)
	}
	if got := figure(page, "touched"); got != "3" {
		t.Errorf("with the pages deleted too: keys touched %q, want 3", got)
	}
}

// TestEveryStrategyShowsItsFigures runs each strategy through the page in
// both modes and checks the figures against what they must be.
func TestEveryStrategyShowsItsFigures(t *testing.T) {
	a := testapp.New(t)
	tests := []struct {
		strategy, stale, touched, misses string
		redisCommands                    []string // data-command badges in Redis mode
	}{
		{"ttl", "3 of 15", "0", "0", nil},
		{"pattern", "0 of 15", "15", "15", []string{"SCAN", "UNLINK"}},
		{"generations", "0 of 15", "3", "4", []string{"EVAL"}},
		{"tags", "0 of 15", "4", "3", []string{"SMEMBERS", "UNLINK"}},
		{"write-through", "0 of 15", "3", "0", []string{"SET"}},
	}
	for _, mode := range []string{"redis", "memory"} {
		for i, tt := range tests {
			t.Run(mode+"/"+tt.strategy, func(t *testing.T) {
				page := runEdit(t, a, mode, editForm(tt.strategy, 6, "1"+strconv.Itoa(i)+".00"))
				for name, want := range map[string]string{"stale": tt.stale, "touched": tt.touched, "misses": tt.misses} {
					if got := figure(page, name); got != want {
						t.Errorf("%s: got %q, want %q", name, got, want)
					}
				}
				cmds := figure(page, "commands")
				if mode == "memory" && !strings.HasPrefix(cmds, "none") {
					t.Errorf("memory: commands %q, want none", cmds)
				}
				for _, c := range tt.redisCommands {
					if mode == "redis" && !strings.Contains(page, `data-command="`+c+`"`) {
						t.Errorf("commands: got %q, want %s among them", cmds, c)
					}
				}
				if !regexp.MustCompile(`^\d+\.\d+ ms$`).MatchString(figure(page, "took")) {
					t.Errorf("time taken: got %q, want a measured duration", figure(page, "took"))
				}
				if tt.strategy == "write-through" {
					for name, want := range map[string]string{"write-through": "1", "bump-then-commit": "1", "commit-then-bump": "0"} {
						if !strings.Contains(page, `data-race="`+name+`" data-stale="`+want+`"`) {
							t.Errorf("race replay %s: want data-stale=%s", name, want)
						}
					}
				}
				if !strings.Contains(page, `<tr data-strategy="`+tt.strategy+`" data-mode="`+mode+`">`) {
					t.Error("the side-by-side table lacks the run")
				}
			})
		}
	}
}

// TestTTLOnlyMeasuresStaleness: the page watches a TTL-only run and, once
// its entries have expired, says how long it was stale: at least as long
// as the entries had left.
func TestTTLOnlyMeasuresStaleness(t *testing.T) {
	a := testapp.New(t)
	form := editForm("ttl", 4, "3.33")
	form.Set("ttl", "1")
	page := runEdit(t, a, "memory", form)
	if !strings.Contains(page, `data-watch="1"`) || !strings.Contains(figure(page, "stale-for"), "still stale") {
		t.Fatalf("right after: stale-for %q, watch %v", figure(page, "stale-for"), strings.Contains(page, `data-watch`))
	}
	left, err := strconv.ParseFloat(strings.TrimSuffix(figure(page, "ttl-left"), " ms left"), 64)
	if err != nil || left <= 0 || left > 1000 {
		t.Fatalf("TTL left: got %q (%v), want within a 1 s TTL", figure(page, "ttl-left"), err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		page = a.Get("/invalidation").Body
		if v := figure(page, "stale-for"); strings.HasSuffix(v, " ms") {
			staleFor, err := strconv.ParseFloat(strings.TrimSuffix(v, " ms"), 64)
			if err != nil || staleFor < left {
				t.Errorf("stale for %q, want at least the %v ms the entries had left", v, left)
			}
			if strings.Contains(page, `data-watch="1"`) {
				t.Error("still watching once fresh")
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("still stale 10 s after a 1 s TTL")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestNoCacheModeHasNothingToInvalidate: in mode none every view comes
// from the database, and the page says why nothing is stale.
func TestNoCacheModeHasNothingToInvalidate(t *testing.T) {
	a := testapp.New(t)
	page := runEdit(t, a, "none", editForm("forget", 2, "2.22"))
	if !strings.Contains(page, "nothing to invalidate") {
		t.Error("mode none: the page does not say there is nothing to invalidate")
	}
	if got := figure(page, "stale"); got != "0 of 15" {
		t.Errorf("stale: got %q, want 0 of 15", got)
	}
	if n := strings.Count(between(page, `class="table views"`, `</table>`), `<span class="badge badge-bypass">BYPASS</span>`); n != 15 {
		t.Errorf("views read from the database: got %d, want 15", n)
	}
}

// TestBadInputChangesNothing: every malformed form is a 4xx naming the
// problem, and the database, the lab's state and Redis are untouched.
func TestBadInputChangesNothing(t *testing.T) {
	// Silent: the instance's announcements would be writes of their own.
	a := testapp.New(t)
	ctx := context.Background()
	rdb := a.RedisServer.Client()
	rowsBefore := allRows(t, a)
	statsBefore := labCommands(t, a)
	good := editForm("forget", 3, "9.99")
	with := func(k, v string) url.Values {
		f := url.Values{}
		for kk, vv := range good {
			f[kk] = append([]string(nil), vv...)
		}
		if v == "\x00drop" {
			f.Del(k)
		} else {
			f.Set(k, v)
		}
		return f
	}
	twice := func(k, v1, v2 string) url.Values {
		f := with(k, v1)
		f.Add(k, v2)
		return f
	}
	tests := []struct {
		name, path string
		form       url.Values
		want       int
		says       string
		headers    []string
	}{
		{"strategy unknown", "/invalidation/edit", with("strategy", "hope"), 400, "strategy", nil},
		{"strategy missing", "/invalidation/edit", with("strategy", "\x00drop"), 400, "strategy", nil},
		{"strategy twice", "/invalidation/edit", twice("strategy", "forget", "tags"), 400, "strategy", nil},
		{"product zero", "/invalidation/edit", with("product", "0"), 400, "product", nil},
		{"product eleven", "/invalidation/edit", with("product", "11"), 400, "product", nil},
		{"product negative", "/invalidation/edit", with("product", "-3"), 400, "product", nil},
		{"product with a space", "/invalidation/edit", with("product", " 3"), 400, "product", nil},
		{"product not a number", "/invalidation/edit", with("product", "three"), 400, "product", nil},
		{"product missing", "/invalidation/edit", with("product", "\x00drop"), 400, "product", nil},
		{"price letters", "/invalidation/edit", with("price", "cheap"), 400, "price", nil},
		{"price empty", "/invalidation/edit", with("price", ""), 400, "price", nil},
		{"price three decimals", "/invalidation/edit", with("price", "1.234"), 400, "price", nil},
		{"price negative", "/invalidation/edit", with("price", "-1"), 400, "price", nil},
		{"price too large", "/invalidation/edit", with("price", "99999999"), 400, "price", nil},
		{"ttl zero for TTL only", "/invalidation/edit", func() url.Values { f := with("strategy", "ttl"); f.Set("ttl", "0"); return f }(), 400, "ttl", nil},
		{"ttl over the maximum", "/invalidation/edit", func() url.Values { f := with("strategy", "ttl"); f.Set("ttl", "121"); return f }(), 400, "ttl", nil},
		{"ttl missing for TTL only", "/invalidation/edit", func() url.Values { f := with("strategy", "ttl"); f.Del("ttl"); return f }(), 400, "ttl", nil},
		{"ttl with a unit", "/invalidation/edit", with("ttl", "5s"), 400, "ttl", nil},
		{"also not pages", "/invalidation/edit", with("also", "yes"), 400, "also", nil},
		{"also twice", "/invalidation/edit", twice("also", "pages", "lists"), 400, "also", nil},
		{"cache mode unknown", "/invalidation/edit?cache=disk", good, 400, "cache mode", nil},
		{"not a form", "/invalidation/edit", good, 415, "form", []string{"Content-Type", "application/json"}},
		{"cross-site", "/invalidation/edit", good, 403, "Cross-site", []string{"Sec-Fetch-Site", "cross-site"}},
		{"cross-site reset", "/invalidation/reset", url.Values{}, 403, "Cross-site", []string{"Sec-Fetch-Site", "cross-site"}},
		{"keys not offered", "/invalidation/pattern-cost", url.Values{"keys": {"500"}}, 400, "keys", nil},
		{"keys too many", "/invalidation/pattern-cost", url.Values{"keys": {"1000000"}}, 400, "keys", nil},
		{"keys not a number", "/invalidation/pattern-cost", url.Values{"keys": {"lots"}}, 400, "keys", nil},
		{"keys missing", "/invalidation/pattern-cost", url.Values{}, 400, "keys", nil},
		{"keys twice", "/invalidation/pattern-cost", url.Values{"keys": {"1000", "100000"}}, 400, "keys", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := a.Post(tt.path, tt.form, tt.headers...)
			if r.Status != tt.want {
				t.Fatalf("got %v, want %v", r.Status, tt.want)
			}
			if !strings.Contains(html.UnescapeString(r.Body), tt.says) {
				t.Errorf("the %d page does not mention %q", r.Status, tt.says)
			}
		})
	}
	for _, tt := range []struct{ method, path string }{{http.MethodGet, "/invalidation/edit"}, {http.MethodPut, "/invalidation"}} {
		req, _ := http.NewRequest(tt.method, a.TS.URL+tt.path, nil)
		if r := a.Do(req); r.Status != http.StatusMethodNotAllowed {
			t.Errorf("%s %s: got %d, want 405", tt.method, tt.path, r.Status)
		}
	}
	if got := allRows(t, a); !equalRows(got, rowsBefore) {
		t.Errorf("database after refused forms: got %+v, want %+v", got, rowsBefore)
	}
	if got := labCommands(t, a); got != statsBefore {
		t.Errorf("Redis commands that write or delete after refused forms: got %v, want %v", got, statsBefore)
	}
	if n, err := rdb.Keys(ctx, a.Redis.Prefix()+"lab:invalidation:*").Result(); err != nil || len(n) != 0 {
		t.Errorf("lab keys in Redis after refused forms: got %v (%v), want none", n, err)
	}
	if page := a.Get("/invalidation").Body; strings.Contains(page, `id="lab-run"`) || strings.Contains(page, `class="table costs"`) {
		t.Error("a refused form left a run or a measurement on the page")
	}
}

func equalRows(a, b []labRow) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// labCommands sums the server's counts of the commands that write or
// delete.
func labCommands(t *testing.T, a *testapp.App) int {
	t.Helper()
	info, err := a.RedisServer.Client().Info(context.Background(), "commandstats").Result()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, cmd := range []string{"set", "setnx", "unlink", "del", "sadd", "eval", "expire", "scan"} {
		v := between(info, "cmdstat_"+cmd+":calls=", ",")
		c, _ := strconv.Atoi(v)
		n += c
	}
	return n
}

// TestResetRestoresTheLab: one click restores the seeded prices, at
// versions above any the rows had, and empties the lab's entries.
func TestResetRestoresTheLab(t *testing.T) {
	a := testapp.New(t)
	runEdit(t, a, "redis", editForm("forget", 3, "1.00"))
	runEdit(t, a, "memory", editForm("forget", 5, "1.00"))
	top := int64(0)
	for _, r := range allRows(t, a) {
		top = max(top, r.Version)
	}
	r := a.Post("/invalidation/reset", url.Values{})
	if r.Status != http.StatusSeeOther {
		t.Fatalf("reset: got %d, want 303", r.Status)
	}
	for _, r := range allRows(t, a) {
		if r.Version != top+1 {
			t.Errorf("product %d: v%d after the reset, want v%d", r.ID, r.Version, top+1)
		}
	}
	if r := dbRow(t, a, 3); r.Price != 825 {
		t.Errorf("product 3 after the reset: price %d, want the seeded 825", r.Price)
	}
	if keys, err := a.RedisServer.Client().Keys(context.Background(), a.Redis.Prefix()+"lab:invalidation:v:*").Result(); err != nil || len(keys) != 0 {
		t.Errorf("lab entries in Redis after the reset: got %v (%v), want none", keys, err)
	}
	// The message travels in the flash cookie, as a browser would carry it.
	cookie, _, _ := strings.Cut(r.Header.Get("Set-Cookie"), ";")
	page := a.Get("/invalidation", "Cookie", cookie)
	if strings.Contains(page.Body, `id="lab-run"`) || !strings.Contains(page.Body, "back to their seeded prices") {
		t.Error("after the reset the page still shows a run, or no message")
	}
}

// TestPatternCostPage measures at 100,000 keys through the page: one run
// at a time, both backends shown, and no throwaway key left.
func TestPatternCostPage(t *testing.T) {
	a := testapp.New(t)
	const runs = 3
	res := make([]*testapp.Resp, runs)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range runs {
		wg.Go(func() {
			<-start
			res[i] = a.Post("/invalidation/pattern-cost?cache=redis", url.Values{"keys": {"100000"}})
		})
	}
	close(start)
	wg.Wait()
	statuses := map[int]int{}
	for _, r := range res {
		statuses[r.Status]++
	}
	t.Logf("%d concurrent measurements at 100,000 keys: statuses %v", runs, statuses)
	if statuses[http.StatusSeeOther] < 1 || statuses[http.StatusSeeOther]+statuses[http.StatusTooManyRequests] != runs {
		t.Errorf("statuses: got %v, want at least one 303 and the others 429", statuses)
	}
	page := a.Get("/invalidation").Body
	for _, backend := range []string{"Memory", "Redis"} {
		row := between(page, `<tr data-keys="100000" data-backend="`+backend+`">`, `</tr>`)
		if row == "" || strings.Contains(row, "failed") {
			t.Errorf("%s at 100000 keys: got %q", backend, row)
		}
		if !strings.Contains(row, `<td class="num">10</td>`) {
			t.Errorf("%s: the ten matching keys are not the ones deleted: %q", backend, row)
		}
	}
	scans, _ := strconv.Atoi(between(between(page, `data-backend="Redis"`, `</tr>`), `data-figure="scans">`, `<`))
	if scans < 100 {
		t.Errorf("SCANs over a 100,000-key database: got %d, want at least 100 (COUNT 1000)", scans)
	}
	keys, err := a.RedisServer.Client().Keys(context.Background(), a.Redis.Prefix()+"lab:invalidation:bench:*").Result()
	if err != nil || len(keys) != 0 {
		t.Errorf("throwaway keys left: got %d (%v), want none", len(keys), err)
	}
}

// TestLabNeedsAdminToken: with ADMIN_TOKEN set, the lab's posts need it;
// a refused post changes nothing.
func TestLabNeedsAdminToken(t *testing.T) {
	a := testapp.New(t, func(c *app.Config) { c.AdminToken = "s3cret" })
	before := dbRow(t, a, 3)
	if r := a.Post("/invalidation/edit", editForm("forget", 3, "4.44")); r.Status != http.StatusForbidden {
		t.Errorf("without the token: got %d, want 403", r.Status)
	}
	if got := dbRow(t, a, 3); got != before {
		t.Errorf("a refused post changed the row: %+v → %+v", before, got)
	}
	f := editForm("forget", 3, "4.44")
	f.Set("admin_token", "s3cret")
	if r := a.Post("/invalidation/edit", f); r.Status != http.StatusSeeOther {
		t.Errorf("with the token: got %d, want 303", r.Status)
	}
	if page := a.Get("/invalidation").Body; !strings.Contains(page, `name="admin_token"`) {
		t.Error("the page shows no token field")
	}
}

// TestConcurrentLabRequests: runs in both modes and page reads at once
// all succeed, and the lab's state stays whole (run with -race).
func TestConcurrentLabRequests(t *testing.T) {
	a := testapp.New(t)
	var wg sync.WaitGroup
	var mu sync.Mutex
	statuses := map[int]int{}
	strategies := []string{"forget", "delete", "pattern", "generations", "tags", "write-through", "ttl"}
	for i := range 14 {
		wg.Go(func() {
			var r *testapp.Resp
			mode := []string{"memory", "redis"}[i%2]
			if i%3 == 0 {
				r = a.Get("/invalidation?cache=" + mode)
			} else {
				r = a.Post("/invalidation/edit?cache="+mode, editForm(strategies[i%len(strategies)], int64(i%10+1), strconv.Itoa(i)+".50"))
			}
			mu.Lock()
			statuses[r.Status]++
			mu.Unlock()
		})
	}
	wg.Wait()
	if statuses[http.StatusOK]+statuses[http.StatusSeeOther] != 14 {
		t.Errorf("statuses: got %v, want every request 200 or 303", statuses)
	}
	page := a.Get("/invalidation").Body
	if !strings.Contains(page, `id="lab-run"`) || strings.Contains(page, "notice-error") {
		t.Error("after concurrent runs the page shows no run, or an error")
	}
}

// TestRedisDownNeverBreaksThePage: with Redis gone, a Redis run reports
// the failure on the page, the page still loads, and memory runs go on.
func TestRedisDownNeverBreaksThePage(t *testing.T) {
	a := testapp.New(t)
	a.RedisServer.Stop()
	if r := a.Post("/invalidation/edit?cache=redis", editForm("delete", 3, "5.55")); r.Status != http.StatusSeeOther {
		t.Fatalf("run with Redis down: got %d, want 303", r.Status)
	}
	page := a.Get("/invalidation?cache=redis")
	if page.Status != http.StatusOK || !strings.Contains(page.Body, "cache unavailable") {
		t.Errorf("page with Redis down: got %d, failure shown %v", page.Status, strings.Contains(page.Body, "cache unavailable"))
	}
	if got := dbRow(t, a, 3); got.Price == 555 {
		t.Error("a run that could not fill its views still edited the row")
	}
	runEdit(t, a, "memory", editForm("delete", 3, "5.55"))
	if r := a.Post("/invalidation/pattern-cost", url.Values{"keys": {"1000"}}); r.Status != http.StatusSeeOther {
		t.Errorf("pattern cost with Redis down: got %d, want 303", r.Status)
	}
	if page := a.Get("/invalidation").Body; !strings.Contains(between(page, `data-backend="Redis"`, `</tr>`), "failed") {
		t.Error("the Redis measurement's failure is not shown")
	}
}

// TestEmbeddedRedis: with no Redis answering, the workshop's embedded
// server stands in, and every strategy and the pattern cost still run on
// it in Redis mode.
func TestEmbeddedRedis(t *testing.T) {
	a := testapp.New(t, func(c *app.Config) { c.RedisURL, c.NoEmbedded = "redis://127.0.0.1:1/0", false })
	if !a.Embedded {
		t.Fatal("the workshop did not fall back to its embedded Redis")
	}
	for _, s := range []string{"forget", "delete", "pattern", "generations", "tags", "write-through"} {
		page := runEdit(t, a, "redis", editForm(s, 8, "8.88"))
		if !strings.Contains(page, "Redis (embedded)") {
			t.Errorf("%s: the page does not name the embedded server", s)
		}
	}
	if r := a.Post("/invalidation/pattern-cost?cache=redis", url.Values{"keys": {"1000"}}); r.Status != http.StatusSeeOther {
		t.Fatalf("pattern cost: got %d", r.Status)
	}
	row := between(a.Get("/invalidation").Body, `<tr data-keys="1000" data-backend="Redis (embedded)">`, `</tr>`)
	if row == "" || strings.Contains(row, "failed") {
		t.Errorf("pattern cost on the embedded server: got %q", row)
	}
}
