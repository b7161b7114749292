// Package service holds the operations that the HTTP API and the web console
// share: managing listeners and their secrets, testing, resending and
// recovering deliveries, and publishing events, each with its validation.
//
// Every error it returns is a *licensehooks.Error carrying the root's codes
// (EINVALID with one FieldError per problem, ENOTFOUND, ECONFLICT...), or an
// internal error from the store, which callers show only as "Internal error.".
package service

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"time"

	"licensehooks"
	"licensehooks/auth"
	"licensehooks/catalog"
	"licensehooks/janitor"
)

// Sender makes one manual attempt of a delivery now (the dispatcher).
type Sender interface {
	SendNow(ctx context.Context, tenantID, deliveryID string) (*licensehooks.Attempt, error)
}

// Holder gives back what this process's dispatcher holds for a listener
// that was just paused, disabled or deleted, so that none of it goes out
// (dispatch.Dispatcher.HoldListener).
type Holder interface {
	HoldListener(listenerID string)
}

// Publisher stores published events and their deliveries: the store, or
// this process's dispatcher, which takes the fresh deliveries it has room
// for as they are stored (dispatch.Dispatcher.PublishEvents).
type Publisher interface {
	PublishEvents(ctx context.Context, params []licensehooks.PublishParams) ([]licensehooks.PublishResult, error)
}

// Service runs the operations over a store. Now defaults to time.Now; a test
// sets it to a fake clock.
type Service struct {
	Store     licensehooks.Store
	Catalog   *catalog.Catalog
	MasterKey *licensehooks.MasterKey
	Sender    Sender
	Publisher Publisher // optional; default Store
	Holder    Holder    // optional
	// Retention is how long finished work is kept (janitor.DefaultRetention
	// when 0): a replay reaches no further back.
	Retention time.Duration
	// AddressGuard, when set, refuses a listener URI whose host is a
	// literal IP address that deliveries may not reach (the SSRF guard's
	// Check); host names are checked when a delivery dials them.
	AddressGuard func(netip.Addr) error
	// Auth, when set, has its revocation list refreshed at once when this
	// process revokes a credential or deletes a tenant.
	Auth   *auth.Service
	Logger *slog.Logger // optional
	// Observer, when set, is told of the events accepted, for metrics.
	Observer Observer
	// Scheduler, when set, is poked when time-based work is stored
	// (delayed events, reminders), so it wakes sooner than it planned.
	Scheduler Poker
	Now       func() time.Time
}

// hold tells the Holder, when there is one, that a listener's queued
// deliveries must not go out.
func (s *Service) hold(listenerID string) {
	if s.Holder != nil {
		s.Holder.HoldListener(listenerID)
	}
}

// publisher is where events are published: Publisher, else the store.
func (s *Service) publisher() Publisher {
	if s.Publisher != nil {
		return s.Publisher
	}
	return s.Store
}

// Poker is told that time-based work may be due sooner than it knew.
type Poker interface{ Poke() }

// Observer is told of what the service accepts, for metrics. It must
// return at once.
type Observer interface {
	// Accepted reports n new events of a tenant stored (a duplicate of an
	// event already stored is not new).
	Accepted(tenantID string, n int)
}

// now returns the current time in UTC at the store's precision, so what the
// service returns equals what a later read returns.
func (s *Service) now() time.Time {
	f := s.Now
	if f == nil {
		f = time.Now
	}
	return f().UTC().Truncate(time.Microsecond)
}

// sender returns the Sender or an EUNAVAILABLE error when none is wired (a
// process that serves the API without delivering).
func (s *Service) sender() (Sender, error) {
	if s.Sender == nil {
		return nil, licensehooks.Errorf(licensehooks.EUNAVAILABLE, "Deliveries cannot be sent by this server now.")
	}
	return s.Sender, nil
}

// Resent is what Resend did: made an attempt now (Attempt), or, for a
// finished delivery of a listener ordered by resource, put it back at the
// end of its resource's line (Queued: the delivery as it is now), to go
// out in its turn.
type Resent struct {
	Attempt *licensehooks.Attempt
	Queued  *licensehooks.Delivery
}

