package handlers

import (
	"crypto/subtle"
	"errors"
	"net"
	"net/http"
	"net/url"
	"runtime/debug"
	"strings"

	"cacheworkshop/cache"
	"cacheworkshop/trace"
)

// modeCookie remembers the mode picked with ?cache= so navigation keeps it.
const modeCookie = "cache_mode"

// withMode parses the query once into r.Form (GET and HEAD), then resolves
// the request's cache mode from ?cache=, then the cookie, then the default,
// and puts it in the context with the request's trace. A query that cannot be parsed, or an unknown
// ?cache= value, is a 400 that says so; an unreadable cookie is ignored.
func (s *Server) withMode(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet || r.Method == http.MethodHead {
			q, err := url.ParseQuery(r.URL.RawQuery)
			if err != nil {
				s.serveError(w, r, BadRequest("The query string could not be read ("+clip(err.Error(), 80)+
					"): separate parameters with & and escape special characters."))
				return
			}
			r.Form = q
		}
		mode := s.cfg.DefaultMode
		v, given, err := Param(r, "cache")
		if err != nil {
			s.serveError(w, r, err)
			return
		}
		if given {
			m, err := cache.ParseMode(v, s.cfg.DefaultMode)
			if err != nil {
				s.serveError(w, r, BadRequest(err.Error()))
				return
			}
			mode = m
			// API calls (a page's own fetches) never change the mode
			// the learner picked for browsing.
			if c, err := r.Cookie(modeCookie); !isAPI(r) && (err != nil || c.Value != m.String()) {
				http.SetCookie(w, &http.Cookie{Name: modeCookie, Value: m.String(), Path: "/",
					MaxAge: 30 * 24 * 3600, HttpOnly: true, SameSite: http.SameSiteLaxMode})
			}
		} else if c, err := r.Cookie(modeCookie); err == nil {
			if m, err := cache.ParseMode(c.Value, s.cfg.DefaultMode); err == nil {
				mode = m
			}
		}
		w.Header().Set("X-Cache-Mode", mode.String())
		// The request's trace starts here, with the mode, in one copy of
		// the request: routing before it takes well under a microsecond.
		ctx := cache.WithMode(trace.NewContext(r.Context(), trace.New()), mode)
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// csp allows only this site's own scripts and styles: no inline script, so
// an injected <script> in a product name could not run even if escaping
// failed. frame-ancestors 'none' supersedes X-Frame-Options in every
// current browser.
const csp = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"

// securityHeaders sets the headers every response carries. The layout's
// <meta name="referrer" content="same-origin"> sets the referrer policy of
// the HTML pages (JSON and static files link nowhere).
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		setSecurityHeaders(w.Header())
		next.ServeHTTP(w, r)
	})
}

func setSecurityHeaders(h http.Header) {
	h.Set("Content-Security-Policy", csp)
	h.Set("X-Content-Type-Options", "nosniff")
}

func (s *Server) recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.log.Error("panic", "path", r.URL.Path, "panic", v, "stack", string(debug.Stack()))
				s.serveError(w, r, errors.New("panic"))
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// loopbackOnly hides a route from anything but this machine.
func loopbackOnly(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host, _, err := net.SplitHostPort(r.RemoteAddr)
		if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
			http.NotFound(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// requireAdmin guards a route with ADMIN_TOKEN, when it is set: the token
// comes in the X-Admin-Token header or the form's admin_token field. GET
// and HEAD pass, so a guarded page can still show its form.
func (s *Server) requireAdmin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.cfg.AdminToken == "" || r.Method == http.MethodGet || r.Method == http.MethodHead {
			next.ServeHTTP(w, r)
			return
		}
		tok := r.Header.Get("X-Admin-Token")
		if tok == "" {
			if err := ParseForm(w, r); err != nil {
				s.serveError(w, r, err)
				return
			}
			tok = r.PostForm.Get("admin_token")
		}
		if subtle.ConstantTimeCompare([]byte(tok), []byte(s.cfg.AdminToken)) != 1 {
			s.serveError(w, r, Forbidden("This action needs the admin token (ADMIN_TOKEN): enter it in the form's admin token field."))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// privateCookies keeps every response that sets a cookie out of shared
// caches. A cookie belongs to one browser (the mode it picked, its
// one-time message), yet Set-Cookie does not stop a shared cache from
// storing a response (RFC 9111 §7.3): a public page that happens to set
// one would hand the cookie to whoever asks next. The check runs as the
// headers are sent, after every handler has set its own, so no page needs
// to remember it.
func privateCookies(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(&cookieWriter{ResponseWriter: w}, r)
	})
}

// cookieWriter applies privateIfCookie once, when the status is written.
type cookieWriter struct {
	http.ResponseWriter
	sent bool
}

func (w *cookieWriter) WriteHeader(code int) {
	if !w.sent && code >= 200 { // 1xx responses are not the final headers
		w.sent = true
		privateIfCookie(w.Header())
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *cookieWriter) Write(b []byte) (int, error) {
	if !w.sent {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

// Flush implements http.Flusher, sending the headers first as the
// connection's own writer would.
func (w *cookieWriter) Flush() {
	if !w.sent {
		w.WriteHeader(http.StatusOK)
	}
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (w *cookieWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// privateIfCookie makes h private when it sets a cookie and is not already
// private or no-store: "public" becomes "private" and the other directives
// (max-age, must-revalidate...) are kept, so the browser's own cache still
// works as the page asked.
func privateIfCookie(h http.Header) {
	if len(h.Values("Set-Cookie")) == 0 {
		return
	}
	kept := []string{"private"}
	for _, v := range h.Values("Cache-Control") {
		for d := range strings.SplitSeq(v, ",") {
			d = strings.TrimSpace(d)
			name, _, _ := strings.Cut(strings.ToLower(d), "=")
			switch name {
			case "private", "no-store":
				return
			case "public", "":
				continue
			}
			kept = append(kept, d)
		}
	}
	h.Set("Cache-Control", strings.Join(kept, ", "))
}
