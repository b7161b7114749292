package sqlite

import "time"

// CommitStats returns how many transactions the writer committed and how
// many write requests they carried.
func (s *Store) CommitStats() (commits, requests int64) {
	return s.commits.Load(), s.requests.Load()
}

// SyncTime returns the total time spent in COMMIT.
func (s *Store) SyncTime() time.Duration { return time.Duration(s.syncNanos.Load()) }
