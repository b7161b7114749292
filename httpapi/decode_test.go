package httpapi

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"licensehooks"
)

// TestSyntaxMessages: malformed JSON is answered in plain words that say
// where and what was expected, never with the decoder's own text.
func TestSyntaxMessages(t *testing.T) {
	t.Parallel()
	tests := []struct {
		body string
		want []string // substrings of the message
	}{
		{`{"uri":`, []string{"ends early", "line 1"}},
		{"{\n  \"uri\": \"a\",\n}", []string{`unexpected '}'`, "line 3, column 1", "a field name in double quotes"}},
		{`{"uri" "a"}`, []string{`unexpected '"'`, "line 1, column 8", "a colon"}},
		{`{"uri":"a"} {}`, []string{"column 13", "nothing more after the JSON object"}},
		{`{"a":[1 2]}`, []string{"column 9", `a comma or a closing "]"`}},
		{`{"a":tru}`, []string{"true, false or null"}},
		{"{\"a\":\"x\ny\"}", []string{`'\n'`, "line 1, column 8", "inside the string"}},
		{`{"a":"\q"}`, []string{"a valid escape"}},
		{`{'a':1}`, []string{`unexpected '\''`, "a field name in double quotes"}},
		{"\xff", []string{"line 1, column 1", "a JSON value"}},
	}
	for _, tt := range tests {
		err := checkSyntax([]byte(tt.body))
		msg := licensehooks.ErrorMessage(err)
		if licensehooks.ErrorCode(err) != licensehooks.EBADREQUEST {
			t.Errorf("%q: %v", tt.body, err)
			continue
		}
		for _, w := range tt.want {
			if !strings.Contains(msg, w) {
				t.Errorf("%q: message %q lacks %q", tt.body, msg, w)
			}
		}
		for _, goText := range []string{"invalid character", "looking for", "unexpected end of JSON input"} {
			if strings.Contains(msg, goText) {
				t.Errorf("%q: message %q shows the decoder's text", tt.body, msg)
			}
		}
	}
	if err := checkSyntax([]byte(`{"a":[1,{"b":null}]}`)); err != nil {
		t.Errorf("valid JSON: %v", err)
	}
}

// FuzzListenerRequest drives POST and PUT /api/v1/account/webhooks with any
// body through the real handler: it never panics or fails with 500, and
// answers only what the document lists, with an ApiError on failure.
func FuzzListenerRequest(f *testing.F) {
	for _, s := range []string{
		`{"uri":"https://example.com/hook","subscriptions":["customer.created"]}`,
		`{"uri":"https://example.com/hook","subscriptions":["customer.created","customer.created"],"name":"n","description":"d","enabled":false,"headers":{"X-A":"b"}}`,
		`{"uri":123,"subscriptions":"x"}`, `{"subscriptions":[null,5,{},[],"bogus"]}`, `{"headers":{"Host":1,"":"x","a b":"c"}}`,
		`{"uri":"http://[::1`, `{"uri":"https://a.example","subscriptions":["customer.created"],"headers":{"X":"a\u0000b"}}`,
		`null`, `[]`, `"x"`, `1e999`, `{`, ``, " \n\t", `{"uri":"\ud800"}`, "{\"name\":\"\xff\"}",
		`{"uri":"https://a.example","subscriptions":["customer.created"]}{}`,
		`{"uri":"https://a.example","subscriptions":["customer.created"],"description":"` + strings.Repeat("d", 257<<10) + `"}`,
	} {
		f.Add([]byte(s))
	}
	e := setup(f)
	h := e.api.Handler()
	existing := e.createListener().ID
	call := func(t *testing.T, method, path string, body []byte) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, path, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+e.tokens[credAll])
		req.Header.Set(TenantHeader, e.tenant)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, path := range []string{webhooksPath, webhooksPath + "/" + existing} {
			method := map[bool]string{true: http.MethodPost, false: http.MethodPut}[path == webhooksPath]
			rec := call(t, method, path, body)
			switch rec.Code {
			case http.StatusCreated:
				var m webhookModel
				if json.Unmarshal(rec.Body.Bytes(), &m) != nil || m.ID == "" || m.URI == "" || len(m.Subscriptions) == 0 {
					t.Fatalf("201 %s", rec.Body)
				}
				// Keep the account under its listener cap.
				if del := call(t, http.MethodDelete, webhooksPath+"/"+m.ID, nil); del.Code != http.StatusNoContent {
					t.Fatalf("delete: %d %s", del.Code, del.Body)
				}
			case http.StatusNoContent:
			case http.StatusBadRequest, http.StatusNotFound, http.StatusRequestEntityTooLarge, http.StatusUnprocessableEntity:
				var a apiError
				if json.Unmarshal(rec.Body.Bytes(), &a) != nil || a.Error == "" || a.ErrorCode == "" {
					t.Fatalf("%s %q: %d without an ApiError: %s", method, body, rec.Code, rec.Body)
				}
				if rec.Code == http.StatusUnprocessableEntity && len(a.ValidationErrors) == 0 {
					t.Fatalf("%s %q: 422 without validationErrors: %s", method, body, rec.Body)
				}
			default:
				t.Fatalf("%s %q: status %d %s", method, body, rec.Code, rec.Body)
			}
		}
	})
}
