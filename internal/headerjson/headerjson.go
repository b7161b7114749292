// Package headerjson encodes HTTP header maps as JSON objects exactly as
// encoding/json does (keys sorted, each value an array of strings), without
// its reflection: every attempt stores two of them, on the path every
// delivery takes.
package headerjson

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
)

// Encode returns h as a JSON object, byte for byte what json.Marshal(h)
// returns; a nil h is "null", as there.
func Encode(h http.Header) string {
	if h == nil {
		return "null"
	}
	var arr [16]string
	keys := arr[:0]
	size := 2
	for k, vs := range h {
		keys = append(keys, k)
		size += len(k) + 6
		for _, v := range vs {
			size += len(v) + 3
		}
	}
	slices.Sort(keys)
	var b strings.Builder
	b.Grow(size)
	b.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		writeString(&b, k)
		b.WriteByte(':')
		vs := h[k]
		if vs == nil {
			b.WriteString("null")
			continue
		}
		b.WriteByte('[')
		for j, v := range vs {
			if j > 0 {
				b.WriteByte(',')
			}
			writeString(&b, v)
		}
		b.WriteByte(']')
	}
	b.WriteByte('}')
	return b.String()
}

// writeString writes s as a JSON string. Printable ASCII that needs no
// escape (nearly every header) is copied; anything else goes through
// encoding/json, so escapes, HTML-safe forms and invalid UTF-8 come out
// exactly as there.
func writeString(b *strings.Builder, s string) {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s) // a string: cannot fail
			b.Write(q)
			return
		}
	}
	b.WriteByte('"')
	b.WriteString(s)
	b.WriteByte('"')
}
