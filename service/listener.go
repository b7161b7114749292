package service

import (
	"context"
	"fmt"
	"time"

	"licensehooks"
)

// ListenerInput is what a person gives for a listener. URI and Subscriptions
// are always required (PUT semantics, as in the Zentitle2 API); a nil
// pointer or a nil Headers map means the default on create and "keep the
// current value" on update.
type ListenerInput struct {
	URI           string
	Subscriptions []string
	Name          *string
	Description   *string
	Enabled       *bool
	// Paused holds deliveries without cancelling them (see
	// licensehooks.Listener.Paused).
	Paused *bool
	// Ordering is licensehooks.OrderingNone or OrderingResource.
	Ordering *string
	// RateLimit is deliveries per second (licensehooks.MinRateLimit to
	// MaxRateLimit); 0 removes the limit.
	RateLimit *int
	Headers   map[string]string
}

// validate checks every field and returns the cleaned subscriptions and
// headers, or an EINVALID error with one FieldError per problem.
func (s *Service) validate(in ListenerInput) ([]string, map[string]string, error) {
	errs := s.validateURI(in.URI)
	subs, subErrs := s.cleanSubscriptions(in.Subscriptions)
	errs = append(errs, subErrs...)
	errs = append(errs, validateText("name", in.Name, MaxNameLength, false)...)
	errs = append(errs, validateText("description", in.Description, MaxDescriptionLength, true)...)
	errs = append(errs, validateControls(in)...)
	headers, hErrs := cleanHeaders(in.Headers)
	errs = append(errs, hErrs...)
	if len(errs) > 0 {
		return nil, nil, licensehooks.Invalid(errs...)
	}
	return subs, headers, nil
}

// validateControls checks the delivery controls: ordering and rateLimit.
func validateControls(in ListenerInput) []licensehooks.FieldError {
	var errs []licensehooks.FieldError
	if o := in.Ordering; o != nil && *o != licensehooks.OrderingNone && *o != licensehooks.OrderingResource {
		errs = append(errs, field("ordering", "invalid_value",
			"ordering must be %q (deliveries go out as they fall due) or %q (one resource's deliveries go out one at a time, in order).",
			licensehooks.OrderingNone, licensehooks.OrderingResource))
	}
	if r := in.RateLimit; r != nil && (*r < 0 || *r > licensehooks.MaxRateLimit) {
		errs = append(errs, field("rateLimit", "out_of_range",
			"rateLimit must be from %d to %d deliveries per second, or 0 for no limit.",
			licensehooks.MinRateLimit, licensehooks.MaxRateLimit))
	}
	return errs
}

// applyControls sets the delivery controls given on l.
func applyControls(l *licensehooks.Listener, in ListenerInput) {
	if in.Ordering != nil {
		l.Ordering = *in.Ordering
	}
	if in.RateLimit != nil {
		l.RateLimit = *in.RateLimit
	}
}

// ValidateListener checks a create or update request without acting on
// it: an EINVALID error with one FieldError per problem, or nil. The API
// merges it with the problems it found decoding the request.
func (s *Service) ValidateListener(in ListenerInput) error {
	_, _, err := s.validate(in)
	return err
}

// MaxListenersPerTenant caps an account's listeners: one published event
// fans out to at most this many deliveries.
const MaxListenersPerTenant = 100

// CreateListener validates the input and creates an enabled (by default)
// listener with a fresh signing secret.
func (s *Service) CreateListener(ctx context.Context, tenantID string, in ListenerInput) (*licensehooks.Listener, error) {
	subs, headers, err := s.validate(in)
	if err != nil {
		return nil, err
	}
	if err := s.checkListenerCap(ctx, tenantID); err != nil {
		return nil, err
	}
	now := s.now()
	l := &licensehooks.Listener{
		ID:            licensehooks.NewID(licensehooks.PrefixListener),
		TenantID:      tenantID,
		URI:           in.URI,
		Subscriptions: subs,
		Enabled:       true,
		Ordering:      licensehooks.OrderingNone,
		Headers:       headers,
		Secret:        s.MasterKey.Seal([]byte(licensehooks.NewListenerSecret())),
		CreatedAt:     now,
		UpdatedAt:     now,
	}
	if in.Name != nil {
		l.Name = *in.Name
	}
	if in.Description != nil {
		l.Description = *in.Description
	}
	if in.Enabled != nil && !*in.Enabled {
		l.Enabled = false
		l.DisabledAt = &now
	}
	if in.Paused != nil {
		l.Paused = *in.Paused
	}
	applyControls(l, in)
	if err := s.Store.CreateListener(ctx, l); err != nil {
		return nil, fmt.Errorf("create listener: %w", err)
	}
	return l, nil
}

// checkListenerCap refuses a new listener to an account that has
// MaxListenersPerTenant. Two creates racing at the cap may both pass: the
// cap bounds fan-out, it is not a quota that must hold to the unit.
func (s *Service) checkListenerCap(ctx context.Context, tenantID string) error {
	_, n, err := s.Store.ListListeners(ctx, licensehooks.ListenerFilter{TenantID: tenantID, Page: licensehooks.Page{Number: 1, Size: 1}})
	if err != nil {
		return fmt.Errorf("count listeners: %w", err)
	}
	if n >= MaxListenersPerTenant {
		return licensehooks.Invalid(field("", "limit_reached",
			"An account may have at most %d listeners; delete one before creating another.", MaxListenersPerTenant))
	}
	return nil
}

