package bench

import (
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"strings"
)

// record is one request a receiver got, as it travels back to the
// benchmark: a fixed 24-byte little-endian encoding, so a million of them
// cost 24 MB and no parsing.
type record struct {
	Seq      uint64 // the event's sequence number (see eventid.go)
	Arrival  int64  // wall clock, Unix nanoseconds, when the request arrived
	Listener uint32 // the listener index (the path segment of /hook/{i})
	Attempt  uint16 // the envelope's callAttempt
	Flags    uint8
	// index is the record's place among the receiver's, from 0: the order
	// in which it took the requests, which ordered listeners are checked
	// against. Not on the wire: the ledger counts it as records come in.
	index int64
}

// Record flags.
const (
	flagForeign     = 1 << iota // the eventId is not one of this run's
	flagChecked                 // the signatures were verified
	flagBadN                    // N-Signature did not verify
	flagBadStandard             // webhook-signature did not verify
	flagBadBody                 // the body's eventId differs from webhook-id, or the body is not JSON
)

const recordSize = 24

func (r record) append(dst []byte) []byte {
	dst = binary.LittleEndian.AppendUint64(dst, r.Seq)
	dst = binary.LittleEndian.AppendUint64(dst, uint64(r.Arrival))
	dst = binary.LittleEndian.AppendUint32(dst, r.Listener)
	dst = binary.LittleEndian.AppendUint16(dst, r.Attempt)
	return append(dst, r.Flags, 0)
}

// decodeRecords decodes a run of encoded records.
func decodeRecords(b []byte) ([]record, error) {
	if len(b)%recordSize != 0 {
		return nil, fmt.Errorf("records: %d bytes is not a multiple of %d", len(b), recordSize)
	}
	out := make([]record, 0, len(b)/recordSize)
	for ; len(b) > 0; b = b[recordSize:] {
		out = append(out, record{
			Seq:      binary.LittleEndian.Uint64(b),
			Arrival:  int64(binary.LittleEndian.Uint64(b[8:])),
			Listener: binary.LittleEndian.Uint32(b[16:]),
			Attempt:  binary.LittleEndian.Uint16(b[20:]),
			Flags:    b[22],
		})
	}
	return out, nil
}

// decodeB64URL decodes base64url with or without padding.
func decodeB64URL(s string) ([]byte, error) {
	return base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
}
