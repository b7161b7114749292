//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package sqlite

import "os"

// lockSupported reports whether tryLock really locks on this system.
const lockSupported = false

// tryLock does not lock on this system (no flock): a second serving
// process is not refused here, so run one per store.
func tryLock(*os.File) error { return nil }
