package instances

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The demo's item is one row in the shared SQLite file, cached by each
// instance in its own memory cache under the lesson's own key. An edit
// deletes the editing instance's copy and, while cross-instance
// invalidation is on, publishes the key so every other instance deletes
// its copy too. Switched off, the others keep serving their old copy until
// its TTL: the stale read a plain per-process cache gives. Only this
// lesson's key is affected; the catalogue's invalidations never stop.

// itemKey is the demo item's key in each instance's memory cache.
const itemKey = "lesson:instances:item"

// itemTTL is how long an instance keeps its copy: long enough that a
// stale copy stays visible while the learner looks for it.
const itemTTL = 10 * time.Minute

// item is the demo row.
type item struct {
	Value   string `json:"value"`
	Version int64  `json:"version"`
}

// channel carries the demo's invalidations; crossKey holds the switch
// ("off" turns cross-instance invalidation off for the demo).
func (l *Lesson) channel() string  { return l.prefix + "{instances}:demo" }
func (l *Lesson) crossKey() string { return l.prefix + "{instances}:cross" }

// tableOnce remembers the stores whose demo table exists, so the CREATE
// runs once per database rather than on every read.
var tableOnce sync.Map

// ensureTable creates the demo's table on first use.
func (l *Lesson) ensureTable(ctx context.Context) error {
	db := l.kit.Store.DB().WithContext(ctx)
	if _, done := tableOnce.Load(l.kit.Store); done {
		return nil
	}
	err := db.Exec(`CREATE TABLE IF NOT EXISTS instances_demo (id INTEGER PRIMARY KEY CHECK (id = 1), value TEXT NOT NULL, version INTEGER NOT NULL)`).Error
	if err == nil {
		err = db.Exec(`INSERT OR IGNORE INTO instances_demo (id, value, version) VALUES (1, 'blue', 1)`).Error
	}
	if err == nil {
		tableOnce.Store(l.kit.Store, true)
	}
	return err
}

// readDB reads the demo row from the database.
func (l *Lesson) readDB(ctx context.Context) (item, error) {
	if err := l.ensureTable(ctx); err != nil {
		return item{}, err
	}
	var it item
	err := l.kit.Store.DB().WithContext(ctx).Raw(`SELECT value, version FROM instances_demo WHERE id = 1`).Row().Scan(&it.Value, &it.Version)
	return it, err
}

// read returns the item through this instance's memory cache, and
// whether it was a hit.
func (l *Lesson) read(ctx context.Context) (item, bool, error) {
	if b, ok, _ := l.kit.Memory.Get(ctx, itemKey); ok {
		if it, err := decodeItem(b); err == nil {
			return it, true, nil
		}
	}
	it, err := l.readDB(ctx)
	if err != nil {
		return it, false, err
	}
	_ = l.kit.Memory.Set(ctx, itemKey, encodeItem(it), itemTTL)
	return it, false, nil
}

func encodeItem(it item) []byte { return []byte(strconv.FormatInt(it.Version, 10) + ":" + it.Value) }

func decodeItem(b []byte) (item, error) {
	v, val, ok := strings.Cut(string(b), ":")
	n, err := strconv.ParseInt(v, 10, 64)
	if !ok || err != nil {
		return item{}, errors.New("bad demo item")
	}
	return item{Value: val, Version: n}, nil
}

// write saves a new value, then invalidates: this instance's copy always,
// the others' only while cross-instance invalidation is on. It reports
// whether the others were told.
func (l *Lesson) write(ctx context.Context, value string) (bool, error) {
	if err := l.ensureTable(ctx); err != nil {
		return false, err
	}
	if err := l.kit.Store.DB().WithContext(ctx).Exec(`UPDATE instances_demo SET value = ?, version = version + 1 WHERE id = 1`, value).Error; err != nil {
		return false, err
	}
	_ = l.kit.Memory.Delete(ctx, itemKey)
	if !l.cross(ctx) {
		return false, nil
	}
	err := l.client.Publish(ctx, l.channel(), l.kit.Instance()).Err()
	return err == nil, err
}

// cross reports whether cross-instance invalidation is on for the demo
// (the default; also when Redis cannot say).
func (l *Lesson) cross(ctx context.Context) bool {
	if l.client == nil {
		return false
	}
	v, err := l.client.Get(ctx, l.crossKey()).Result()
	return err != nil || v != "off"
}

// setCross turns the switch; it lasts an hour so a classroom's forgotten
// switch heals itself.
func (l *Lesson) setCross(ctx context.Context, on bool) error {
	if l.client == nil {
		return errNoRedis
	}
	if on {
		return l.client.Del(ctx, l.crossKey()).Err()
	}
	return l.client.Set(ctx, l.crossKey(), "off", time.Hour).Err()
}

// listen deletes this instance's copy when another instance publishes
// an edit. It resubscribes after Redis comes back.
func (l *Lesson) listen(ctx context.Context) {
	for ctx.Err() == nil {
		sub := l.client.Subscribe(ctx, l.channel())
		ch := sub.Channel()
		for msg := range ch {
			if msg.Payload != l.kit.Instance() {
				_ = l.kit.Memory.Delete(ctx, itemKey)
			}
		}
		_ = sub.Close()
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

// probeResult is one instance's answer to the demo's probe.
type probeResult struct {
	Instance string
	Outcome  string // HIT, MISS, or ERROR
	Value    string
	Version  int64
	// Stale is set when the instance served an older version than the
	// database holds.
	Stale bool
	Err   string
	Took  time.Duration
}

// fetcher calls other instances directly, never through the proxy, so
// each answer is that instance's own.
type fetcher struct{ client *http.Client }

func newFetcher() *fetcher {
	return &fetcher{client: &http.Client{Timeout: 3 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// probeAddr accepts an announced address only as host:port with a
// numeric port, so a bad announcement cannot make the server fetch an
// arbitrary URL. A wildcard listen is reached on loopback.
func probeAddr(addr string) (string, bool) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", false
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return "", false
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	if net.ParseIP(host) == nil && host != "localhost" {
		return "", false
	}
	return net.JoinHostPort(host, port), true
}

// get fetches path from one instance and returns the response's X-Cache
// and body.
func (f *fetcher) get(ctx context.Context, addr, path string) (outcome string, body []byte, took time.Duration, err error) {
	hp, ok := probeAddr(addr)
	if !ok {
		return "", nil, 0, fmt.Errorf("address %q is not host:port", addr)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+hp+path, nil)
	if err != nil {
		return "", nil, 0, err
	}
	t0 := time.Now()
	resp, err := f.client.Do(req)
	if err != nil {
		return "", nil, 0, err
	}
	defer resp.Body.Close()
	body, err = io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	took = time.Since(t0)
	if resp.StatusCode != http.StatusOK {
		return "", nil, took, fmt.Errorf("status %d", resp.StatusCode)
	}
	return resp.Header.Get("X-Cache"), body, took, err
}
