//go:build unix

package connlimit

import "syscall"

// FileLimit returns the process's soft limit on open files, and whether it
// is known.
func FileLimit() (uint64, bool) {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return 0, false
	}
	return uint64(rl.Cur), true
}
