package handlers

import "github.com/go-chi/chi/v5"

// httpCacheRoutes registers this demo's routes.
func (s *Server) httpCacheRoutes(r chi.Router) {
	_ = r
}
