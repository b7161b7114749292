package licensehooks

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"time"
)

// TenantKeyBits is the size of every tenant's RSA key.
const TenantKeyBits = 2048

// NewTenant returns a tenant with a fresh id and RSA key pair, its private
// key sealed with mk.
func NewTenant(name string, mk *MasterKey, now time.Time) (*Tenant, error) {
	key, err := rsa.GenerateKey(rand.Reader, TenantKeyBits)
	if err != nil {
		return nil, fmt.Errorf("generate tenant key: %w", err)
	}
	priv, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	pub, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return nil, err
	}
	return &Tenant{ID: NewID(PrefixTenant), Name: name, PublicKey: pub, PrivateKey: mk.Seal(priv), CreatedAt: now.UTC()}, nil
}

// SigningKey opens the tenant's sealed private key.
func (t *Tenant) SigningKey(mk *MasterKey) (*rsa.PrivateKey, error) {
	der, err := mk.Open(t.PrivateKey)
	if err != nil {
		return nil, fmt.Errorf("tenant %s: %w", t.ID, err)
	}
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("tenant %s: parse private key: %w", t.ID, err)
	}
	rk, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("tenant %s: private key is not RSA", t.ID)
	}
	rk.Precompute()
	return rk, nil
}

// RSAPublicKey parses the tenant's public key.
func (t *Tenant) RSAPublicKey() (*rsa.PublicKey, error) {
	k, err := x509.ParsePKIXPublicKey(t.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("tenant %s: parse public key: %w", t.ID, err)
	}
	rk, ok := k.(*rsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("tenant %s: public key is not RSA", t.ID)
	}
	return rk, nil
}

// SecretPrefix starts every Standard Webhooks signing secret.
const SecretPrefix = "whsec_"

// NewListenerSecret returns a Standard Webhooks secret: "whsec_" and 32
// random bytes in standard base64.
func NewListenerSecret() string {
	b := make([]byte, 32)
	rand.Read(b)
	return SecretPrefix + base64.StdEncoding.EncodeToString(b)
}
