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
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

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
	// BodyTimeout is the time a client has to send each BodyTimeoutPer
	// bytes of a request body (DefaultBodyTimeout when zero): a body that
	// stalls is cut off after it, one that keeps coming earns more.
	BodyTimeout time.Duration
	// PublicURL is the server's address as clients reach it (the links it
	// makes start with it); "" uses each request's scheme and Host.
	PublicURL string
	// Ready, when set, answers /readyz: nil while the node can serve (its
	// store answers with the schema it knows, its dispatcher runs), else
	// the reason it cannot.
	Ready func(ctx context.Context) error
	// Metrics, when set, serves /metrics (Prometheus text format).
	Metrics http.Handler
}

// DefaultBodyTimeout lets the largest body of one listener or one event
// arrive at 8.7 KB/s.
const (
	DefaultBodyTimeout = 30 * time.Second
	BodyTimeoutPer     = 256 << 10
)

// Server is the HTTP API.
type Server struct {
	cfg    Config
	log    *slog.Logger
	mux    *http.ServeMux
	routes []route
	// docsPage is the /docs page, rendered once with the binary's version.
	docsPage func() ([]byte, error)
}

// New returns the API server for cfg.
func New(cfg Config) *Server {
	s := &Server{cfg: cfg, log: cfg.Logger, mux: http.NewServeMux()}
	s.docsPage = sync.OnceValues(func() ([]byte, error) { return renderDocs(cfg.Version) })
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.cfg.BodyTimeout <= 0 {
		s.cfg.BodyTimeout = DefaultBodyTimeout
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
var apiPrefixes = []string{"/api/", "/oauth/", "/protocol/", "/openapi.json", "/docs", "/healthz", "/readyz", "/metrics"}

// Handler returns the handler of the API, and of the Fallback for every
// other path. Every request body, the Fallback's too, is read under a
// deadline (Config.BodyTimeout).
func (s *Server) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.bodyDeadline(w, r)
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

// bodyDeadline puts the reading of r's body under a deadline: BodyTimeout
// from now, and BodyTimeout more for each BodyTimeoutPer bytes that
// arrive. The deadline is lifted when the body has been read to its end, so
// a handler that runs long after reading its body (and the connection's
// check for a client that went away) is not cut off; a body never read to
// its end keeps it, which also bounds the server's draining of the rest
// after the response.
func (s *Server) bodyDeadline(w http.ResponseWriter, r *http.Request) {
	if r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 {
		return
	}
	rc := http.NewResponseController(w)
	start := time.Now()
	if rc.SetReadDeadline(start.Add(s.cfg.BodyTimeout)) != nil {
		return // not a connection with deadlines (a test's recorder)
	}
	r.Body = &timedBody{ReadCloser: r.Body, rc: rc, start: start, per: s.cfg.BodyTimeout, deadline: start.Add(s.cfg.BodyTimeout)}
}

// timedBody extends and lifts the read deadline of a request body.
type timedBody struct {
	io.ReadCloser
	rc       *http.ResponseController
	start    time.Time
	per      time.Duration
	mu       sync.Mutex
	read     int64
	deadline time.Time
	eof      bool
	timedOut bool
}

func (b *timedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.mu.Lock()
	defer b.mu.Unlock()
	b.read += int64(n)
	switch {
	case err == io.EOF:
		if !b.eof {
			b.eof = true
			b.rc.SetReadDeadline(time.Time{})
		}
	case err != nil:
		// Keep the deadline: a read after a timeout fails at once.
		if errors.Is(err, os.ErrDeadlineExceeded) {
			b.timedOut = true
		}
	case n > 0:
		// Extend in steps of at least a second, not on every read.
		d := b.start.Add(b.per + time.Duration(float64(b.per)*float64(b.read)/BodyTimeoutPer))
		if d.Sub(b.deadline) >= time.Second {
			b.deadline = d
			b.rc.SetReadDeadline(d)
		}
	}
	return n, err
}

// state reports whether the body was read to its end, and whether reading
// it ran out of time.
func (b *timedBody) state() (eof, timedOut bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.eof, b.timedOut
}

// refuseBody makes the answer to a request whose body is not going to be
// read the last on its connection, and stops the server from reading that
// body: draining it first would wait as long as the client stalls.
func refuseBody(w http.ResponseWriter, r *http.Request) {
	if r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 {
		return
	}
	if b, ok := r.Body.(*timedBody); ok {
		if eof, _ := b.state(); eof {
			return
		}
	}
	w.Header().Set("Connection", "close")
	http.NewResponseController(w).SetReadDeadline(time.Now())
}
