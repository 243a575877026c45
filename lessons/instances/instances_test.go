package instances_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"cacheworkshop/app"
	"cacheworkshop/internal/testapp"
)

func TestInstancesPageListsItself(t *testing.T) {
	a := testapp.New(t, announce, func(c *app.Config) { c.Instance = "alpha" })
	a.Get("/products/3?cache=memory")
	a.Get("/products/3?cache=memory")
	r := a.Get("/instances")
	if r.Status != http.StatusOK {
		t.Fatalf("status %d: %s", r.Status, r.Body)
	}
	if got := r.Header.Get("X-Instance"); got != "alpha" {
		t.Errorf("X-Instance: got %q, want %q", got, "alpha")
	}
	if !strings.Contains(r.Body, "<strong>alpha</strong> (this one)") {
		t.Errorf("the table does not list this instance")
	}
	if !strings.Contains(r.Body, "Served by instance <strong>alpha</strong>") {
		t.Errorf("the bar does not name the instance")
	}
	var d struct {
		Instances []struct {
			Name  string `json:"name"`
			Modes map[string]struct{ Requests, Hits, Misses int64 }
		} `json:"instances"`
		RedisDown string `json:"redis_down"`
	}
	testapp.DecodeJSON(t, a.Get("/api/instances"), &d)
	if d.RedisDown != "" || len(d.Instances) != 1 || d.Instances[0].Name != "alpha" {
		t.Fatalf("got %+v, want alpha alone with Redis up", d)
	}
	m := d.Instances[0].Modes["memory"]
	if m.Hits != 1 || m.Misses != 1 {
		t.Errorf("memory counts: got %+v, want 1 hit and 1 miss", m)
	}
}

func TestInstancesSeeEachOtherInRedis(t *testing.T) {
	a := testapp.New(t, announce, func(c *app.Config) { c.Instance = "one" })
	testapp.New(t, announce, func(c *app.Config) {
		c.Instance = "two"
		c.RedisURL = a.RedisServer.URL()
		c.DatabasePath = a.Config.DatabasePath
	})
	deadline := time.Now().Add(5 * time.Second)
	for {
		r := a.Get("/instances")
		if strings.Contains(r.Body, "<strong>two</strong>") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("instance two never appeared on one's page")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestDemoItemEditAndSwitch(t *testing.T) {
	a := testapp.New(t, announce)
	var it struct {
		Value   string `json:"value"`
		Version int64  `json:"version"`
		Outcome string `json:"outcome"`
	}
	testapp.DecodeJSON(t, a.Get("/api/instances/item"), &it)
	if it.Outcome != "MISS" || it.Value != "blue" {
		t.Fatalf("first read: got %+v, want a MISS of blue", it)
	}
	testapp.DecodeJSON(t, a.Get("/api/instances/item"), &it)
	if it.Outcome != "HIT" {
		t.Fatalf("second read: got %+v, want a HIT", it)
	}
	if r := a.Post("/instances/item", url.Values{"value": {"green"}}); r.Status != http.StatusSeeOther {
		t.Fatalf("edit: status %d: %s", r.Status, r.Body)
	}
	testapp.DecodeJSON(t, a.Get("/api/instances/item"), &it)
	if it.Outcome != "MISS" || it.Value != "green" || it.Version != 2 {
		t.Fatalf("after the edit: got %+v, want a MISS of green v2", it)
	}
	if r := a.Post("/instances/switch", url.Values{"cross": {"off"}}); r.Status != http.StatusSeeOther {
		t.Fatalf("switch: status %d", r.Status)
	}
	if r := a.Get("/instances"); !strings.Contains(r.Body, "is <strong>off</strong>") {
		t.Errorf("the page does not say the switch is off")
	}
}

func TestInstancesBadInput(t *testing.T) {
	a := testapp.New(t, announce)
	cases := []struct {
		method, path string
		form         url.Values
	}{
		{"GET", "/instances?probe=everything", nil},
		{"GET", "/instances?probe=product&id=0", nil},
		{"GET", "/instances?probe=product&id=abc", nil},
		{"POST", "/instances/item", url.Values{"value": {"<script>"}}},
		{"POST", "/instances/item", url.Values{}},
		{"POST", "/instances/switch", url.Values{"cross": {"maybe"}}},
	}
	for _, tc := range cases {
		var r *testapp.Resp
		if tc.method == "GET" {
			r = a.Get(tc.path)
		} else {
			r = a.Post(tc.path, tc.form)
		}
		if r.Status != http.StatusBadRequest {
			t.Errorf("%s %s %v: got %d, want 400", tc.method, tc.path, tc.form, r.Status)
		}
	}
	var it struct{ Version int64 }
	testapp.DecodeJSON(t, a.Get("/api/instances/item"), &it)
	if it.Version != 1 {
		t.Errorf("bad input changed the item: version %d, want 1", it.Version)
	}
}

// announce turns on what testapp turns off: the instance announces itself
// in Redis, as a real one does.
func announce(c *app.Config) { c.NoAnnounce = false }
