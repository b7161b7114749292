package sqlite

import "context"

// Wakeups returns a channel that receives after a commit that published
// events left for a claim, recovered deliveries or released leases. Signals
// coalesce (the buffer holds one) and never block the writer. The channel
// closes when ctx ends or the store closes. SQLite has one process
// writing, so no cross-process signal is needed.
func (s *Store) Wakeups(ctx context.Context) <-chan struct{} {
	return s.wake.Subscribe(ctx, nil)
}
