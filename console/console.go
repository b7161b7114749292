// Package console serves licensehooks' web console: server-rendered pages
// where a person signs in with an API credential and manages the tenant's
// webhook listeners, reads the delivery log, resends and recovers
// deliveries, browses the event catalog and copies the signing key.
//
// Every page is rendered on the server with html/template; the templates,
// the one stylesheet and the one small script are embedded in the binary,
// so the console works offline and the Content-Security-Policy can forbid
// everything but the server itself. The script only enhances: every action
// works as a plain form without it.
//
// The console calls the same service layer as the HTTP API, so it applies
// the same validation and shows the same messages, and every store call is
// made with the tenant of the signed-in session: another tenant's listener
// or delivery is "not found", never revealed.
package console

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"licensehooks"
	"licensehooks/auth"
	"licensehooks/catalog"
	"licensehooks/service"
)

// Config is what the console needs. Every field but Logger, SecureCookies
// and Now is required.
type Config struct {
	Service   *service.Service
	Auth      *auth.Service
	Store     licensehooks.Store
	Catalog   *catalog.Catalog
	MasterKey *licensehooks.MasterKey
	Logger    *slog.Logger
	// SecureCookies marks the session cookie Secure even on plain HTTP
	// requests: set it when TLS ends at a proxy in front of the server.
	// Requests that arrive over TLS always get a Secure cookie.
	SecureCookies bool
	// FrameOrigins are the origins (scheme://host[:port]) whose pages may
	// frame the console, such as a platform embedding portal links; none by
	// default. With any, the console's cookies are SameSite=None, Secure
	// and Partitioned, as a third-party frame needs, so the console must be
	// served over HTTPS (browsers treat http://localhost as secure too).
	// ParseFrameOrigins checks a flag's list.
	FrameOrigins []string
	Now          func() time.Time
	// Version is the binary's, shown in the footer.
	Version string
}

// Console serves the web console.
type Console struct {
	cfg     Config
	log     *slog.Logger
	key     []byte // signs session cookies
	pages   pageSet
	csp     string // the Content-Security-Policy of every response
	handler http.Handler
}

