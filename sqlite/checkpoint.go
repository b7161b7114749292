package sqlite

import (
	"context"
	"database/sql"
	"time"
)

// checkpointEvery is how often the WAL is copied back into the database
// file while writes go on.
const checkpointEvery = time.Second

// checkpointLoop copies the WAL into the database file off the writer's
// path. SQLite would otherwise do it inside a COMMIT every 1000 pages, and
// the writer (and every publisher waiting on it) would wait for the copy
// and its fsync. A PASSIVE checkpoint runs beside the writer and the
// readers, and once it has caught up the writer starts the WAL over.
func (s *Store) checkpointLoop(db *sql.DB) {
	defer close(s.ckptDone)
	t := time.NewTicker(checkpointEvery)
	defer t.Stop()
	for {
		select {
		case <-s.quit:
			return
		case <-t.C:
		}
		if !s.walDirty.Swap(false) {
			continue
		}
		// An error (the file is busy with another process's checkpoint)
		// leaves the work for the next tick.
		_, _ = db.ExecContext(context.Background(), `PRAGMA wal_checkpoint(PASSIVE)`)
	}
}
