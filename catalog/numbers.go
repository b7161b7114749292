package catalog

import (
	"encoding/json"
	"math/big"
	"slices"
	"strconv"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"golang.org/x/text/message"

	"licensehooks"
)

// Numbers a receiver can read. JSON itself puts no bound on a number, but
// every receiver decodes one into an IEEE double or a 64-bit integer, so a
// payload is refused when it holds a number that is not a finite double
// (1e400), or an integer, where its schema says "integer", outside int64.

// CodeNumberRange is the field error code of a number no receiver can read.
const CodeNumberRange = "number_range"

// rangeErrors returns one field error per number in doc that is not a
// finite IEEE double.
func rangeErrors(doc any) []licensehooks.FieldError {
	var out []licensehooks.FieldError
	var walk func(v any, loc []string)
	walk = func(v any, loc []string) {
		switch v := v.(type) {
		case json.Number:
			if _, err := strconv.ParseFloat(string(v), 64); err != nil {
				path := fieldPath(loc, doc)
				out = append(out, licensehooks.FieldError{
					Field:   path,
					Message: lastName(path) + " must be a number within ±1.7976931348623157e308 (a finite double), not " + string(v) + ".",
					Code:    CodeNumberRange,
				})
			}
		case map[string]any:
			keys := make([]string, 0, len(v))
			for k := range v {
				keys = append(keys, k)
			}
			slices.Sort(keys) // a stable order of problems
			for _, k := range keys {
				walk(v[k], append(loc, k))
			}
		case []any:
			for i, e := range v {
				walk(e, append(loc, strconv.Itoa(i)))
			}
		}
	}
	walk(doc, nil)
	return out
}

// int64Vocabulary makes "type": "integer" mean an integer that fits int64.
var int64Vocabulary = &jsonschema.Vocabulary{
	URL: "urn:licensehooks:vocab:int64",
	Compile: func(_ *jsonschema.CompilerContext, obj map[string]any) (jsonschema.SchemaExt, error) {
		if wantsInteger(obj["type"]) {
			return int64Ext{}, nil
		}
		return nil, nil
	},
}

// wantsInteger reports whether a schema's "type" admits integers but not
// other numbers.
func wantsInteger(t any) bool {
	switch t := t.(type) {
	case string:
		return t == "integer"
	case []any:
		return slices.Contains(t, any("integer")) && !slices.Contains(t, any("number"))
	}
	return false
}

type int64Ext struct{}

var (
	minInt64 = big.NewInt(-1 << 63)
	maxInt64 = big.NewInt(1<<63 - 1)
)

func (int64Ext) Validate(ctx *jsonschema.ValidatorContext, v any) {
	n, ok := v.(json.Number)
	if !ok {
		return
	}
	if _, err := strconv.ParseFloat(string(n), 64); err != nil {
		return // beyond a double: rangeErrors reports it once
	}
	r, ok := new(big.Rat).SetString(string(n))
	if !ok || !r.IsInt() {
		return // not an integer: the type keyword says so
	}
	if r.Num().Cmp(minInt64) < 0 || r.Num().Cmp(maxInt64) > 0 {
		ctx.AddError(&outOfInt64{})
	}
}

// outOfInt64 is the error of an integer outside int64.
type outOfInt64 struct{}

func (*outOfInt64) KeywordPath() []string { return []string{"type"} }

func (*outOfInt64) LocalizedString(*message.Printer) string {
	return "must be an integer from -9223372036854775808 to 9223372036854775807"
}
