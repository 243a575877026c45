package handlers

import (
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"cacheworkshop/cache/page"
)

// maxFormBytes bounds every form body the workshop reads.
const maxFormBytes = 64 << 10

// Param returns the query parameter name and whether it was given at all.
// A parameter given several times with different values is a 400: which
// one would we obey?
func Param(r *http.Request, name string) (value string, given bool, err error) {
	return single(queryValues(r)[name], "parameter", name)
}

// FormValue is Param for a parsed form body (see ParseForm).
func FormValue(r *http.Request, name string) (value string, given bool, err error) {
	return single(r.PostForm[name], "field", name)
}

func single(vs []string, kind, name string) (string, bool, error) {
	if len(vs) == 0 {
		return "", false, nil
	}
	for _, v := range vs[1:] {
		if v != vs[0] {
			return "", true, BadRequest("The " + kind + " " + name + " was given several different values; give it once.")
		}
	}
	return vs[0], true, nil
}

// IntParam reads a query parameter that must be a whole number from lo to
// hi, written with digits only; absent means def.
func IntParam(r *http.Request, name string, def, lo, hi int) (int, error) {
	v, given, err := Param(r, name)
	if err != nil || !given {
		return def, err
	}
	return wholeNumber(v, "parameter", name, lo, hi)
}

// FormInt is IntParam for a required field of a parsed form body.
func FormInt(r *http.Request, name string, lo, hi int) (int, error) {
	v, _, err := FormValue(r, name)
	if err != nil {
		return 0, err
	}
	return wholeNumber(v, "field", name, lo, hi)
}

// wholeNumber accepts digits only: no sign, no space, no exponent, so
// "+5" and "5e2" are refused rather than read as something else.
func wholeNumber(v, kind, name string, lo, hi int) (int, error) {
	n, err := strconv.Atoi(v)
	if err != nil || v == "" || strings.TrimLeft(v, "0123456789") != "" || n < lo || n > hi {
		return 0, BadRequest(fmt.Sprintf("The %s %s must be a whole number from %d to %d (got %q).", kind, name, lo, hi, clip(v, 24)))
	}
	return n, nil
}

// queryValues is the query withMode parsed into r.Form for GET and HEAD,
// otherwise parsed now.
func queryValues(r *http.Request) map[string][]string {
	if r.Form != nil && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
		return r.Form
	}
	return r.URL.Query()
}

// ParseForm reads a POST body of at most maxFormBytes into r.PostForm: URL
// encoded or multipart (whose fields then count like any other, files
// aside). Any other body is a 415; an unreadable one a 400.
func ParseForm(w http.ResponseWriter, r *http.Request) error {
	if r.PostForm != nil {
		return nil
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if r.ContentLength == 0 && r.Header.Get("Content-Type") == "" {
		mt, err = "application/x-www-form-urlencoded", nil
	}
	if err != nil || (mt != "application/x-www-form-urlencoded" && mt != "multipart/form-data") {
		return &Error{Status: http.StatusUnsupportedMediaType, Msg: "Send the form as application/x-www-form-urlencoded or multipart/form-data."}
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if mt == "multipart/form-data" {
		err = r.ParseMultipartForm(maxFormBytes)
		if err == nil && r.MultipartForm != nil {
			// Only the fields count; a file part is refused, not
			// silently dropped.
			if len(r.MultipartForm.File) > 0 {
				return BadRequest("The form may not carry files.")
			}
		}
	} else {
		err = r.ParseForm()
	}
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return err
		}
		return BadRequest("The form could not be read: " + clip(err.Error(), 100))
	}
	return nil
}

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// liveRequest is the page.Request of a page rendered for this request
// alone (forms, labs, error pages): its canonical query is the request's
// own, minus cache=, since nothing of it is shared.
func liveRequest(r *http.Request, name string) page.Request {
	q := r.URL.Query()
	q.Del("cache")
	// The escaped path, and never one a browser would read as another
	// host ("//host/..." is protocol-relative).
	path := r.URL.EscapedPath()
	if strings.HasPrefix(path, "//") {
		path = "/." + path
	}
	if path == "" {
		path = "/"
	}
	return page.Request{Page: name, Path: path, Query: q.Encode(), Mode: modeOf(r)}
}