// New checks the configuration, parses the embedded templates and returns
// the console.
func New(cfg Config) (*Console, error) {
	switch {
	case cfg.Service == nil:
		return nil, errors.New("console: Config.Service is required")
	case cfg.Auth == nil:
		return nil, errors.New("console: Config.Auth is required")
	case cfg.Store == nil:
		return nil, errors.New("console: Config.Store is required")
	case cfg.Catalog == nil:
		return nil, errors.New("console: Config.Catalog is required")
	case cfg.MasterKey == nil:
		return nil, errors.New("console: Config.MasterKey is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	for _, o := range cfg.FrameOrigins {
		if _, err := parseFrameOrigin(o); err != nil {
			return nil, fmt.Errorf("console: Config.FrameOrigins: %w", err)
		}
	}
	pages, err := parsePages()
	if err != nil {
		return nil, err
	}
	c := &Console{cfg: cfg, log: cfg.Logger, key: cfg.MasterKey.Derive("console-session"), pages: pages,
		csp: contentSecurityPolicy(cfg.FrameOrigins)}
	c.handler = c.routes()
	return c, nil
}

// Handler returns the console's handler, meant to be mounted at "/" beside
// the API (which owns /api/, /oauth/, /openapi.json, /docs and /healthz).
func (c *Console) Handler() http.Handler { return c.handler }

func (c *Console) now() time.Time { return c.cfg.Now().UTC() }

// routes builds the console's mux behind the security middleware.
func (c *Console) routes() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /static/", staticHandler())
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/webhooks", http.StatusSeeOther)
	})
	mux.HandleFunc("GET /signin", c.signinPage)
	mux.HandleFunc("POST /signin", c.signin)
	mux.HandleFunc("GET /tenant", c.signedIn(false, c.tenantPage))
	mux.HandleFunc("POST /tenant", c.signedIn(false, c.chooseTenant))
	mux.HandleFunc("POST /signout", c.signedIn(false, c.signout))
	mux.HandleFunc("GET /portal/{token}", c.openPortal)

	mux.HandleFunc("GET /tenants", c.signedIn(false, operatorOnly(c.tenantsPage)))
	mux.HandleFunc("POST /tenants", c.signedIn(false, operatorOnly(c.createTenant)))
	mux.HandleFunc("GET /tenants/{id}", c.signedIn(false, operatorOnly(c.tenantDetailPage)))
	mux.HandleFunc("POST /tenants/{id}/rename", c.signedIn(false, operatorOnly(c.renameTenant)))
	mux.HandleFunc("GET /tenants/{id}/delete", c.signedIn(false, operatorOnly(c.deleteTenantPage)))
	mux.HandleFunc("POST /tenants/{id}/delete", c.signedIn(false, operatorOnly(c.deleteTenant)))
	mux.HandleFunc("POST /tenants/{id}/credentials", c.signedIn(false, operatorOnly(c.createCredential)))
	mux.HandleFunc("POST /tenants/{id}/credentials/{client}/revoke", c.signedIn(false, operatorOnly(c.revokeCredential)))
	mux.HandleFunc("POST /tenants/{id}/open", c.signedIn(false, operatorOnly(c.openTenant)))

	mux.HandleFunc("GET /webhooks", c.signedIn(true, c.webhooksPage))
	mux.HandleFunc("GET /webhooks/new", c.signedIn(true, writable(c.newListenerPage)))
	mux.HandleFunc("POST /webhooks/new", c.signedIn(true, c.createListener))
	mux.HandleFunc("GET /webhooks/{id}", c.signedIn(true, c.listenerPage))
	mux.HandleFunc("GET /webhooks/{id}/edit", c.signedIn(true, writable(c.editListenerPage)))
	mux.HandleFunc("POST /webhooks/{id}/edit", c.signedIn(true, c.updateListener))
	mux.HandleFunc("GET /webhooks/{id}/delete", c.signedIn(true, writable(c.deleteListenerPage)))
	mux.HandleFunc("POST /webhooks/{id}/delete", c.signedIn(true, c.deleteListener))
	mux.HandleFunc("POST /webhooks/{id}/test", c.signedIn(true, c.testListener))
	mux.HandleFunc("POST /webhooks/{id}/secret", c.signedIn(true, c.revealSecret))
	mux.HandleFunc("POST /webhooks/{id}/rotate", c.signedIn(true, c.rotateSecret))
	mux.HandleFunc("POST /webhooks/{id}/recover", c.signedIn(true, c.recoverListener))
	mux.HandleFunc("POST /webhooks/{id}/pause", c.signedIn(true, c.pauseListener))
	mux.HandleFunc("GET /logs/resend", c.signedIn(true, c.resendConfirm))
	mux.HandleFunc("POST /logs/resend", c.signedIn(true, c.resendAll))
	mux.HandleFunc("POST /webhooks/{id}/replay", c.signedIn(true, c.replayListener))
	mux.HandleFunc("POST /webhooks/{id}/reveal", c.signedIn(true, c.revealListenerHeader))
	mux.HandleFunc("POST /webhooks/{id}/enabled", c.signedIn(true, c.setEnabled))
	mux.HandleFunc("POST /events/{code}/example", c.signedIn(true, c.sendExampleFromCatalog))

	mux.HandleFunc("GET /logs", c.signedIn(true, c.logsPage))
	mux.HandleFunc("GET /logs/{id}", c.signedIn(true, c.deliveryPage))
	mux.HandleFunc("POST /logs/{id}/resend", c.signedIn(true, c.resend))
	mux.HandleFunc("POST /logs/{id}/reveal", c.signedIn(true, c.revealAttemptHeader))

	mux.HandleFunc("POST /logs/events/{id}/cancel", c.signedIn(true, c.cancelEvent))
	mux.HandleFunc("GET /upcoming", c.signedIn(true, c.upcomingPage))

	mux.HandleFunc("GET /events", c.signedIn(true, c.eventsPage))
	mux.HandleFunc("GET /events/{id}", c.signedIn(true, c.eventPage))
	mux.HandleFunc("GET /search", c.signedIn(true, c.searchPage))
	mux.HandleFunc("GET /keys", c.signedIn(true, c.keysPage))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		// A signed-in person gets the page with its header and the way
		// back to their work, not "Sign in".
		c.errorPage(w, r, c.whoever(w, r), http.StatusNotFound, "Page not found", "There is no page at this address.")
	})

	// Cross-origin POSTs are refused before any handler runs (Fetch
	// metadata and Origin); the session's CSRF token is checked besides, so
	// old browsers that send neither are covered too.
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.errorPage(w, r, nil, http.StatusForbidden, "Request refused", "The request came from another site.")
	}))
	return c.securityHeaders(cop.Handler(c.validInput(mux)))
}

