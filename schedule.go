package licensehooks

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"time"
)

// StatusScheduled is the status of a delivery of a delayed event (a
// publish with deliverAt): it waits, unclaimable, until its NextAttemptAt,
// when the scheduler's promotion (PromoteScheduled) makes it pending.
// Cancelling its event makes it cancelled.
const StatusScheduled = "scheduled"

// Reminder statuses.
const (
	ReminderScheduled = "scheduled" // waiting for its due time (or leased to an emitter)
	ReminderSent      = "sent"      // its event was stored and fanned out
)

// PrefixReminderEvent starts the event id of a reminder (ReminderEventID).
const PrefixReminderEvent = "rem_"

// ReminderEventID derives a reminder's event id from what it is about: the
// tenant, the resource, the code and the expiry date the reminder announces.
// The same reminder always gets the same id, so a retried PUT, a restart or
// a second node never sends it twice (a second publish of the id is a
// duplicate), and receivers can dedupe on it. A renewal (another date)
// makes other ids.
func ReminderEventID(tenantID, resourceID, code string, about time.Time) string {
	h := sha256.New()
	for _, part := range []string{tenantID, resourceID, code, storedTime(about).Format(time.RFC3339Nano)} {
		h.Write([]byte{byte(len(part) >> 8), byte(len(part))})
		h.Write([]byte(part))
	}
	sum := h.Sum(nil)
	return PrefixReminderEvent + base64.RawURLEncoding.EncodeToString(sum[:18])
}

// Schedule is what a platform said about an entitlement's expiry: the
// reminders derive from it (see service.PutSchedule).
type Schedule struct {
	TenantID             string
	ResourceID           string // the entitlement id
	ResourceType         string // "entitlement"
	ExpiresAt            *time.Time
	MaintenanceExpiresAt *time.Time
	Payload              json.RawMessage // the caller's object, merged into every reminder's payload
	CreatedAt            time.Time
	UpdatedAt            time.Time
}

// Reminder is one notice of a schedule, a row with a due time: when due it
// is leased to one emitter, which turns it into an event (EventID, Code,
// ResourceID, Payload; dated DueAt) and its deliveries in one transaction.
type Reminder struct {
	TenantID       string
	ResourceID     string
	EventID        string // ReminderEventID(TenantID, ResourceID, Code, About)
	Code           string
	About          time.Time // the expiry it announces
	DueAt          time.Time
	Status         string
	Payload        json.RawMessage // the event's whole payload
	LeaseOwner     string
	LeaseExpiresAt *time.Time
	SentAt         *time.Time
}

// ScheduleSettings are a tenant's choice of reminder offsets (before the
// expiry: "30d", "7d", "1d", "0d"); nil means the default, all four.
type ScheduleSettings struct {
	TenantID           string
	ExpiryOffsets      []string
	MaintenanceOffsets []string
	UpdatedAt          time.Time
}

// PutScheduleParams stores a schedule and its reminders.
type PutScheduleParams struct {
	Schedule *Schedule
	// Reminders are the ones to send: each is inserted, or updated when a
	// reminder with its EventID is stored and not sent (a sent one stays
	// sent, unchanged).
	Reminders []*Reminder
	// Late are the event ids of the reminders the dates give whose time has
	// passed: not inserted, but one already stored and not sent is kept (it
	// is due and an emitter is about to send it).
	Late []string
}

// PutScheduleResult says what a PutSchedules item did.
type PutScheduleResult struct {
	Created bool  // there was no schedule for the resource
	Changed bool  // a reminder was added, changed or removed, or the schedule changed
	Err     error // this item's failure (ENOTFOUND: no such tenant); the others commit
	// Sent are the event ids of the given Reminders already sent, which
	// stay as they were (see SentAmong).
	Sent []string
}

// ScheduleFilter selects a tenant's schedules, newest first.
type ScheduleFilter struct {
	TenantID string
	// DueBefore, when set, keeps the schedules with a reminder not yet sent
	// due before it.
	DueBefore time.Time
	Page      Page
}

// ReminderFilter selects a tenant's reminders not yet sent, soonest due
// first.
type ReminderFilter struct {
	TenantID   string
	ResourceID string // "" for every resource
	Page       Page
}

// ClaimRemindersParams asks for up to Limit due reminders (scheduled, due
// at or before Now, no live lease), soonest due first, leased to Owner until
// Now+Lease.
type ClaimRemindersParams struct {
	Owner string
	Now   time.Time
	Lease time.Duration
	Limit int
}

// Emission turns one leased reminder into its event: Publish's event is
// stored and fanned out, and the reminder marked sent, in one transaction,
// only while the reminder is still leased to the emitter.
type Emission struct {
	Reminder *Reminder
	Publish  PublishParams
}

// EmitResult is the outcome of one Emission.
type EmitResult struct {
	PublishResult
	// Lost is true when the reminder was no longer leased to the emitter
	// (another took over after the lease expired, or it was replaced):
	// nothing was stored.
	Lost bool
}

// NextDue is when the scheduler next has work: the soonest due time of a
// reminder not yet sent, and of a scheduled delivery (zero when none).
type NextDue struct {
	Reminder  time.Time
	Scheduled time.Time
}

