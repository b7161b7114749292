package licensehooks

import (
	"strconv"
	"time"
	"unicode/utf8"
)

// EventDateLayout is how the envelope writes eventDate: RFC 3339, UTC,
// microseconds.
const EventDateLayout = "2006-01-02T15:04:05.000000Z"

// AppendEnvelope appends the JSON body of a delivery to dst: the Zentitle2
// envelope {eventId, eventDate, eventCode, resourceId, callAttempt, payload},
// in that order. The payload is stored compact and valid, so it is copied as is.
//
// The same event and attempt number always give the same bytes, so a body
// is signed once for every listener, and the log rebuilds the body an
// attempt sent from the event.
func AppendEnvelope(dst []byte, e *Event, callAttempt int) []byte {
	dst = append(dst, `{"eventId":`...)
	dst = appendJSONString(dst, e.ID)
	dst = append(dst, `,"eventDate":"`...)
	dst = e.OccurredAt.UTC().Truncate(time.Microsecond).AppendFormat(dst, EventDateLayout)
	dst = append(dst, `","eventCode":`...)
	dst = appendJSONString(dst, e.Code)
	dst = append(dst, `,"resourceId":`...)
	dst = appendJSONString(dst, e.ResourceID)
	dst = append(dst, `,"callAttempt":`...)
	dst = strconv.AppendInt(dst, int64(callAttempt), 10)
	dst = append(dst, `,"payload":`...)
	if len(e.Payload) == 0 {
		dst = append(dst, "{}"...)
	} else {
		dst = append(dst, e.Payload...)
	}
	return append(dst, '}')
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string, escaping as encoding/json does
// (\b, \f, \n, \r and \t by name, other control characters as \u00XX, and
// <, > and & and the line separators U+2028 and U+2029 escaped).
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
