package handlers_test

import (
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"cacheworkshop/app"
	"cacheworkshop/internal/testapp"
	"cacheworkshop/models"
)

const (
	stressReaders = 16
	stressEditors = 4
	// stressReads is each reader's minimum; readers keep going until
	// every editor is done, so reads overlap edits from start to end.
	stressReads = 50
	// stressEdits is each editor's number of successful edits.
	stressEdits = 15
	// stressDeadline bounds one mode's run on a slow machine; hitting it
	// fails the test rather than passing on fewer operations.
	stressDeadline = 60 * time.Second
)

var (
	stressFormVersion = regexp.MustCompile(`name="version" value="(\d+)"`)
	stressCardVersion = regexp.MustCompile(`<dt>Version</dt><dd>(\d+)</dd>`)
	stressCardName    = regexp.MustCompile(`<h1>([^<]*)</h1>`)
)

// stressObs is one read: which version and name a response showed, and
// the newest version whose edit had returned before the read started.
type stressObs struct {
	id      int64
	version int64
	floor   int64
	name    string
	path    string
	xcache  string
}

// stressProduct is the shared record of one product's committed edits.
type stressProduct struct {
	id int64
	// floor is the newest version whose edit response has returned.
	floor    atomic.Int64
	mu       sync.Mutex
	names    map[int64]string // version → name committed at it
	edits    int
	category string
	price    string
}

func (p *stressProduct) commit(version int64, name string) {
	p.mu.Lock()
	p.names[version] = name
	p.edits++
	p.mu.Unlock()
	for {
		cur := p.floor.Load()
		if version <= cur || p.floor.CompareAndSwap(cur, version) {
			return
		}
	}
}

// stressClient sends requests from many goroutines; errors are returned,
// never reported with t.Fatal off the test goroutine.
type stressClient struct {
	base string
	c    *http.Client
}

