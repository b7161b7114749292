// Package dispatch delivers events: it claims due deliveries from the store
// under a lease, sends each as a signed HTTP POST, decides what the answer
// means (success, a retry later, failure, a disabled listener) and records
// every attempt.
//
// # Shape
//
// One claimer goroutine leases due deliveries in batches. Each listener has
// a lane: a queue of its claimed deliveries and at most Config.PerListener
// goroutines sending from it, under a global cap of Config.Workers sends. A
// listener whose lane is full is excluded from the next claims, so a slow or
// dead endpoint holds only its own slots and the others go on at their pace.
// Outcomes go to one recorder goroutine that stores them in batches, so many
// attempts share one commit.
//
// Fresh work need not wait for a claim: a publish on the same process asks
// Handoff, and the store leases the new deliveries the lanes have room for
// in the publish's own transaction (claim at insert). They enter their
// lanes as soon as the commit returns. Only a dispatcher that keeps up takes
// work this way; behind, it claims oldest first.
//
// # Rate limits
//
// A listener with a rate limit (licensehooks.Listener.RateLimit) gets one
// attempt per permit of Config.Limiter, which keeps one GCRA state per
// listener (internal/gcra): in memory for SQLite, in the database for
// PostgreSQL, so that every node draws on one limit. A sender asks for its
// permit holding a worker slot and sends at once with it; without one, it
// gives the slot back and waits until the permits are due, which is not an
// attempt. The senders of one listener share one request to the limiter at
// a time, for as many permits as they wait for (the gate, rate.go). A
// rate-limited lane holds about a second of its work (half the rate in
// flight, at most PerListener), so what it claimed goes out well within
// the lease. Manual attempts (SendNow) take a permit too.
//
// # Signing
//
// Every body is signed once: the first attempt of an event has the same
// bytes for every listener of its tenant, so the N-Signature (RSA, about a
// millisecond of CPU) is cached by (tenant, event, callAttempt) and
// concurrent senders of the same body wait for one signer. The Standard
// Webhooks HMAC is per listener and cheap.
//
// # Rules
//
// A 2xx answer is a success. Anything else is a failed attempt, retried on
// Config.Schedule with jitter (Retry-After on 429 and 503 can only push the
// next attempt later, and by at most a day), until the schedule is exhausted
// and the delivery fails. A Once delivery (the Test action) fails at its
// first failure. 410 Gone fails the delivery and disables the listener; a
// listener whose deliveries keep failing with no success for
// Config.DisableAfter (five days) is disabled too.
package dispatch
