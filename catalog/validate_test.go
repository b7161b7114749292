package catalog_test

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"licensehooks"
	"licensehooks/catalog"
)

// fieldsOf returns the field errors of an EINVALID error, nil otherwise.
func fieldsOf(err error) []licensehooks.FieldError {
	var le *licensehooks.Error
	if errors.As(err, &le) && le.Code == licensehooks.EINVALID {
		return le.Fields
	}
	return nil
}

// wantFields checks that err is EINVALID with exactly the given problems,
// each spelled "field:code", in order.
func wantFields(t *testing.T, err error, want ...string) []licensehooks.FieldError {
	t.Helper()
	if code := licensehooks.ErrorCode(err); code != licensehooks.EINVALID {
		t.Fatalf("error %v has code %q, want %q", err, code, licensehooks.EINVALID)
	}
	fields := fieldsOf(err)
	got := make([]string, len(fields))
	for i, f := range fields {
		got[i] = f.Field + ":" + f.Code
		if f.Message == "" {
			t.Errorf("%s has no message", got[i])
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("fields = %v, want %v (%+v)", got, want, fields)
	}
	return fields
}

const seatOK = `"entitlementId":"ent_yZte5WmNp4jZZmsW4FWv2A","activationId":"act__qiDfwoIkSraUY95QfHcsA","seatId":"host-1"`

func TestValidateErrors(t *testing.T) {
	t.Parallel()
	c := catalog.New()
	tests := []struct {
		name, code, payload string
		want                []string // "field:code"
		message             string   // of the first field, when checked
	}{
		{"missing id", "entitlement.created", `{}`,
			[]string{"payload.entitlementId:required"}, "entitlementId is required."},
		{"two missing", "customer.created", `{"disabled":false}`,
			[]string{"payload.customerId:required", "payload.name:required"}, "customerId is required."},
		{"wrong type", "entitlement.seat.activated", `{` + seatOK + `,"seatsUsed":"3"}`,
			[]string{"payload.seatsUsed:schema"}, "seatsUsed must be an integer, not a string."},
		{"fraction for integer", "entitlement.seat.activated", `{` + seatOK + `,"seatsUsed":1.5}`,
			[]string{"payload.seatsUsed:schema"}, "seatsUsed must be an integer, not a number."},
		{"negative", "entitlement.seat.activated", `{` + seatOK + `,"seatsUsed":-1}`,
			[]string{"payload.seatsUsed:schema"}, "seatsUsed must be at least 0."},
		{"boolean", "customer.updated", `{"customerId":"cust_a","name":"A","disabled":"yes"}`,
			[]string{"payload.disabled:schema"}, "disabled must be true or false, not a string."},
		{"nullable date wrong type", "entitlement.created", `{"entitlementId":"ent_a","expiresAt":5}`,
			[]string{"payload.expiresAt:schema"}, "expiresAt must be a string or null, not a number."},
		{"bad date", "entitlement.expires7days", `{"entitlementId":"ent_a","expiresAt":"next week"}`,
			[]string{"payload.expiresAt:schema"}, "expiresAt must be a date-time in RFC 3339 form, like 2025-06-06T11:39:22Z."},
		{"empty id", "entitlement.created", `{"entitlementId":""}`,
			[]string{"payload.entitlementId:schema"}, "entitlementId must be at least 1 characters long."},
		{"null required date", "entitlement.activated", `{"entitlementId":"ent_a","activatedAt":null}`,
			[]string{"payload.activatedAt:schema"}, "activatedAt must be a string, not null."},
		{"null optional date", "entitlement.created", `{"entitlementId":"ent_a","activatedAt":null}`, nil, ""},
		{"nested array item", "entitlement.group.created",
			`{"id":"eg_a","customerId":"cust_a","entitlements":[{"id":"ent_a"},{"seatCount":2}]}`,
			[]string{"payload.entitlements[1].id:required"}, "id is required."},
		{"nested array type", "entitlement.usage.summary",
			`{"entitlementId":"ent_a","features":[{"key":"k","used":"many"}]}`,
			[]string{"payload.features[0].used:schema"}, "used must be a number, not a string."},
		{"array instead of object", "entitlement.group.updated", `{"id":"eg_a","customerId":"cust_a","entitlements":{}}`,
			[]string{"payload.entitlements:schema"}, "entitlements must be an array, not an object."},
		{"not an object", "customer.created", `[1,2]`,
			[]string{"payload:schema"}, "payload must be an object, not an array."},
		{"invalid JSON", "customer.created", `{"customerId":`,
			[]string{"payload:invalid_json"}, "payload is not valid JSON."},
		{"trailing data", "customer.created", `{} {}`,
			[]string{"payload:invalid_json"}, ""},
		{"empty body", "customer.created", ``,
			[]string{"payload:invalid_json"}, ""},
		{"unknown code", "license.exploded", `{}`,
			[]string{"eventCode:unknown_event"}, `"license.exploded" is not a known event code.`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := c.Validate(tt.code, []byte(tt.payload))
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Validate = %v %+v", err, fieldsOf(err))
				}
				return
			}
			fields := wantFields(t, err, tt.want...)
			if tt.message != "" && len(fields) > 0 && fields[0].Message != tt.message {
				t.Errorf("message = %q, want %q", fields[0].Message, tt.message)
			}
		})
	}
}

