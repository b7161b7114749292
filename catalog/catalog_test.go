package catalog_test

import (
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"licensehooks"
	"licensehooks/catalog"
)

// contractCodes is the list of the Zentitle2 contract, in its order.
var contractCodes = []string{
	"customer.created", "customer.updated",
	"entitlement.created", "entitlement.updated", "entitlement.activated",
	"entitlement.renewed", "entitlement.expired",
	"entitlement.expires1day", "entitlement.expires7days", "entitlement.expires30days",
	"entitlement.maintenance.expired", "entitlement.maintenance.expires1day",
	"entitlement.maintenance.expires7days", "entitlement.maintenance.expires30days",
	"entitlement.provision",
	"entitlement.seat.activated", "entitlement.seat.deactivated",
	"entitlement.group.created", "entitlement.group.updated",
	"entitlement.usage.summary",
}

// operationalCodes are the service's own events, listed after the
// contract's.
var operationalCodes = []string{licensehooks.ListenerDisabledCode, licensehooks.DeliveryFailedCode}

// builtinCodes is every built-in code, in the order All lists them.
var builtinCodes = append(slices.Clone(contractCodes), operationalCodes...)

func TestBuiltinList(t *testing.T) {
	t.Parallel()
	c := catalog.New()
	all := c.All()
	codes := make([]string, len(all))
	for i, et := range all {
		codes[i] = et.Code
	}
	if !slices.Equal(codes, builtinCodes) {
		t.Fatalf("codes = %v\nwant %v", codes, builtinCodes)
	}
	if got := c.Codes(); !slices.Equal(got, builtinCodes) {
		t.Errorf("Codes() = %v", got)
	}
	for _, et := range all {
		if op := slices.Contains(operationalCodes, et.Code); op != c.IsOperational(et.Code) || op != (et.ResourceType == catalog.ResourceWebhook) {
			t.Errorf("%s: IsOperational %v, resource type %q", et.Code, c.IsOperational(et.Code), et.ResourceType)
		} else if !op && !slices.Contains(catalog.ResourceTypes(), et.ResourceType) {
			t.Errorf("%s: resource type %q is not in the contract's EventType enum", et.Code, et.ResourceType)
		}
		if !strings.HasPrefix(et.Description, "Event generated ") {
			t.Errorf("%s: description %q does not read like the contract's", et.Code, et.Description)
		}
		if !c.Known(et.Code) || !c.IsBuiltin(et.Code) {
			t.Errorf("%s: not known as a built-in", et.Code)
		}
		got, ok := c.Lookup(et.Code)
		if !ok || got.Code != et.Code || string(got.Schema) != string(et.Schema) {
			t.Errorf("Lookup(%s) = %+v, %v", et.Code, got.Code, ok)
		}
	}
}

func TestBuiltinResourceTypes(t *testing.T) {
	t.Parallel()
	want := map[string]string{}
	for _, code := range contractCodes {
		switch {
		case strings.HasPrefix(code, "customer."):
			want[code] = catalog.ResourceCustomer
		case strings.HasPrefix(code, "entitlement.group."):
			want[code] = catalog.ResourceEntitlementGroup
		default:
			want[code] = catalog.ResourceEntitlement
		}
	}
	for _, code := range operationalCodes {
		want[code] = catalog.ResourceWebhook
	}
	for _, et := range catalog.New().All() {
		if et.ResourceType != want[et.Code] {
			t.Errorf("%s: resource type %q, want %q", et.Code, et.ResourceType, want[et.Code])
		}
	}
}

// schemaDoc is the part of a payload schema that the tests read.
type schemaDoc struct {
	Schema               string         `json:"$schema"`
	Type                 string         `json:"type"`
	Required             []string       `json:"required"`
	Properties           map[string]any `json:"properties"`
	AdditionalProperties *bool          `json:"additionalProperties"`
}

func TestBuiltinSchemas(t *testing.T) {
	t.Parallel()
	identifying := map[string][]string{
		catalog.ResourceCustomer:         {"customerId"},
		catalog.ResourceEntitlement:      {"entitlementId"},
		catalog.ResourceEntitlementGroup: {"id", "customerId"},
		catalog.ResourceWebhook:          {"listenerId"},
	}
	c := catalog.New()
	for _, et := range c.All() {
		var s schemaDoc
		if err := json.Unmarshal(et.Schema, &s); err != nil {
			t.Fatalf("%s: schema: %v", et.Code, err)
		}
		if s.Schema != "https://json-schema.org/draft/2020-12/schema" || s.Type != "object" {
			t.Errorf("%s: $schema %q, type %q", et.Code, s.Schema, s.Type)
		}
		for _, f := range identifying[et.ResourceType] {
			if !slices.Contains(s.Required, f) {
				t.Errorf("%s: schema does not require %s", et.Code, f)
			}
		}
		if s.AdditionalProperties != nil && !*s.AdditionalProperties {
			t.Errorf("%s: schema forbids additional properties", et.Code)
		}
		for _, f := range s.Required {
			if _, ok := s.Properties[f]; !ok {
				t.Errorf("%s: required %s is not described in properties", et.Code, f)
			}
		}
	}
}

