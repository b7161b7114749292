// Package catalog holds the event types that licensehooks knows: the 20
// Zentitle2 event codes and the service's own operational events (the
// reserved webhook. namespace), each with its resource type, a description,
// a JSON Schema (draft 2020-12) for its payload and a sample payload, plus
// custom types registered at run time.
//
// The built-in types live in events/*.json, embedded in the binary, so that
// the schemas people read in the API and the console are the very documents
// that validate published payloads. Schemas are compiled once, when the
// catalog is made or a type registered; Validate only decodes and checks.
package catalog

import (
	"embed"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"licensehooks"
)

// Resource types: the values of the Zentitle2 contract's EventType enum.
const (
	ResourceCustomer         = "customer"
	ResourceEntitlement      = "entitlement"
	ResourceEntitlementGroup = "entitlementGroup"
)

// ResourceWebhook is the resource type of the operational events: they are
// about a listener (a webhook, in Zentitle2's words) or its deliveries. It
// is not in the contract's EventType enum, so custom types cannot take it
// and the Zentitle2 event list leaves these types' resource type out.
const ResourceWebhook = "webhook"

// resourceTypes lists the contract's resource types in the order the
// console groups them.
var resourceTypes = []string{ResourceCustomer, ResourceEntitlement, ResourceEntitlementGroup}

// groupOrder is the order of ByResourceType's groups: the contract's, then
// the service's own.
var groupOrder = append(slices.Clone(resourceTypes), ResourceWebhook)

// EventType describes one kind of event: its code, the type of resource it
// is about, what it means, the JSON Schema of its payload and a sample
// payload that the schema accepts.
type EventType struct {
	Code         string          `json:"code"`
	ResourceType string          `json:"resourceType"`
	Description  string          `json:"description"`
	Schema       json.RawMessage `json:"schema"`
	Sample       json.RawMessage `json:"sample"`
}

// Group is the event types of one resource type, for pickers that group them.
type Group struct {
	ResourceType string
	Types        []EventType
}

// entry is an event type with its compiled schema. Entries are never
// modified once made, so Validate may use one after releasing the lock.
type entry struct {
	EventType
	schema  *jsonschema.Schema
	builtin bool
}

// Catalog is the set of known event types. It is safe for concurrent use.
type Catalog struct {
	mu      sync.RWMutex
	entries []*entry          // built-ins in contract order, then custom types in registration order
	byCode  map[string]*entry // every entry of entries
	test    *entry            // webhook.test: validates, but is not listed nor subscribable
}

//go:embed events/*.json
var eventFiles embed.FS

// builtinFile is the layout of one events/*.json file.
type builtinFile struct {
	Order int `json:"order"` // position in the contract's list, from 1
	EventType
}

// testSchema accepts the payload of the Test action, which is always empty.
const testSchema = `{"$schema":"https://json-schema.org/draft/2020-12/schema",` +
	`"title":"webhook.test payload","description":"The Test action sends an empty payload.",` +
	`"type":"object","maxProperties":0}`

// New returns a catalog of the built-in event types. It panics if the
// embedded definitions are broken, which the package's tests rule out.
func New() *Catalog {
	c, err := load()
	if err != nil {
		panic(fmt.Sprintf("catalog: embedded event types: %v", err))
	}
	return c
}

// load reads, compiles and checks the embedded event types.
func load() (*Catalog, error) {
	names, err := eventFiles.ReadDir("events")
	if err != nil {
		return nil, fmt.Errorf("read events: %w", err)
	}
	files := make([]builtinFile, 0, len(names))
	for _, n := range names {
		b, err := eventFiles.ReadFile("events/" + n.Name())
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", n.Name(), err)
		}
		var f builtinFile
		if err := json.Unmarshal(b, &f); err != nil {
			return nil, fmt.Errorf("parse %s: %w", n.Name(), err)
		}
		files = append(files, f)
	}
	sort.Slice(files, func(i, j int) bool { return files[i].Order < files[j].Order })

	c := &Catalog{byCode: make(map[string]*entry, len(files))}
	for _, f := range files {
		if err := checkBuiltin(f.EventType); err != nil {
			return nil, fmt.Errorf("event type %s: %w", f.Code, err)
		}
		e, err := newEntry(f.EventType)
		if err != nil {
			return nil, fmt.Errorf("event type %s: %w", f.Code, err)
		}
		if _, dup := c.byCode[e.Code]; dup {
			return nil, fmt.Errorf("event type %s: defined twice", e.Code)
		}
		e.builtin = true
		c.entries = append(c.entries, e)
		c.byCode[e.Code] = e
	}
	test, err := compile(licensehooks.TestEventCode, []byte(testSchema))
	if err != nil {
		return nil, fmt.Errorf("event type %s: %w", licensehooks.TestEventCode, err)
	}
	c.test = &entry{
		EventType: EventType{
			Code:        licensehooks.TestEventCode,
			Description: "Event generated by the Test action of a listener",
			Schema:      json.RawMessage(testSchema),
			Sample:      json.RawMessage(`{}`),
		},
		schema:  test,
		builtin: true,
	}
	return c, nil
}

