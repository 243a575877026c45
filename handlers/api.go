package handlers

import "github.com/go-chi/chi/v5"

// apiRoutes registers this demo's routes.
func (s *Server) apiRoutes(r chi.Router) {
	_ = r
}
