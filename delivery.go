package licensehooks

import (
	"net/http"
	"time"
)

// Delivery statuses.
const (
	StatusPending   = "pending"   // waiting for its next attempt (or in flight under a lease)
	StatusSucceeded = "succeeded" // a 2xx answer arrived
	StatusFailed    = "failed"    // the retry schedule is exhausted (or a Once delivery failed)
	StatusCancelled = "cancelled" // its listener was deleted or disabled
	// StatusPaused is a delivery waiting for its listener to be resumed:
	// made while the listener was paused, or pending when it was paused.
	// Resuming makes it pending and due at once.
	StatusPaused = "paused"
	// StatusQueued is a delivery of a listener ordered by resource waiting
	// behind an earlier one of the same resource (its line): when that one
	// succeeds, fails for good or is cancelled, the oldest queued one of
	// the line becomes pending.
	StatusQueued = "queued"
)

// Attempt error kinds: why an attempt failed, in words a person can read.
const (
	KindTimeout    = "timeout"
	KindRefused    = "refused"
	KindDNS        = "dns"
	KindTLS        = "tls"
	KindBlocked    = "blocked"  // the SSRF guard refused the address
	KindRedirect   = "redirect" // 3xx: redirects are never followed
	KindHTTPStatus = "http-status"
	KindNetwork    = "network" // any other transport failure (reset, EOF…)
)

