package licensehooks

import (
	"context"
	"time"
)

// Store keeps everything durable. Two adapters implement it (sqlite,
// postgres) and both pass the storetest conformance suite.
//
// Conventions every adapter follows:
//   - a row that does not exist, or belongs to another tenant than the one
//     asked for, is ENOTFOUND (never revealing that it exists), and so is a
//     listener for a tenant that does not exist;
//   - errors are worded by the root helpers (NotFound, AlreadyExists, ...),
//     so API clients read the same message whatever the store;
//   - a unique key taken is ECONFLICT;
//   - times are stored with microsecond precision, in UTC;
//   - lists are ordered newest first unless said otherwise, and return the
//     total number of matching rows beside the page.
type Store interface {
	TenantStore
	CredentialStore
	PortalLinkStore
	ListenerStore
	EventStore
	DeliveryStore
	ScheduleStore

	// Wakeups returns a channel that receives (coalesced, never blocking the
	// sender) when deliveries may have become due: events published, a
	// resend or recover, a lease released. PostgreSQL delivers it across
	// nodes with LISTEN/NOTIFY. The channel closes when ctx ends.
	Wakeups(ctx context.Context) <-chan struct{}

	// Check answers nil when the store answers and holds the schema this
	// binary knows: every migration applied, none it does not know (a
	// newer binary migrated it). Readiness probes call it.
	Check(ctx context.Context) error
	// Backlog describes the deliveries due at now and not leased: the
	// work waiting for a worker.
	Backlog(ctx context.Context, now time.Time) (Backlog, error)
	// Observe makes the store report its work to o (nil: to no one). Call
	// it before the store is used.
	Observe(o StoreObserver)

	Close() error
}

// Backlog is the work waiting for a worker: deliveries due and not
// leased, and when the oldest of them fell due (zero when none is).
type Backlog struct {
	Due         int
	OldestDueAt time.Time
}

// StoreObserver is told of a store's work, for metrics. Its methods are
// called on the store's goroutines and must return at once.
type StoreObserver interface {
	// Committed reports a write transaction that committed and how long it
	// took from its start to its commit (durable).
	Committed(took time.Duration)
	// Cancelled reports deliveries the store cancelled: their listener was
	// disabled or deleted, or is gone.
	Cancelled(n int)
}

// NoStoreObserver observes nothing.
type NoStoreObserver struct{}

func (NoStoreObserver) Committed(time.Duration) {}
func (NoStoreObserver) Cancelled(int)           {}

// TenantStore keeps tenants. A deleted tenant is ENOTFOUND everywhere at
// once, while its data is purged in bounded batches.
type TenantStore interface {
	// CreateTenant stores a new tenant; a taken id or ExternalID is ECONFLICT.
	CreateTenant(ctx context.Context, t *Tenant) error
	GetTenant(ctx context.Context, id string) (*Tenant, error)
	ListTenants(ctx context.Context) ([]*Tenant, error) // oldest first
	// FindTenants returns a page of the tenants f selects, oldest first,
	// and the total.
	FindTenants(ctx context.Context, f TenantFilter) ([]*Tenant, int, error)
	// UpdateTenant sets a tenant's Name and ExternalID; a taken ExternalID
	// is ECONFLICT.
	UpdateTenant(ctx context.Context, t *Tenant) error
	// DeleteTenant deletes a tenant in one short transaction: the tenant
	// is ENOTFOUND from then on, its ExternalID is free, its credentials
	// are revoked at `at` (so the nodes' revocation lists drop their
	// tokens), its keys, listeners and portal links are deleted (its
	// pending deliveries, orphaned, are never sent). Its events,
	// deliveries and attempts are left for PurgeTenant.
	DeleteTenant(ctx context.Context, id string, at time.Time) error
	// PurgeTenant deletes up to limit rows of a deleted tenant's events,
	// deliveries and attempts and returns how many; 0 means nothing is
	// left. A tenant that is not deleted is ECONFLICT.
	PurgeTenant(ctx context.Context, id string, limit int) (int, error)
	// DeletedTenants lists the deleted tenants whose purge has not
	// finished (a process died in the middle of one).
	DeletedTenants(ctx context.Context) ([]string, error)
}

