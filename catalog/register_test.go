package catalog_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"licensehooks"
	"licensehooks/catalog"
)

// customType returns a valid custom event type of the given code.
func customType(code string) catalog.EventType {
	return catalog.EventType{
		Code:         code,
		ResourceType: catalog.ResourceEntitlement,
		Description:  "Event generated when entitlement was suspended for non-payment",
		Schema: json.RawMessage(`{"$schema":"https://json-schema.org/draft/2020-12/schema","type":"object",
			"required":["entitlementId"],"properties":{"entitlementId":{"type":"string"},
			"suspendedAt":{"type":"string","format":"date-time"},"seatsUsed":{"type":"integer"}}}`),
		Sample: json.RawMessage(`{"entitlementId":"ent_yZte5WmNp4jZZmsW4FWv2A","suspendedAt":"2025-06-06T11:39:22Z"}`),
	}
}

func TestRegisterRules(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		change func(*catalog.EventType)
		code   string   // error code; "" for success
		fields []string // "field:code" for EINVALID
	}{
		{"valid", func(*catalog.EventType) {}, "", nil},
		{"underscore segment", func(e *catalog.EventType) { e.Code = "license.seat_limit.reached" }, "", nil},
		{"no code", func(e *catalog.EventType) { e.Code = "" }, licensehooks.EINVALID, []string{"code:required"}},
		{"one segment", func(e *catalog.EventType) { e.Code = "suspended" }, licensehooks.EINVALID, []string{"code:invalid_code"}},
		{"upper case", func(e *catalog.EventType) { e.Code = "License.Suspended" }, licensehooks.EINVALID, []string{"code:invalid_code"}},
		{"empty segment", func(e *catalog.EventType) { e.Code = "license..suspended" }, licensehooks.EINVALID, []string{"code:invalid_code"}},
		{"trailing dot", func(e *catalog.EventType) { e.Code = "license.suspended." }, licensehooks.EINVALID, []string{"code:invalid_code"}},
		{"digit first", func(e *catalog.EventType) { e.Code = "license.1day" }, licensehooks.EINVALID, []string{"code:invalid_code"}},
		{"space", func(e *catalog.EventType) { e.Code = "license.sus pended" }, licensehooks.EINVALID, []string{"code:invalid_code"}},
		{"too long", func(e *catalog.EventType) { e.Code = "a." + strings.Repeat("b", catalog.MaxCodeLen) }, licensehooks.EINVALID, []string{"code:too_long"}},
		{"reserved", func(e *catalog.EventType) { e.Code = "webhook.ping" }, licensehooks.EINVALID, []string{"code:reserved"}},
		{"built-in", func(e *catalog.EventType) { e.Code = "entitlement.created" }, licensehooks.ECONFLICT, nil},
		{"test code", func(e *catalog.EventType) { e.Code = licensehooks.TestEventCode }, licensehooks.ECONFLICT, nil},
		{"resource type", func(e *catalog.EventType) { e.ResourceType = "license" }, licensehooks.EINVALID, []string{"resourceType:invalid_resource_type"}},
		{"no description", func(e *catalog.EventType) { e.Description = "  " }, licensehooks.EINVALID, []string{"description:required"}},
		{"long description", func(e *catalog.EventType) { e.Description = strings.Repeat("x", catalog.MaxDescriptionLen+1) }, licensehooks.EINVALID, []string{"description:too_long"}},
		{"several at once", func(e *catalog.EventType) { e.Code = "X"; e.ResourceType = "" }, licensehooks.EINVALID,
			[]string{"code:invalid_code", "resourceType:invalid_resource_type"}},
		{"no schema", func(e *catalog.EventType) { e.Schema = nil }, licensehooks.EINVALID, []string{"schema:invalid_schema"}},
		{"schema not JSON", func(e *catalog.EventType) { e.Schema = json.RawMessage(`{"type":`) }, licensehooks.EINVALID, []string{"schema:invalid_schema"}},
		{"schema not object", func(e *catalog.EventType) { e.Schema = json.RawMessage(`true`) }, licensehooks.EINVALID, []string{"schema:invalid_schema"}},
		{"schema does not compile", func(e *catalog.EventType) { e.Schema = json.RawMessage(`{"type":5}`) }, licensehooks.EINVALID, []string{"schema:invalid_schema"}},
		{"bad regexp", func(e *catalog.EventType) { e.Schema = json.RawMessage(`{"pattern":"("}`) }, licensehooks.EINVALID, []string{"schema:invalid_schema"}},
		{"remote ref", func(e *catalog.EventType) {
			e.Schema = json.RawMessage(`{"$ref":"https://example.com/schema.json"}`)
		}, licensehooks.EINVALID, []string{"schema:invalid_schema"}},
		{"file ref", func(e *catalog.EventType) { e.Schema = json.RawMessage(`{"$ref":"file:///etc/passwd"}`) }, licensehooks.EINVALID, []string{"schema:invalid_schema"}},
		{"huge schema", func(e *catalog.EventType) {
			e.Schema = json.RawMessage(`{"description":"` + strings.Repeat("x", catalog.MaxSchemaSize) + `"}`)
		}, licensehooks.EINVALID, []string{"schema:too_large"}},
		{"no sample", func(e *catalog.EventType) { e.Sample = nil }, licensehooks.EINVALID, []string{"sample:invalid_sample"}},
		{"sample not object", func(e *catalog.EventType) { e.Sample = json.RawMessage(`[]`) }, licensehooks.EINVALID, []string{"sample:invalid_sample"}},
		{"sample breaks schema", func(e *catalog.EventType) {
			e.Sample = json.RawMessage(`{"seatsUsed":"two","suspendedAt":"soon"}`)
		}, licensehooks.EINVALID, []string{"sample.entitlementId:required", "sample.seatsUsed:schema", "sample.suspendedAt:schema"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := catalog.New()
			et := customType("entitlement.suspended")
			tt.change(&et)
			err := c.Register(et)
			if got := licensehooks.ErrorCode(err); got != tt.code {
				t.Fatalf("Register = %v (%+v), want code %q", err, fieldsOf(err), tt.code)
			}
			if tt.code == licensehooks.EINVALID {
				wantFieldsAnyOrder(t, err, tt.fields)
			}
			if known := c.Known(et.Code); known != (tt.code == "" || c.IsBuiltin(et.Code)) {
				t.Errorf("Known(%q) = %v after Register", et.Code, known)
			}
			if len(c.All()) != len(builtinCodes)+map[bool]int{true: 1}[tt.code == ""] {
				t.Errorf("All has %d types", len(c.All()))
			}
		})
	}
}

