package handlers

import "github.com/go-chi/chi/v5"

// fibRoutes registers this demo's routes.
func (s *Server) fibRoutes(r chi.Router) {
	r.Get("/benchmark", s.handle(s.serveSoon("Fibonacci benchmark")))
}
