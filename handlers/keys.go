package handlers

import (
	"encoding/json"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

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
	key, err := singleParam(r, "key")
	if err != nil {
		return err
	}
	key = strings.TrimSpace(key)
	if key == "" || len(key) > 512 || !utf8.ValidString(key) {
		return errBadRequest("key must be a cache key from a trace (1 to 512 characters of text).")
	}
	rep := keyReport{Key: key, Parts: explainKey(key), In: map[string]any{}, Outcomes: map[string]string{}}
	for _, o := range []string{"HIT", "MISS", "BYPASS", "ERROR"} {
		rep.Outcomes[o] = outcomeReason(o)
	}
	key, _, _ = strings.Cut(key, " @") // generations are not part of the storage key
	if ttl, ok := s.memory.TTL(key); ok {
		rep.In["memory"] = map[string]any{"present": true, "ttl_remaining_s": int(ttl / time.Second)}
	} else {
		rep.In["memory"] = map[string]any{"present": false}
	}
	if ttl, ok, err := s.redis.TTL(r.Context(), key); err != nil {
		rep.In["redis"] = map[string]any{"error": short(err)}
	} else {
		rep.In["redis"] = map[string]any{"present": ok, "ttl_remaining_s": int(ttl / time.Second)}
	}
	// This looks into the caches but serves nothing from them.
	tr := trace.From(r.Context())
	tr.Cache(trace.Lookup{Layer: "page", Backend: "none", Key: "cache-key report", Outcome: trace.Bypass})
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Cache", trace.Bypass)
	h.Set("Server-Timing", tr.Snapshot().ServerTiming())
	return json.NewEncoder(w).Encode(rep)
}