func (sc *stressClient) do(method, path string, form url.Values) (int, http.Header, string, error) {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, sc.base+path, body)
	if err != nil {
		return 0, nil, "", err
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	res, err := sc.c.Do(req)
	if err != nil {
		return 0, nil, "", err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return res.StatusCode, res.Header, string(b), err
}

// TestConsistencyUnderConcurrency runs readers and editors on the same few
// products in each mode. A read that starts after an edit's response has
// returned must show that edit or a newer one (the classic race: a reader
// misses, loads the old row, the editor commits and invalidates, then the
// reader stores the old row); no edit may be lost.
func TestConsistencyUnderConcurrency(t *testing.T) {
	// A little simulated latency between loading the row and storing the
	// page widens the window in which the classic race could happen.
	a := testapp.New(t, func(c *app.Config) { c.SlowQuery = 2 * time.Millisecond })
	sc := &stressClient{base: a.TS.URL, c: &http.Client{
		Timeout:       20 * time.Second,
		Transport:     &http.Transport{MaxIdleConnsPerHost: stressReaders + 2*stressEditors},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
	for i, mode := range []string{"none", "memory", "redis"} {
		t.Run(mode, func(t *testing.T) {
			// Three products per mode, two sharing a category, so both
			// product and category generations are exercised.
			ids := []int64{int64(100 + 10*i), int64(101 + 10*i), int64(102 + 10*i)}
			stressRun(t, a, sc, mode, ids)
		})
	}
}

func stressRun(t *testing.T, a *testapp.App, sc *stressClient, mode string, ids []int64) {
	prods := make([]*stressProduct, len(ids))
	for i, id := range ids {
		p := a.Product(id)
		prods[i] = &stressProduct{id: id, names: map[int64]string{p.Version: p.Name}, category: p.Category,
			price: models.PriceString(p.Price)}
		prods[i].floor.Store(p.Version)
		// Warm the caches so reads start as hits that edits must
		// invalidate.
		for _, path := range []string{"/products/%d?cache=%s", "/api/products/%d?cache=%s"} {
			if st, _, _, err := sc.do(http.MethodGet, fmt.Sprintf(path, id, mode), nil); err != nil || st != 200 {
				t.Fatalf("warm-up %d: %d %v", id, st, err)
			}
		}
	}
	deadline := time.Now().Add(stressDeadline)
	var (
		reads, formReads, edits, conflicts, hits atomic.Int64
		failMu                                   sync.Mutex
		failures                                 []string
		editorsDone                              atomic.Int32
	)
	fail := func(format string, args ...any) {
		failMu.Lock()
		if len(failures) < 20 {
			failures = append(failures, fmt.Sprintf(format, args...))
		}
		failMu.Unlock()
	}
	obs := make([][]stressObs, stressReaders)
	var wg sync.WaitGroup
	start := time.Now()
	for e := range stressEditors {
		wg.Go(func() {
			defer editorsDone.Add(1)
			for seq, done := 0, 0; done < stressEdits; seq++ {
				if time.Now().After(deadline) {
					fail("editor %d: deadline after %d edits", e, done)
					return
				}
				p := prods[(e+seq)%len(prods)]
				st, _, body, err := sc.do(http.MethodGet, fmt.Sprintf("/products/%d/edit?cache=%s", p.id, mode), nil)
				formReads.Add(1)
				if err != nil || st != 200 {
					fail("editor %d: edit form of %d: %d %v", e, p.id, st, err)
					return
				}
				m := stressFormVersion.FindStringSubmatch(body)
				if m == nil {
					fail("editor %d: no version in the edit form of %d", e, p.id)
					return
				}
				v, _ := strconv.ParseInt(m[1], 10, 64)
				name := fmt.Sprintf("stress e%d s%d", e, seq)
				form := url.Values{"name": {name}, "description": {"Edited under load."}, "category": {p.category},
					"price": {p.price}, "stock": {strconv.Itoa(seq)}, "version": {m[1]}}
				st, _, body, err = sc.do(http.MethodPost, fmt.Sprintf("/products/%d/edit?cache=%s", p.id, mode), form)
				switch {
				case err != nil:
					fail("editor %d: post: %v", e, err)
					return
				case st == http.StatusSeeOther:
					// Committed, and the response has returned: from
					// now on no read may show an older version.
					p.commit(v+1, name)
					edits.Add(1)
					done++
				case st == http.StatusConflict:
					conflicts.Add(1)
				default:
					fail("editor %d: post to %d: status %d: %.200s", e, p.id, st, body)
					return
				}
			}
		})
	}
	for r := range stressReaders {
		wg.Go(func() {
			for n := 0; n < stressReads || editorsDone.Load() < stressEditors; n++ {
				if time.Now().After(deadline) {
					fail("reader %d: deadline after %d reads", r, n)
					return
				}
				p := prods[(r+n)%len(prods)]
				api := (r+n)%4 == 3
				path := fmt.Sprintf("/products/%d?cache=%s", p.id, mode)
				if api {
					path = fmt.Sprintf("/api/products/%d?cache=%s", p.id, mode)
				}
				floor := p.floor.Load() // before the request starts
				st, h, body, err := sc.do(http.MethodGet, path, nil)
				reads.Add(1)
				if err != nil || st != 200 {
					fail("reader %d: %s: %d %v", r, path, st, err)
					return
				}
				o := stressObs{id: p.id, floor: floor, path: path, xcache: h.Get("X-Cache")}
				if o.xcache == "HIT" {
					hits.Add(1)
				}
				if api {
					var d struct {
						Version int64  `json:"version"`
						Name    string `json:"name"`
					}
					if err := json.Unmarshal([]byte(body), &d); err != nil {
						fail("reader %d: %s: %v", r, path, err)
						return
					}
					o.version, o.name = d.Version, d.Name
				} else {
					mv, mn := stressCardVersion.FindStringSubmatch(body), stressCardName.FindStringSubmatch(body)
					if mv == nil || mn == nil {
						fail("reader %d: %s: no version or name on the page", r, path)
						return
					}
					o.version, _ = strconv.ParseInt(mv[1], 10, 64)
					o.name = html.UnescapeString(mn[1])
				}
				obs[r] = append(obs[r], o)
			}
		})
	}
	wg.Wait()
	took := time.Since(start)
	for _, f := range failures {
		t.Error(f)
	}

	stale, wrongName := 0, 0
	for _, list := range obs {
		for _, o := range list {
			p := prodByID(prods, o.id)
			if o.version < o.floor {
				stale++
				if stale <= 5 {
					t.Errorf("stale read: %s showed version %d (%s) after version %d had been committed and returned", o.path, o.version, o.xcache, o.floor)
				}
			}
			if want, ok := p.names[o.version]; !ok || want != o.name {
				wrongName++
				if wrongName <= 5 {
					t.Errorf("%s showed version %d named %q; the name committed at that version is %q", o.path, o.version, o.name, want)
				}
			}
		}
	}
	for _, p := range prods {
		got := a.Product(p.id)
		if want := int64(1 + p.edits); got.Version != want {
			t.Errorf("product %d: version got %d, want %d (1 + %d successful edits): an edit was lost", p.id, got.Version, want, p.edits)
		}
		if want := p.names[got.Version]; got.Name != want {
			t.Errorf("product %d: name got %q, want the last committed %q", p.id, got.Name, want)
		}
		// After the dust settles every path shows the final version.
		for _, path := range []string{"/products/%d?cache=%s", "/api/products/%d?cache=%s"} {
			_, _, body, err := sc.do(http.MethodGet, fmt.Sprintf(path, p.id, mode), nil)
			if err != nil || !(strings.Contains(body, "<dd>"+strconv.FormatInt(got.Version, 10)+"</dd>") ||
				strings.Contains(body, `"version":`+strconv.FormatInt(got.Version, 10))) {
				t.Errorf("final read of %s does not show version %d (%v)", fmt.Sprintf(path, p.id, mode), got.Version, err)
			}
		}
	}
	t.Logf("mode %s: %d readers, %d editors on %d products in %v: %d reads (%d HIT), %d edit forms, %d edits, %d conflicts retried; stale reads: %d, wrong names: %d",
		mode, stressReaders, stressEditors, len(prods), took.Round(time.Millisecond), reads.Load(), hits.Load(),
		formReads.Load(), edits.Load(), conflicts.Load(), stale, wrongName)
	if stale != 0 {
		t.Errorf("stale reads: got %d, want 0", stale)
	}
}

func prodByID(ps []*stressProduct, id int64) *stressProduct {
	for _, p := range ps {
		if p.id == id {
			return p
		}
	}
	return nil
}
