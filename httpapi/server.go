// Package httpapi serves the licensehooks HTTP API: the Zentitle2 Webhooks
// API (listeners, the event list, the account key) with its OAuth2
// client-credentials token endpoint, the extensions beyond it (secrets, the
// delivery log, resend, recover, publishing), the OpenAPI document of all of
// it at /openapi.json and a page rendered from that document at /docs.
//
// Routes are declared once, in a table (routes.go): the table registers the
// handlers and a test holds it equal to the OpenAPI document.
package httpapi

import (
	"log/slog"
	"net/http"
	"strings"

	"licensehooks"
	"licensehooks/auth"
	"licensehooks/catalog"
	"licensehooks/service"
)

// Config is what the API needs. Fallback, when set, serves every request
// outside the API's paths (the web console).
type Config struct {
	Service   *service.Service
	Auth      *auth.Service
	Catalog   *catalog.Catalog
	Store     licensehooks.Store
	MasterKey *licensehooks.MasterKey
	Logger    *slog.Logger
	Version   string
	Fallback  http.Handler
}

// Server is the HTTP API.
type Server struct {
	cfg    Config
	log    *slog.Logger
	mux    *http.ServeMux
	routes []route
}

// New returns the API server for cfg.
func New(cfg Config) *Server {
	s := &Server{cfg: cfg, log: cfg.Logger, mux: http.NewServeMux()}
	if s.log == nil {
		s.log = slog.Default()
	}
	s.routes = s.routeTable()
	for _, rt := range s.routes {
		s.mux.Handle(rt.method+" "+rt.pattern, s.wrap(rt))
	}
	// Any other path under the API's prefixes answers an ApiError, not the
	// console's page and not a plain-text 404.
	for _, p := range apiPrefixes {
		if strings.HasSuffix(p, "/") {
			s.mux.HandleFunc(p, s.unmatched)
		}
	}
	return s
}

// apiPrefixes are the paths the API owns; everything else is the Fallback's.
var apiPrefixes = []string{"/api/", "/oauth/", "/protocol/", "/openapi.json", "/docs", "/healthz"}

// Handler returns the handler of the API, and of the Fallback for every
// other path.
func (s *Server) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.cfg.Fallback != nil && !ownsPath(r.URL.Path) {
			s.cfg.Fallback.ServeHTTP(w, r)
			return
		}
		s.mux.ServeHTTP(w, r)
	})
}

func ownsPath(p string) bool {
	for _, prefix := range apiPrefixes {
		if dir, ok := strings.CutSuffix(prefix, "/"); ok && (strings.HasPrefix(p, prefix) || p == dir) || p == prefix {
			return true
		}
	}
	return false
}

// unmatched answers a path of the API that no route serves: 405 with Allow
// when another method would match, else 404.
func (s *Server) unmatched(w http.ResponseWriter, r *http.Request) {
	var allow []string
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodDelete} {
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pattern := s.mux.Handler(probe); strings.HasPrefix(pattern, m+" ") {
			allow = append(allow, m)
		}
	}
	if len(allow) > 0 {
		w.Header().Set("Allow", strings.Join(allow, ", "))
		writeJSON(w, http.StatusMethodNotAllowed, apiError{Error: "Method " + r.Method + " is not allowed here.", ErrorCode: "method_not_allowed"})
		return
	}
	s.writeError(w, r, licensehooks.Errorf(licensehooks.ENOTFOUND, "No operation at %s.", r.URL.Path))
}