// maxFormBytes bounds a posted form; the largest, a listener's, is a few KiB.
const maxFormBytes = 1 << 20

// validInput answers 400 to a request whose address or form holds text no
// store can keep (invalid UTF-8, NUL): no id, filter or field is such text,
// and PostgreSQL would refuse to compare with it. The form it parses stays
// on the request for the handlers.
func (c *Console) validInput(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		values := r.URL.Query() // a malformed pair in a link is ignored, as the pages do
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
			if err := r.ParseForm(); err != nil {
				c.errorPage(w, r, nil, http.StatusBadRequest, "Bad request", "The form could not be read: "+err.Error()+".")
				return
			}
			values = r.Form
		}
		ok := licensehooks.ValidText(r.URL.Path)
		for k, vs := range values {
			ok = ok && licensehooks.ValidText(k)
			for _, v := range vs {
				ok = ok && licensehooks.ValidText(v)
			}
		}
		if !ok {
			c.errorPage(w, r, nil, http.StatusBadRequest, "Bad request",
				"The address or the form holds text that is not valid UTF-8, or a NUL character.")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// contentSecurityPolicy lets pages load only the server's own script,
// stylesheet and images, and only the frame origins frame them (nothing
// by default). Forms may also lead to a frame origin: Sign out of a portal
// session redirects to the platform's returnUrl, and form-action governs
// a form's redirects too.
func contentSecurityPolicy(frameOrigins []string) string {
	ancestors, forms := "'none'", "'self'"
	if len(frameOrigins) > 0 {
		ancestors = strings.Join(frameOrigins, " ")
		forms += " " + ancestors
	}
	return "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
		"connect-src 'self'; font-src 'self'; form-action " + forms + "; frame-ancestors " + ancestors +
		"; base-uri 'none'; object-src 'none'"
}

// securityHeaders sets the headers every console response carries.
// X-Frame-Options cannot name origins, so it says DENY only when no origin
// may frame the console (frame-ancestors rules in every current browser;
// the header is for old ones).
func (c *Console) securityHeaders(next http.Handler) http.Handler {
	framed := len(c.cfg.FrameOrigins) > 0
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", c.csp)
		if !framed {
			h.Set("X-Frame-Options", "DENY")
		}
		h.Set("Referrer-Policy", "same-origin")
		h.Set("X-Content-Type-Options", "nosniff")
		next.ServeHTTP(w, r)
	})
}

// ParseFrameOrigins reads a comma-separated list of origins that may frame
// the console (--portal-frame-origins): each an http or https origin with
// no path, query or credentials, such as https://app.example.com or
// http://localhost:3000. It returns them normalised (lower case, no
// trailing slash), duplicates dropped.
func ParseFrameOrigins(list string) ([]string, error) {
	var out []string
	for _, raw := range strings.Split(list, ",") {
		raw = strings.TrimSpace(raw)
		if raw == "" {
			continue
		}
		o, err := parseFrameOrigin(raw)
		if err != nil {
			return nil, err
		}
		if !slices.Contains(out, o) {
			out = append(out, o)
		}
	}
	return out, nil
}

// parseFrameOrigin checks one origin and returns it normalised.
func parseFrameOrigin(raw string) (string, error) {
	bad := func(why string) (string, error) {
		return "", fmt.Errorf("%q is not an origin such as https://app.example.com: %s", raw, why)
	}
	u, err := url.Parse(strings.TrimSuffix(raw, "/"))
	switch {
	case err != nil || strings.ContainsAny(raw, " ;,'\"*"):
		return bad("it holds a character an origin has not")
	case u.Scheme != "http" && u.Scheme != "https":
		return bad("it must begin with https:// (or http://)")
	case u.Host == "" || u.Opaque != "":
		return bad("it names no host")
	case u.User != nil:
		return bad("it must not hold a user or password")
	case u.Path != "" || u.RawQuery != "" || u.Fragment != "" || strings.HasSuffix(raw, "?") || strings.HasSuffix(raw, "#"):
		return bad("it must have no path, query or fragment")
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return bad("its port must be a number from 1 to 65535")
		}
	} else if strings.HasSuffix(u.Host, ":") {
		return bad("its port is empty")
	}
	return strings.ToLower(u.Scheme + "://" + u.Host), nil
}