// Resend makes one manual attempt of a delivery now, whatever its status;
// but a finished delivery of a listener ordered by resource goes to the
// back of its resource's line, so that it cannot overtake what is queued
// there, and a queued one waits for its turn (ECONFLICT).
func (s *Service) Resend(ctx context.Context, tenantID, deliveryID string) (Resent, error) {
	snd, err := s.sender()
	if err != nil {
		return Resent{}, err
	}
	// Reading first answers ENOTFOUND for another tenant's delivery before
	// the dispatcher is involved.
	d, err := s.Store.GetDelivery(ctx, tenantID, deliveryID)
	if err != nil {
		return Resent{}, err
	}
	switch d.Status {
	case licensehooks.StatusScheduled:
		// Sent now, it would be sent again at its time.
		return Resent{}, licensehooks.Errorf(licensehooks.ECONFLICT,
			"The delivery is scheduled for %s: it cannot be resent before it is sent. Cancel its event to stop it.",
			d.NextAttemptAt.UTC().Format(time.RFC3339))
	case licensehooks.StatusQueued:
		return Resent{}, licensehooks.Errorf(licensehooks.ECONFLICT,
			"The delivery waits behind earlier deliveries of %s to its listener, which is ordered by resource: it is sent after them, in order.", d.Line)
	case licensehooks.StatusSucceeded, licensehooks.StatusFailed, licensehooks.StatusCancelled:
		if q, err := s.requeueInLine(ctx, d); err != nil || q != nil {
			return Resent{Queued: q}, err
		}
	}
	a, err := snd.SendNow(ctx, tenantID, deliveryID)
	if err != nil {
		return Resent{}, fmt.Errorf("resend delivery %s: %w", deliveryID, err)
	}
	return Resent{Attempt: a}, nil
}

// requeueInLine puts a finished delivery of a listener ordered by resource
// at the back of its line and returns it as it is now; nil when its
// listener is not ordered or it has no resource, and it is sent now.
func (s *Service) requeueInLine(ctx context.Context, d *licensehooks.Delivery) (*licensehooks.Delivery, error) {
	l, err := s.Store.GetListener(ctx, d.TenantID, d.ListenerID)
	if err != nil || !l.Ordered() || d.Once {
		return nil, nil // a deleted listener's delivery: SendNow answers why not
	}
	e, err := s.Store.GetEvent(ctx, d.TenantID, d.EventID)
	if err != nil || e.ResourceID == "" {
		return nil, nil
	}
	f := licensehooks.DeliveryFilter{TenantID: d.TenantID, ListenerID: d.ListenerID, EventID: d.EventID}
	res, err := s.Store.ResendDeliveries(ctx, licensehooks.ResendParams{Filter: f, Now: s.now(), Limit: 1})
	if err != nil {
		return nil, fmt.Errorf("resend delivery %s: %w", d.ID, err)
	}
	if res.Resent == 0 { // an attempt's outcome is being stored, or it was resent meanwhile
		return nil, licensehooks.DeliveryBusy()
	}
	return s.Store.GetDelivery(ctx, d.TenantID, d.ID)
}

// RecoverWindow is how far back Recover may reach.
const RecoverWindow = 14 * 24 * time.Hour

// Recover re-queues every failed delivery of a listener created at or after
// since, which must lie within the last 14 days, and returns how many.
func (s *Service) Recover(ctx context.Context, tenantID, listenerID string, since time.Time) (int, error) {
	now := s.now()
	switch {
	case since.IsZero():
		return 0, licensehooks.Invalid(licensehooks.FieldError{Field: "since", Message: "since is required.", Code: "required"})
	case since.Before(now.Add(-RecoverWindow)):
		return 0, licensehooks.Invalid(licensehooks.FieldError{Field: "since", Message: "since must be at most 14 days ago.", Code: "out_of_range"})
	case since.After(now):
		return 0, licensehooks.Invalid(licensehooks.FieldError{Field: "since", Message: "since must not be in the future.", Code: "out_of_range"})
	}
	if _, err := s.Store.GetListener(ctx, tenantID, listenerID); err != nil {
		return 0, err
	}
	n, err := s.Store.RecoverDeliveries(ctx, licensehooks.RecoverParams{TenantID: tenantID, ListenerID: listenerID, Since: since.UTC(), Now: now})
	if err != nil {
		return 0, fmt.Errorf("recover listener %s: %w", listenerID, err)
	}
	return n, nil
}

// MaxBulkResend is how many deliveries one ResendMatching re-queues at
// most; one that stops there says so, and the same call again does more.
const MaxBulkResend = 10_000

// ResendMatching re-queues the finished deliveries f matches (see
// licensehooks.ResendParams), at most MaxBulkResend, after the cursor
// after (a previous result's Next, or ""). f.Status, when set, must be a
// finished one.
func (s *Service) ResendMatching(ctx context.Context, f licensehooks.DeliveryFilter, after string) (licensehooks.ResendResult, error) {
	if err := s.checkResendFilter(ctx, f); err != nil {
		return licensehooks.ResendResult{}, err
	}
	res, err := s.Store.ResendDeliveries(ctx, licensehooks.ResendParams{Filter: f, After: after, Now: s.now(), Limit: MaxBulkResend})
	if err != nil {
		return res, fmt.Errorf("resend deliveries: %w", err)
	}
	return res, nil
}

