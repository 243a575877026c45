package handlers

import "net/http"

type soonData struct{ Title string }

// serveSoon is the placeholder for a demo that is not built yet.
func (s *Server) serveSoon(title string) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		body, err := s.pages.render("soon", s.layout(r, title, "", soonData{Title: title}))
		if err != nil {
			return err
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write(stripSlot(body))
		return nil
	}
}
