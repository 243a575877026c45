package fragment_test

import (
	"bytes"
	"context"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"

	"cacheworkshop/cache"
	"cacheworkshop/cache/fragment"
	"cacheworkshop/render"
	"cacheworkshop/trace"
)

type item struct{ ID, Version int }

func (i item) CacheKey() string { return strconv.Itoa(i.ID) + ":v" + strconv.Itoa(i.Version) }

type pageData struct {
	Req   *fragment.Render
	Items []item
	Card  item
}

var files = fstest.MapFS{
	"layout.html":    {Data: []byte(`{{define "layout"}}{{template "content" .}}{{end}}`)},
	"fragments.html": {Data: []byte(`{{define "row"}}<li>{{.ID}}</li>{{end}}{{define "card"}}<p>{{.ID}} v{{.Version}}</p>{{end}}`)},
	"p.html":         {Data: []byte(`{{define "content"}}{{fragment .Req "card" .Card.CacheKey .Card}}<ul>{{fragmentEach .Req "row" .Items}}</ul>{{end}}`)},
}

func setup(t testing.TB) (*render.Set, *fragment.Engine, *cache.Memory) {
	views, err := render.New(files, false, fragment.Funcs())
	if err != nil {
		t.Fatal(err)
	}
	mem := cache.NewMemory(cache.MemoryConfig{})
	e := fragment.New(fragment.Config{
		Backend: func(m cache.Mode) cache.Cache {
			if m == cache.ModeMemory {
				return mem
			}
			return nil
		},
		Digest: views.FragmentDigest,
	})
	return views, e, mem
}

// run renders p.html in mode and returns the markup and the trace.
func run(t testing.TB, views *render.Set, e *fragment.Engine, mode cache.Mode, d pageData) (string, trace.Snapshot) {
	tmpl, _, err := views.Page("p")
	if err != nil {
		t.Fatal(err)
	}
	tr := trace.New()
	ctx := cache.WithMode(trace.NewContext(context.Background(), tr), mode)
	var buf bytes.Buffer
	d.Req = e.Start(ctx, tmpl, &buf)
	err = render.Execute(&buf, tmpl, d)
	d.Req.Finish()
	if err != nil {
		t.Fatal(err)
	}
	return buf.String(), tr.Snapshot()
}

func outcomes(s trace.Snapshot) string {
	var b []string
	for _, l := range s.Lookups {
		b = append(b, l.Outcome)
	}
	return strings.Join(b, " ")
}

func TestFragments(t *testing.T) {
	views, e, _ := setup(t)
	d := pageData{Items: []item{{1, 1}, {2, 1}}, Card: item{7, 1}}
	want := "<p>7 v1</p><ul><li>1</li><li>2</li></ul>"
	for i, tc := range []struct {
		mode     cache.Mode
		d        pageData
		want     string
		outcomes string
	}{
		{cache.ModeMemory, d, want, "MISS MISS MISS"},
		{cache.ModeMemory, d, want, "HIT HIT HIT"},
		// A new version is a new key for exactly that item.
		{cache.ModeMemory, pageData{Items: []item{{1, 1}, {2, 2}}, Card: item{7, 1}}, want, "HIT HIT MISS"},
		// Mode none looks nothing up: one summary per fragment.
		{cache.ModeNone, d, want, "BYPASS BYPASS"},
	} {
		got, snap := run(t, views, e, tc.mode, tc.d)
		if got != tc.want {
			t.Errorf("step %d: markup %q, want %q", i, got, tc.want)
		}
		if o := outcomes(snap); o != tc.outcomes {
			t.Errorf("step %d: lookups %s, want %s", i, o, tc.outcomes)
		}
	}
	if k := e.Key("row", "2:v1"); !strings.HasPrefix(k, "frag:{row}:"+views.FragmentDigest("row")+":") {
		t.Errorf("Key: got %q, want the fragment's digest in it", k)
	}
	if views.FragmentDigest("row") == views.FragmentDigest("card") {
		t.Error("two different fragments share a digest")
	}
}

// BenchmarkFragmentHit is the cost of a page of one card and 20 rows whose
// fragments all hit the memory cache, against BenchmarkFragmentRender,
// the same page rendered with no cache.
func BenchmarkFragmentHit(b *testing.B)    { benchFragments(b, cache.ModeMemory) }
func BenchmarkFragmentRender(b *testing.B) { benchFragments(b, cache.ModeNone) }

func benchFragments(b *testing.B, mode cache.Mode) {
	views, e, _ := setup(b)
	d := pageData{Card: item{7, 1}}
	for i := range 20 {
		d.Items = append(d.Items, item{i, 1})
	}
	run(b, views, e, mode, d)
	b.ReportAllocs()
	for b.Loop() {
		run(b, views, e, mode, d)
	}
}
