package handlers

import (
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"cacheworkshop/cache"
	"cacheworkshop/trace"
)

// keyReport is the JSON of /api/cache-key: what a key is made of and
// whether each backend holds it right now.
type keyReport struct {
	Key   string         `json:"key"`
	Parts []KeyPart      `json:"parts"`
	In    map[string]any `json:"in"`
	// Outcomes says what each lookup outcome means, for the trace panel.
	Outcomes map[string]string `json:"outcomes"`
}

// serveCacheKey explains one cache key for the trace panel's key explainer.
func (s *Server) serveCacheKey(w http.ResponseWriter, r *http.Request) error {
	key, _, err := Param(r, "key")
	if err != nil {
		return err
	}
	key = strings.TrimSpace(key)
	if key == "" || len(key) > 512 || !utf8.ValidString(key) {
		return BadRequest("key must be a cache key from a trace (1 to 512 characters of text).")
	}
	rep := keyReport{Key: key, Parts: explainKey(key), In: map[string]any{}, Outcomes: map[string]string{}}
	for _, o := range []string{trace.Hit, trace.Miss, trace.Bypass, trace.Error} {
		rep.Outcomes[o] = outcomeReason(o)
	}
	key, _, _ = strings.Cut(key, " @") // generations are not part of the storage key
	for _, m := range []cache.Mode{cache.ModeMemory, cache.ModeRedis} {
		in, ok := s.backend(m).(cache.Inspector)
		if !ok {
			continue
		}
		if ttl, found, err := in.TTL(r.Context(), key); err != nil {
			rep.In[m.String()] = map[string]any{"error": clip(err.Error(), 160)}
		} else {
			rep.In[m.String()] = map[string]any{"present": found, "ttl_remaining_s": int(ttl / time.Second)}
		}
	}
	// This looks into the caches but serves nothing from them.
	trace.From(r.Context()).Cache(trace.Lookup{Layer: "page", Backend: "none", Key: "cache-key report", Outcome: trace.Bypass})
	writeJSON(w, r, http.StatusOK, rep)
	return nil
}

// KeyPart is one component of an explained cache key.
type KeyPart struct {
	Name    string `json:"name"`
	Value   string `json:"value"`
	Meaning string `json:"meaning"`
}

// explainKey splits one of the workshop's keys into named parts, so the
// trace panel can say what each part is and what changes it.
func explainKey(key string) []KeyPart {
	key, gens, _ := strings.Cut(key, " @")
	parts := strings.Split(key, ":")
	switch {
	case len(parts) >= 4 && parts[0] == "page":
		out := []KeyPart{
			{"kind", "page", "a whole rendered response"},
			{"page", parts[1], "which page template"},
			{"digest", parts[2], "digest of the page's template source: editing the template changes it"},
			{"request", strings.Join(parts[3:], ":"), "only the query parameters that change the page, normalised"},
		}
		if gens != "" {
			out = append(out, KeyPart{"generations", gens, "generation numbers (base 36) of what the page shows, stored in the entry and compared on every read: an edit bumps them, so an older entry counts as a miss"})
		}
		return out
	case len(parts) >= 4 && parts[0] == "frag":
		return []KeyPart{
			{"kind", "fragment", "part of a page, cached separately (Russian-doll caching)"},
			{"fragment", parts[1], "which sub-template; the braces are a Redis Cluster hash tag: only the name picks the key's slot, so every fragment of this kind is on one node and a list's rows are one MGET"},
			{"digest", parts[2], "digest of this fragment's own template source"},
			{"key", strings.Join(parts[3:], ":"), "the caller's key: for a product, its id and version, so an edit makes a new key"},
		}
	}
	return []KeyPart{{"key", key, "a key of its own kind"}}
}

// outcomeReason says why a lookup came out as it did.
func outcomeReason(outcome string) string {
	switch outcome {
	case trace.Hit:
		return "found under exactly this key and not expired"
	case trace.Miss:
		return "nothing valid under this key: never built, expired (TTL), evicted, built under older generations, or a version or template digest changed, which makes a new key"
	case trace.Bypass:
		return "mode none: the cache is not consulted"
	case trace.Error:
		return "the cache backend failed (down, timed out or switched off): served without it"
	}
	return ""
}
