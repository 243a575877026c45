package handlers

import (
	"context"
	"net/http"
	"sync"

	"github.com/go-chi/chi/v5"

	"cacheworkshop/cache"
	"cacheworkshop/trace"
)

// requestContext carries what a request's handlers read from its context:
// chi's routing context, the cache mode and the trace. A page request
// would otherwise pay three context.WithValue calls and two request copies
// (chi's and withMode's) before any handler ran; here it is one allocation
// and one copy. cache.ModeFrom, trace.From and chi.URLParam read it through
// the keys those packages export for this purpose.
type requestContext struct {
	context.Context
	route *chi.Context
	mode  cache.Mode
	tr    trace.Trace
}

// Value implements context.Context.
func (c *requestContext) Value(key any) any {
	switch key {
	case chi.RouteCtxKey:
		return c.route
	case cache.ModeContextKey:
		return c.mode
	case trace.ContextKey:
		return &c.tr
	}
	return c.Context.Value(key)
}

// routeContexts recycles chi's routing contexts as chi's own Mux does when
// it makes them itself: a handler may not keep one after it returns.
var routeContexts = sync.Pool{New: func() any { return chi.NewRouteContext() }}

// ServeHTTP implements http.Handler. The trace starts here, before routing,
// so its total covers everything the server does for the request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	route := routeContexts.Get().(*chi.Context)
	route.Reset()
	route.Routes = s.mux
	c := &requestContext{Context: r.Context(), route: route, mode: s.cfg.DefaultMode}
	c.tr.Init()
	s.handler.ServeHTTP(w, r.WithContext(c))
	routeContexts.Put(route)
}
