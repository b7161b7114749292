package httpapi

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"licensehooks"
	"licensehooks/service"
)

// decodeListener decodes a listener create or update request field by
// field, so that every field of the wrong type is reported, not only the
// first: it returns the input (a field of the wrong type left at its zero
// value) and one problem per such field. Malformed JSON, or JSON that is not
// an object, is EBADREQUEST; null is an empty object.
func decodeListener(b []byte) (service.ListenerInput, []licensehooks.FieldError, error) {
	var in service.ListenerInput
	if len(bytes.TrimSpace(b)) == 0 {
		return in, nil, licensehooks.Errorf(licensehooks.EBADREQUEST, "The request body is empty: send a JSON object.")
	}
	if err := checkSyntax(b); err != nil {
		return in, nil, err
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(b, &fields); err != nil {
		return in, nil, licensehooks.Errorf(licensehooks.EBADREQUEST, "The request body must be a JSON object, not %s.", jsonType(bytes.TrimSpace(b)))
	}
	var errs []licensehooks.FieldError
	bad := func(name string, raw json.RawMessage, want string) {
		errs = append(errs, licensehooks.FieldError{Field: name, Code: "invalid_type",
			Message: fmt.Sprintf("%s must be %s, not %s.", name, want, jsonType(raw))})
	}
	if raw, ok := present(fields, "uri"); ok && json.Unmarshal(raw, &in.URI) != nil {
		bad("uri", raw, "a string")
	}
	if raw, ok := present(fields, "subscriptions"); ok {
		in.Subscriptions, errs = decodeSubscriptions(raw, errs)
	}
	for _, f := range []struct {
		name string
		dst  **string
	}{{"name", &in.Name}, {"description", &in.Description}} {
		if raw, ok := present(fields, f.name); ok && json.Unmarshal(raw, f.dst) != nil {
			bad(f.name, raw, "a string")
		}
	}
	if raw, ok := present(fields, "enabled"); ok && json.Unmarshal(raw, &in.Enabled) != nil {
		bad("enabled", raw, "true or false")
	}
	if raw, ok := present(fields, "paused"); ok && json.Unmarshal(raw, &in.Paused) != nil {
		bad("paused", raw, "true or false")
	}
	if raw, ok := present(fields, "ordering"); ok && json.Unmarshal(raw, &in.Ordering) != nil {
		bad("ordering", raw, `"none" or "resource"`)
	}
	if raw, ok := present(fields, "rateLimit"); ok && json.Unmarshal(raw, &in.RateLimit) != nil {
		if what := jsonType(raw); what == "a number" { // a fraction, or past an int
			errs = append(errs, licensehooks.FieldError{Field: "rateLimit", Code: "invalid_type",
				Message: fmt.Sprintf("rateLimit must be a whole number of deliveries per second, not %s.", bytes.TrimSpace(raw))})
		} else {
			bad("rateLimit", raw, "a whole number of deliveries per second")
		}
	}
	if raw, ok := present(fields, "headers"); ok {
		in.Headers, errs = decodeHeaders(raw, errs)
	}
	return in, errs, nil
}

// present returns a field that is there and not null: null means absent,
// as it did when the body was decoded into a struct.
func present(fields map[string]json.RawMessage, name string) (json.RawMessage, bool) {
	raw, ok := fields[name]
	return raw, ok && !bytes.Equal(raw, []byte("null"))
}

// decodeSubscriptions reads an array of strings; an item of another type is
// a problem of its own, and its place is kept (as "") so that the service's
// problems name the same indexes as the client's array.
func decodeSubscriptions(raw json.RawMessage, errs []licensehooks.FieldError) ([]string, []licensehooks.FieldError) {
	var items []json.RawMessage
	if json.Unmarshal(raw, &items) != nil {
		return nil, append(errs, licensehooks.FieldError{Field: "subscriptions", Code: "invalid_type",
			Message: fmt.Sprintf("subscriptions must be an array of event codes, not %s.", jsonType(raw))})
	}
	subs := make([]string, len(items))
	for i, it := range items {
		if json.Unmarshal(it, &subs[i]) != nil || bytes.Equal(it, []byte("null")) {
			name := fmt.Sprintf("subscriptions[%d]", i)
			errs = append(errs, licensehooks.FieldError{Field: name, Code: "invalid_type",
				Message: fmt.Sprintf("%s must be an event code string, not %s.", name, jsonType(it))})
		}
	}
	return subs, errs
}

// decodeHeaders reads an object of string values, in name order.
func decodeHeaders(raw json.RawMessage, errs []licensehooks.FieldError) (map[string]string, []licensehooks.FieldError) {
	var obj map[string]json.RawMessage
	if json.Unmarshal(raw, &obj) != nil {
		return nil, append(errs, licensehooks.FieldError{Field: "headers", Code: "invalid_type",
			Message: fmt.Sprintf("headers must be an object of header names and string values, not %s.", jsonType(raw))})
	}
	h := make(map[string]string, len(obj))
	for _, name := range slices.Sorted(maps.Keys(obj)) {
		var v string
		if it := obj[name]; json.Unmarshal(it, &v) != nil || bytes.Equal(it, []byte("null")) {
			errs = append(errs, licensehooks.FieldError{Field: "headers." + name, Code: "invalid_type",
				Message: fmt.Sprintf("The value of header %s must be a string, not %s.", name, jsonType(it))})
			continue
		}
		h[name] = v
	}
	return h, errs
}

// jsonType names the type of a JSON value for messages.
func jsonType(raw []byte) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "nothing"
	}
	switch raw[0] {
	case '"':
		return "a string"
	case '{':
		return "an object"
	case '[':
		return "an array"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}

// mergeProblems joins the problems found decoding a request with those the
// service found in what decoded. A field already reported for its type is
// not reported again (its zero value would only add "is required"). The
// result is ordered as the request's fields are documented.
func mergeProblems(decoded []licensehooks.FieldError, err error) ([]licensehooks.FieldError, error) {
	var le *licensehooks.Error
	if err != nil && (!errors.As(err, &le) || le.Code != licensehooks.EINVALID) {
		return nil, err
	}
	out := slices.Clone(decoded)
	if le != nil {
		for _, f := range le.Fields {
			if !slices.ContainsFunc(decoded, func(d licensehooks.FieldError) bool { return d.Field == f.Field }) {
				out = append(out, f)
			}
		}
	}
	slices.SortStableFunc(out, func(a, b licensehooks.FieldError) int {
		ra, ia, na := fieldRank(a.Field)
		rb, ib, nb := fieldRank(b.Field)
		return cmp.Or(cmp.Compare(ra, rb), cmp.Compare(ia, ib), strings.Compare(na, nb))
	})
	return out, nil
}

// fieldRank orders a listener request's property names: by field, then by
// subscription index or header name.
func fieldRank(name string) (rank, index int, rest string) {
	base, rest, _ := strings.Cut(name, ".")
	if b, idx, ok := strings.Cut(base, "["); ok {
		base = b
		index, _ = strconv.Atoi(strings.TrimSuffix(idx, "]"))
		index++ // the array itself (index 0) before its items
	}
	rank = slices.Index([]string{"", "uri", "subscriptions", "name", "description", "enabled", "paused", "ordering", "rateLimit", "headers"}, base)
	if rank < 0 {
		rank = 99
	}
	return rank, index, rest
}