// UpdateListener replaces the URI and subscriptions and the extension fields
// that are given. Re-enabling clears the reason the service disabled it;
// disabling cancels its pending deliveries (in the store's transaction).
func (s *Service) UpdateListener(ctx context.Context, tenantID, id string, in ListenerInput) (*licensehooks.Listener, error) {
	subs, headers, err := s.validate(in)
	if err != nil {
		return nil, err
	}
	l, err := s.Store.GetListener(ctx, tenantID, id)
	if err != nil {
		return nil, err
	}
	now := s.now()
	l.URI, l.Subscriptions = in.URI, subs
	if in.Name != nil {
		l.Name = *in.Name
	}
	if in.Description != nil {
		l.Description = *in.Description
	}
	if headers != nil {
		l.Headers = headers
	}
	if in.Enabled != nil && *in.Enabled != l.Enabled {
		l.Enabled = *in.Enabled
		if l.Enabled {
			l.DisabledReason, l.DisabledAt = "", nil
		} else {
			l.DisabledAt = &now
		}
	}
	if in.Paused != nil {
		l.Paused = *in.Paused
	}
	applyControls(l, in)
	l.UpdatedAt = now
	if err := s.Store.UpdateListener(ctx, l); err != nil {
		return nil, fmt.Errorf("update listener %s: %w", id, err)
	}
	if l.Paused || !l.Enabled {
		s.hold(id)
	}
	return l, nil
}

// DeleteListener deletes a listener; its pending deliveries are cancelled
// and stay in the log.
func (s *Service) DeleteListener(ctx context.Context, tenantID, id string) error {
	if err := s.Store.DeleteListener(ctx, tenantID, id); err != nil {
		return err
	}
	s.hold(id)
	return nil
}

// Secret is a listener's Standard Webhooks signing secret and, during a
// rotation, the previous one with the time it stops signing.
type Secret struct {
	Current           string
	Previous          string
	PreviousExpiresAt *time.Time
}

// SecretOverlap is how long the previous secret keeps signing after a rotation.
const SecretOverlap = 24 * time.Hour

// ListenerSecret reveals a listener's signing secrets.
func (s *Service) ListenerSecret(ctx context.Context, tenantID, id string) (Secret, error) {
	l, err := s.Store.GetListener(ctx, tenantID, id)
	if err != nil {
		return Secret{}, err
	}
	return s.openSecret(l)
}

func (s *Service) openSecret(l *licensehooks.Listener) (Secret, error) {
	cur, err := s.MasterKey.Open(l.Secret)
	if err != nil {
		return Secret{}, fmt.Errorf("listener %s secret: %w", l.ID, err)
	}
	out := Secret{Current: string(cur)}
	// An expired previous secret no longer signs, so it is not shown.
	if len(l.PrevSecret) > 0 && l.PrevSecretExpiresAt != nil && l.PrevSecretExpiresAt.After(s.now()) {
		prev, err := s.MasterKey.Open(l.PrevSecret)
		if err != nil {
			return Secret{}, fmt.Errorf("listener %s previous secret: %w", l.ID, err)
		}
		exp := l.PrevSecretExpiresAt.UTC()
		out.Previous, out.PreviousExpiresAt = string(prev), &exp
	}
	return out, nil
}

// RotateSecret gives a listener a new secret; the current one keeps signing
// beside it for 24 hours, so receivers can switch without losing a call.
func (s *Service) RotateSecret(ctx context.Context, tenantID, id string) (Secret, error) {
	return s.RotateSecretOverlap(ctx, tenantID, id, SecretOverlap)
}

// RotateSecretOverlap gives a listener a new secret; the current one keeps
// signing beside it for overlap (0 to 24 hours; 0 ends it now, so only the
// new secret signs from this moment).
func (s *Service) RotateSecretOverlap(ctx context.Context, tenantID, id string, overlap time.Duration) (Secret, error) {
	if overlap < 0 || overlap > SecretOverlap {
		return Secret{}, licensehooks.Invalid(field("overlap", "out_of_range",
			"overlap must be from 0 (end the old secret now) to 24h, such as 1h or 24h."))
	}
	l, err := s.Store.GetListener(ctx, tenantID, id)
	if err != nil {
		return Secret{}, err
	}
	now := s.now()
	if overlap > 0 {
		exp := now.Add(overlap)
		l.PrevSecret, l.PrevSecretExpiresAt = l.Secret, &exp
	} else {
		l.PrevSecret, l.PrevSecretExpiresAt = nil, nil
	}
	l.Secret = s.MasterKey.Seal([]byte(licensehooks.NewListenerSecret()))
	l.UpdatedAt = now
	if err := s.Store.UpdateListener(ctx, l); err != nil {
		return Secret{}, fmt.Errorf("rotate secret of listener %s: %w", id, err)
	}
	return s.openSecret(l)
}

// TestHold is how far ahead the Test action's delivery is first due: the
// action sends it at once itself, and a worker sends it only if the process
// died before it could.
const TestHold = time.Minute

// TestListener makes a webhook.test event (resourceId = the listener's id,
// payload {}) delivered once to that listener alone, sends it now and
// returns the delivery and the attempt.
func (s *Service) TestListener(ctx context.Context, tenantID, id string) (*licensehooks.Delivery, *licensehooks.Attempt, error) {
	return s.SendExample(ctx, tenantID, id, ExampleInput{})
}
