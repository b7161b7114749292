package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"licensehooks"
)

// api is a client of the server's public HTTP API, as any integration
// would use it: OAuth2 client credentials, Bearer tokens, N-TenantId.
type api struct {
	base string
	hc   *http.Client
}

func newAPI(base string, conns int) *api {
	tr := &http.Transport{
		MaxIdleConns:        conns * 2,
		MaxIdleConnsPerHost: conns * 2,
		IdleConnTimeout:     time.Minute,
		DisableCompression:  true,
	}
	return &api{base: strings.TrimRight(base, "/"), hc: &http.Client{Transport: tr, Timeout: 60 * time.Second}}
}

// apiError is a non-expected answer of the server.
type apiError struct {
	Method, Path string
	Status       int
	Body         string
}

func (e *apiError) Error() string {
	return fmt.Sprintf("%s %s: status %d: %s", e.Method, e.Path, e.Status, e.Body)
}

// token gets a Bearer token with the client-credentials grant.
func (a *api) token(ctx context.Context, clientID, secret string) (string, error) {
	form := url.Values{"grant_type": {"client_credentials"}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.base+"/oauth/token", strings.NewReader(form.Encode()))
	if err != nil {
		return "", err
	}
	req.SetBasicAuth(clientID, secret)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	var out struct {
		AccessToken string `json:"access_token"`
	}
	if err := a.send(req, http.StatusOK, &out); err != nil {
		return "", err
	}
	if out.AccessToken == "" {
		return "", fmt.Errorf("POST /oauth/token: no access_token in the answer")
	}
	return out.AccessToken, nil
}

// tenantAuth is what every account call carries.
type tenantAuth struct {
	Tenant string
	Token  string
}

// call sends a JSON request (body may be nil, []byte or a value to encode)
// and decodes the answer into out when it is not nil.
func (a *api) call(ctx context.Context, ta tenantAuth, method, path string, body any, want int, out any) error {
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	default:
		enc, err := json.Marshal(b)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(enc)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.base+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+ta.Token)
	req.Header.Set("N-TenantId", ta.Tenant)
	req.Header.Set("Accept", "application/json")
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return a.send(req, want, out)
}

func (a *api) send(req *http.Request, want int, out any) error {
	resp, err := a.hc.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("%s %s: read answer: %w", req.Method, req.URL.Path, err)
	}
	if resp.StatusCode != want {
		return &apiError{Method: req.Method, Path: req.URL.Path, Status: resp.StatusCode, Body: truncate(string(b), 500)}
	}
	if out != nil {
		if raw, ok := out.(*[]byte); ok {
			*raw = b
			return nil
		}
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("%s %s: decode answer: %w", req.Method, req.URL.Path, err)
		}
	}
	return nil
}

// eventCodes lists the catalog's event codes, as a listener subscribes.
func (a *api) eventCodes(ctx context.Context, ta tenantAuth) ([]string, error) {
	var out struct {
		Items []struct {
			Code string `json:"code"`
		} `json:"items"`
	}
	if err := a.call(ctx, ta, http.MethodGet, "/api/v1/account/webhooks/events", nil, http.StatusOK, &out); err != nil {
		return nil, err
	}
	codes := make([]string, 0, len(out.Items))
	for _, it := range out.Items {
		codes = append(codes, it.Code)
	}
	if len(codes) == 0 {
		return nil, fmt.Errorf("GET /api/v1/account/webhooks/events: no event types")
	}
	return codes, nil
}

// createListener creates a listener subscribed to codes and returns its id.
// ordering is sent only when not "" (the default, as a Zentitle2 client
// never sends it).
func (a *api) createListener(ctx context.Context, ta tenantAuth, uri string, codes []string, ordering string) (string, error) {
	in := map[string]any{"uri": uri, "subscriptions": codes}
	if ordering != "" {
		in["ordering"] = ordering
	}
	var out struct {
		ID       string `json:"id"`
		Ordering string `json:"ordering"`
	}
	if err := a.call(ctx, ta, http.MethodPost, "/api/v1/account/webhooks", in, http.StatusCreated, &out); err != nil {
		return "", err
	}
	// A server that ignored the field would make an ordered scenario
	// measure an unordered listener and check nothing.
	if ordering == licensehooks.OrderingResource && out.Ordering != ordering {
		return "", fmt.Errorf("POST /api/v1/account/webhooks: asked for ordering %q, the listener has %q", ordering, out.Ordering)
	}
	return out.ID, nil
}

// deleteListener deletes a listener, which cancels its pending deliveries.
func (a *api) deleteListener(ctx context.Context, ta tenantAuth, id string) error {
	return a.call(ctx, ta, http.MethodDelete, "/api/v1/account/webhooks/"+url.PathEscape(id), nil, http.StatusNoContent, nil)
}

// accountKey returns the tenant's RSA modulus and exponent (the JWK).
func (a *api) accountKey(ctx context.Context, ta tenantAuth) (n, e string, err error) {
	var jwk struct {
		N string `json:"n"`
		E string `json:"e"`
	}
	if err := a.call(ctx, ta, http.MethodGet, "/api/v1/account/key", nil, http.StatusOK, &jwk); err != nil {
		return "", "", err
	}
	if jwk.N == "" {
		return "", "", fmt.Errorf("GET /api/v1/account/key: no modulus")
	}
	return jwk.N, jwk.E, nil
}

// listenerSecrets returns the whsec_ secrets that sign a listener's
// deliveries (the current one and, during a rotation, the previous one).
func (a *api) listenerSecrets(ctx context.Context, ta tenantAuth, id string) ([]string, error) {
	var raw []byte
	path := "/api/v1/account/webhooks/" + url.PathEscape(id) + "/secret"
	if err := a.call(ctx, ta, http.MethodGet, path, nil, http.StatusOK, &raw); err != nil {
		return nil, err
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, fmt.Errorf("GET %s: %w", path, err)
	}
	secrets := collectStrings(v, func(s string) bool { return strings.HasPrefix(s, "whsec_") })
	if len(secrets) == 0 {
		return nil, fmt.Errorf("GET %s: no whsec_ secret in %s", path, truncate(string(raw), 200))
	}
	return secrets, nil
}

// collectStrings returns every string in a decoded JSON value that keep
// accepts, in document order for arrays (object order is not kept).
func collectStrings(v any, keep func(string) bool) []string {
	var out []string
	switch x := v.(type) {
	case string:
		if keep(x) {
			out = append(out, x)
		}
	case []any:
		for _, e := range x {
			out = append(out, collectStrings(e, keep)...)
		}
	case map[string]any:
		for _, e := range x {
			out = append(out, collectStrings(e, keep)...)
		}
	}
	return out
}

// findString returns the first string value in a decoded JSON object (then
// its nested objects) under any of keys, compared without case, '_' or '-'.
func findString(v any, keys ...string) string {
	m, ok := v.(map[string]any)
	if !ok {
		return ""
	}
	for k, val := range m {
		s, isStr := val.(string)
		if !isStr {
			continue
		}
		for _, want := range keys {
			if normKey(k) == normKey(want) {
				return s
			}
		}
	}
	for _, val := range m {
		if s := findString(val, keys...); s != "" {
			return s
		}
	}
	return ""
}

func normKey(k string) string {
	return strings.ToLower(strings.NewReplacer("_", "", "-", "").Replace(k))
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
