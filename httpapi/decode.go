package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"licensehooks"
	"licensehooks/service"
)

// Body limits.
const (
	maxBodyBytes = 256 << 10 // one listener
	// maxEventBytes leaves room beside a payload of the largest size the
	// service accepts for the event's other fields and for whitespace.
	maxEventBytes = service.MaxPayloadBytes + 16<<10
	maxBatchBytes = 16 << 20 // a batch of events, each payload still at most 256 KiB
)

// readBody reads a request body of at most limit bytes.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return nil, licensehooks.Errorf(licensehooks.ETOOLARGE, "The request body is larger than %d KiB.", limit>>10)
	} else if err != nil {
		return nil, licensehooks.Errorf(licensehooks.EBADREQUEST, "The request body could not be read.")
	}
	return b, nil
}

// decodeJSON reads a JSON object into dst. Unknown fields are ignored, as a
// Zentitle2 client may send fields this server does not know.
func decodeJSON(w http.ResponseWriter, r *http.Request, limit int64, dst any) error {
	b, err := readBody(w, r, limit)
	if err != nil {
		return err
	}
	return unmarshal(b, dst)
}

// unmarshal decodes one JSON value into dst: malformed JSON is EBADREQUEST;
// a value of the wrong type is EINVALID naming the field.
func unmarshal(b []byte, dst any) error {
	if len(bytes.TrimSpace(b)) == 0 {
		return licensehooks.Errorf(licensehooks.EBADREQUEST, "The request body is empty: send a JSON object.")
	}
	if err := checkSyntax(b); err != nil {
		return err
	}
	err := json.Unmarshal(b, dst)
	var terr *json.UnmarshalTypeError
	if errors.As(err, &terr) {
		name := terr.Field
		if name == "" {
			return licensehooks.Errorf(licensehooks.EBADREQUEST, "The request body must be a JSON object.")
		}
		return licensehooks.Invalid(licensehooks.FieldError{Field: name, Code: "invalid_type",
			Message: fmt.Sprintf("%s must be %s, not %s.", name, jsonKind(terr.Type.Kind().String()), terr.Value)})
	} else if err != nil {
		return licensehooks.Errorf(licensehooks.EBADREQUEST, "The request body could not be decoded: send one JSON object with the fields the API documents.")
	}
	return nil
}

// checkSyntax answers malformed JSON with EBADREQUEST saying where the
// problem is and what was expected there, in words rather than the
// decoder's.
func checkSyntax(b []byte) error {
	if json.Valid(b) {
		return nil
	}
	var serr *json.SyntaxError
	if err := json.Unmarshal(b, new(any)); !errors.As(err, &serr) {
		return licensehooks.Errorf(licensehooks.EBADREQUEST, "The request body is not valid JSON: send one JSON object.")
	}
	if strings.Contains(serr.Error(), "unexpected end") {
		return licensehooks.Errorf(licensehooks.EBADREQUEST,
			"The request body is not valid JSON: it ends early, at line %d, before the JSON object is complete.", bytes.Count(b, []byte("\n"))+1)
	}
	at := min(max(int(serr.Offset)-1, 0), len(b)-1) // the offending byte
	line := bytes.Count(b[:at], []byte("\n")) + 1
	col := utf8.RuneCount(b[bytes.LastIndexByte(b[:at], '\n')+1:at]) + 1
	r, _ := utf8.DecodeRune(b[at:])
	return licensehooks.Errorf(licensehooks.EBADREQUEST, "The request body is not valid JSON: unexpected %s at line %d, column %d (byte %d); expected %s.",
		strconv.QuoteRune(r), line, col, at+1, expectedAt(serr.Error()))
}

// expectedAt says in plain words what the decoder wanted where it stopped,
// from the context its message names.
func expectedAt(msg string) string {
	for _, c := range []struct{ context, expected string }{
		{"after top-level value", "nothing more after the JSON object"},
		{"after object key:value pair", `a comma or a closing "}"`},
		{"after object key", `a colon after the field name`},
		{"beginning of object key string", `a field name in double quotes`},
		{"after array element", `a comma or a closing "]"`},
		{"escape", `a valid escape such as \n, \" or \u00e9`},
		{"in string", "a valid character inside the string (escape control characters and quotes)"},
		{"in literal", "true, false or null"},
		{"in numeric literal", "a number"},
	} {
		if strings.Contains(msg, c.context) {
			return c.expected
		}
	}
	return "a JSON value: an object, an array, a string in double quotes, a number, true, false or null"
}

// jsonKind names a Go kind as JSON calls it, for messages.
func jsonKind(kind string) string {
	switch kind {
	case "string":
		return "a string"
	case "bool":
		return "true or false"
	case "slice", "array":
		return "an array"
	case "map", "struct":
		return "an object"
	case "int", "int32", "int64", "float64":
		return "a number"
	}
	return "another type"
}

// parseTime reads a date-time the way the Zentitle2 API accepts them:
// RFC 3339 with a zone, or without one meaning UTC; a bare date is midnight
// UTC.
func parseTime(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not an ISO 8601 date-time such as 2021-12-31T23:59:59Z", s)
}

// timeField parses an optional date-time field named name; a bad one is an
// EINVALID problem.
func timeField(name, v string) (time.Time, *licensehooks.FieldError) {
	if v == "" {
		return time.Time{}, nil
	}
	t, err := parseTime(v)
	if err != nil {
		return time.Time{}, &licensehooks.FieldError{Field: name, Code: "invalid_date", Message: fmt.Sprintf("%s: %v.", name, err)}
	}
	return t, nil
}

// parsePage reads pageNumber (from 1) and pageSize (default 10, at most 100).
// A value that is not an integer cannot be parsed (400); one out of range is
// invalid (422).
func parsePage(q url.Values) (licensehooks.Page, error) {
	p := licensehooks.Page{Number: 1, Size: licensehooks.DefaultPageSize}
	var bad, invalid []licensehooks.FieldError
	for _, f := range []struct {
		name string
		dst  *int
		max  int
	}{{"pageNumber", &p.Number, licensehooks.MaxPageNumber}, {"pageSize", &p.Size, licensehooks.MaxPageSize}} {
		v := strings.TrimSpace(q.Get(f.name))
		if v == "" {
			continue
		}
		n, err := strconv.Atoi(v)
		switch {
		case err != nil:
			bad = append(bad, licensehooks.FieldError{Field: f.name, Code: "invalid_integer", Message: fmt.Sprintf("%s must be an integer.", f.name)})
		case n < 1 || n > f.max:
			invalid = append(invalid, licensehooks.FieldError{Field: f.name, Code: "out_of_range", Message: fmt.Sprintf("%s must be between 1 and %d.", f.name, f.max)})
		default:
			*f.dst = n
		}
	}
	if len(bad) > 0 {
		return p, &licensehooks.Error{Code: licensehooks.EBADREQUEST, Message: "The paging parameters could not be parsed.", Fields: append(bad, invalid...)}
	}
	if len(invalid) > 0 {
		return p, licensehooks.Invalid(invalid...)
	}
	return p, nil
}
