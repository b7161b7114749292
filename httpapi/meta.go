package httpapi

import (
	"bytes"
	_ "embed"
	"net/http"
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

func (s *Server) openAPI(w http.ResponseWriter, r *http.Request, _ *call) error {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Access-Control-Allow-Origin", "*") // so API tools in a browser can load it
	http.ServeContent(w, r, "openapi.json", startTime, bytes.NewReader(openapiJSON))
	return nil
}

func (s *Server) docs(w http.ResponseWriter, r *http.Request, _ *call) error {
	page, err := docsPage()
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
	http.ServeContent(w, r, "docs.html", startTime, bytes.NewReader(page))
	return nil
}
