package licensehooks

import (
	"crypto/rand"
	"encoding/base64"
)

// ID prefixes. An id is its prefix followed by 22 base64url characters
// (16 random bytes), as Zentitle2 spells its ids.
const (
	PrefixTenant     = "t_"
	PrefixCredential = "lhc_"
	PrefixListener   = "whl_"
	PrefixEvent      = "event_"
	PrefixDelivery   = "dlv_"
	PrefixAttempt    = "att_"
)

// NewID returns prefix followed by 16 random bytes in unpadded base64url.
func NewID(prefix string) string {
	var b [16]byte
	rand.Read(b[:]) // never fails (crypto/rand, Go 1.24+)
	buf := make([]byte, len(prefix)+22)
	copy(buf, prefix)
	base64.RawURLEncoding.Encode(buf[len(prefix):], b[:])
	return string(buf)
}

// RandomToken returns n random bytes in unpadded base64url, for secrets.
func RandomToken(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
