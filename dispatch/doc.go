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
