package handlers

import "testing"

// TestJoinedDigest: a page with a code panel is keyed by its templates'
// digest mixed with the panel's, so that a new snippet (or template) gives
// new keys; the same inputs give the same digest, at no cost on a hit.
func TestJoinedDigest(t *testing.T) {
	a := &joinedDigest{panel: "p1"}
	first := a.of("d1")
	if first == "d1" || len(first) != len("d1d1d1d1") {
		t.Errorf("of(d1): got %q, want a new 8-character digest", first)
	}
	if got := a.of("d1"); got != first {
		t.Errorf("of(d1) again: got %q, want %q", got, first)
	}
	if got := a.of("d2"); got == first {
		t.Error("a changed template digest kept the joined digest")
	}
	if got := a.of("d1"); got != first {
		t.Errorf("back to d1: got %q, want %q", got, first)
	}
	b := &joinedDigest{panel: "p2"}
	if b.of("d1") == first {
		t.Error("a changed panel kept the joined digest")
	}
	if n := testing.AllocsPerRun(100, func() { _ = a.of("d1") }); n != 0 {
		t.Errorf("of on a hit: %v allocations, want 0", n)
	}
}