// checkBuiltin holds a built-in type to its namespace: an operational
// event (webhook.…) has the resource type webhook, and every other type one
// of the contract's.
func checkBuiltin(t EventType) error {
	switch op := licensehooks.IsReservedCode(t.Code); {
	case op && t.ResourceType != ResourceWebhook:
		return fmt.Errorf("resource type %q, want %q for an operational event", t.ResourceType, ResourceWebhook)
	case !op && !slices.Contains(resourceTypes, t.ResourceType):
		return fmt.Errorf("resource type %q is not one of the contract's", t.ResourceType)
	}
	return nil
}

// newEntry compiles t's schema and checks that t's sample validates, with
// its JSON compacted so that the API serves it as one canonical form.
func newEntry(t EventType) (*entry, error) {
	schema, err := compactJSON(t.Schema)
	if err != nil {
		return nil, fmt.Errorf("schema: %w", err)
	}
	sample, err := compactJSON(t.Sample)
	if err != nil {
		return nil, fmt.Errorf("sample: %w", err)
	}
	sch, err := compile(t.Code, schema)
	if err != nil {
		return nil, fmt.Errorf("schema: %w", err)
	}
	e := &entry{EventType: t, schema: sch}
	e.Schema, e.Sample = schema, sample
	if err := e.validate(sample); err != nil {
		return nil, fmt.Errorf("sample does not validate: %w", err)
	}
	return e, nil
}

// All returns every subscribable event type: the built-ins in the order of
// the Zentitle2 contract, then the operational events, then the custom
// types in registration order.
func (c *Catalog) All() []EventType {
	c.mu.RLock()
	defer c.mu.RUnlock()
	out := make([]EventType, len(c.entries))
	for i, e := range c.entries {
		out[i] = e.clone()
	}
	return out
}

// Codes returns the codes of All, in the same order.
func (c *Catalog) Codes() []string {
	c.mu.RLock()
	defer c.mu.RUnlock()
	out := make([]string, len(c.entries))
	for i, e := range c.entries {
		out[i] = e.Code
	}
	return out
}

// Lookup returns the subscribable event type of the given code.
func (c *Catalog) Lookup(code string) (EventType, bool) {
	c.mu.RLock()
	e, ok := c.byCode[code]
	c.mu.RUnlock()
	if !ok {
		return EventType{}, false
	}
	return e.clone(), true
}

// Known reports whether code is a subscribable event type. The Test
// action's code is not: nobody subscribes to it, it goes to one listener.
func (c *Catalog) Known(code string) bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	_, ok := c.byCode[code]
	return ok
}

// IsBuiltin reports whether code is one of the built-in event types.
func (c *Catalog) IsBuiltin(code string) bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	e, ok := c.byCode[code]
	return ok && e.builtin
}

// ResourceTypes returns the resource types of the Zentitle2 contract (its
// EventType enum), which every event type but the operational ones
// (ResourceWebhook) has, in the order of the console's groups.
func ResourceTypes() []string {
	return slices.Clone(resourceTypes)
}

// IsOperational reports whether code is one of the service's operational
// events: subscribable, but published by the service alone.
func (c *Catalog) IsOperational(code string) bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	e, ok := c.byCode[code]
	return ok && e.builtin && e.ResourceType == ResourceWebhook
}

// ByResourceType returns All grouped by resource type, in the order of
// ResourceTypes and then ResourceWebhook, leaving out resource types that
// have no event type.
func (c *Catalog) ByResourceType() []Group {
	all := c.All()
	var out []Group
	for _, rt := range groupOrder {
		g := Group{ResourceType: rt}
		for _, t := range all {
			if t.ResourceType == rt {
				g.Types = append(g.Types, t)
			}
		}
		if len(g.Types) > 0 {
			out = append(out, g)
		}
	}
	return out
}

// clone copies the event type so that callers cannot change the catalog
// through the returned slices.
func (e *entry) clone() EventType {
	t := e.EventType
	t.Schema = slices.Clone(t.Schema)
	t.Sample = slices.Clone(t.Sample)
	return t
}

// lookupAny returns the entry that validates code, the Test action's included.
func (c *Catalog) lookupAny(code string) (*entry, bool) {
	if code == licensehooks.TestEventCode {
		return c.test, true
	}
	c.mu.RLock()
	e, ok := c.byCode[code]
	c.mu.RUnlock()
	return e, ok
}
