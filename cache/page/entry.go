package page

import (
	"encoding/binary"
	"errors"
	"time"
)

// Entry is a rendered response as it is stored in a cache: the body plus
// what is needed to serve it again without touching templates or the
// database. Slot is the byte offset where per-request markup (this
// request's HIT/MISS bar, one-time messages) is spliced in at serve time,
// so nothing specific to one request is ever stored; -1 means no slot.
type Entry struct {
	Status       int
	ContentType  string
	ETag         string
	LastModified time.Time
	Slot         int
	Body         []byte

	// How the entry was built, shown to learners on a hit ("this copy was
	// built 12 s ago in 3 ms").
	BuiltAt   time.Time
	BuildDur  time.Duration
	DBDur     time.Duration
	DBCount   int
	Simulated time.Duration

	// Expires, when set by the build, is the latest time the entry may be
	// served until: the soonest expiry of the time-limited fragments
	// inside it. It bounds the entry's TTL and is not stored.
	Expires time.Time
}

const entryMagic = 0xC7

var errBadEntry = errors.New("cache entry is not in the expected format")

// MarshalBinary encodes e compactly: a few varints and strings, then the
// body, so decoding a hit never parses or copies the body.
func (e *Entry) MarshalBinary() ([]byte, error) {
	b := make([]byte, 0, len(e.Body)+len(e.ContentType)+len(e.ETag)+64)
	b = append(b, entryMagic)
	b = binary.AppendUvarint(b, uint64(e.Status))
	b = binary.AppendVarint(b, int64(e.Slot))
	b = appendString(b, e.ContentType)
	b = appendString(b, e.ETag)
	b = binary.AppendVarint(b, unixNano(e.LastModified))
	b = binary.AppendVarint(b, unixNano(e.BuiltAt))
	b = binary.AppendVarint(b, int64(e.BuildDur))
	b = binary.AppendVarint(b, int64(e.DBDur))
	b = binary.AppendUvarint(b, uint64(e.DBCount))
	b = binary.AppendVarint(b, int64(e.Simulated))
	return append(b, e.Body...), nil
}

// UnmarshalBinary decodes data into e; e.Body aliases data.
func (e *Entry) UnmarshalBinary(data []byte) error {
	if len(data) == 0 || data[0] != entryMagic {
		return errBadEntry
	}
	d := decoder{b: data[1:]}
	*e = Entry{
		Status:       int(d.uvarint()),
		Slot:         int(d.varint()),
		ContentType:  d.string(),
		ETag:         d.string(),
		LastModified: fromUnixNano(d.varint()),
		BuiltAt:      fromUnixNano(d.varint()),
		BuildDur:     time.Duration(d.varint()),
		DBDur:        time.Duration(d.varint()),
		DBCount:      int(d.uvarint()),
		Simulated:    time.Duration(d.varint()),
	}
	if d.err || e.Slot > len(d.b) || e.Slot < -1 {
		return errBadEntry
	}
	e.Body = d.b
	return nil
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromUnixNano(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n)
}

type decoder struct {
	b   []byte
	err bool
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = true
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.err = true
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) string() string {
	n := d.uvarint()
	if d.err || n > uint64(len(d.b)) {
		d.err = true
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}
