package dispatch

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"licensehooks"
	"licensehooks/internal/rsasign"
	"licensehooks/signature"
)

// Cache bounds. Bodies are kept beside their signature only when small, so
// the cache stays within about ten megabytes whatever the payloads. The body
// cache holds some seconds of events: when some listeners' lanes are full,
// claims take the others' work ahead and an event's deliveries go out
// apart, and an evicted body must be signed again (with 2,048 entries the
// benchmark's sick scenario spent a tenth of its RSA time on that).
const (
	bodyCacheSize    = 8192
	maxCachedBody    = 8 << 10
	tenantCacheSize  = 4096
	secretCacheSize  = 8192
	storeCallTimeout = 10 * time.Second
)

// bodyKey names one distinct body: the same event and attempt number always
// give the same bytes (licensehooks.AppendEnvelope). The event's creation
// time tells apart an event id published again after the first was purged.
type bodyKey struct {
	tenantID, eventID string
	created           int64 // Event.CreatedAt in microseconds
	callAttempt       int
}

// signedBody is a body and its N-Signature. Body is shared read-only by the
// senders of every listener; it is nil when too large to keep, and rebuilt.
type signedBody struct {
	body []byte
	nsig string
}

// listenerSecrets are a listener's opened Standard Webhooks keys, with the
// sealed values they came from, so a rotation is noticed.
type listenerSecrets struct {
	sealed, sealedPrev []byte
	cur, prev          []byte
}

// signer builds and signs bodies and opens the keys they need.
type signer struct {
	store licensehooks.Store
	mk    *licensehooks.MasterKey
	rsa   rsasign.Signer
	// quit ends the store calls a cached value waits for: they serve every
	// sender waiting, so no one sender's context may cancel them.
	quit   context.Context
	bodies *flight[bodyKey, signedBody]
	// keys holds tenants' loaded signing keys. An evicted Key is not
	// closed: senders that took it before the eviction may still sign with
	// it, and rsasign frees a Key once it is unreachable.
	keys    *flight[string, rsasign.Key]
	secrets *flight[string, listenerSecrets]
	obs     Observer
}

func newSigner(store licensehooks.Store, mk *licensehooks.MasterKey, rsa rsasign.Signer, quit context.Context, obs Observer) *signer {
	return &signer{
		store:   store,
		rsa:     rsa,
		obs:     obs,
		mk:      mk,
		quit:    quit,
		bodies:  newFlight[bodyKey, signedBody](bodyCacheSize),
		keys:    newFlight[string, rsasign.Key](tenantCacheSize),
		secrets: newFlight[string, listenerSecrets](secretCacheSize),
	}
}

// body returns the bytes of attempt callAttempt of e and their N-Signature.
// The returned slice must not be modified.
func (s *signer) body(e *licensehooks.Event, callAttempt int) ([]byte, string, error) {
	k := bodyKey{e.TenantID, e.ID, e.CreatedAt.UnixMicro(), callAttempt}
	sb, err := s.bodies.get(k, func() (signedBody, error) {
		body := licensehooks.AppendEnvelope(make([]byte, 0, 160+len(e.Payload)), e, callAttempt)
		sig, err := s.signN(e.TenantID, body)
		if err != nil {
			return signedBody{}, fmt.Errorf("tenant %s: %w", e.TenantID, err)
		}
		s.obs.Signed()
		if len(body) > maxCachedBody {
			return signedBody{nsig: sig}, nil
		}
		return signedBody{body: body, nsig: sig}, nil
	})
	if err != nil {
		return nil, "", err
	}
	if sb.body == nil {
		return licensehooks.AppendEnvelope(nil, e, callAttempt), sb.nsig, nil
	}
	return sb.body, sb.nsig, nil
}

// signN signs body with the tenant's key. A Key closed under it (a signer
// that frees keys) is dropped from the cache and loaded again, once.
func (s *signer) signN(tenantID string, body []byte) (string, error) {
	for try := 0; ; try++ {
		key, err := s.tenantKey(tenantID)
		if err != nil {
			return "", err
		}
		sig, err := key.SignN(body)
		if errors.Is(err, rsasign.ErrClosed) && try == 0 {
			s.keys.drop(tenantID)
			continue
		}
		return sig, err
	}
}

// tenantKey returns the tenant's signing key, loaded into the signer. Keys
// never change once a tenant exists, so they are kept until evicted.
func (s *signer) tenantKey(tenantID string) (rsasign.Key, error) {
	return s.keys.get(tenantID, func() (rsasign.Key, error) {
		ctx, cancel := context.WithTimeout(s.quit, storeCallTimeout)
		defer cancel()
		t, err := s.store.GetTenant(ctx, tenantID)
		if err != nil {
			return nil, fmt.Errorf("signing key of tenant %s: %w", tenantID, err)
		}
		priv, err := t.SigningKey(s.mk)
		if err != nil {
			return nil, err
		}
		return s.rsa.Load(priv)
	})
}

// standardKeys returns the keys that sign for l now: its secret, and its
// previous one while a rotation's grace period lasts.
func (s *signer) standardKeys(l *licensehooks.Listener, now time.Time) ([][]byte, error) {
	stale := func(ls listenerSecrets) bool {
		return !bytes.Equal(ls.sealed, l.Secret) || !bytes.Equal(ls.sealedPrev, l.PrevSecret)
	}
	ls, err := s.secrets.get(l.ID, func() (listenerSecrets, error) { return s.open(l) })
	if err == nil && stale(ls) {
		s.secrets.drop(l.ID)
		ls, err = s.secrets.get(l.ID, func() (listenerSecrets, error) { return s.open(l) })
		if err == nil && stale(ls) {
			// Another sender cached an older copy of the listener meanwhile:
			// sign with this copy's secrets, without caching them.
			ls, err = s.open(l)
		}
	}
	if err != nil {
		return nil, err
	}
	if ls.prev != nil && l.PrevSecretExpiresAt != nil && l.PrevSecretExpiresAt.After(now) {
		return [][]byte{ls.cur, ls.prev}, nil
	}
	return [][]byte{ls.cur}, nil
}

func (s *signer) open(l *licensehooks.Listener) (listenerSecrets, error) {
	ls := listenerSecrets{sealed: l.Secret, sealedPrev: l.PrevSecret}
	var err error
	if ls.cur, err = s.openSecret(l.Secret); err != nil {
		return ls, fmt.Errorf("secret of listener %s: %w", l.ID, err)
	}
	if len(l.PrevSecret) > 0 {
		if ls.prev, err = s.openSecret(l.PrevSecret); err != nil {
			return ls, fmt.Errorf("previous secret of listener %s: %w", l.ID, err)
		}
	}
	return ls, nil
}

func (s *signer) openSecret(sealed []byte) ([]byte, error) {
	whsec, err := s.mk.Open(sealed)
	if err != nil {
		return nil, err
	}
	return signature.ParseSecret(string(whsec))
}
