//go:build race

package eviction

// Under the race detector every lookup of a replay costs many times more
// (a 100,000-lookup replay takes minutes), so race-enabled builds, which
// only tests make, replay traces a tenth as long. The page shows the
// length it replayed.
func init() { defaultLookups = Lookups / 10 }
