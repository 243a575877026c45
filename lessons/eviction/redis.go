package eviction

import (
	"context"
	"strconv"
	"strings"

	"cacheworkshop/cache/page"
)

// redisMemory is Redis's own limit and what it has evicted, as the server
// reports them.
type redisMemory struct {
	Label string
	// Error is set when the figures could not be read; Unsupported when
	// the server does not implement CONFIG at all (the embedded server).
	Error       string
	Unsupported bool
	Embedded    bool
	// MaxMemory is maxmemory in bytes (0: no limit), with its human form.
	MaxMemory      int64
	MaxMemoryHuman string
	Policy         string
	// UsedHuman and EvictedKeys come from INFO; EvictedKnown says INFO
	// reported evicted_keys.
	UsedHuman    string
	EvictedKeys  int64
	EvictedKnown bool
}

// redisMemory reads maxmemory and maxmemory-policy with CONFIG GET, and
// used memory and evicted keys with INFO. A failure is shown on the page,
// never an error page: Redis being down or unable to answer is part of
// what the page explains.
func (l *Lesson) redisMemory(ctx context.Context) redisMemory {
	rc := l.kit.Redis
	m := redisMemory{Label: rc.Label(), Embedded: strings.Contains(rc.Label(), "embedded")}
	cfg, err := rc.Client().ConfigGet(ctx, "maxmemory*").Result()
	if err != nil {
		m.Error = page.Short(err)
		// miniredis answers "ERR unknown command `config`": it has no
		// memory limit and never evicts.
		m.Unsupported = strings.Contains(strings.ToLower(err.Error()), "unknown command")
		return m
	}
	m.MaxMemory, _ = strconv.ParseInt(cfg["maxmemory"], 10, 64)
	m.MaxMemoryHuman = humanBytes(m.MaxMemory)
	m.Policy = cfg["maxmemory-policy"]
	info, err := rc.Client().Info(ctx, "memory", "stats").Result()
	if err != nil {
		return m
	}
	for line := range strings.Lines(info) {
		k, v, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok {
			continue
		}
		switch k {
		case "used_memory_human":
			m.UsedHuman = v
		case "evicted_keys":
			m.EvictedKeys, _ = strconv.ParseInt(v, 10, 64)
			m.EvictedKnown = true
		}
	}
	return m
}

// humanBytes formats n in binary units, as Redis's *_human fields do.
func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return strconv.FormatFloat(float64(n)/(1<<30), 'f', 2, 64) + " GiB"
	case n >= 1<<20:
		return strconv.FormatFloat(float64(n)/(1<<20), 'f', 2, 64) + " MiB"
	case n >= 1<<10:
		return strconv.FormatFloat(float64(n)/(1<<10), 'f', 1, 64) + " KiB"
	}
	return strconv.FormatInt(n, 10) + " B"
}