func TestBuiltinSamplesValidate(t *testing.T) {
	t.Parallel()
	c := catalog.New()
	for _, et := range c.All() {
		if err := c.Validate(et.Code, et.Sample); err != nil {
			t.Errorf("%s: sample does not validate: %v %+v", et.Code, err, fieldsOf(err))
		}
		// Platforms add fields of their own: they must pass.
		extended := strings.TrimSuffix(string(et.Sample), "}") + `,"platformField":{"any":[1,2]}}`
		if err := c.Validate(et.Code, []byte(extended)); err != nil {
			t.Errorf("%s: sample with an extra field does not validate: %+v", et.Code, fieldsOf(err))
		}
	}
}

// idPrefixes gives the Zentitle id prefix of the sample fields that hold ids.
var idPrefixes = map[string]string{
	"customerId":    "cust_",
	"entitlementId": "ent_",
	"activationId":  "act_",
}

var zentitleID = regexp.MustCompile(`^(cust|ent|act|eg)_[A-Za-z0-9_-]{22}$`)

func TestBuiltinSamplesLookReal(t *testing.T) {
	t.Parallel()
	for _, et := range catalog.New().All() {
		var sample map[string]any
		if err := json.Unmarshal(et.Sample, &sample); err != nil {
			t.Fatalf("%s: %v", et.Code, err)
		}
		checkSampleValues(t, et.Code, sample)
		if et.ResourceType == catalog.ResourceEntitlementGroup {
			checkID(t, et.Code, "id", sample["id"], "eg_")
			ents, _ := sample["entitlements"].([]any)
			if len(ents) == 0 {
				t.Errorf("%s: sample group has no entitlements", et.Code)
			}
			for _, e := range ents {
				checkID(t, et.Code, "entitlements[].id", e.(map[string]any)["id"], "ent_")
			}
		}
	}
}

// checkSampleValues checks the ids and dates of a sample object.
func checkSampleValues(t *testing.T, code string, obj map[string]any) {
	t.Helper()
	for k, v := range obj {
		if prefix, ok := idPrefixes[k]; ok {
			checkID(t, code, k, v, prefix)
		}
		if s, ok := v.(string); ok && (strings.HasSuffix(k, "At") || k == "leaseExpiry") {
			if _, err := time.Parse(time.RFC3339Nano, s); err != nil {
				t.Errorf("%s: %s = %q is not RFC 3339", code, k, s)
			}
		}
	}
}

func checkID(t *testing.T, code, field string, v any, prefix string) {
	t.Helper()
	s, _ := v.(string)
	if !strings.HasPrefix(s, prefix) || !zentitleID.MatchString(s) {
		t.Errorf("%s: %s = %v, want %s followed by 22 base64url characters", code, field, v, prefix)
	}
}

func TestTestEventCode(t *testing.T) {
	t.Parallel()
	c := catalog.New()
	code := licensehooks.TestEventCode
	if c.Known(code) || slices.Contains(c.Codes(), code) {
		t.Errorf("%s must not be subscribable", code)
	}
	if _, ok := c.Lookup(code); ok {
		t.Errorf("Lookup(%s) found it", code)
	}
	if err := c.Validate(code, []byte(`{}`)); err != nil {
		t.Errorf("Validate(%s, {}) = %v", code, err)
	}
	if err := c.Validate(code, []byte(` { } `)); err != nil {
		t.Errorf("Validate(%s, { }) = %v", code, err)
	}
	wantFields(t, c.Validate(code, []byte(`{"a":1}`)), "payload:schema")
}

func TestByResourceType(t *testing.T) {
	t.Parallel()
	groups := catalog.New().ByResourceType()
	got := map[string]int{}
	var order []string
	for _, g := range groups {
		got[g.ResourceType] = len(g.Types)
		order = append(order, g.ResourceType)
	}
	if wantOrder := append(catalog.ResourceTypes(), catalog.ResourceWebhook); !slices.Equal(order, wantOrder) {
		t.Errorf("group order %v, want %v", order, wantOrder)
	}
	want := map[string]int{"customer": 2, "entitlement": 16, "entitlementGroup": 2, "webhook": 2}
	for rt, n := range want {
		if got[rt] != n {
			t.Errorf("%s: %d types, want %d", rt, got[rt], n)
		}
	}
}

func TestReturnedTypesAreCopies(t *testing.T) {
	t.Parallel()
	c := catalog.New()
	et, _ := c.Lookup("customer.created")
	clear(et.Schema)
	all := c.All()
	clear(all[0].Sample)
	if err := c.Validate("customer.created", []byte(`{"customerId":"cust_x"}`)); err == nil {
		t.Error("schema lost its rules after a caller changed a returned copy")
	}
	again, _ := c.Lookup("customer.created")
	if !json.Valid(again.Schema) || !json.Valid(again.Sample) {
		t.Error("a caller's change reached the catalog")
	}
}

func TestNewIsIndependent(t *testing.T) {
	t.Parallel()
	a, b := catalog.New(), catalog.New()
	if err := a.Register(customType("license.suspended")); err != nil {
		t.Fatal(err)
	}
	if b.Known("license.suspended") {
		t.Error("a type registered in one catalog appeared in another")
	}
}
