package service

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"licensehooks"
	"licensehooks/auth"
)

// The operator plane: tenants, their credentials and portal links. The API
// under /api/v1/tenants, the console's operator pages and the CLI all call
// these.

// Limits of the operator plane's fields.
const (
	MaxTenantNameLength = 200
	MaxExternalIDLength = 200
	MaxCredentialName   = 200
	DefaultPortalTTL    = 10 * time.Minute
	MaxPortalTTL        = 24 * time.Hour
	// PurgeBatch is how many rows one purge transaction of a deleted
	// tenant deletes, so a tenant with millions of deliveries never holds
	// one long transaction.
	PurgeBatch = 1000
)

// TenantInput creates a tenant or, on update, changes the fields given.
type TenantInput struct {
	Name       *string
	ExternalID *string
}

func (in TenantInput) validate(create bool) []licensehooks.FieldError {
	var errs []licensehooks.FieldError
	switch {
	case in.Name == nil && create:
		errs = append(errs, field("name", "required", "name is required."))
	case in.Name != nil && strings.TrimSpace(*in.Name) == "":
		errs = append(errs, field("name", "required", "name must not be empty."))
	default:
		errs = append(errs, validateText("name", in.Name, MaxTenantNameLength, false)...)
	}
	if in.ExternalID != nil {
		if *in.ExternalID != strings.TrimSpace(*in.ExternalID) {
			errs = append(errs, field("externalId", "invalid_text", "externalId must not begin or end with spaces."))
		} else {
			errs = append(errs, validateText("externalId", in.ExternalID, MaxExternalIDLength, false)...)
		}
	}
	return errs
}

// CreateTenant creates a tenant with a fresh signing key. With an
// externalId that a tenant already holds, it returns that tenant and
// created false instead (an idempotent sign-up), whatever the name.
func (s *Service) CreateTenant(ctx context.Context, in TenantInput) (t *licensehooks.Tenant, created bool, err error) {
	if errs := in.validate(true); len(errs) > 0 {
		return nil, false, licensehooks.Invalid(errs...)
	}
	ext := ""
	if in.ExternalID != nil {
		ext = *in.ExternalID
	}
	if t, err := s.tenantByExternalID(ctx, ext); t != nil || err != nil {
		return t, false, err
	}
	t, err = licensehooks.NewTenant(strings.TrimSpace(*in.Name), s.MasterKey, s.now())
	if err != nil {
		return nil, false, err
	}
	t.ExternalID = ext
	err = s.Store.CreateTenant(ctx, t)
	if licensehooks.ErrorCode(err) == licensehooks.ECONFLICT && ext != "" {
		// Another request signed the same account up meanwhile.
		if t, err := s.tenantByExternalID(ctx, ext); t != nil || err != nil {
			return t, false, err
		}
	}
	if err != nil {
		return nil, false, err
	}
	return t, true, nil
}

func (s *Service) tenantByExternalID(ctx context.Context, ext string) (*licensehooks.Tenant, error) {
	if ext == "" {
		return nil, nil
	}
	ts, _, err := s.Store.FindTenants(ctx, licensehooks.TenantFilter{ExternalID: ext, Page: licensehooks.Page{Number: 1, Size: 1}})
	if err != nil || len(ts) == 0 {
		return nil, err
	}
	return ts[0], nil
}

// GetTenant reads a tenant; a missing or deleted one is ENOTFOUND.
func (s *Service) GetTenant(ctx context.Context, id string) (*licensehooks.Tenant, error) {
	t, err := s.Store.GetTenant(ctx, id)
	return t, tenantNotFound(err, id)
}

func tenantNotFound(err error, id string) error {
	if licensehooks.ErrorCode(err) == licensehooks.ENOTFOUND {
		return licensehooks.Errorf(licensehooks.ENOTFOUND, "The tenant %s does not exist.", id)
	}
	return err
}

// ListTenants returns a page of tenants, oldest first, and the total.
func (s *Service) ListTenants(ctx context.Context, f licensehooks.TenantFilter) ([]*licensehooks.Tenant, int, error) {
	return s.Store.FindTenants(ctx, f)
}

