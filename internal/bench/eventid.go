package bench

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"strings"
)

// The benchmark chooses every eventId itself, so that a receiver can tell
// from the id alone which run and which published event a request belongs
// to, without a lookup table: "event_" followed by 22 base64url characters
// (the shape of the server's own ids) encoding an 8-byte run nonce and an
// 8-byte sequence number. The sequence number comes first, scrambled by a
// multiplication that can be undone: a platform's event ids are its own,
// and mostly random (UUIDs), so the store sees them in no order, as it
// would in production, not one after the other.

const eventIDPrefix = "event_"

// nonce identifies one scenario run; ids of other runs are "foreign".
type nonce [8]byte

func newNonce() nonce {
	var n nonce
	rand.Read(n[:]) // never fails (crypto/rand, Go 1.24+)
	return n
}

// appendEventID appends the eventId of seq in run n to dst.
func appendEventID(dst []byte, n nonce, seq uint64) []byte {
	var raw [16]byte
	binary.BigEndian.PutUint64(raw[:8], seq*scramble)
	copy(raw[8:], n[:])
	dst = append(dst, eventIDPrefix...)
	return base64.RawURLEncoding.AppendEncode(dst, raw[:])
}

func eventID(n nonce, seq uint64) string { return string(appendEventID(nil, n, seq)) }

// parseEventID returns the sequence number an eventId of run n encodes; ok
// is false for an id of another shape or another run.
func parseEventID(n nonce, id string) (seq uint64, ok bool) {
	rest, found := strings.CutPrefix(id, eventIDPrefix)
	if !found || len(rest) != 22 {
		return 0, false
	}
	var raw [16]byte
	k, err := base64.RawURLEncoding.Decode(raw[:], []byte(rest))
	if err != nil || k != 16 || !bytes.Equal(raw[8:], n[:]) {
		return 0, false
	}
	return binary.BigEndian.Uint64(raw[:8]) * unscramble, true
}

// scramble is odd, so multiplying by it modulo 2^64 is a bijection, and
// unscramble is its inverse: seq*scramble*unscramble == seq.
const (
	scramble   = 0x9E3779B97F4A7C15
	unscramble = 0xf1de83e19937733d
)

// bodyString returns the JSON string value that follows key (such as
// `"eventId":"`) in body, or "" when absent. The envelope is compact and
// its ids need no escaping, so a scan is enough and costs no allocation
// beyond the result.
func bodyString(body []byte, key string) string {
	i := bytes.Index(body, []byte(key))
	if i < 0 {
		return ""
	}
	rest := body[i+len(key):]
	j := bytes.IndexByte(rest, '"')
	if j < 0 {
		return ""
	}
	return string(rest[:j])
}

// bodyInt returns the small non-negative integer that follows key (such as
// `"callAttempt":`) in body, or 0.
func bodyInt(body []byte, key string) int {
	i := bytes.Index(body, []byte(key))
	if i < 0 {
		return 0
	}
	n := 0
	for _, c := range body[i+len(key):] {
		if c < '0' || c > '9' || n > 1<<20 {
			break
		}
		n = n*10 + int(c-'0')
	}
	return n
}
