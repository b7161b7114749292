package catalog

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"

	"licensehooks"
)

// Field error codes of Validate.
const (
	CodeUnknownEvent = "unknown_event" // the event code is not in the catalog
	CodeInvalidJSON  = "invalid_json"  // the payload is not JSON
	CodeSchema       = "schema"        // the payload breaks its event type's schema
	CodeRequired     = "required"      // a property the schema requires is missing
)

// payloadField is the name of the payload in field paths, as the publish
// request spells it.
const payloadField = "payload"

// Validate checks payload against the schema of the event type of the given
// code; the Test action's code accepts the empty object. It returns nil or
// a *licensehooks.Error with code EINVALID and one FieldError per problem,
// whose Field is the JSON path of the failing value ("payload.seatsUsed",
// "payload.features[1].key"). An unknown code fails on field "eventCode".
func (c *Catalog) Validate(code string, payload []byte) error {
	e, ok := c.lookupAny(code)
	if !ok {
		return licensehooks.Invalid(licensehooks.FieldError{
			Field:   "eventCode",
			Message: fmt.Sprintf("%q is not a known event code.", code),
			Code:    CodeUnknownEvent,
		})
	}
	return e.validate(payload)
}

// validate checks payload against the entry's compiled schema.
func (e *entry) validate(payload []byte) error {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(payload))
	if err != nil {
		return licensehooks.Invalid(licensehooks.FieldError{
			Field: payloadField, Message: "payload is not valid JSON.", Code: CodeInvalidJSON,
		})
	}
	fields := rangeErrors(doc)
	err = e.schema.Validate(doc)
	if err == nil {
		if len(fields) > 0 {
			return licensehooks.Invalid(fields...)
		}
		return nil
	}
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		// Only a schema that cannot run (impossible once compiled) ends here.
		return fmt.Errorf("validate %s payload: %w", e.Code, err)
	}
	schemaFields := fieldErrors(ve, doc)
	if len(schemaFields) == 0 && len(fields) == 0 {
		schemaFields = []licensehooks.FieldError{{Field: payloadField, Message: "payload does not match its schema.", Code: CodeSchema}}
	}
	return licensehooks.Invalid(append(fields, schemaFields...)...)
}

// fieldErrors flattens the error tree to its leaves, one FieldError each,
// dropping repeats (two branches of a schema can report the same problem).
func fieldErrors(ve *jsonschema.ValidationError, doc any) []licensehooks.FieldError {
	var out []licensehooks.FieldError
	seen := map[licensehooks.FieldError]bool{}
	var walk func(*jsonschema.ValidationError)
	walk = func(v *jsonschema.ValidationError) {
		if len(v.Causes) > 0 && descend(v.ErrorKind) {
			for _, c := range v.Causes {
				walk(c)
			}
			return
		}
		for _, f := range leafErrors(v, doc) {
			if !seen[f] {
				seen[f] = true
				out = append(out, f)
			}
		}
	}
	walk(ve)
	return out
}

// descend reports whether an error of this kind is explained by its causes.
// The branches of anyOf and oneOf are not: each failed in its own way, and
// listing all of them tells a person less than "matches none of them".
func descend(k jsonschema.ErrorKind) bool {
	switch k.(type) {
	case *kind.AnyOf, *kind.OneOf:
		return false
	}
	return true
}

// leafErrors turns one leaf of the error tree into field errors. A missing
// property is reported on the property's own path, so that a client sees
// "payload.entitlementId is required" rather than a problem of the object.
func leafErrors(v *jsonschema.ValidationError, doc any) []licensehooks.FieldError {
	path := fieldPath(v.InstanceLocation, doc)
	switch k := v.ErrorKind.(type) {
	case *kind.Required:
		out := make([]licensehooks.FieldError, len(k.Missing))
		for i, m := range k.Missing {
			out[i] = licensehooks.FieldError{Field: path + "." + m, Message: m + " is required.", Code: CodeRequired}
		}
		return out
	case *kind.AdditionalProperties:
		out := make([]licensehooks.FieldError, len(k.Properties))
		for i, p := range k.Properties {
			out[i] = licensehooks.FieldError{Field: path + "." + p, Message: p + " is not allowed.", Code: CodeSchema}
		}
		return out
	}
	code := CodeSchema
	if _, ok := v.ErrorKind.(*outOfInt64); ok {
		code = CodeNumberRange
	}
	return []licensehooks.FieldError{{Field: path, Message: lastName(path) + " " + describe(v.ErrorKind) + ".", Code: code}}
}

