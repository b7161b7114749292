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
	"time"

	"licensehooks"
	"licensehooks/auth"
	"licensehooks/catalog"
)

// Sender makes one manual attempt of a delivery now (the dispatcher).
type Sender interface {
	SendNow(ctx context.Context, tenantID, deliveryID string) (*licensehooks.Attempt, error)
}

// Handoffer lets publishes lease their fresh deliveries to this process's
// dispatcher as the store makes them (see licensehooks.Handoff): h is nil
// when it takes none now, and done receives the store's claims (nil when
// the publish failed).
type Handoffer interface {
	Handoff() (h *licensehooks.Handoff, done func(claims []*licensehooks.Claim))
}

// Service runs the operations over a store. Now defaults to time.Now; a test
// sets it to a fake clock.
type Service struct {
	Store     licensehooks.Store
	Catalog   *catalog.Catalog
	MasterKey *licensehooks.MasterKey
	Sender    Sender
	Handoffer Handoffer // optional
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

// Resend makes one manual attempt of a delivery now, whatever its status.
func (s *Service) Resend(ctx context.Context, tenantID, deliveryID string) (*licensehooks.Attempt, error) {
	snd, err := s.sender()
	if err != nil {
		return nil, err
	}
	// Reading first answers ENOTFOUND for another tenant's delivery before
	// the dispatcher is involved.
	d, err := s.Store.GetDelivery(ctx, tenantID, deliveryID)
	if err != nil {
		return nil, err
	}
	if d.Status == licensehooks.StatusScheduled {
		// Sent now, it would be sent again at its time.
		return nil, licensehooks.Errorf(licensehooks.ECONFLICT,
			"The delivery is scheduled for %s: it cannot be resent before it is sent. Cancel its event to stop it.",
			d.NextAttemptAt.UTC().Format(time.RFC3339))
	}
	a, err := snd.SendNow(ctx, tenantID, deliveryID)
	if err != nil {
		return nil, fmt.Errorf("resend delivery %s: %w", deliveryID, err)
	}
	return a, nil
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