// ScheduleStore keeps delayed deliveries, expiry schedules and their
// reminders.
type ScheduleStore interface {
	// PromoteScheduled makes up to limit scheduled deliveries due at or
	// before now pending (so workers claim them), soonest first, wakes the
	// workers, and returns how many.
	PromoteScheduled(ctx context.Context, now time.Time, limit int) (int, error)
	// CancelEvent cancels an event's scheduled deliveries and returns how
	// many. An unknown event is ENOTFOUND; one with no scheduled delivery
	// left (already sending or sent) is ECONFLICT.
	CancelEvent(ctx context.Context, tenantID, eventID string, at time.Time) (int, error)

	// PutSchedules stores each schedule and replaces its reminders not yet
	// sent (see PutScheduleParams): those neither in Reminders nor Late are
	// deleted; all in one transaction, each item standing alone (a tenant
	// that does not exist is that item's ENOTFOUND). The results parallel
	// ps.
	PutSchedules(ctx context.Context, ps []PutScheduleParams) ([]PutScheduleResult, error)
	// GetSchedule returns a schedule and its reminders (sent ones too),
	// soonest due first.
	GetSchedule(ctx context.Context, tenantID, resourceID string) (*Schedule, []*Reminder, error)
	ListSchedules(ctx context.Context, f ScheduleFilter) ([]*Schedule, int, error)
	// DeleteSchedule deletes a schedule and its reminders not yet sent.
	DeleteSchedule(ctx context.Context, tenantID, resourceID string) error
	// ListReminders returns a page of a tenant's reminders not yet sent,
	// soonest due first, and the total.
	ListReminders(ctx context.Context, f ReminderFilter) ([]*Reminder, int, error)
	GetScheduleSettings(ctx context.Context, tenantID string) (*ScheduleSettings, error)
	PutScheduleSettings(ctx context.Context, s *ScheduleSettings) error

	// ClaimReminders leases due reminders to an emitter; safe against
	// concurrent claimers on any number of nodes. Reminders of deleted
	// tenants are never claimed.
	ClaimReminders(ctx context.Context, p ClaimRemindersParams) ([]*Reminder, error)
	// EmitReminders applies each emission in one transaction with its
	// reminder's change (see Emission); the results parallel es. An event id
	// already stored makes a duplicate (nothing is sent twice), and the
	// reminder is marked sent all the same.
	EmitReminders(ctx context.Context, owner string, now time.Time, es []Emission) ([]EmitResult, error)
	// NextDue reads the soonest due times off their indexes.
	NextDue(ctx context.Context) (NextDue, error)
}

// ReminderPlan is what a PutSchedule changes in the reminders stored.
type ReminderPlan struct {
	Upsert []*Reminder // new, or stored unsent with another due time or payload
	Delete []string    // event ids of stored unsent reminders the dates no longer give
}

// Changes reports whether the plan changes anything.
func (p ReminderPlan) Changes() bool { return len(p.Upsert)+len(p.Delete) > 0 }

// SentAmong returns the event ids of p's reminders that stored holds as
// sent: a PUT keeps them as they were, and answers them as sent.
func SentAmong(stored []*Reminder, p PutScheduleParams) []string {
	sent := make(map[string]bool, len(stored))
	for _, r := range stored {
		if r.Status == ReminderSent {
			sent[r.EventID] = true
		}
	}
	var out []string
	for _, r := range p.Reminders {
		if sent[r.EventID] {
			out = append(out, r.EventID)
		}
	}
	return out
}

// PlanReminders compares the reminders stored for a schedule with those a
// PutSchedule gives: both stores apply the result, so a renewal replaces
// what is not yet sent and a repeated PUT changes nothing.
func PlanReminders(stored []*Reminder, p PutScheduleParams) ReminderPlan {
	have := make(map[string]*Reminder, len(stored))
	for _, r := range stored {
		have[r.EventID] = r
	}
	keep := make(map[string]bool, len(p.Reminders)+len(p.Late))
	for _, id := range p.Late {
		keep[id] = true
	}
	var plan ReminderPlan
	for _, r := range p.Reminders {
		keep[r.EventID] = true
		old, ok := have[r.EventID]
		switch {
		case !ok:
			plan.Upsert = append(plan.Upsert, r)
		case old.Status != ReminderScheduled:
			// sent: it stays as it was
		case !old.DueAt.Equal(storedTime(r.DueAt)) || string(old.Payload) != string(r.Payload):
			plan.Upsert = append(plan.Upsert, r)
		}
	}
	for _, r := range stored {
		if r.Status == ReminderScheduled && !keep[r.EventID] {
			plan.Delete = append(plan.Delete, r.EventID)
		}
	}
	return plan
}

// SameSchedule reports whether two schedules say the same.
func SameSchedule(a, b *Schedule) bool {
	return a.ResourceType == b.ResourceType && sameTimePtr(a.ExpiresAt, b.ExpiresAt) &&
		sameTimePtr(a.MaintenanceExpiresAt, b.MaintenanceExpiresAt) && string(a.Payload) == string(b.Payload)
}

func sameTimePtr(a, b *time.Time) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return a.Equal(*b)
}
