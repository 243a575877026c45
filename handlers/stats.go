package handlers

import "github.com/go-chi/chi/v5"

// statsRoutes registers this demo's routes.
func (s *Server) statsRoutes(r chi.Router) {
	r.Get("/cache-stats", s.handle(s.serveSoon("Cache statistics")))
}
