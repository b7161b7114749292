// Package licensehooks holds the domain of the licensehooks webhooks service:
// tenants, credentials, listeners, events, deliveries and attempts, the Store
// interface that every storage adapter implements, and the error vocabulary
// shared by every layer.
//
// The package imports nothing else of this module. Adapters (sqlite,
// postgres), the delivery engine (dispatch), the HTTP API (httpapi) and the
// console import it; cmd/licensehooks wires them together.
package licensehooks
