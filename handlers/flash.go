package handlers

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
)

// flash is a one-time message carried by a short-lived cookie from a POST
// to the page it redirects to. It is only ever shown in the slot, never in
// a cached body.
type flash struct {
	Message string   `json:"m"`
	Details []string `json:"d,omitempty"`
}

const flashCookie = "flash"

func setFlash(w http.ResponseWriter, f flash) {
	data, _ := json.Marshal(f)
	http.SetCookie(w, &http.Cookie{Name: flashCookie, Value: base64.RawURLEncoding.EncodeToString(data),
		Path: "/", MaxAge: 60, HttpOnly: true, SameSite: http.SameSiteLaxMode})
}

// takeFlash reads and clears the flash cookie. A HEAD request reads it
// without clearing it: it shows nothing, so it must not use the message up.
func takeFlash(w http.ResponseWriter, r *http.Request) (flash, bool) {
	c, err := r.Cookie(flashCookie)
	if err != nil {
		return flash{}, false
	}
	if r.Method != http.MethodHead {
		http.SetCookie(w, &http.Cookie{Name: flashCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteLaxMode})
	}
	data, err := base64.RawURLEncoding.DecodeString(c.Value)
	var f flash
	if err != nil || json.Unmarshal(data, &f) != nil || f.Message == "" {
		return flash{}, false
	}
	return f, true
}
