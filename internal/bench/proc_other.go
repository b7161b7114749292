//go:build !linux

package bench

import (
	"os/exec"
	"time"
)

// setParentDeathSignal has no portable equivalent outside Linux; receivers
// still exit when their standard input closes.
func setParentDeathSignal(cmd *exec.Cmd) {}

// threadCPU is not available: callers fall back to wall time.
func threadCPU() (time.Duration, bool) { return 0, false }
