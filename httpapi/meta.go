package httpapi

import (
	"bytes"
	"context"
	_ "embed"
	"net/http"
	"time"

	"licensehooks"
)

// openapiJSON is the OpenAPI 3.1 document of the whole API. A test holds it
// equal to the route table, and a superset of the Zentitle2 contract.
//
//go:embed openapi.json
var openapiJSON []byte

func (s *Server) health(w http.ResponseWriter, r *http.Request, _ *call) error {
	writeJSON(w, http.StatusOK, struct {
		Status  string `json:"status"`
		Version string `json:"version,omitempty"`
	}{"ok", s.cfg.Version})
	return nil
}

// readyTimeout bounds the readiness check: a probe that hangs is as bad
// as a no.
const readyTimeout = 3 * time.Second

// ready answers 200 while the node can serve, 503 with the reason when it
// cannot (a load balancer then sends its traffic elsewhere).
func (s *Server) ready(w http.ResponseWriter, r *http.Request, _ *call) error {
	if s.cfg.Ready != nil {
		ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
		defer cancel()
		if err := s.cfg.Ready(ctx); err != nil {
			s.log.Warn("not ready", "err", err)
			return licensehooks.Errorf(licensehooks.EUNAVAILABLE, "Not ready: %v", err)
		}
	}
	writeJSON(w, http.StatusOK, struct {
		Status string `json:"status"`
	}{"ready"})
	return nil
}

// metrics serves the Prometheus metrics, when they are served on the API's
// address.
func (s *Server) metrics(w http.ResponseWriter, r *http.Request, _ *call) error {
	if s.cfg.Metrics == nil {
		return licensehooks.Errorf(licensehooks.ENOTFOUND, "Metrics are not served on this address (see serve --metrics-addr).")
	}
	s.cfg.Metrics.ServeHTTP(w, r)
	return nil
}

func (s *Server) openAPI(w http.ResponseWriter, r *http.Request, _ *call) error {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Access-Control-Allow-Origin", "*") // so API tools in a browser can load it
	http.ServeContent(w, r, "openapi.json", startTime, bytes.NewReader(openapiJSON))
	return nil
}

func (s *Server) docs(w http.ResponseWriter, r *http.Request, _ *call) error {
	page, err := s.docsPage()
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
	http.ServeContent(w, r, "docs.html", startTime, bytes.NewReader(page))
	return nil
}
