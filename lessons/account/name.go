package account

import (
	"encoding/base64"
	"net/http"
	"unicode"
	"unicode/utf8"
)

// The visitor's name travels in one cookie, readable by the server only
// (HttpOnly) and sent with top-level navigations but not with cross-site
// subrequests (SameSite=Lax). It is sent to every path, as a real session
// cookie is: that is what makes "no other page changes with it" worth
// testing.
const (
	cookieName   = "account"
	cookieMaxAge = 7 * 24 * 3600
	// maxNameRunes bounds a name: it joins a cache key in the per-user
	// variant, and a page greets it.
	maxNameRunes = 24
)

// NameError is a name the sign-in form refuses, with the reason shown
// beside the field.
type NameError struct{ Reason string }

// Error implements error.
func (e *NameError) Error() string { return e.Reason }

// ValidName checks a name typed into the sign-in form. It is strict,
// because the name is shown on a page and joins a cache key: 1 to 24
// characters, starting with a letter or digit, then letters, digits,
// combining accents, spaces (never two in a row, never last), hyphens,
// apostrophes and full stops. Everything else (control and invisible
// characters, symbols, markup) is refused rather than cleaned up, so what
// is stored is exactly what was typed.
func ValidName(s string) error {
	if s == "" {
		return &NameError{"Type a name to sign in with."}
	}
	if !utf8.ValidString(s) {
		return &NameError{"The name is not valid UTF-8 text."}
	}
	if utf8.RuneCountInString(s) > maxNameRunes {
		return &NameError{"A name has at most 24 characters."}
	}
	var prev rune
	for i, r := range s {
		letter := unicode.IsLetter(r) || unicode.IsDigit(r)
		switch {
		case i == 0 && !letter:
			return &NameError{"A name starts with a letter or a digit."}
		case letter, unicode.Is(unicode.Mn, r):
		case r == ' ' && prev == ' ':
			return &NameError{"A name has no two spaces in a row."}
		case r == ' ' || r == '-' || r == '\'' || r == '.':
		default:
			return &NameError{"A name may hold letters, digits, spaces, hyphens, apostrophes and full stops only."}
		}
		prev = r
	}
	if prev == ' ' {
		return &NameError{"A name may not end with a space."}
	}
	return nil
}

// visitor is the name in the request's cookie, or "" when there is none or
// it does not decode to a valid name (a cookie edited by hand is ignored,
// never trusted).
func visitor(r *http.Request) string {
	c, err := r.Cookie(cookieName)
	if err != nil {
		return ""
	}
	b, err := base64.RawURLEncoding.DecodeString(c.Value)
	if err != nil || ValidName(string(b)) != nil {
		return ""
	}
	return string(b)
}

// setVisitor signs the browser in as name; an empty name signs it out.
// The value is base64url, so any valid name fits a cookie unchanged.
func setVisitor(w http.ResponseWriter, name string) {
	c := &http.Cookie{Name: cookieName, Value: base64.RawURLEncoding.EncodeToString([]byte(name)), Path: "/",
		MaxAge: cookieMaxAge, HttpOnly: true, SameSite: http.SameSiteLaxMode}
	if name == "" {
		c.Value, c.MaxAge = "", -1
	}
	http.SetCookie(w, c)
}