func TestValidateErrorMessageOfOneProblem(t *testing.T) {
	t.Parallel()
	err := catalog.New().Validate("entitlement.created", []byte(`{}`))
	if msg := licensehooks.ErrorMessage(err); msg != "entitlementId is required." {
		t.Errorf("message = %q", msg)
	}
}

// TestValidateNumericKeys checks that an object key made of digits is
// spelled as a key, not as an array index.
func TestValidateNumericKeys(t *testing.T) {
	t.Parallel()
	c := catalog.New()
	et := customType("license.tiers.changed")
	et.Schema = json.RawMessage(`{"type":"object","properties":{"tiers":{"type":"object",
		"additionalProperties":{"type":"array","items":{"type":"integer"}}}}}`)
	et.Sample = json.RawMessage(`{"tiers":{"0":[1,2]}}`)
	if err := c.Register(et); err != nil {
		t.Fatal(err)
	}
	wantFields(t, c.Validate(et.Code, []byte(`{"tiers":{"0":[1,"x"]}}`)), "payload.tiers.0[1]:schema")
}

func TestValidateOneOfIsOneProblem(t *testing.T) {
	t.Parallel()
	c := catalog.New()
	et := customType("license.owner.changed")
	et.Schema = json.RawMessage(`{"type":"object","required":["owner"],"properties":{"owner":{"oneOf":[
		{"type":"object","required":["userId"]},{"type":"object","required":["teamId"]}]}}}`)
	et.Sample = json.RawMessage(`{"owner":{"userId":"u1"}}`)
	if err := c.Register(et); err != nil {
		t.Fatal(err)
	}
	f := wantFields(t, c.Validate(et.Code, []byte(`{"owner":{}}`)), "payload.owner:schema")
	if len(f) == 1 && f[0].Message != "owner does not match any of the allowed forms." {
		t.Errorf("message = %q", f[0].Message)
	}
}

func FuzzValidate(f *testing.F) {
	c := catalog.New()
	codes := append(c.Codes(), licensehooks.TestEventCode, "no.such.code")
	for _, et := range c.All() {
		f.Add(0, []byte(et.Sample))
	}
	for _, s := range []string{`{}`, `[]`, `null`, `"x"`, `{"entitlementId":1}`, `{"features":[{"used":-1}]}`, `{`, "\xff", `{"a":1e999}`} {
		f.Add(3, []byte(s))
	}
	f.Fuzz(func(t *testing.T, which int, payload []byte) {
		code := codes[uint(which)%uint(len(codes))]
		err := c.Validate(code, payload)
		if err == nil {
			if !json.Valid(payload) {
				t.Fatalf("invalid JSON %q accepted for %s", payload, code)
			}
			return
		}
		var le *licensehooks.Error
		if !errors.As(err, &le) || le.Code != licensehooks.EINVALID || len(le.Fields) == 0 {
			t.Fatalf("Validate(%s, %q) = %v, want EINVALID with fields", code, payload, err)
		}
		if code == "no.such.code" {
			return
		}
		if !json.Valid(payload) {
			if len(le.Fields) != 1 || le.Fields[0].Field != "payload" || le.Fields[0].Code != catalog.CodeInvalidJSON {
				t.Fatalf("invalid JSON %q gave %+v", payload, le.Fields)
			}
		}
		for _, fe := range le.Fields {
			if !strings.HasPrefix(fe.Field, "payload") || fe.Message == "" || fe.Code == "" {
				t.Fatalf("bad field error %+v for %q", fe, payload)
			}
		}
	})
}

