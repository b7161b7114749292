package sqlite

import (
	"crypto/rand"
	"encoding/binary"
	"time"
)

// sortedAlphabet holds the 64 base64url characters in byte order, so an id
// encoded with it sorts like its bytes.
const sortedAlphabet = "-0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz"

// newSortableID returns prefix and 22 base64url characters like
// licensehooks.NewID, but the first 48 bits are the time in milliseconds.
// Deliveries are written far more than anything else: ids made at the same
// time land on the same few pages of the primary key instead of one random
// page each, which keeps the bytes each commit must write and fsync small.
// The other 80 bits are random, so ids stay unguessable and unique.
func newSortableID(prefix string, now time.Time) string {
	var b [18]byte // 16 bytes of id; two spare so the last group reads 24 bits
	binary.BigEndian.PutUint64(b[:8], uint64(now.UnixMilli())<<16)
	rand.Read(b[6:16])
	out := make([]byte, len(prefix)+22)
	copy(out, prefix)
	dst := out[len(prefix):]
	for i, j := 0, 0; j < 22; i += 3 {
		v := uint32(b[i])<<16 | uint32(b[i+1])<<8 | uint32(b[i+2])
		for k := 0; k < 4 && j < 22; k++ {
			dst[j] = sortedAlphabet[v>>(18-6*k)&0x3F]
			j++
		}
	}
	return string(out)
}
