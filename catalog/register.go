package catalog

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"licensehooks"
)

// Limits of custom event types.
const (
	MaxCodeLen        = 100
	MaxDescriptionLen = 500
	MaxSchemaSize     = 64 << 10
	MaxSampleSize     = 64 << 10
)

// codeRE is the form of an event code: two or more dotted lowercase
// segments, each starting with a letter, as the built-in codes are.
var codeRE = regexp.MustCompile(`^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$`)

// reservedPrefix is the namespace of the service's own events (the Test
// action's webhook.test, the operational events); platforms cannot publish
// into it nor register types in it.
const reservedPrefix = licensehooks.ReservedPrefix

// Register adds a custom event type, or replaces the custom type of the
// same code. Its code must be two or more dotted lowercase segments and not
// a built-in code; its resource type one of ResourceTypes (the Zentitle2
// contract lists no others); its description non-empty; its schema a JSON
// Schema (draft 2020-12 unless it says otherwise) that compiles without
// fetching anything; its sample a JSON object that the schema accepts.
// Problems come back as one *licensehooks.Error EINVALID, field by field;
// a built-in code is ECONFLICT.
func (c *Catalog) Register(t EventType) error {
	if c.IsBuiltin(t.Code) || t.Code == licensehooks.TestEventCode {
		return licensehooks.Errorf(licensehooks.ECONFLICT, "%q is a built-in event type and cannot be replaced.", t.Code)
	}
	if fields := checkType(t); len(fields) > 0 {
		return licensehooks.Invalid(fields...)
	}
	e, fields := customEntry(t)
	if len(fields) > 0 {
		return licensehooks.Invalid(fields...)
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.byCode[e.Code]; ok {
		if old.builtin { // a racing Register cannot make a built-in, but stay safe
			return licensehooks.Errorf(licensehooks.ECONFLICT, "%q is a built-in event type and cannot be replaced.", t.Code)
		}
		// Replace in place: the list keeps its order, and readers that hold
		// the old entry finish with it undisturbed.
		c.entries[slices.Index(c.entries, old)] = e
	} else {
		c.entries = append(c.entries, e)
	}
	c.byCode[e.Code] = e
	return nil
}

// Unregister removes a custom event type. Built-in types cannot be removed
// (ECONFLICT); an unknown code is ENOTFOUND.
func (c *Catalog) Unregister(code string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.byCode[code]
	switch {
	case !ok:
		return licensehooks.Errorf(licensehooks.ENOTFOUND, "Event type %q not found.", code)
	case e.builtin:
		return licensehooks.Errorf(licensehooks.ECONFLICT, "%q is a built-in event type and cannot be removed.", code)
	}
	c.entries = slices.DeleteFunc(c.entries, func(x *entry) bool { return x == e })
	delete(c.byCode, code)
	return nil
}

// checkType checks the plain fields of a custom type.
func checkType(t EventType) []licensehooks.FieldError {
	var out []licensehooks.FieldError
	add := func(field, code, msg string) {
		out = append(out, licensehooks.FieldError{Field: field, Message: msg, Code: code})
	}
	switch {
	case t.Code == "":
		add("code", "required", "code is required.")
	case len(t.Code) > MaxCodeLen:
		add("code", "too_long", fmt.Sprintf("code must be at most %d characters long.", MaxCodeLen))
	case !codeRE.MatchString(t.Code):
		add("code", "invalid_code", "code must be two or more dotted lowercase segments, like license.suspended.")
	case strings.HasPrefix(t.Code, reservedPrefix):
		add("code", "reserved", "codes starting with webhook. are reserved for the service's own events.")
	}
	if !slices.Contains(resourceTypes, t.ResourceType) {
		add("resourceType", "invalid_resource_type",
			"resourceType must be one of "+strings.Join(resourceTypes, ", ")+".")
	}
	switch d := strings.TrimSpace(t.Description); {
	case d == "":
		add("description", "required", "description is required.")
	case len(t.Description) > MaxDescriptionLen:
		add("description", "too_long", fmt.Sprintf("description must be at most %d characters long.", MaxDescriptionLen))
	}
	if len(t.Schema) > MaxSchemaSize {
		add("schema", "too_large", fmt.Sprintf("schema must be at most %d bytes.", MaxSchemaSize))
	}
	if len(t.Sample) > MaxSampleSize {
		add("sample", "too_large", fmt.Sprintf("sample must be at most %d bytes.", MaxSampleSize))
	}
	return out
}

// customEntry compiles a custom type, reporting problems on the fields
// "schema" and "sample" (a sample's failing path like "sample.seatsUsed").
func customEntry(t EventType) (*entry, []licensehooks.FieldError) {
	schema, err := compactJSON(t.Schema)
	if err != nil {
		return nil, []licensehooks.FieldError{{Field: "schema", Message: "schema " + err.Error() + ".", Code: "invalid_schema"}}
	}
	sample, err := compactJSON(t.Sample)
	if err != nil {
		return nil, []licensehooks.FieldError{{Field: "sample", Message: "sample " + err.Error() + ".", Code: "invalid_sample"}}
	}
	sch, err := compile(t.Code, schema)
	if err != nil {
		return nil, []licensehooks.FieldError{{Field: "schema", Message: "schema does not compile: " + err.Error(), Code: "invalid_schema"}}
	}
	e := &entry{EventType: t, schema: sch}
	e.Schema, e.Sample = schema, sample
	var le *licensehooks.Error
	if err := e.validate(sample); errors.As(err, &le) {
		fields := slices.Clone(le.Fields)
		for i := range fields {
			fields[i].Field = "sample" + strings.TrimPrefix(fields[i].Field, payloadField)
		}
		return nil, fields
	} else if err != nil {
		return nil, []licensehooks.FieldError{{Field: "sample", Message: "sample cannot be validated: " + err.Error(), Code: "invalid_sample"}}
	}
	return e, nil
}

// compile compiles one schema document in a compiler of its own. It loads
// nothing from files or the network: a schema must be self-contained.
// Formats are asserted, so "format": "date-time" rejects a bad date.
func compile(code string, schema []byte) (*jsonschema.Schema, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(schema))
	if err != nil {
		return nil, fmt.Errorf("parse schema: %w", err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	c.RegisterVocabulary(int64Vocabulary)
	c.AssertVocabs()
	c.UseLoader(jsonschema.SchemeURLLoader{})
	url := "urn:licensehooks:event:" + code
	if err := c.AddResource(url, doc); err != nil {
		return nil, fmt.Errorf("add schema: %w", err)
	}
	sch, err := c.Compile(url)
	if err != nil {
		return nil, err
	}
	return sch, nil
}

// compactJSON checks that b is one JSON object and returns it compacted.
func compactJSON(b []byte) (json.RawMessage, error) {
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return nil, errors.New("is required")
	}
	if b[0] != '{' || !json.Valid(b) {
		return nil, errors.New("must be a JSON object")
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		return nil, fmt.Errorf("is not valid JSON: %w", err)
	}
	return buf.Bytes(), nil
}
