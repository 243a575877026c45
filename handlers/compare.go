package handlers

import "github.com/go-chi/chi/v5"

// compareRoutes registers this demo's routes.
func (s *Server) compareRoutes(r chi.Router) {
	r.Get("/products/compare", s.handle(s.serveSoon("Cache comparison")))
}
