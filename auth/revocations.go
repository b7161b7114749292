package auth

import (
	"context"
	"time"
)

// Revocation reaches tokens already issued through a revocation list: each
// node keeps the client ids of the credentials revoked within a token's
// lifetime (older revocations have no live token left) and Verify refuses
// their tokens. The list is refreshed from the store every few seconds, so
// a revocation made on any node reaches every node within that time,
// without a store read per request.

// DefaultRevocationRefresh is how often WatchRevocations reads the list.
const DefaultRevocationRefresh = 2 * time.Second

// revocationSkew widens the window the list covers, for clocks of nodes
// that disagree: a token issued by a node whose clock runs ahead may
// outlive the window by that much.
const revocationSkew = 5 * time.Minute

// revokedSet is an immutable set of client ids, swapped whole.
type revokedSet map[string]struct{}

// isRevoked reports whether the revocation list holds clientID.
func (s *Service) isRevoked(clientID string) bool {
	set := s.revoked.Load()
	if set == nil {
		return false
	}
	_, ok := (*set)[clientID]
	return ok
}

// RefreshRevocations reads the credentials revoked within a token's
// lifetime from the store and makes Verify refuse their tokens. On error
// the list it had stays.
func (s *Service) RefreshRevocations(ctx context.Context) error {
	ids, err := s.Store.RevokedCredentials(ctx, s.Now().Add(-s.TTL-revocationSkew))
	if err != nil {
		return err
	}
	set := make(revokedSet, len(ids))
	for _, id := range ids {
		set[id] = struct{}{}
	}
	s.revoked.Store(&set)
	return nil
}

// WatchRevocations refreshes the revocation list every interval (0 means
// DefaultRevocationRefresh) until ctx ends, reporting each failure to
// onError (which may be nil). Call RefreshRevocations once before serving,
// so the first requests are checked too.
func (s *Service) WatchRevocations(ctx context.Context, interval time.Duration, onError func(error)) {
	if interval <= 0 {
		interval = DefaultRevocationRefresh
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := s.RefreshRevocations(ctx); err != nil && ctx.Err() == nil && onError != nil {
				onError(err)
			}
		}
	}
}
