package handlers

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"cacheworkshop/cache"
	"cacheworkshop/cache/page"
	"cacheworkshop/models"
)

// Error is an error with the HTTP status and the message to show the
// user. Cause, when set, is logged and never shown.
type Error struct {
	Status int
	Msg    string
	Cause  error
}

// Error implements error.
func (e *Error) Error() string {
	if e.Cause != nil {
		return e.Msg + ": " + e.Cause.Error()
	}
	return e.Msg
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Cause }

// BadRequest is a 400 with msg.
func BadRequest(msg string) error { return &Error{Status: http.StatusBadRequest, Msg: msg} }

// NotFound is a 404 with msg.
func NotFound(msg string) error { return &Error{Status: http.StatusNotFound, Msg: msg} }

// Forbidden is a 403 with msg.
func Forbidden(msg string) error { return &Error{Status: http.StatusForbidden, Msg: msg} }

// HandlerFunc is a handler that reports failure by returning an error,
// which the adapter (Kit.Handle) turns into the right status page.
type HandlerFunc func(w http.ResponseWriter, r *http.Request) error

func (s *Server) handle(h HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			s.serveError(w, r, err)
		}
	}
}

// statusOf maps an error to its status and user message: an *Error says
// both, a models error has a code, and anything else is a 500 whose detail
// is logged, never shown.
func statusOf(err error) (int, string) {
	var he *Error
	if errors.As(err, &he) {
		return he.Status, he.Msg
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

type errorData struct {
	Status  int
	Text    string
	Message string
}

// serveError writes an error page, or JSON under /api/. Internal errors
// and causes are logged with their detail, which is never shown.
func (s *Server) serveError(w http.ResponseWriter, r *http.Request, err error) {
	status, msg := statusOf(err)
	if status >= 500 || errors.Unwrap(err) != nil {
		s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	h := w.Header()
	h.Del("Content-Length")
	h.Del("ETag")
	h.Del("Last-Modified")
	h.Set("Cache-Control", "no-store")
	setSecurityHeaders(h)
	if isAPI(r) {
		writeJSON(w, r, status, map[string]any{"error": msg, "status": status})
		return
	}
	// An error page consults no cache, for its fragments neither: the
	// cache may be what failed.
	e, rerr := s.renderPage(cache.WithMode(r.Context(), cache.ModeNone), liveRequest(r, "error"),
		http.StatusText(status), "", errorData{Status: status, Text: http.StatusText(status), Message: msg})
	if rerr != nil {
		s.log.Error("render error page", "err", rerr)
		http.Error(w, msg, status)
		return
	}
	h.Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(e.Body)
}

// writeJSON is the one JSON writer: v encoded with the trace's
// Server-Timing, never stored by any cache on the way.
func writeJSON(w http.ResponseWriter, r *http.Request, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		body, status = []byte(`{"error":"the response could not be encoded","status":500}`), http.StatusInternalServerError
	}
	e := &page.Entry{Status: status, ContentType: "application/json; charset=utf-8", Slot: -1, Body: append(body, '\n')}
	h := w.Header()
	if h.Get("Cache-Control") == "" {
		h.Set("Cache-Control", "no-store")
	}
	outcome := h.Get("X-Cache")
	if outcome == "" {
		outcome = "BYPASS"
	}
	page.Write(w, r, &page.Served{Entry: e, Outcome: outcome, Backend: "none"}, nil)
}
