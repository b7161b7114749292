package httpapi

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"html/template"
	"slices"
	"strings"
	"time"
)

// startTime stamps the embedded documents for conditional requests.
var startTime = time.Now()

// The subset of OpenAPI 3.1 that the docs page shows.
type (
	oaDoc struct {
		Info struct {
			Title, Version, Description string
		}
		Tags []struct {
			Name, Description string
		}
		Paths      map[string]map[string]*oaOperation
		Components struct {
			Schemas map[string]*oaSchema
		}
	}
	oaOperation struct {
		OperationID string `json:"operationId"`
		Summary     string
		Description string
		Tags        []string
		Parameters  []struct {
			Name, In, Description string
			Required              bool
			Schema                *oaSchema
		}
		RequestBody *struct {
			Content map[string]struct{ Schema *oaSchema }
		} `json:"requestBody"`
		Responses map[string]struct {
			Description string
			Content     map[string]struct{ Schema *oaSchema }
		}
		Security []map[string][]string
		// Set when rendering.
		Method, Path string
	}
	oaSchema struct {
		Ref         string `json:"$ref"`
		Type        any
		Format      string
		Description string
		Properties  map[string]*oaSchema
		Required    []string
		Items       *oaSchema
		Enum        []any
		OneOf       []*oaSchema `json:"oneOf"`
		Maximum     *float64
		MaxLength   *int `json:"maxLength"`
	}
)

// parseOpenAPI reads the embedded document into the docs page's model.
func parseOpenAPI(b []byte) (*oaDoc, error) {
	var d oaDoc
	if err := json.Unmarshal(b, &d); err != nil {
		return nil, fmt.Errorf("parse openapi.json: %w", err)
	}
	return &d, nil
}

var methodOrder = []string{"get", "post", "put", "delete", "patch"}

// operations returns the operations of tag, by path then method.
func (d *oaDoc) operations(tag string) []*oaOperation {
	var out []*oaOperation
	for _, path := range sortedKeys(d.Paths) {
		for _, m := range methodOrder {
			op := d.Paths[path][m]
			if op != nil && slices.Contains(op.Tags, tag) {
				op.Method, op.Path = strings.ToUpper(m), path
				out = append(out, op)
			}
		}
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// typeName writes a schema's type for people: a link for a reference.
func typeName(s *oaSchema) template.HTML {
	switch {
	case s == nil:
		return ""
	case s.Ref != "":
		name := s.Ref[strings.LastIndex(s.Ref, "/")+1:]
		return template.HTML(fmt.Sprintf(`<a href="#schema-%s">%s</a>`, template.HTMLEscapeString(name), template.HTMLEscapeString(name)))
	case s.Items != nil:
		return "array of " + typeName(s.Items)
	case len(s.OneOf) > 0:
		return typeName(s.OneOf[0])
	}
	var t string
	switch v := s.Type.(type) {
	case string:
		t = v
	case []any:
		var parts []string
		for _, p := range v {
			parts = append(parts, fmt.Sprint(p))
		}
		t = strings.Join(parts, " or ")
	}
	if s.Format != "" {
		t += " (" + s.Format + ")"
	}
	if len(s.Enum) > 0 {
		t += fmt.Sprintf(" one of %v", s.Enum)
	}
	return template.HTML(template.HTMLEscapeString(t))
}

// paragraphs splits a description on blank lines.
func paragraphs(s string) []string {
	var out []string
	for _, p := range strings.Split(strings.TrimSpace(s), "\n\n") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

//go:embed docs.html.tmpl
var docsTemplate string

var docsTmpl = template.Must(template.New("docs").Funcs(template.FuncMap{
	"typeName":   typeName,
	"paragraphs": paragraphs,
	"lower":      strings.ToLower,
	"required":   func(s *oaSchema, name string) bool { return slices.Contains(s.Required, name) },
	"scopes": func(sec []map[string][]string) string {
		var out []string
		for _, m := range sec {
			for _, v := range m {
				out = append(out, v...)
			}
		}
		return strings.Join(out, ", ")
	},
}).Parse(docsTemplate))

// renderDocs renders the docs page, with the binary's version in place of
// the document's when one is given; the document is embedded, so the
// page never changes while the process runs.
func renderDocs(version string) ([]byte, error) {
	d, err := parseOpenAPI(openapiJSON)
	if err != nil {
		return nil, err
	}
	if version != "" {
		d.Info.Version = version
	}
	type section struct {
		Name, Description string
		Ops               []*oaOperation
	}
	var sections []section
	for _, t := range d.Tags {
		sections = append(sections, section{t.Name, t.Description, d.operations(t.Name)})
	}
	var buf bytes.Buffer
	err = docsTmpl.Execute(&buf, map[string]any{"Doc": d, "Sections": sections, "Schemas": d.Components.Schemas})
	if err != nil {
		return nil, fmt.Errorf("render docs: %w", err)
	}
	return buf.Bytes(), nil
}
