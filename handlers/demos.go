package handlers

import (
	"net/http"

	"github.com/go-chi/chi/v5"
)

// demoRoutes registers the workshop's demos.
func (s *Server) demoRoutes(r chi.Router) {
	for path, title := range map[string]string{
		"/products/compare": "Cache comparison",
		"/benchmark":        "Fibonacci benchmark",
		"/weather":          "Weather API",
		"/cache-stats":      "Cache statistics",
	} {
		r.Get(path, s.handle(s.serveSoon(title)))
	}
}

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
