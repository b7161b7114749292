// Package signature signs and verifies the two signatures every licensehooks
// delivery carries:
//
//   - N-Signature, the Zentitle2 scheme: RSASSA-PKCS1-v1_5 with SHA-256 over
//     the raw request body, made with the tenant's RSA key, sent as standard
//     Base64. Receivers rebuild the public key from its modulus (base64url)
//     and exponent.
//   - Standard Webhooks (https://www.standardwebhooks.com): HMAC-SHA256 over
//     "msgID.timestamp.body" with the listener's "whsec_" secret, sent in the
//     webhook-id, webhook-timestamp and webhook-signature headers.
//
// The package uses the standard library only, so a receiver can import it on
// its own to verify what it gets.
package signature

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"math/big"
	"strings"
)

// HeaderN is the header that carries the N-Signature.
const HeaderN = "N-Signature"

// MinModulusBits is the smallest RSA modulus PublicKeyFromModulus accepts;
// the crypto/rsa package refuses smaller keys anyway.
const MinModulusBits = 1024

// ErrInvalidNSignature is returned (wrapped) by VerifyN for a header that is
// missing, malformed or does not match the body.
var ErrInvalidNSignature = errors.New("invalid N-Signature")

// SignN returns the N-Signature of body: the standard Base64 encoding of the
// RSASSA-PKCS1-v1_5 SHA-256 signature of the raw bytes.
func SignN(key *rsa.PrivateKey, body []byte) (string, error) {
	if key == nil {
		return "", errors.New("sign N-Signature: no private key")
	}
	sum := sha256.Sum256(body)
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	if err != nil {
		return "", fmt.Errorf("sign N-Signature: %w", err)
	}
	return base64.StdEncoding.EncodeToString(sig), nil
}

// VerifyN checks that header is a valid N-Signature of body under pub. Verify
// the bytes exactly as received, before parsing them: re-encoded JSON does
// not verify. Every failure wraps ErrInvalidNSignature.
func VerifyN(pub *rsa.PublicKey, body []byte, header string) error {
	if pub == nil {
		return errors.New("verify N-Signature: no public key")
	}
	header = strings.TrimSpace(header)
	if header == "" {
		return fmt.Errorf("%w: the %s header is missing or empty", ErrInvalidNSignature, HeaderN)
	}
	sig, err := base64.StdEncoding.DecodeString(header)
	if err != nil {
		return fmt.Errorf("%w: not standard Base64: %v", ErrInvalidNSignature, err)
	}
	sum := sha256.Sum256(body)
	if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], sig); err != nil {
		return fmt.Errorf("%w: it does not match the body", ErrInvalidNSignature)
	}
	return nil
}

// PublicKeyFromModulus rebuilds an RSA public key from its modulus n and
// exponent e, both big-endian integers in base64url without padding (the JWK
// form, and the "RSA Modulus" a Zentitle2 account shows). An empty e means
// "AQAB" (65537). Padding and the standard alphabet are tolerated, since
// people paste these values by hand.
func PublicKeyFromModulus(n, e string) (*rsa.PublicKey, error) {
	nb, err := decodeBase64URL(n)
	if err != nil {
		return nil, fmt.Errorf("RSA modulus: %w", err)
	}
	if e == "" {
		e = "AQAB"
	}
	eb, err := decodeBase64URL(e)
	if err != nil {
		return nil, fmt.Errorf("RSA exponent: %w", err)
	}
	mod := new(big.Int).SetBytes(nb)
	if mod.BitLen() < MinModulusBits {
		return nil, fmt.Errorf("RSA modulus: %d bits, want at least %d", mod.BitLen(), MinModulusBits)
	}
	exp := new(big.Int).SetBytes(eb)
	if !exp.IsInt64() || exp.Int64() < 3 || exp.Int64() > 1<<31-1 || exp.Bit(0) == 0 {
		return nil, errors.New("RSA exponent: want an odd integer from 3 to 2^31-1")
	}
	return &rsa.PublicKey{N: mod, E: int(exp.Int64())}, nil
}

// decodeBase64URL decodes base64url without padding, accepting padding and
// the standard alphabet too.
func decodeBase64URL(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, errors.New("empty")
	}
	s = strings.TrimRight(s, "=")
	s = strings.NewReplacer("+", "-", "/", "_").Replace(s)
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("not base64url: %w", err)
	}
	return b, nil
}

// ModulusOf returns the modulus and exponent of pub in base64url without
// padding, the inverse of PublicKeyFromModulus.
func ModulusOf(pub *rsa.PublicKey) (n, e string) {
	eb := big.NewInt(int64(pub.E)).Bytes()
	return base64.RawURLEncoding.EncodeToString(pub.N.Bytes()), base64.RawURLEncoding.EncodeToString(eb)
}

// JWK is an RSA public key as a JSON Web Key (RFC 7517), the shape of
// GET /api/v1/account/key.
type JWK struct {
	Kty string `json:"kty"` // always "RSA"
	N   string `json:"n"`
	E   string `json:"e"`
	Kid string `json:"kid,omitempty"`
	Use string `json:"use,omitempty"`
	Alg string `json:"alg,omitempty"`
}

// JWKOf returns pub as a JWK with kty, n and e set.
func JWKOf(pub *rsa.PublicKey) JWK {
	n, e := ModulusOf(pub)
	return JWK{Kty: "RSA", N: n, E: e}
}

// PublicKey rebuilds the RSA public key a JWK describes.
func (k JWK) PublicKey() (*rsa.PublicKey, error) {
	if k.Kty != "RSA" {
		return nil, fmt.Errorf("JWK: kty %q, want RSA", k.Kty)
	}
	return PublicKeyFromModulus(k.N, k.E)
}
