package httpapi

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"licensehooks"
)

// loose is an OpenAPI document read as plain JSON.
type loose = map[string]any

func readDoc(t testing.TB, b []byte) loose {
	t.Helper()
	var d loose
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	return d
}

func contractBytes(t testing.TB) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/webhooks-openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func obj(v any) loose { m, _ := v.(map[string]any); return m }

var httpMethods = []string{"get", "post", "put", "delete", "patch"}

// operations lists "METHOD path" → operation of a document.
func operations(d loose) map[string]loose {
	out := map[string]loose{}
	for path, item := range obj(d["paths"]) {
		for _, m := range httpMethods {
			if op := obj(obj(item)[m]); op != nil {
				out[strings.ToUpper(m)+" "+path] = op
			}
		}
	}
	return out
}

// TestRoutesMatchDocument fails when a handler is added, removed or moved
// without the document, or the reverse.
func TestRoutesMatchDocument(t *testing.T) {
	t.Parallel()
	s := New(Config{})
	doc := operations(readDoc(t, openapiJSON))
	seen := map[string]bool{}
	for _, rt := range s.routes {
		key := rt.method + " " + rt.pattern
		seen[key] = true
		op, ok := doc[key]
		if !ok {
			t.Errorf("route %s is not in openapi.json", key)
			continue
		}
		if op["operationId"] != rt.operationID {
			t.Errorf("%s: operationId %v in the document, %s in the routes", key, op["operationId"], rt.operationID)
		}
		var scopes []string
		for _, sec := range op["security"].([]any) {
			for _, v := range obj(sec)["Bearer"].([]any) {
				scopes = append(scopes, v.(string))
			}
		}
		if want := strings.Fields(rt.scope); rt.scope == "" && len(scopes) != 0 || rt.scope != "" && !slices.Equal(scopes, want) {
			t.Errorf("%s: security scopes %v in the document, %q in the routes", key, scopes, rt.scope)
		}
		if rt.scope != "" && rt.scope != licensehooks.ScopeTenantsAdmin && !hasTenantParam(op) {
			t.Errorf("%s: the document does not list the N-TenantId header", key)
		}
	}
	for key := range doc {
		if !seen[key] {
			t.Errorf("openapi.json documents %s, which no route serves", key)
		}
	}
}

func hasTenantParam(op loose) bool {
	for _, p := range op["parameters"].([]any) {
		if obj(p)["name"] == TenantHeader && obj(p)["in"] == "header" && obj(p)["required"] == true {
			return true
		}
	}
	return false
}

// TestDocumentExtendsContract holds openapi.json a superset of the
// Zentitle2 contract: every path, method, operationId and status, and every
// schema with its properties and required fields.
func TestDocumentExtendsContract(t *testing.T) {
	t.Parallel()
	contract, doc := readDoc(t, contractBytes(t)), readDoc(t, openapiJSON)
	if doc["openapi"] != "3.1.0" {
		t.Errorf("openapi %v, want 3.1.0", doc["openapi"])
	}
	ours := operations(doc)
	for key, cop := range operations(contract) {
		op, ok := ours[key]
		if !ok {
			t.Errorf("the contract's %s is missing", key)
			continue
		}
		if op["operationId"] != cop["operationId"] {
			t.Errorf("%s: operationId %v, contract %v", key, op["operationId"], cop["operationId"])
		}
		for status, cres := range obj(cop["responses"]) {
			res := obj(obj(op["responses"])[status])
			if res == nil {
				t.Errorf("%s: status %s is missing", key, status)
				continue
			}
			if a, b := schemaRef(obj(cres)), schemaRef(res); a != b {
				t.Errorf("%s %s: body %q, contract %q", key, status, b, a)
			}
		}
		// An operation the contract gives no body may take an optional one
		// (an extension: a Zentitle2 client that sends none sees no change).
		optional := cop["requestBody"] == nil && obj(op["requestBody"])["required"] == false
		if a, b := schemaRef(obj(cop["requestBody"])), schemaRef(obj(op["requestBody"])); a != b && !optional {
			t.Errorf("%s: request %q, contract %q", key, b, a)
		}
	}
	schemas := obj(obj(doc["components"])["schemas"])
	for name, cs := range obj(obj(contract["components"])["schemas"]) {
		s := obj(schemas[name])
		if s == nil {
			t.Errorf("schema %s is missing", name)
			continue
		}
		for prop := range obj(obj(cs)["properties"]) {
			if obj(s["properties"])[prop] == nil {
				t.Errorf("schema %s lacks property %s", name, prop)
			}
		}
		if a, b := obj(cs)["required"], s["required"]; !jsonEqual(a, b) {
			t.Errorf("schema %s requires %v, contract %v", name, b, a)
		}
	}
}