// UpdateTenant changes the name and external id given in the input.
func (s *Service) UpdateTenant(ctx context.Context, id string, in TenantInput) (*licensehooks.Tenant, error) {
	if errs := in.validate(false); len(errs) > 0 {
		return nil, licensehooks.Invalid(errs...)
	}
	t, err := s.GetTenant(ctx, id)
	if err != nil {
		return nil, err
	}
	if in.Name != nil {
		t.Name = strings.TrimSpace(*in.Name)
	}
	if in.ExternalID != nil {
		t.ExternalID = *in.ExternalID
	}
	if err := s.Store.UpdateTenant(ctx, t); err != nil {
		return nil, tenantNotFound(err, id)
	}
	return t, nil
}

// DeleteTenant deletes a tenant with everything it owns. It is gone at
// once (its credentials are revoked, so tokens stop within the revocation
// list's refresh on every node, and at once on this one through Auth); its
// events, deliveries and attempts are purged in the background, in
// bounded batches (PurgeDeletedTenants finishes what a dying process left).
func (s *Service) DeleteTenant(ctx context.Context, id string) error {
	if err := s.Store.DeleteTenant(ctx, id, s.now()); err != nil {
		return tenantNotFound(err, id)
	}
	if s.Auth != nil {
		if err := s.Auth.RefreshRevocations(ctx); err != nil {
			s.logger().Warn("refresh the revocation list after deleting a tenant", "tenant", id, "err", err)
		}
	}
	go func() {
		ctx := context.WithoutCancel(ctx)
		if err := s.purgeTenant(ctx, id); err != nil {
			s.logger().Warn("purge a deleted tenant (the next start finishes it)", "tenant", id, "err", err)
		}
	}()
	return nil
}

// PurgeDeletedTenants purges every deleted tenant whose purge has not
// finished, batch by batch.
func (s *Service) PurgeDeletedTenants(ctx context.Context) error {
	ids, err := s.Store.DeletedTenants(ctx)
	if err != nil {
		return err
	}
	for _, id := range ids {
		if err := s.purgeTenant(ctx, id); err != nil {
			return err
		}
	}
	return nil
}

func (s *Service) purgeTenant(ctx context.Context, id string) error {
	for {
		n, err := s.Store.PurgeTenant(ctx, id, PurgeBatch)
		if err != nil || n == 0 {
			return err
		}
	}
}

func (s *Service) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}

// CredentialInput creates a tenant's credential.
type CredentialInput struct {
	Name   *string
	Scopes []string // nil for every tenant scope
}

// CreateCredential creates a credential of a tenant and returns it with
// its secret, which is never shown again.
func (s *Service) CreateCredential(ctx context.Context, tenantID string, in CredentialInput) (*licensehooks.Credential, string, error) {
	errs := validateText("name", in.Name, MaxCredentialName, false)
	scopes := slices.Clone(licensehooks.AllScopes)
	if in.Scopes != nil {
		scopes = nil
		if len(in.Scopes) == 0 {
			errs = append(errs, field("scopes", "required", "scopes must hold at least one scope: %s.", strings.Join(licensehooks.AllScopes, ", ")))
		}
		for i, sc := range in.Scopes {
			switch {
			case sc == licensehooks.ScopeTenantsAdmin:
				errs = append(errs, field(scopeField(i), "forbidden_scope", "%s is held by operator credentials only.", sc))
			case !slices.Contains(licensehooks.AllScopes, sc):
				errs = append(errs, field(scopeField(i), "unknown_scope", "%q is not a scope; the scopes are %s.", sc, strings.Join(licensehooks.AllScopes, ", ")))
			case !slices.Contains(scopes, sc):
				scopes = append(scopes, sc)
			}
		}
	}
	if len(errs) > 0 {
		return nil, "", licensehooks.Invalid(errs...)
	}
	if _, err := s.GetTenant(ctx, tenantID); err != nil {
		return nil, "", err
	}
	name := ""
	if in.Name != nil {
		name = strings.TrimSpace(*in.Name)
	}
	c, secret := auth.NewCredential(tenantID, name, scopes, s.now())
	if err := s.Store.CreateCredential(ctx, c); err != nil {
		return nil, "", err
	}
	return c, secret, nil
}

func scopeField(i int) string { return fmt.Sprintf("scopes[%d]", i) }

// ListCredentials lists a tenant's credentials, oldest first.
func (s *Service) ListCredentials(ctx context.Context, tenantID string) ([]*licensehooks.Credential, error) {
	if _, err := s.GetTenant(ctx, tenantID); err != nil {
		return nil, err
	}
	return s.Store.ListCredentials(ctx, tenantID)
}