func BenchmarkValidate(b *testing.B) {
	c := catalog.New()
	for _, et := range c.All() {
		b.Run(et.Code, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := c.Validate(et.Code, et.Sample); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("invalid", func(b *testing.B) {
		payload := []byte(`{` + seatOK + `,"seatsUsed":"3","activatedAt":"later"}`)
		b.ReportAllocs()
		for b.Loop() {
			if err := c.Validate("entitlement.seat.activated", payload); err == nil {
				b.Fatal("accepted")
			}
		}
	})
}

// TestValidateNumberRange: numbers no receiver can read are refused on
// their field: anything beyond a finite double, wherever it is, and an
// integer outside int64 where the schema says "integer".
func TestValidateNumberRange(t *testing.T) {
	t.Parallel()
	c := catalog.New()
	const exp = `"entitlementId":"ent_1","expiresAt":"2030-01-08T00:00:00Z"`
	tests := []struct {
		name, payload string
		want          []string
	}{
		{"huge double", `{` + exp + `,"daysToExpire":1e400}`, []string{"payload.daysToExpire:number_range"}},
		{"huge negative in an extra field", `{` + exp + `,"daysToExpire":7,"x":{"y":[1,-2e309]}}`, []string{"payload.x.y[1]:number_range"}},
		{"integer past int64", `{` + exp + `,"daysToExpire":9223372036854775808}`, []string{"payload.daysToExpire:number_range"}},
		{"integer written with an exponent", `{` + exp + `,"daysToExpire":1e19}`, []string{"payload.daysToExpire:number_range"}},
		{"range and schema problems together", `{"expiresAt":"2030-01-08T00:00:00Z","daysToExpire":7,"z":1e999}`,
			[]string{"payload.z:number_range", "payload.entitlementId:required"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantFields(t, c.Validate("entitlement.expires7days", []byte(tt.payload)), tt.want...)
		})
	}
	for _, ok := range []string{
		`{` + exp + `,"daysToExpire":9223372036854775807}`,
		`{` + exp + `,"daysToExpire":7,"big":1e300,"tiny":1e-400}`, // a huge double, and one that rounds to 0, are readable
	} {
		if err := c.Validate("entitlement.expires7days", []byte(ok)); err != nil {
			t.Errorf("Validate(%s) = %v, want nil", ok, err)
		}
	}

	// A custom type's integers, nested in oneOf and in arrays, get the same bound.
	et := customType("entitlement.counted")
	et.Schema = json.RawMessage(`{"type":"object","properties":{"n":{"oneOf":[{"type":"integer"},{"type":"string"}]},
		"list":{"type":"array","items":{"type":["integer","null"]}}}}`)
	et.Sample = json.RawMessage(`{"n":1,"list":[1,null]}`)
	if err := c.Register(et); err != nil {
		t.Fatal(err)
	}
	wantFields(t, c.Validate(et.Code, []byte(`{"list":[0,-9223372036854775809]}`)), "payload.list[1]:number_range")
	wantFields(t, c.Validate(et.Code, []byte(`{"n":-9223372036854775809}`)), "payload.n:schema") // matches none of oneOf
	if err := c.Validate(et.Code, []byte(`{"n":-9223372036854775808,"list":[9223372036854775807]}`)); err != nil {
		t.Errorf("int64 bounds refused: %v", err)
	}
}