// wantFieldsAnyOrder checks the "field:code" set of an EINVALID error.
func wantFieldsAnyOrder(t *testing.T, err error, want []string) {
	t.Helper()
	var got []string
	for _, f := range fieldsOf(err) {
		got = append(got, f.Field+":"+f.Code)
	}
	slices.Sort(got)
	want = slices.Sorted(slices.Values(want))
	if !slices.Equal(got, want) {
		t.Errorf("fields = %v, want %v", got, want)
	}
}

func TestRegisteredTypeWorks(t *testing.T) {
	t.Parallel()
	c := catalog.New()
	et := customType("entitlement.suspended")
	if err := c.Register(et); err != nil {
		t.Fatal(err)
	}
	all := c.All()
	if last := all[len(all)-1]; last.Code != et.Code || last.ResourceType != et.ResourceType {
		t.Errorf("last of All = %+v", last)
	}
	if got, ok := c.Lookup(et.Code); !ok || got.Description != et.Description || !json.Valid(got.Sample) {
		t.Errorf("Lookup = %+v, %v", got, ok)
	}
	if c.IsBuiltin(et.Code) {
		t.Error("custom type reported as built-in")
	}
	if err := c.Validate(et.Code, et.Sample); err != nil {
		t.Errorf("sample: %v", err)
	}
	wantFields(t, c.Validate(et.Code, []byte(`{"entitlementId":"ent_a","suspendedAt":"x"}`)), "payload.suspendedAt:schema")

	// Replacing keeps the place in the list and uses the new schema.
	if err := c.Register(customType("entitlement.reinstated")); err != nil {
		t.Fatal(err)
	}
	et.Schema = json.RawMessage(`{"type":"object","required":["reason"]}`)
	et.Sample = json.RawMessage(`{"reason":"paid"}`)
	if err := c.Register(et); err != nil {
		t.Fatal(err)
	}
	codes := c.Codes()
	if want := append(slices.Clone(builtinCodes), "entitlement.suspended", "entitlement.reinstated"); !slices.Equal(codes, want) {
		t.Errorf("codes = %v", codes)
	}
	wantFields(t, c.Validate(et.Code, []byte(`{"entitlementId":"ent_a"}`)), "payload.reason:required")

	if err := c.Unregister(et.Code); err != nil {
		t.Fatal(err)
	}
	if c.Known(et.Code) || slices.Contains(c.Codes(), et.Code) {
		t.Error("still known after Unregister")
	}
	wantFields(t, c.Validate(et.Code, []byte(`{}`)), "eventCode:unknown_event")
	if code := licensehooks.ErrorCode(c.Unregister(et.Code)); code != licensehooks.ENOTFOUND {
		t.Errorf("second Unregister: %q", code)
	}
	if code := licensehooks.ErrorCode(c.Unregister("customer.created")); code != licensehooks.ECONFLICT {
		t.Errorf("Unregister of a built-in: %q", code)
	}
}

// TestConcurrentUse runs Validate, All and Register together, for -race.
func TestConcurrentUse(t *testing.T) {
	t.Parallel()
	c := catalog.New()
	sample := []byte(`{"customerId":"cust_a","name":"A"}`)
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 50 {
				if err := c.Validate("customer.created", sample); err != nil {
					t.Error(err)
					return
				}
				_ = c.All()
				if w == 0 {
					if err := c.Register(customType(fmt.Sprintf("entitlement.custom%d", i%5))); err != nil {
						t.Error(err)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	if n := len(c.Codes()); n != len(builtinCodes)+5 {
		t.Errorf("%d codes", n)
	}
}
