package licensehooks

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
)

// MasterKey seals what the store must keep secret (tenants' private keys,
// listeners' signing secrets) with AES-256-GCM. It comes from configuration
// (LICENSEHOOKS_MASTER_KEY or a key file), never from the store, so a copy of
// the database alone reveals nothing.
type MasterKey struct {
	aead cipher.AEAD
	raw  [32]byte
}

// NewMasterKey returns a MasterKey from 32 raw bytes.
func NewMasterKey(raw []byte) (*MasterKey, error) {
	if len(raw) != 32 {
		return nil, fmt.Errorf("master key must be 32 bytes, got %d", len(raw))
	}
	k := &MasterKey{}
	copy(k.raw[:], raw)
	block, err := aes.NewCipher(k.raw[:])
	if err != nil {
		return nil, err
	}
	if k.aead, err = cipher.NewGCM(block); err != nil {
		return nil, err
	}
	return k, nil
}

// ParseMasterKey reads a key written as base64 (standard or URL, padded or
// not) or hex of 32 bytes.
func ParseMasterKey(s string) (*MasterKey, error) {
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil && len(b) == 32 {
			return NewMasterKey(b)
		}
	}
	if b, err := hex.DecodeString(s); err == nil && len(b) == 32 {
		return NewMasterKey(b)
	}
	return nil, errors.New("master key must be 32 bytes written in base64 or hex")
}

// GenerateMasterKey returns a new random key and its base64 form.
func GenerateMasterKey() (*MasterKey, string) {
	raw := make([]byte, 32)
	rand.Read(raw)
	k, _ := NewMasterKey(raw)
	return k, base64.StdEncoding.EncodeToString(raw)
}

// Seal encrypts plaintext; the result holds the nonce and the tag.
func (k *MasterKey) Seal(plaintext []byte) []byte {
	nonce := make([]byte, k.aead.NonceSize(), k.aead.NonceSize()+len(plaintext)+k.aead.Overhead())
	rand.Read(nonce)
	return k.aead.Seal(nonce, nonce, plaintext, nil)
}

// Open decrypts what Seal returned.
func (k *MasterKey) Open(sealed []byte) ([]byte, error) {
	n := k.aead.NonceSize()
	if len(sealed) < n+k.aead.Overhead() {
		return nil, errors.New("sealed value too short")
	}
	out, err := k.aead.Open(nil, sealed[:n], sealed[n:], nil)
	if err != nil {
		return nil, errors.New("cannot open sealed value: wrong master key or corrupt data")
	}
	return out, nil
}

// Derive returns a 32-byte key for purpose (e.g. "token-signing"), so one
// configured secret yields independent keys for independent uses.
func (k *MasterKey) Derive(purpose string) []byte {
	m := hmac.New(sha256.New, k.raw[:])
	m.Write([]byte("licensehooks/" + purpose))
	return m.Sum(nil)
}
