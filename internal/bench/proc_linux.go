package bench

import (
	"os/exec"
	"syscall"
	"time"
)

// setParentDeathSignal makes the kernel stop the child if the benchmark
// dies without cleaning up, so no server or receiver outlives it.
func setParentDeathSignal(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
}

// threadCPU returns the CPU time the calling OS thread has used (lock the
// goroutine to its thread first).
func threadCPU() (time.Duration, bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(rusageThread, &ru); err != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}

// rusageThread is RUSAGE_THREAD, which package syscall does not name.
const rusageThread = 1
