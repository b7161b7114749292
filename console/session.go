package console

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"licensehooks"
)

// Session cookie settings.
const (
	cookieName = "lh_console"
	sessionTTL = 8 * time.Hour
	csrfField  = "csrf"
	csrfHeader = "X-CSRF-Token"
)

// session is what the console's cookie holds. It is signed, not encrypted:
// it carries no secret but the CSRF token, which the page shows anyway.
type session struct {
	ClientID string `json:"c"`
	TenantID string `json:"t,omitempty"` // "" while an operator has not chosen a tenant
	Expires  int64  `json:"e"`           // Unix seconds
	Begun    int64  `json:"b"`           // Unix microseconds: signing out voids sessions begun before
	CSRF     string `json:"x"`
	// Portal is the id of the portal link that began the session ("" for a
	// credential's); such a session has no ClientID.
	Portal   string `json:"p,omitempty"`
	ReadOnly bool   `json:"ro,omitempty"`
	Return   string `json:"r,omitempty"` // where Sign out leads
}

// newSession starts a session for a credential that just signed in.
func newSession(clientID, tenantID string, now time.Time) session {
	return session{ClientID: clientID, TenantID: tenantID, Expires: now.Add(sessionTTL).Unix(),
		Begun: now.UnixMicro(), CSRF: licensehooks.RandomToken(24)}
}

// encode returns the cookie value: base64url(JSON) "." base64url(HMAC).
func (s session) encode(key []byte) string {
	payload, _ := json.Marshal(s)
	body := base64.RawURLEncoding.EncodeToString(payload)
	return body + "." + sign(key, body)
}

// decodeSession checks a cookie value's signature and expiry.
func decodeSession(key []byte, value string, now time.Time) (session, bool) {
	body, sig, ok := strings.Cut(value, ".")
	if !ok || !hmac.Equal([]byte(sig), []byte(sign(key, body))) {
		return session{}, false
	}
	payload, err := base64.RawURLEncoding.DecodeString(body)
	if err != nil {
		return session{}, false
	}
	var s session
	if err := json.Unmarshal(payload, &s); err != nil || (s.ClientID == "") == (s.Portal == "") || s.CSRF == "" {
		return session{}, false
	}
	if now.Unix() >= s.Expires {
		return session{}, false
	}
	return s, true
}

func sign(key []byte, body string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(body))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// secure reports whether cookies must be Secure: the request came over TLS,
// or the server is configured to say so (TLS ends at a proxy in front), or
// the console may be framed, whose SameSite=None cookies browsers keep only
// when Secure.
func (c *Console) secure(r *http.Request) bool {
	return c.cfg.SecureCookies || r.TLS != nil || len(c.cfg.FrameOrigins) > 0
}

// cookie returns the session cookie with the attributes of this server: Lax
// by default; in a console that other sites frame, SameSite=None (a Lax
// cookie is not sent to a third-party frame) and Partitioned (CHIPS: the
// cookie is kept per top-level site, so browsers that block third-party
// cookies keep it, and no other site's frame shares it).
func (c *Console) cookie(r *http.Request, value string, maxAge int) *http.Cookie {
	ck := &http.Cookie{Name: cookieName, Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: true, Secure: c.secure(r), SameSite: http.SameSiteLaxMode}
	if len(c.cfg.FrameOrigins) > 0 {
		ck.SameSite, ck.Partitioned = http.SameSiteNoneMode, true
	}
	return ck
}

func (c *Console) setSession(w http.ResponseWriter, r *http.Request, s session) {
	ck := c.cookie(r, s.encode(c.key), int(s.Expires-c.now().Unix()))
	ck.Expires = time.Unix(s.Expires, 0)
	http.SetCookie(w, ck)
}

func (c *Console) clearSession(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, c.cookie(r, "", -1))
}

// readSession returns the request's valid session, if any.
func (c *Console) readSession(r *http.Request) (session, bool) {
	ck, err := r.Cookie(cookieName)
	if err != nil {
		return session{}, false
	}
	return decodeSession(c.key, ck.Value, c.now())
}

// csrfOK reports whether a POST carries the session's CSRF token, in the
// form field or (for fetch) the header.
func csrfOK(r *http.Request, s session) bool {
	token := r.Header.Get(csrfHeader)
	if token == "" {
		token = r.PostFormValue(csrfField)
	}
	return token != "" && hmac.Equal([]byte(token), []byte(s.CSRF))
}
