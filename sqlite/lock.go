package sqlite

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// errLocked is what tryLock answers when another process holds the lock.
var errLocked = errors.New("locked by another process")

// lockPath is the serving lock of the database at path: a file beside it.
func lockPath(path string) string { return path + ".lock" }

// serveLock takes the serving lock of the database at path (see
// Options.Serving) and writes this process's id into the lock file, for
// the message a second process gets. The lock lasts until the returned file
// is closed, or the process ends however it ends (the kernel drops it).
func serveLock(path string) (*os.File, error) {
	lp := lockPath(path)
	f, err := os.OpenFile(lp, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open lock file: %w", err)
	}
	if err := tryLock(f); err != nil {
		holder := ""
		if b, rerr := os.ReadFile(lp); rerr == nil {
			if pid, perr := strconv.Atoi(strings.TrimSpace(string(b))); perr == nil && pid > 0 {
				holder = fmt.Sprintf(" (pid %d)", pid)
			}
		}
		f.Close()
		if errors.Is(err, errLocked) {
			return nil, fmt.Errorf("sqlite: %s is already served by another licensehooks process%s, which holds the lock %s: "+
				"stop it first (an SQLite store has one serving process; run several nodes on PostgreSQL)", path, holder, lp)
		}
		return nil, fmt.Errorf("sqlite: lock %s: %w", lp, err)
	}
	if err := f.Truncate(0); err == nil {
		f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0) // informative only
	}
	return f, nil
}