// PortalLinkStore keeps portal links.
type PortalLinkStore interface {
	CreatePortalLink(ctx context.Context, l *PortalLink) error
	GetPortalLink(ctx context.Context, id string) (*PortalLink, error)
	// UsePortalLink marks the link opened at now and returns it, once: a
	// link already used or expired is ECONFLICT, an unknown one ENOTFOUND.
	UsePortalLink(ctx context.Context, id string, now time.Time) (*PortalLink, error)
	// EndPortalSession ends the console session the link began.
	EndPortalSession(ctx context.Context, id string, at time.Time) error
}

// CredentialStore keeps API credentials.
type CredentialStore interface {
	CreateCredential(ctx context.Context, c *Credential) error
	GetCredential(ctx context.Context, clientID string) (*Credential, error)
	// ListCredentials lists a tenant's credentials, or every credential when
	// tenantID is "" (operator credentials included), oldest first.
	ListCredentials(ctx context.Context, tenantID string) ([]*Credential, error)
	RevokeCredential(ctx context.Context, clientID string, at time.Time) error
	// RevokedCredentials returns the client ids of credentials revoked at or after since.
	RevokedCredentials(ctx context.Context, since time.Time) ([]string, error)
	// EndSessions voids the credential's console sessions begun before at
	// (SessionsEndedAt only moves forward).
	EndSessions(ctx context.Context, clientID string, at time.Time) error
}

// ListenerStore keeps listeners.
type ListenerStore interface {
	CreateListener(ctx context.Context, l *Listener) error
	GetListener(ctx context.Context, tenantID, id string) (*Listener, error)
	// ListListeners returns a page of a tenant's listeners, oldest first (the
	// order a person created them), and the total.
	ListListeners(ctx context.Context, f ListenerFilter) ([]*Listener, int, error)
	// UpdateListener replaces every field of the listener but ID, TenantID
	// and CreatedAt. When it leaves the listener disabled, its pending
	// deliveries are cancelled in the same transaction.
	UpdateListener(ctx context.Context, l *Listener) error
	// DeleteListener deletes the listener and cancels its pending deliveries
	// (which stay in the log).
	DeleteListener(ctx context.Context, tenantID, id string) error
	// DisableListener disables a listener for a reason (410 Gone, five days
	// of failures) and cancels its pending deliveries. A listener already
	// disabled keeps its reason and DisabledAt (the first disabling is the
	// one reported: two nodes disabling it at once agree on its time).
	DisableListener(ctx context.Context, tenantID, id, reason string, at time.Time) error
}

// EventStore keeps events and fans them out.
type EventStore interface {
	// PublishEvents stores each event and one pending delivery, due at once,
	// per matching enabled listener of its tenant (but ExcludeListenerID),
	// atomically per event. An
	// event whose (TenantID, ID) exists answers the first result with
	// Duplicate set when the Hash matches and ECONFLICT in Err when it does
	// not. The returned slice parallels params. The call returns only when
	// the accepted events are durable; concurrent calls may share a commit.
	// A param without an Event, or with both ListenerID and
	// ExcludeListenerID, fails the whole call (EINVALID, nothing stored); a
	// ListenerID of no listener of the tenant fails that event
	// (ENOTFOUND).
	PublishEvents(ctx context.Context, params []PublishParams) ([]PublishResult, error)
	GetEvent(ctx context.Context, tenantID, id string) (*Event, error)
	ListEvents(ctx context.Context, f EventFilter) ([]*Event, int, error)
}