// lastName is the last name of a field path: "seatsUsed" of
// "payload.features[1].seatsUsed".
func lastName(path string) string { return path[strings.LastIndexByte(path, '.')+1:] }

// fieldPath spells an instance location as a dotted path under "payload",
// with array indexes in brackets. The document tells an index from an
// object key that happens to be a number.
func fieldPath(loc []string, doc any) string {
	var b strings.Builder
	b.WriteString(payloadField)
	cur := doc
	for _, tok := range loc {
		switch v := cur.(type) {
		case []any:
			b.WriteString("[" + tok + "]")
			if i, err := strconv.Atoi(tok); err == nil && i >= 0 && i < len(v) {
				cur = v[i]
			} else {
				cur = nil
			}
		case map[string]any:
			b.WriteString("." + tok)
			cur = v[tok]
		default:
			b.WriteString("." + tok)
			cur = nil
		}
	}
	return b.String()
}

// printer renders the messages of the rare kinds that describe leaves alone.
var printer = message.NewPrinter(language.English)

// describe says what is wrong with a value, in words that follow its name:
// "seatsUsed must be an integer".
func describe(k jsonschema.ErrorKind) string {
	switch k := k.(type) {
	case *kind.Type:
		return "must be " + typeWords(k.Want) + ", not " + article(k.Got)
	case *kind.Format:
		if k.Want == "date-time" {
			return "must be a date-time in RFC 3339 form, like 2025-06-06T11:39:22Z"
		}
		return "must be a valid " + k.Want
	case *kind.Enum:
		return "must be one of " + displayList(k.Want)
	case *kind.Const:
		return "must be " + display(k.Want)
	case *kind.MinLength:
		return fmt.Sprintf("must be at least %d characters long", k.Want)
	case *kind.MaxLength:
		return fmt.Sprintf("must be at most %d characters long", k.Want)
	case *kind.Pattern:
		return fmt.Sprintf("must match the pattern %s", k.Want)
	case *kind.Minimum:
		return "must be at least " + ratString(k.Want)
	case *kind.Maximum:
		return "must be at most " + ratString(k.Want)
	case *kind.ExclusiveMinimum:
		return "must be greater than " + ratString(k.Want)
	case *kind.ExclusiveMaximum:
		return "must be less than " + ratString(k.Want)
	case *kind.MinItems:
		return fmt.Sprintf("must have at least %d items", k.Want)
	case *kind.MaxItems:
		return fmt.Sprintf("must have at most %d items", k.Want)
	case *kind.MinProperties:
		return fmt.Sprintf("must have at least %d properties", k.Want)
	case *kind.MaxProperties:
		if k.Want == 0 {
			return "must be an empty object"
		}
		return fmt.Sprintf("must have at most %d properties", k.Want)
	case *kind.UniqueItems:
		return fmt.Sprintf("must not repeat items (items %d and %d are equal)", k.Duplicates[0], k.Duplicates[1])
	case *kind.AnyOf:
		return "does not match any of the allowed forms"
	case *kind.OneOf:
		if len(k.Subschemas) == 0 {
			return "does not match any of the allowed forms"
		}
		return "matches more than one of the allowed forms"
	case *kind.FalseSchema:
		return "is not allowed"
	case *outOfInt64:
		return k.LocalizedString(printer)
	}
	return "is invalid: " + k.LocalizedString(printer)
}

// ratString spells a schema bound as a person writes it: 5, 0.25.
func ratString(r *big.Rat) string {
	if r.IsInt() {
		return r.Num().String()
	}
	return strings.TrimRight(r.FloatString(6), "0")
}

// typeWords spells JSON Schema type names as a phrase: "a string or null".
// Null goes last, the way people say it.
func typeWords(types []string) string {
	words := make([]string, 0, len(types))
	null := false
	for _, t := range types {
		if t == "null" {
			null = true
			continue
		}
		words = append(words, article(t))
	}
	if null {
		words = append(words, "null")
	}
	return strings.Join(words, " or ")
}

// article puts the right article before a JSON type name.
func article(t string) string {
	switch t {
	case "null":
		return "null"
	case "boolean":
		return "true or false"
	case "integer", "object", "array":
		return "an " + t
	}
	return "a " + t
}

// displayList spells enum values as JSON: "\"a\", \"b\"".
func displayList(vals []any) string {
	parts := make([]string, len(vals))
	for i, v := range vals {
		parts[i] = display(v)
	}
	return strings.Join(parts, ", ")
}

// display spells a value as JSON, which is how the client wrote it.
func display(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}
