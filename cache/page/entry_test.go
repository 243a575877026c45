package page_test

import (
	"bytes"
	"testing"
	"time"

	"cacheworkshop/cache/page"
)

func marshal(e *page.Entry) []byte {
	b, _ := e.MarshalBinary()
	return b
}

// FuzzUnmarshalEntry: a cache entry is read from a shared store anyone can
// write to, so arbitrary bytes must decode or fail, never panic; what
// decodes must survive a round trip.
func FuzzUnmarshalEntry(f *testing.F) {
	e := &page.Entry{Status: 200, ContentType: "text/html; charset=utf-8", ETag: `"x"`, Slot: 3, Body: []byte("abcdef"),
		BuiltAt: time.Unix(1700000000, 5), BuildDur: time.Millisecond, DBCount: 2}
	f.Add(marshal(e))
	f.Add(marshal(&page.Entry{Slot: -1}))
	f.Add([]byte{})
	f.Add([]byte{0xC7})
	f.Add([]byte{0xC7, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Add([]byte("not an entry"))
	f.Fuzz(func(t *testing.T, data []byte) {
		orig := bytes.Clone(data)
		e := new(page.Entry)
		err := e.UnmarshalBinary(data)
		if !bytes.Equal(orig, data) {
			t.Fatal("UnmarshalEntry modified its input")
		}
		if err != nil {
			return
		}
		if e.Slot < -1 || e.Slot > len(e.Body) {
			t.Fatalf("decoded slot %d outside -1..%d", e.Slot, len(e.Body))
		}
		e2 := new(page.Entry)
		if err := e2.UnmarshalBinary(marshal(e)); err != nil {
			t.Fatalf("re-encoded entry does not decode: %v", err)
		}
		if e2.Status != e.Status || e2.Slot != e.Slot || e2.ContentType != e.ContentType || e2.ETag != e.ETag ||
			!bytes.Equal(e2.Body, e.Body) || !e2.LastModified.Equal(e.LastModified) || !e2.BuiltAt.Equal(e.BuiltAt) ||
			e2.BuildDur != e.BuildDur || e2.DBDur != e.DBDur || e2.DBCount != e.DBCount || e2.Simulated != e.Simulated {
			t.Fatalf("round trip changed the entry: got %+v, want %+v", e2, e)
		}
	})
}