// DeliveryStore keeps deliveries and attempts, and hands work to workers.
type DeliveryStore interface {
	// ClaimDeliveries leases due deliveries to a worker (see ClaimParams).
	// Safe against concurrent claimers on any number of nodes: a delivery is
	// leased to one owner at a time.
	ClaimDeliveries(ctx context.Context, p ClaimParams) ([]*Claim, error)
	// ClaimDelivery leases one chosen delivery (see ClaimOneParams).
	ClaimDelivery(ctx context.Context, p ClaimOneParams) (*Claim, error)
	// RecordOutcomes stores each attempt and applies its outcome to its
	// delivery (status, counters, next attempt, last result, lease cleared)
	// and, on success, the listener's LastSuccessAt; in as few transactions
	// as the adapter can. An outcome whose delivery is no longer leased to
	// its Owner is dropped (another worker took over after the lease
	// expired) and does not fail the others. An outcome without an Attempt
	// fails the whole call (EINVALID, nothing stored).
	RecordOutcomes(ctx context.Context, outcomes []Outcome) error
	// ReleaseClaims gives back the leases an owner holds on the given
	// deliveries, unchanged otherwise, so other workers may claim them at
	// once. With ids nil it releases the owner's leases on every pending
	// delivery (what claims take); a lease on a finished delivery (a manual
	// attempt) is released by id.
	ReleaseClaims(ctx context.Context, owner string, ids []string) error

	GetDelivery(ctx context.Context, tenantID, id string) (*Delivery, error)
	ListDeliveries(ctx context.Context, f DeliveryFilter) ([]*Delivery, int, error)
	// ListAttempts returns a delivery's attempts, oldest first.
	ListAttempts(ctx context.Context, tenantID, deliveryID string) ([]*Attempt, error)
	// RecoverDeliveries re-queues failed deliveries (see RecoverParams) and
	// returns how many.
	RecoverDeliveries(ctx context.Context, p RecoverParams) (int, error)
	// ResendDeliveries re-queues finished deliveries (see ResendParams) and
	// returns how many, and whether more matched past the limit.
	ResendDeliveries(ctx context.Context, p ResendParams) (n int, more bool, err error)
	// ReplayDeliveries makes a delivery to the listener, due at p.Now, of
	// each event of its tenant created in [p.Since, p.Until) that the
	// listener subscribes to now and has no delivery of, oldest first, at
	// most p.Limit (see ReplayExcluded for the events never replayed). The
	// deliveries are pending, or paused for a paused listener. It returns
	// how many it made and whether it stopped at the limit; ENOTFOUND for
	// no such listener.
	ReplayDeliveries(ctx context.Context, p ReplayParams) (n int, more bool, err error)
	// PurgeFinished deletes old finished work (see PurgeParams), each
	// DELETE bounded by Limit, and returns how many deliveries and events it
	// deleted; 0 means nothing is left to purge.
	PurgeFinished(ctx context.Context, p PurgeParams) (int, error)
	// SampleAttempts returns recent attempts for the console's charts.
	SampleAttempts(ctx context.Context, p SampleParams) ([]AttemptSample, error)
}

// Copier is implemented by stores that can export and import events,
// deliveries and attempts row for row, as `licensehooks migrate-store` needs
// to move a whole store (tenants, credentials and listeners go through the
// ordinary methods). Dump methods page by id: they return up to limit rows
// whose id is greater than after, in id order. Load methods insert rows as
// given, without fan-out, skipping rows whose id exists.
type Copier interface {
	DumpEvents(ctx context.Context, after string, limit int) ([]*Event, error)
	DumpDeliveries(ctx context.Context, after string, limit int) ([]*Delivery, error)
	DumpAttempts(ctx context.Context, after string, limit int) ([]*Attempt, error)
	LoadEvents(ctx context.Context, events []*Event) error
	LoadDeliveries(ctx context.Context, deliveries []*Delivery) error
	LoadAttempts(ctx context.Context, attempts []*Attempt) error
}
