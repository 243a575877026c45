package page

import (
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"cacheworkshop/trace"
)

// Slot appends a request's own markup for what was served: the request
// bar, one-time messages and notices. sum and st are the request's trace
// figures and Server-Timing value, formatted once, so that the bar, the
// trace panel and the header agree.
type Slot func(b []byte, sv *Served, sum trace.Summary, st []byte) []byte

// Write sends sv: the stored bytes with this request's markup spliced in at
// the slot, and headers that say truthfully how the response was obtained.
// No template runs here, so a hit costs a lookup and a write. It is the one
// writer of cached, live and measured responses alike.
func Write(w http.ResponseWriter, r *http.Request, sv *Served, slot Slot) {
	e := sv.Entry
	// Headers are read and set through the map with their canonical
	// names, as net/http's own code does: Header.Set and Get canonicalize
	// and check every name on every call. Worth it on the hit path: in an
	// alternating run of BenchmarkListPage/memory the median went from
	// 17.3 to 15.7 µs (−9 %).
	h := w.Header()
	h["X-Cache"] = []string{sv.Outcome}
	if e.ETag != "" {
		h["Etag"] = []string{e.ETag}
	}
	if !e.LastModified.IsZero() {
		h["Last-Modified"] = []string{e.LastModified.UTC().Format(http.TimeFormat)}
	}
	if len(h["Cache-Control"]) == 0 {
		if e.Slot >= 0 {
			// The body carries this request's own bar and trace, so no
			// copy of it may be reused: every load asks the server and
			// shows freshly measured timings. Clients that send
			// If-None-Match or If-Modified-Since themselves still get
			// a 304 below.
			h["Cache-Control"] = []string{"no-store"}
		} else {
			h["Cache-Control"] = []string{"no-cache"}
		}
	}
	// The validators are those the response carries, from the entry or
	// set by the handler itself (as the HTTP caching lesson's pages do).
	etag, lastMod := first(h["Etag"]), e.LastModified
	if v := first(h["Last-Modified"]); lastMod.IsZero() && v != "" {
		lastMod, _ = http.ParseTime(v)
	}
	tr := trace.From(r.Context())
	if NotModified(r, e.Status, etag, lastMod) {
		h["Server-Timing"] = []string{string(tr.AppendServerTiming(nil, tr.Summary()))}
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h["Content-Type"] = []string{e.ContentType}
	if e.Slot < 0 || slot == nil {
		body := e.Body
		h["Server-Timing"] = []string{string(tr.AppendServerTiming(nil, tr.Summary()))}
		h["Content-Length"] = []string{strconv.Itoa(len(body))}
		w.WriteHeader(e.Status)
		if r.Method != http.MethodHead {
			_, _ = w.Write(body)
		}
		return
	}
	// The page is assembled in one pooled buffer and sent in one write:
	// three writes around the slot cost extra flushes and system calls
	// once the body outgrows the connection's buffer.
	bp := writeBufs.Get().(*[]byte)
	sp := writeBufs.Get().(*[]byte)
	sum := tr.Summary()
	st := tr.AppendServerTiming((*sp)[:0], sum)
	out := append((*bp)[:0], e.Body[:e.Slot]...)
	out = slot(out, sv, sum, st)
	out = append(out, e.Body[e.Slot:]...)
	h["Server-Timing"] = []string{string(st)}
	h["Content-Length"] = []string{strconv.Itoa(len(out))}
	w.WriteHeader(e.Status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(out)
	}
	*bp, *sp = out, st
	writeBufs.Put(bp)
	writeBufs.Put(sp)
}

// first is a header's first value, or "" (Header.Get on a canonical name).
func first(vs []string) string {
	if len(vs) == 0 {
		return ""
	}
	return vs[0]
}

var writeBufs = sync.Pool{New: func() any { b := make([]byte, 0, 32<<10); return &b }}

// NotModified reports whether a response with status, etag and
// lastModified may be answered 304 Not Modified, following RFC 9110
// §13.2.2: only a GET or HEAD that would get a 200 is, If-None-Match
// decides when it is sent, and If-Modified-Since only when it is not
// (an ETag is the more precise validator).
func NotModified(r *http.Request, status int, etag string, lastModified time.Time) bool {
	if (r.Method != http.MethodGet && r.Method != http.MethodHead) || status != http.StatusOK {
		return false
	}
	if inm := r.Header.Get("If-None-Match"); inm != "" {
		return etag != "" && ETagMatch(inm, etag)
	}
	return !lastModified.IsZero() && NotModifiedSince(r.Header.Values("If-Modified-Since"), lastModified)
}

// NotModifiedSince evaluates If-Modified-Since (RFC 9110 §13.1.3): true
// when lastModified is not after the date sent. HTTP dates have whole
// seconds, so lastModified is compared at that precision, and an equal
// date is not modified. A value that is not one valid date is ignored.
func NotModifiedSince(ims []string, lastModified time.Time) bool {
	if len(ims) != 1 {
		return false
	}
	t, err := http.ParseTime(ims[0])
	return err == nil && !lastModified.Truncate(time.Second).After(t)
}

// ETagMatch implements If-None-Match's weak comparison (RFC 9110 §13.1.2).
func ETagMatch(header, etag string) bool {
	if header == "" {
		return false
	}
	if strings.TrimSpace(header) == "*" {
		return true
	}
	want := strings.TrimPrefix(etag, "W/")
	for t := range strings.SplitSeq(header, ",") {
		if strings.TrimPrefix(strings.TrimSpace(t), "W/") == want {
			return true
		}
	}
	return false
}