// Delivery is one event on its way to one listener.
type Delivery struct {
	ID         string // dlv_…
	TenantID   string
	EventID    string
	EventCode  string // copied from the event, for the log's filters
	ListenerID string
	Status     string
	Once       bool // never retried (the Test action)
	// Line is the resource whose deliveries to an ordered listener go out
	// one at a time, in order (see StatusQueued); "" when not ordered.
	// LineSeq is its place in the line.
	Line    string
	LineSeq int64
	// Attempts counts every attempt made (automatic and manual); the next
	// attempt's callAttempt is Attempts+1.
	Attempts int
	// Tries counts the automatic attempts since the delivery was last queued
	// (created or recovered): it indexes the retry schedule.
	Tries          int
	NextAttemptAt  time.Time
	LeaseOwner     string
	LeaseExpiresAt *time.Time
	LastStatusCode int    // of the last attempt; 0 when no HTTP answer came
	LastErrorKind  string // of the last attempt
	LastError      string
	LastAttemptAt  *time.Time
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// Attempt is one HTTP call of a delivery, kept for the log.
type Attempt struct {
	ID             string // att_…
	DeliveryID     string
	TenantID       string
	ListenerID     string
	Number         int  // the callAttempt sent
	Manual         bool // a person's resend or the Test action, not the schedule
	StartedAt      time.Time
	Duration       time.Duration
	URI            string
	RequestHeaders http.Header
	// RequestBody is not stored: AppendEnvelope(event, Number) rebuilds the
	// exact bytes sent, so the log needs no copy of every payload per attempt.
	StatusCode      int // 0 when no answer came
	ResponseHeaders http.Header
	ResponseBody    []byte // the first 4 KiB
	ErrorKind       string // "" on success
	Error           string
}

// Succeeded reports whether the attempt got a 2xx answer.
func (a *Attempt) Succeeded() bool {
	return a.ErrorKind == "" && a.StatusCode >= 200 && a.StatusCode < 300
}

// ResponseBodyLimit is how much of a response body an attempt keeps.
const ResponseBodyLimit = 4096

// Claim is a delivery leased to a worker, with everything needed to send it.
type Claim struct {
	Delivery *Delivery
	Event    *Event
	Listener *Listener
}

// ClaimParams asks for up to Limit due deliveries (pending, next attempt at
// or before Now, no live lease), oldest due first, leased to Owner until
// Now+Lease.
type ClaimParams struct {
	Owner string
	Now   time.Time
	Lease time.Duration
	Limit int
	// ExcludeListeners skips listeners whose worker queue is full, so a slow
	// listener's backlog never crowds out the others.
	ExcludeListeners []string
	// PerListener caps the deliveries of any one listener in the claim (0:
	// no cap), so one listener's backlog cannot fill a claim that has room
	// for others: past the cap its rows are skipped, and the claim may come
	// back short although more of that listener's work is due.
	PerListener int
}

// ClaimOneParams leases one chosen delivery, whatever its status or schedule
// (a manual resend, the Test action). A delivery under another live lease
// answers ECONFLICT.
type ClaimOneParams struct {
	TenantID   string
	DeliveryID string
	Owner      string
	Now        time.Time
	Lease      time.Duration
}

// Outcome is what a worker decided after an attempt.
type Outcome struct {
	Attempt *Attempt
	Owner   string // the lease holder; a result whose lease was lost is dropped
	// Status is the delivery's new status: StatusSucceeded, StatusFailed, or
	// StatusPending with NextAttemptAt set for a retry. A manual attempt
	// that failed keeps the delivery's status and schedule: Status "".
	Status        string
	NextAttemptAt time.Time
	// CountsAsTry is true for an automatic attempt: it advances Tries.
	CountsAsTry bool
	// Line is the claimed delivery's Line: a store may rely on it to move
	// the line on when the delivery leaves it, rather than read it back.
	Line string
}

// DeliveryFilter selects a tenant's deliveries, newest first.
type DeliveryFilter struct {
	TenantID   string
	ListenerID string // "" for every listener
	Status     string // "" for every status
	EventCode  string // "" for every code
	EventID    string // "" for every event
	Since      time.Time
	Until      time.Time
	Page       Page
}

// ResendParams asks for the finished deliveries Filter matches (its
// TenantID is required; Page is ignored) to be queued again: pending (paused
// for a paused listener; scheduled at its deliverAt for a delayed event
// not yet due), due at Now, with a fresh retry schedule, at most Limit of
// them, oldest first, after the cursor After (a ResendResult.Next). Left
// as they are: deliveries never retried (Once: the Test action's), those of
// a listener deleted or disabled, and those of an event its publisher
// cancelled. DryRun counts them and changes nothing.
type ResendParams struct {
	Filter DeliveryFilter
	After  string
	Now    time.Time
	Limit  int
	DryRun bool
}

// ResendResult is what a bulk resend did (or, for a DryRun, would do: all
// of them, ignoring Limit).
type ResendResult struct {
	Resent int
	// Next, when more matched past the limit, is the cursor to pass as
	// After to resend the next ones; "" when none are left.
	Next string
}

// ResendableStatuses are the statuses a bulk resend re-queues from.
var ResendableStatuses = []string{StatusSucceeded, StatusFailed, StatusCancelled}

// ReplayParams asks for a delivery to a listener of each event of its
// tenant created in [Since, Until) that it missed (see
// Store.ReplayDeliveries).
type ReplayParams struct {
	TenantID   string
	ListenerID string
	Since      time.Time // inclusive: events created at or after it
	Until      time.Time // exclusive
	Now        time.Time // when the new deliveries are due and dated
	Limit      int       // at most this many deliveries are made
}

// RecoverParams re-queues the failed deliveries of a listener created at or
// after Since: they become pending, due at Now, with a fresh schedule.
// Deliveries that are never retried (Once, the Test action's TestEventCode
// deliveries) are left failed.
type RecoverParams struct {
	TenantID   string
	ListenerID string
	Since      time.Time
	Now        time.Time
}

// PurgeParams deletes up to Limit finished deliveries (succeeded, failed,
// cancelled) last updated before Before, their attempts, and events created
// before Before that no delivery refers to any more.
type PurgeParams struct {
	Before time.Time
	Limit  int
}

// AttemptSample is one attempt reduced to what the charts need.
type AttemptSample struct {
	ListenerID string
	StartedAt  time.Time
	Duration   time.Duration
	Succeeded  bool
	StatusCode int
	ErrorKind  string
}

// SampleParams selects the attempts of a tenant (and a listener) since a time,
// newest first, at most Limit.
type SampleParams struct {
	TenantID   string
	ListenerID string
	Since      time.Time
	Limit      int
}