// RevokeCredential revokes a tenant's credential: its tokens stop at once
// on this node and within the revocation list's refresh on the others, its
// console sessions at once everywhere.
func (s *Service) RevokeCredential(ctx context.Context, tenantID, clientID string) error {
	if _, err := s.GetTenant(ctx, tenantID); err != nil {
		return err
	}
	c, err := s.Store.GetCredential(ctx, clientID)
	if licensehooks.ErrorCode(err) == licensehooks.ENOTFOUND || (err == nil && c.TenantID != tenantID) {
		return licensehooks.Errorf(licensehooks.ENOTFOUND, "The tenant %s has no credential %s.", tenantID, clientID)
	} else if err != nil {
		return err
	}
	if err := s.Store.RevokeCredential(ctx, clientID, s.now()); err != nil {
		return err
	}
	if s.Auth != nil {
		if err := s.Auth.RefreshRevocations(ctx); err != nil {
			s.logger().Warn("refresh the revocation list after a revocation", "credential", clientID, "err", err)
		}
	}
	return nil
}

// PortalLinkInput asks for a portal link.
type PortalLinkInput struct {
	TTL       *int // seconds; nil for DefaultPortalTTL
	ReadOnly  bool
	ReturnURL string
}

// CreatePortalLink makes a single-use sign-in to a tenant's console and
// returns its secret token (the link's last path segment), shown once.
func (s *Service) CreatePortalLink(ctx context.Context, tenantID string, in PortalLinkInput) (string, *licensehooks.PortalLink, error) {
	var errs []licensehooks.FieldError
	ttl := DefaultPortalTTL
	if in.TTL != nil {
		if *in.TTL < 1 || time.Duration(*in.TTL)*time.Second > MaxPortalTTL {
			errs = append(errs, field("ttl", "out_of_range", "ttl must be from 1 to %d seconds.", int(MaxPortalTTL/time.Second)))
		}
		ttl = time.Duration(*in.TTL) * time.Second
	}
	if in.ReturnURL != "" {
		if fe := validateReturnURL(in.ReturnURL); fe != nil {
			errs = append(errs, *fe)
		}
	}
	if len(errs) > 0 {
		return "", nil, licensehooks.Invalid(errs...)
	}
	token := licensehooks.RandomToken(32)
	now := s.now()
	l := &licensehooks.PortalLink{ID: PortalLinkID(token), TenantID: tenantID, ReadOnly: in.ReadOnly, ReturnURL: in.ReturnURL,
		CreatedAt: now, ExpiresAt: now.Add(ttl)}
	if err := s.Store.CreatePortalLink(ctx, l); err != nil {
		return "", nil, tenantNotFound(err, tenantID)
	}
	return token, l, nil
}

func validateReturnURL(raw string) *licensehooks.FieldError {
	u, err := url.Parse(raw)
	switch {
	case len(raw) > MaxURILength:
		f := field("returnUrl", "too_long", "returnUrl must be at most %d characters.", MaxURILength)
		return &f
	case err != nil || !utf8.ValidString(raw) || hasControl(raw, false) || strings.ContainsFunc(raw, func(r rune) bool { return r == ' ' }) ||
		(u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil:
		f := field("returnUrl", "invalid_uri", "returnUrl must be an http or https URL such as https://app.example.com/settings.")
		return &f
	}
	return nil
}

// PortalLinkID is the stored id of a portal link's token: its hash, so a
// copy of the store signs no one in.
func PortalLinkID(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

// OpenPortalLink spends a portal link's token, once, and returns the link.
// A used, expired or unknown token is ECONFLICT, all alike.
func (s *Service) OpenPortalLink(ctx context.Context, token string) (*licensehooks.PortalLink, error) {
	if token == "" || !licensehooks.ValidText(token) {
		return nil, errLinkSpent
	}
	l, err := s.Store.UsePortalLink(ctx, PortalLinkID(token), s.now())
	switch licensehooks.ErrorCode(err) {
	case "":
		return l, nil
	case licensehooks.ENOTFOUND, licensehooks.ECONFLICT:
		return nil, errLinkSpent
	}
	return nil, err
}

var errLinkSpent = licensehooks.Errorf(licensehooks.ECONFLICT, "This sign-in link was already used or has expired. Ask for a new one.")
