package cache

import "strings"

// DeletePrefix removes every entry whose key starts with prefix and
// returns how many it removed and how many keys it had to examine. The
// memory cache keeps no index by prefix, so this walks every key it holds,
// under the one lock every lookup takes: the cost grows with the whole
// cache, not with the matches, and lookups wait meanwhile. The workshop
// invalidates with generations instead; the invalidation lab times this.
func (m *Memory) DeletePrefix(prefix string) (deleted, examined int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for k, e := range m.items {
		examined++
		if strings.HasPrefix(k, prefix) {
			m.removeLocked(e)
			deleted++
		}
	}
	m.deletes.Add(uint64(deleted))
	return deleted, examined
}
