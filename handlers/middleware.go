package handlers

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"runtime/debug"
	"strings"

	"cacheworkshop/cache"
	"cacheworkshop/models"
	"cacheworkshop/trace"
)

// modeCookie remembers the mode picked with ?cache= so navigation keeps it.
const modeCookie = "cache_mode"

// withMode resolves the request's cache mode from ?cache=, then the cookie,
// then the default, and puts it in the context together with the
// request's trace: in the requestContext ServeHTTP made, or in a new
// context when the chain is used on its own. An unknown ?cache= value
// is a 400 listing the valid ones; an unreadable cookie is ignored.
//
// For GET and HEAD the query is parsed here once, into r.Form, and every
// handler reads it from there.
func (s *Server) withMode(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if (r.Method == http.MethodGet || r.Method == http.MethodHead) && r.Form == nil {
			if r.URL.RawQuery == "" {
				r.Form = url.Values{}
			} else {
				r.Form, _ = url.ParseQuery(r.URL.RawQuery)
			}
		}
		mode := s.cfg.DefaultMode
		q, err := singleParam(r, "cache")
		if err != nil {
			s.serveError(w, r, err)
			return
		}
		if q != "" || hasParam(r, "cache") {
			m, err := cache.ParseMode(q, s.cfg.DefaultMode)
			if err != nil {
				s.serveError(w, r, errBadRequest(err.Error()))
				return
			}
			mode = m
			// API calls (a page's own fetches) never change the mode
			// the learner picked for browsing.
			if c, ok := cookieValue(r, modeCookie); !isAPI(r) && (!ok || c != m.String()) {
				http.SetCookie(w, &http.Cookie{Name: modeCookie, Value: m.String(), Path: "/",
					MaxAge: 30 * 24 * 3600, HttpOnly: true, SameSite: http.SameSiteLaxMode})
			}
		} else if c, ok := cookieValue(r, modeCookie); ok {
			if m, err := cache.ParseMode(c, s.cfg.DefaultMode); err == nil {
				mode = m
			}
		}
		w.Header()["X-Cache-Mode"] = modeHeader[mode]
		if c, ok := r.Context().(*requestContext); ok {
			// Set before any handler reads it; nothing else writes it.
			c.mode = mode
			next.ServeHTTP(w, r)
			return
		}
		ctx := trace.NewContext(cache.WithMode(r.Context(), mode), trace.New())
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// modeHeader holds the X-Cache-Mode values, shared so that setting the
// header allocates nothing.
var modeHeader = map[cache.Mode][]string{
	cache.ModeNone: {"none"}, cache.ModeMemory: {"memory"}, cache.ModeRedis: {"redis"},
}

// csp allows only this site's own scripts and styles: no inline script, so
// an injected <script> in a product name could not run even if escaping
// failed.
const csp = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"

// Header values shared by every response, so setting them allocates
// nothing.
var (
	cspHeader     = []string{csp}
	nosniffHeader = []string{"nosniff"}
)

// securityHeaders sets the headers every response carries. There are
// deliberately only two: a page response then has eight headers in all
// (with Content-Type, Content-Length, Cache-Control, Server-Timing, X-Cache
// and X-Cache-Mode), which fits net/http's header map without growing it
// on every response. The CSP's frame-ancestors 'none'
// supersedes X-Frame-Options in every current browser, and the layout's
// <meta name="referrer" content="same-origin"> sets the referrer policy for
// the HTML pages (JSON and static files link nowhere).
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h["Content-Security-Policy"] = cspHeader
		h["X-Content-Type-Options"] = nosniffHeader
		next.ServeHTTP(w, r)
	})
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

// handlerFunc is a handler that reports failure by returning an error,
// which handle turns into the right status page.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

func (s *Server) handle(h handlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			s.serveError(w, r, err)
		}
	}
}

// httpError is an error with the status and message to show.
type httpError struct {
	status int
	msg    string
}

// Error implements error.
func (e *httpError) Error() string { return e.msg }

func errBadRequest(msg string) error { return &httpError{status: http.StatusBadRequest, msg: msg} }
func errNotFound(msg string) error   { return &httpError{status: http.StatusNotFound, msg: msg} }

func statusOf(err error) (int, string) {
	var he *httpError
	if errors.As(err, &he) {
		return he.status, he.msg
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return http.StatusRequestEntityTooLarge, "The request body is too large."
	}
	switch models.ErrorCode(err) {
	case models.EINVALID:
		return http.StatusBadRequest, models.ErrorMessage(err)
	case models.ENOTFOUND:
		return http.StatusNotFound, models.ErrorMessage(err)
	case models.EUNPROC:
		return http.StatusUnprocessableEntity, models.ErrorMessage(err)
	}
	return http.StatusInternalServerError, "Something went wrong on our side; the error was logged."
}

func isAPI(r *http.Request) bool { return strings.HasPrefix(r.URL.Path, "/api/") }

// serveError writes an error page (or JSON under /api/). Internal errors
// are logged with their detail, which is never shown.
func (s *Server) serveError(w http.ResponseWriter, r *http.Request, err error) {
	status, msg := statusOf(err)
	if status >= 500 {
		s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	h := w.Header()
	h.Del("Content-Length")
	h.Del("ETag")
	h.Del("Last-Modified")
	h.Set("Cache-Control", "no-store")
	if isAPI(r) {
		h.Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(map[string]any{"error": msg, "status": status})
		return
	}
	body, rerr := s.pages.render("error", s.layout(r, http.StatusText(status), "", errorData{Status: status, Text: http.StatusText(status), Message: msg}))
	if rerr != nil {
		s.log.Error("render error page", "err", rerr)
		http.Error(w, msg, status)
		return
	}
	h.Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(stripSlot(body))
}

type errorData struct {
	Status  int
	Text    string
	Message string
}

// singleParam returns the query parameter name, rejecting a parameter given
// several times with different values: which one would we obey?
func singleParam(r *http.Request, name string) (string, error) {
	vs := queryValues(r)[name]
	if len(vs) == 0 {
		return "", nil
	}
	for _, v := range vs[1:] {
		if v != vs[0] {
			return "", errBadRequest("The parameter " + name + " was given several different values; give it once.")
		}
	}
	return vs[0], nil
}

// hasParam reports whether the query names the parameter at all.
func hasParam(r *http.Request, name string) bool {
	_, ok := queryValues(r)[name]
	return ok
}

// queryValues is the parsed query: r.Form when withMode parsed it (GET,
// HEAD), otherwise parsed now.
func queryValues(r *http.Request) url.Values {
	if r.Form != nil && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
		return r.Form
	}
	return r.URL.Query()
}
