//go:build !unix

package connlimit

// FileLimit reports that the limit on open files is not known here.
func FileLimit() (uint64, bool) { return 0, false }
