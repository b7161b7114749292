package dispatch

import "licensehooks"

// Observer is told what the dispatcher does, for metrics. Its methods are
// called on the dispatcher's goroutines, never with its mutex held, and
// must return at once.
type Observer interface {
	// Claimed reports deliveries a claim leased to this dispatcher, after
	// each claim (n is 0 for a claim that found nothing due).
	Claimed(n int)
	// HandedOff reports deliveries taken as their publish stored them.
	HandedOff(n int)
	// Signed reports an N-Signature made (bodies signed once are shared by
	// every listener of the event and every try of one attempt number).
	Signed()
	// Attempted reports an attempt made, automatic or manual.
	Attempted(a *licensehooks.Attempt)
	// Finished reports a delivery that succeeded or failed for good
	// (StatusSucceeded, StatusFailed), once its outcome is stored.
	Finished(tenantID, status string)
	// LeaseLapsed reports claimed deliveries whose lease this dispatcher
	// let lapse: held too long to start in time, or their outcome stored
	// only after the lease ended (another worker may have sent them too).
	LeaseLapsed(n int)
	// Disabled reports a listener the dispatcher disabled, and why
	// (ReasonGone, ReasonStale).
	Disabled(tenantID, reason string)
	// Recorded reports n outcomes stored in one batch (retries scheduled
	// and deliveries finished), once what follows from them (a listener
	// disabled, an alert queued) is done.
	Recorded(n int)
}

// NoObserver observes nothing.
type NoObserver struct{}

func (NoObserver) Claimed(int)                     {}
func (NoObserver) HandedOff(int)                   {}
func (NoObserver) Signed()                         {}
func (NoObserver) Attempted(*licensehooks.Attempt) {}
func (NoObserver) Finished(string, string)         {}
func (NoObserver) LeaseLapsed(int)                 {}
func (NoObserver) Disabled(string, string)         {}
func (NoObserver) Recorded(int)                    {}
