package handlers

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// hostNames is the Host allow-list. Without it, a page on a domain whose
// DNS answer is switched to 127.0.0.1 after loading (DNS rebinding) is,
// to the browser, same-origin with this server: it could read every page
// and pass the cross-origin check on every form, since its Origin matches
// its Host. The browser always sends the name it resolved, so refusing
// unknown names closes that door.
type hostNames struct {
	names map[string]bool
	// list is the allowed names as the refusal shows them, in order.
	list []string
}

// newHostNames allows localhost, every IP literal, the host name of the
// listen address addr and the names in extra (ALLOWED_HOSTS).
func newHostNames(addr string, extra []string) *hostNames {
	h := &hostNames{names: map[string]bool{}}
	add := func(name string) {
		name = normalHost(name)
		if name == "" || h.names[name] {
			return
		}
		if _, err := netip.ParseAddr(name); err == nil {
			return // every IP literal is allowed anyway
		}
		h.names[name] = true
		h.list = append(h.list, name)
	}
	add("localhost")
	if name, _, err := net.SplitHostPort(addr); err == nil {
		add(name)
	}
	for _, n := range extra {
		add(n)
	}
	return h
}

// normalHost is a Host value without its port and brackets, lower-cased
// and without the trailing dot of a fully qualified name, so that
// "LocalHost.:8080" and "localhost" compare equal.
func normalHost(host string) string {
	host = strings.TrimSpace(host)
	if name, _, err := net.SplitHostPort(host); err == nil {
		host = name
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	return strings.TrimSuffix(strings.ToLower(host), ".")
}

// allowed reports whether a request's Host may be answered. An IP literal
// always may: a classroom reaches the server by its address, and a page
// served from an address is not same-origin with a page from any name.
func (h *hostNames) allowed(host string) bool {
	name := normalHost(host)
	if _, err := netip.ParseAddr(name); err == nil {
		return true
	}
	return h.names[name]
}

// refusal is the 400 a refused Host gets: which names are allowed and how
// to add one.
func (h *hostNames) refusal(host string) error {
	return BadRequest("This workshop does not answer to the host name " + quoteHost(host) + ". " +
		"It answers to any IP address and to these names: " + strings.Join(h.list, ", ") + ". " +
		"To use another name, add it to ALLOWED_HOSTS (comma-separated, or the -allowed-hosts flag) and restart. " +
		"Unknown names are refused so that a web page on a domain resolving to this machine (DNS rebinding) " +
		"cannot read or change the workshop.")
}

func quoteHost(host string) string {
	if host == "" {
		return "(none: the request has no Host)"
	}
	return `"` + clip(host, 100) + `"`
}

// checkHost answers a refused Host with the refusal, before anything else
// runs: static files, /debug/pprof and the cross-origin check included.
// Only requests that arrived over a connection are checked: one made in
// process (the compare lesson's measurements, tests calling ServeHTTP)
// has no browser behind it to be misled, and its Host is a placeholder.
func (s *Server) checkHost(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, overNetwork := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
		if overNetwork && !s.hosts.allowed(r.Host) {
			s.serveError(w, r, s.hosts.refusal(r.Host))
			return
		}
		next.ServeHTTP(w, r)
	})
}
