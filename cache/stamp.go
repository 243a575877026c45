package cache

import (
	"encoding/binary"
	"slices"
)

// A versioned entry is stored as its generation values followed by the
// value: stampMagic, a count, the values as varints, then the bytes. The
// stamp lives in the stored value rather than in the key, so one read
// fetches the generations and the entry together and an entry built under
// older values is simply a miss; nothing has to be deleted on an edit.
const stampMagic = 0xC8

// maxStamped bounds the generations one entry may depend on, so a corrupt
// value cannot make the decoder allocate.
const maxStamped = 16

func stamp(cur []int64, value []byte) []byte {
	b := make([]byte, 0, len(value)+2+binary.MaxVarintLen64*len(cur))
	b = append(b, stampMagic)
	b = binary.AppendUvarint(b, uint64(len(cur)))
	for _, g := range cur {
		b = binary.AppendVarint(b, g)
	}
	return append(b, value...)
}

// unstamp returns the value of a stored entry when it was stamped with
// exactly cur.
func unstamp(stored []byte, cur []int64) ([]byte, bool) {
	if len(stored) < 2 || stored[0] != stampMagic {
		return nil, false
	}
	b := stored[1:]
	n, k := binary.Uvarint(b)
	if k <= 0 || n != uint64(len(cur)) || n > maxStamped {
		return nil, false
	}
	b = b[k:]
	for _, want := range cur {
		g, k := binary.Varint(b)
		if k <= 0 || g != want {
			return nil, false
		}
		b = b[k:]
	}
	return b, true
}

// sameGens reports whether two generation readings are equal.
func sameGens(a, b []int64) bool { return slices.Equal(a, b) }
