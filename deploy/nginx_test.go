package deploy

import (
	"strings"
	"testing"
)

// TestCacheLockOnlyOnShareablePages: nginx cannot know before the answer
// that a page is no-store, so a cache lock in front of the dynamic pages
// makes concurrent requests for one page queue behind each other in 500 ms
// steps. The lock belongs to the /proxy-cache/ lesson alone.
func TestCacheLockOnlyOnShareablePages(t *testing.T) {
	conf := NginxConfig("/run", "127.0.0.1:8080", []string{"127.0.0.1:8081"}, false)
	location := ""
	depth := 0
	locks := map[string]bool{}
	for _, line := range strings.Split(conf, "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "#") {
			continue
		}
		if rest, ok := strings.CutPrefix(line, "location "); ok {
			location = strings.TrimSuffix(strings.TrimSpace(rest), " {")
			depth = 0
		}
		depth += strings.Count(line, "{") - strings.Count(line, "}")
		if strings.HasPrefix(line, "proxy_cache_lock ") && strings.Contains(line, "on") {
			where := location
			if where == "" || depth <= 0 {
				where = "(outside any location)"
			}
			locks[where] = true
		}
		if location != "" && depth <= 0 {
			location = ""
		}
	}
	if len(locks) != 1 || !locks["/proxy-cache/"] {
		t.Errorf("proxy_cache_lock on: got it in %v, want only in location /proxy-cache/", locks)
	}
}
