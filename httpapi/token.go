package httpapi

import (
	"net/http"
	"net/url"
	"strings"

	"licensehooks"
	"licensehooks/auth"
)

// tokenResponse is the RFC 6749 §5.1 answer.
type tokenResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int64  `json:"expires_in"`
	Scope       string `json:"scope"`
}

// oauthError is the RFC 6749 §5.2 error answer.
type oauthError struct {
	Error            string `json:"error"`
	ErrorDescription string `json:"error_description,omitempty"`
}

// maxFormBytes bounds a token request: a form of a few short fields.
const maxFormBytes = 16 << 10

// token serves the OAuth2 client-credentials grant (RFC 6749 §4.4), with
// client authentication by HTTP Basic or by form fields (§2.3.1).
func (s *Server) token(w http.ResponseWriter, r *http.Request, _ *call) error {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		return writeOAuth(w, http.StatusBadRequest, "invalid_request", "The request body must be an application/x-www-form-urlencoded form.")
	}
	form := r.PostForm
	basicID, basicSecret, basic := basicAuth(r)
	formID, formSecret := form.Get("client_id"), form.Get("client_secret")
	// Many OAuth libraries send Basic and repeat client_id in the form: that
	// names one client once more, not a second one. Two ids or two secrets
	// are ambiguous (RFC 6749 §2.3 allows one method per request).
	if basic && (formSecret != "" || formID != "" && formID != basicID) {
		return writeOAuth(w, http.StatusBadRequest, "invalid_request", "Authenticate the client by HTTP Basic or by form fields, not both (a form client_id may only repeat the Basic one).")
	}
	switch gt := form.Get("grant_type"); gt {
	case "client_credentials":
	case "":
		return writeOAuth(w, http.StatusBadRequest, "invalid_request", "grant_type is required.")
	default:
		return writeOAuth(w, http.StatusBadRequest, "unsupported_grant_type", "Only the client_credentials grant is supported.")
	}
	id, secret := formID, formSecret
	if basic {
		id, secret = basicID, basicSecret
	}
	cred, err := s.cfg.Auth.Authenticate(r.Context(), id, secret)
	if licensehooks.ErrorCode(err) == licensehooks.EUNAUTHORIZED {
		if basic {
			w.Header().Set("WWW-Authenticate", `Basic realm="licensehooks"`)
		}
		return writeOAuth(w, http.StatusUnauthorized, "invalid_client", "Client authentication failed.")
	} else if err != nil {
		return err
	}
	scopes, err := auth.GrantScopes(cred, form.Get("scope"))
	if err != nil {
		return writeOAuth(w, http.StatusBadRequest, "invalid_scope", licensehooks.ErrorMessage(err))
	}
	tok, ttl := s.cfg.Auth.Issue(cred, scopes)
	writeJSON(w, http.StatusOK, tokenResponse{AccessToken: tok, TokenType: "Bearer", ExpiresIn: int64(ttl.Seconds()), Scope: strings.Join(scopes, " ")})
	return nil
}

func writeOAuth(w http.ResponseWriter, status int, code, description string) error {
	writeJSON(w, status, oauthError{Error: code, ErrorDescription: description})
	return nil
}

// basicAuth reads HTTP Basic client credentials, which RFC 6749 §2.3.1 has
// form-urlencoded before they are base64-encoded.
func basicAuth(r *http.Request) (id, secret string, ok bool) {
	id, secret, ok = r.BasicAuth()
	if !ok {
		return "", "", false
	}
	if u, err := url.QueryUnescape(id); err == nil {
		id = u
	}
	if u, err := url.QueryUnescape(secret); err == nil {
		secret = u
	}
	return id, secret, true
}
