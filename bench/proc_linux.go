package bench

import (
	"os/exec"
	"syscall"
)

// setParentDeathSignal makes the kernel stop the child if the benchmark
// dies without cleaning up, so no server or receiver outlives it.
func setParentDeathSignal(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
}