func schemaRef(m loose) string {
	for _, c := range obj(m["content"]) {
		if r, ok := obj(obj(c)["schema"])["$ref"].(string); ok {
			return r
		}
	}
	return ""
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}

func TestOpenAPIAndDocsServed(t *testing.T) {
	t.Parallel()
	s := New(Config{Version: "9.8.7-test"})
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	res, err := http.Get(srv.URL + "/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	buf.ReadFrom(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") || !bytes.Equal(buf.Bytes(), openapiJSON) {
		t.Errorf("openapi.json: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	res, err = http.Get(srv.URL + "/docs")
	if err != nil {
		t.Fatal(err)
	}
	buf.Reset()
	buf.ReadFrom(res.Body)
	res.Body.Close()
	page := buf.String()
	if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("docs: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	for _, rt := range s.routes {
		if !strings.Contains(page, `id="op-`+rt.operationID+`"`) {
			t.Errorf("the docs page lacks %s", rt.operationID)
		}
	}
	// The binary's version, not the document's 1.0.0.
	if !strings.Contains(page, "<small>9.8.7-test</small>") || strings.Contains(page, "1.0.0") {
		t.Errorf("the docs page does not show the binary's version 9.8.7-test")
	}
	for _, want := range []string{`id="schema-WebhookModel"`, `href="#schema-ApiError"`, "N-TenantId", "webhooks:admin"} {
		if !strings.Contains(page, want) {
			t.Errorf("the docs page lacks %s", want)
		}
	}
	for _, external := range []string{"<script", "src=\"http", "href=\"http", "@import"} {
		if strings.Contains(page, external) {
			t.Errorf("the docs page loads something from elsewhere: %s", external)
		}
	}
}

// Schemas compiled from both documents, for checking live answers.
var (
	compileOnce sync.Once
	compiler    *jsonschema.Compiler
	compileErr  error
	schemaMu    sync.Mutex
	compiled    = map[string]*jsonschema.Schema{}
)

const (
	ourURL      = "file:///openapi.json"
	contractURL = "file:///webhooks-openapi.json"
	// relaxedURL is the contract with WebhookModel open to more properties,
	// for listeners whose clients use the extensions.
	relaxedURL = "file:///webhooks-openapi-relaxed.json"
)

func schemaAt(t testing.TB, url, pointer string) *jsonschema.Schema {
	t.Helper()
	compileOnce.Do(func() {
		compiler = jsonschema.NewCompiler()
		compiler.DefaultDraft(jsonschema.Draft2020)
		ours, err := jsonschema.UnmarshalJSON(bytes.NewReader(openapiJSON))
		if err != nil {
			compileErr = err
			return
		}
		b, _ := os.ReadFile("testdata/webhooks-openapi.json")
		contract, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		if err != nil {
			compileErr = err
			return
		}
		relaxed, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		if err != nil {
			compileErr = err
			return
		}
		// The contract forbids properties beyond {id, uri, subscriptions}
		// in WebhookModel. A listener whose client set an extension shows
		// it there, which only that client asked for; the relaxed copy
		// allows that and holds everything else to the contract.
		obj(obj(obj(obj(relaxed)["components"])["schemas"])["WebhookModel"])["additionalProperties"] = true
		compiler.AddResource(ourURL, ours)
		compiler.AddResource(contractURL, contract)
		compiler.AddResource(relaxedURL, relaxed)
	})
	if compileErr != nil {
		t.Fatal(compileErr)
	}
	schemaMu.Lock()
	defer schemaMu.Unlock()
	key := url + "#" + pointer
	if s, ok := compiled[key]; ok {
		return s
	}
	s, err := compiler.Compile(key)
	if err != nil {
		t.Fatalf("compile %s: %v", key, err)
	}
	compiled[key] = s
	return s
}

// pointer escapes a path for a JSON pointer in a URL fragment.
func pointer(parts ...string) string {
	var b strings.Builder
	for _, p := range parts {
		p = strings.NewReplacer("~", "~0", "/", "~1", "{", "%7B", "}", "%7D").Replace(p)
		b.WriteString("/" + p)
	}
	return b.String()
}

// checkExchanges holds every answer the test received to the documents:
// its status must be documented for its operation, and a JSON body must
// validate against the documented schema, and for the Zentitle2 paths
// against the contract's too: strictly, but for answers that show a
// listener whose client set an extension.
func (e *env) checkExchanges() {
	t := e.t
	ours, contract := readDoc(t, openapiJSON), readDoc(t, contractBytes(t))
	e.rec.mu.Lock()
	defer e.rec.mu.Unlock()
	extended := e.extendedListeners()
	for _, x := range e.rec.seen {
		req := httptest.NewRequest(x.method, "/", nil)
		req.URL.Path = x.path // as sent: it may hold what a URL may not, such as a NUL
		_, pattern := e.api.mux.Handler(req)
		method, path, ok := strings.Cut(pattern, " ")
		if !ok || method != x.method {
			continue // an unmatched path: no operation to hold it to
		}
		status := strconv.Itoa(x.status)
		m := strings.ToLower(method)
		res := obj(obj(obj(obj(obj(ours["paths"])[path])[m])["responses"])[status])
		if res == nil {
			t.Errorf("%s %s answered %s, which openapi.json does not document for %s", x.method, x.path, status, pattern)
			continue
		}
		if !strings.HasPrefix(x.contentType, "application/json") || len(x.body) == 0 {
			if x.status != http.StatusNoContent && obj(res["content"])["application/json"] != nil {
				t.Errorf("%s %s %s: no JSON body", x.method, x.path, status)
			}
			continue
		}
		e.validate(ourURL, pointer("paths", path, m, "responses", status, "content", "application/json", "schema"), x)
		cres := obj(obj(obj(obj(obj(contract["paths"])[path])[m])["responses"])[status])
		switch {
		case cres != nil && schemaRef(cres) != "":
			url := contractURL
			if slices.ContainsFunc(listenerIDs(x.body), func(id string) bool { return extended[id] }) {
				url = relaxedURL
			}
			e.validate(url, pointer("paths", path, m, "responses", status, "content", "application/json", "schema"), x)
		case obj(contract["paths"])[path] != nil && x.status >= 400:
			// Statuses the contract documents globally (401, 403, 409...).
			e.validate(contractURL, pointer("components", "schemas", "ApiError"), x)
		}
	}
}

// extensionFields are the listener request fields beyond the contract's.
var extensionFields = []string{"name", "description", "enabled", "paused", "rateLimit", "headers"}

// extendedListeners returns the ids of the listeners that a create or
// update request of the test gave an extension field (not null) to.
func (e *env) extendedListeners() map[string]bool {
	out := map[string]bool{}
	for _, x := range e.rec.seen {
		var req map[string]json.RawMessage
		if x.method != http.MethodPost && x.method != http.MethodPut || json.Unmarshal(x.reqBody, &req) != nil ||
			!slices.ContainsFunc(extensionFields, func(f string) bool { v, ok := req[f]; return ok && string(v) != "null" }) {
			continue
		}
		switch {
		case x.method == http.MethodPost && x.path == webhooksPath && x.status == http.StatusCreated:
			for _, id := range listenerIDs(x.body) {
				out[id] = true
			}
		case x.method == http.MethodPut && strings.HasPrefix(x.path, webhooksPath+"/"):
			out[strings.TrimPrefix(x.path, webhooksPath+"/")] = true
		}
	}
	return out
}

// listenerIDs returns the ids of the WebhookModels an answer holds: its own
// or its items'.
func listenerIDs(body []byte) []string {
	var one struct {
		ID    string `json:"id"`
		Items []struct {
			ID string `json:"id"`
		} `json:"items"`
	}
	if json.Unmarshal(body, &one) != nil {
		return nil
	}
	ids := []string{one.ID}
	for _, it := range one.Items {
		ids = append(ids, it.ID)
	}
	return ids
}

func (e *env) validate(url, ptr string, x exchange) {
	e.t.Helper()
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(x.body))
	if err != nil {
		e.t.Errorf("%s %s: body is not JSON: %v", x.method, x.path, err)
		return
	}
	if err := schemaAt(e.t, url, ptr).Validate(inst); err != nil {
		e.t.Errorf("%s %s %d does not match %s#%s: %v\n%s", x.method, x.path, x.status, url, ptr, err, x.body)
	}
}
