package httpapi

import (
	"encoding/base64"
	"math/big"
	"net/http"
	"strings"
	"time"

	"licensehooks"
	"licensehooks/service"
)

// The operator API under /api/v1/tenants: an operator credential holding
// tenants:admin manages tenants, their credentials and portal links. It
// needs no N-TenantId: the tenant is in the path.

const (
	tenantsPath = "/api/v1/tenants"
	tenantPath  = tenantsPath + "/{tenantId}"
)

type tenantModel struct {
	ID         string    `json:"id"`
	Name       string    `json:"name"`
	ExternalID *string   `json:"externalId"`
	CreatedAt  time.Time `json:"createdAt"`
	Key        *jwkModel `json:"key,omitempty"`
}

func toTenant(t *licensehooks.Tenant) tenantModel {
	m := tenantModel{ID: t.ID, Name: t.Name, CreatedAt: t.CreatedAt}
	if t.ExternalID != "" {
		m.ExternalID = &t.ExternalID
	}
	if pub, err := t.RSAPublicKey(); err == nil {
		m.Key = &jwkModel{Kty: "RSA",
			N: base64.RawURLEncoding.EncodeToString(pub.N.Bytes()),
			E: base64.RawURLEncoding.EncodeToString(big.NewInt(int64(pub.E)).Bytes())}
	}
	return m
}

type tenantRequest struct {
	Name       *string `json:"name"`
	ExternalID *string `json:"externalId"`
}

func (s *Server) createTenant(w http.ResponseWriter, r *http.Request, _ *call) error {
	var req tenantRequest
	if err := decodeJSON(w, r, maxBodyBytes, &req); err != nil {
		return err
	}
	t, created, err := s.cfg.Service.CreateTenant(r.Context(), service.TenantInput{Name: req.Name, ExternalID: req.ExternalID})
	if err != nil {
		return err
	}
	status := http.StatusOK // the externalId's tenant, as it was
	if created {
		status = http.StatusCreated
		w.Header().Set("Location", tenantsPath+"/"+t.ID)
	}
	writeJSON(w, status, toTenant(t))
	return nil
}

func (s *Server) listTenants(w http.ResponseWriter, r *http.Request, _ *call) error {
	q := r.URL.Query()
	p, err := parsePage(q)
	if err != nil {
		return err
	}
	f := licensehooks.TenantFilter{Name: strings.TrimSpace(q.Get("name")), ExternalID: q.Get("externalId"), Page: p}
	ts, total, err := s.cfg.Service.ListTenants(r.Context(), f)
	if err != nil {
		return err
	}
	items := make([]tenantModel, len(ts))
	for i, t := range ts {
		items[i] = toTenant(t)
	}
	writeJSON(w, http.StatusOK, newPage(items, p, total))
	return nil
}

func (s *Server) getTenant(w http.ResponseWriter, r *http.Request, _ *call) error {
	t, err := s.cfg.Service.GetTenant(r.Context(), r.PathValue("tenantId"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toTenant(t))
	return nil
}

func (s *Server) updateTenant(w http.ResponseWriter, r *http.Request, _ *call) error {
	var req tenantRequest
	if err := decodeJSON(w, r, maxBodyBytes, &req); err != nil {
		return err
	}
	t, err := s.cfg.Service.UpdateTenant(r.Context(), r.PathValue("tenantId"), service.TenantInput{Name: req.Name, ExternalID: req.ExternalID})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, toTenant(t))
	return nil
}

func (s *Server) deleteTenant(w http.ResponseWriter, r *http.Request, _ *call) error {
	if err := s.cfg.Service.DeleteTenant(r.Context(), r.PathValue("tenantId")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

type credentialModel struct {
	ClientID     string     `json:"clientId"`
	ClientSecret string     `json:"clientSecret,omitempty"`
	TenantID     string     `json:"tenantId"`
	Name         string     `json:"name"`
	Scopes       []string   `json:"scopes"`
	CreatedAt    time.Time  `json:"createdAt"`
	RevokedAt    *time.Time `json:"revokedAt,omitempty"`
}

func toCredential(c *licensehooks.Credential, secret string) credentialModel {
	return credentialModel{ClientID: c.ClientID, ClientSecret: secret, TenantID: c.TenantID, Name: c.Name,
		Scopes: c.Scopes, CreatedAt: c.CreatedAt, RevokedAt: c.RevokedAt}
}

func (s *Server) createCredential(w http.ResponseWriter, r *http.Request, _ *call) error {
	var req struct {
		Name   *string   `json:"name"`
		Scopes *[]string `json:"scopes"`
	}
	if r.ContentLength != 0 {
		if err := decodeJSON(w, r, maxBodyBytes, &req); err != nil {
			return err
		}
	}
	in := service.CredentialInput{Name: req.Name}
	if req.Scopes != nil {
		in.Scopes = *req.Scopes
		if in.Scopes == nil {
			in.Scopes = []string{}
		}
	}
	c, secret, err := s.cfg.Service.CreateCredential(r.Context(), r.PathValue("tenantId"), in)
	if err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusCreated, toCredential(c, secret))
	return nil
}

func (s *Server) listCredentials(w http.ResponseWriter, r *http.Request, _ *call) error {
	cs, err := s.cfg.Service.ListCredentials(r.Context(), r.PathValue("tenantId"))
	if err != nil {
		return err
	}
	items := make([]credentialModel, len(cs))
	for i, c := range cs {
		items[i] = toCredential(c, "")
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": items})
	return nil
}

func (s *Server) revokeCredential(w http.ResponseWriter, r *http.Request, _ *call) error {
	if err := s.cfg.Service.RevokeCredential(r.Context(), r.PathValue("tenantId"), r.PathValue("clientId")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

type portalLinkModel struct {
	URL       string    `json:"url"`
	ExpiresAt time.Time `json:"expiresAt"`
	ReadOnly  bool      `json:"readOnly"`
}

func (s *Server) createPortalLink(w http.ResponseWriter, r *http.Request, _ *call) error {
	var req struct {
		TTL       *int   `json:"ttl"`
		ReadOnly  bool   `json:"readOnly"`
		ReturnURL string `json:"returnUrl"`
	}
	if r.ContentLength != 0 {
		if err := decodeJSON(w, r, maxBodyBytes, &req); err != nil {
			return err
		}
	}
	token, l, err := s.cfg.Service.CreatePortalLink(r.Context(), r.PathValue("tenantId"),
		service.PortalLinkInput{TTL: req.TTL, ReadOnly: req.ReadOnly, ReturnURL: req.ReturnURL})
	if err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusCreated, portalLinkModel{URL: s.baseURL(r) + PortalPath + token, ExpiresAt: l.ExpiresAt, ReadOnly: l.ReadOnly})
	return nil
}

// PortalPath is where the console opens portal links.
const PortalPath = "/portal/"

// baseURL is the server's address as clients reach it: Config.PublicURL
// when set, else the request's scheme and Host.
func (s *Server) baseURL(r *http.Request) string {
	if s.cfg.PublicURL != "" {
		return strings.TrimRight(s.cfg.PublicURL, "/")
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}
