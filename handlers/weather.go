package handlers

import "github.com/go-chi/chi/v5"

// weatherRoutes registers this demo's routes.
func (s *Server) weatherRoutes(r chi.Router) {
	r.Get("/weather", s.handle(s.serveSoon("Weather API")))
}