// CountResendable counts the deliveries ResendMatching(f, after) would
// re-queue, all of them.
func (s *Service) CountResendable(ctx context.Context, f licensehooks.DeliveryFilter, after string) (int, error) {
	if err := s.checkResendFilter(ctx, f); err != nil {
		return 0, err
	}
	res, err := s.Store.ResendDeliveries(ctx, licensehooks.ResendParams{Filter: f, After: after, Now: s.now(), DryRun: true})
	if err != nil {
		return 0, fmt.Errorf("count resendable deliveries: %w", err)
	}
	return res.Resent, nil
}

func (s *Service) checkResendFilter(ctx context.Context, f licensehooks.DeliveryFilter) error {
	if f.Status != "" && !slices.Contains(licensehooks.ResendableStatuses, f.Status) {
		return licensehooks.Invalid(licensehooks.FieldError{Field: "status", Code: "not_finished",
			Message: fmt.Sprintf("Only finished deliveries are resent in bulk: status must be one of %s, or left out.",
				strings.Join(licensehooks.ResendableStatuses, ", "))})
	}
	if f.ListenerID != "" {
		if _, err := s.Store.GetListener(ctx, f.TenantID, f.ListenerID); err != nil {
			return err
		}
	}
	return nil
}

// RetentionPeriod is how long finished work is kept: Retention, or
// janitor.DefaultRetention.
func (s *Service) RetentionPeriod() time.Duration {
	if s.Retention > 0 {
		return s.Retention
	}
	return janitor.DefaultRetention
}

// MaxReplay is how many deliveries one Replay makes at most; a replay that
// stops there says so, and the same call again makes the rest.
const MaxReplay = 10_000

// ReplayResult is what a Replay made.
type ReplayResult struct {
	Replayed int  // deliveries made
	More     bool // stopped at MaxReplay: call again for the rest
}

// Replay makes the listener a delivery of every event created in [since,
// until) that its subscriptions match now and that it has no delivery of
// (see licensehooks.Store.ReplayDeliveries). since is required and reaches
// back at most the retention period; until defaults to now.
func (s *Service) Replay(ctx context.Context, tenantID, listenerID string, since, until time.Time) (ReplayResult, error) {
	now := s.now()
	retention := s.RetentionPeriod()
	if until.IsZero() {
		until = now
	}
	var errs []licensehooks.FieldError
	switch {
	case since.IsZero():
		errs = append(errs, licensehooks.FieldError{Field: "since", Code: "required", Message: "since is required."})
	case since.Before(now.Add(-retention)):
		errs = append(errs, licensehooks.FieldError{Field: "since", Code: "out_of_range",
			Message: fmt.Sprintf("since must be at most %s ago: older events are no longer kept.", days(retention))})
	case since.After(now):
		errs = append(errs, licensehooks.FieldError{Field: "since", Code: "out_of_range", Message: "since must not be in the future."})
	}
	if len(errs) == 0 && !until.After(since) {
		errs = append(errs, licensehooks.FieldError{Field: "until", Code: "out_of_range", Message: "until must be after since."})
	}
	if len(errs) > 0 {
		return ReplayResult{}, licensehooks.Invalid(errs...)
	}
	n, more, err := s.Store.ReplayDeliveries(ctx, licensehooks.ReplayParams{TenantID: tenantID, ListenerID: listenerID,
		Since: since.UTC(), Until: until.UTC(), Now: now, Limit: MaxReplay})
	if err != nil {
		return ReplayResult{}, fmt.Errorf("replay to listener %s: %w", listenerID, err)
	}
	if n > 0 && s.Scheduler != nil {
		s.Scheduler.Poke() // a delayed event's replayed deliveries are scheduled
	}
	return ReplayResult{Replayed: n, More: more}, nil
}

// days writes d in whole days when it is some ("30 days"), else as a
// duration.
func days(d time.Duration) string {
	if d >= 24*time.Hour && d%(24*time.Hour) == 0 {
		if n := d / (24 * time.Hour); n > 1 {
			return fmt.Sprintf("%d days", n)
		}
		return "1 day"
	}
	return d.String()
}

// RequestBody rebuilds the exact body an attempt sent, from its event: the
// log keeps no copy of the body per attempt.
func (s *Service) RequestBody(ctx context.Context, tenantID string, a *licensehooks.Attempt) ([]byte, error) {
	d, err := s.Store.GetDelivery(ctx, tenantID, a.DeliveryID)
	if err != nil {
		return nil, err
	}
	ev, err := s.Store.GetEvent(ctx, tenantID, d.EventID)
	if err != nil {
		return nil, err
	}
	return licensehooks.AppendEnvelope(nil, ev, a.Number), nil
}
