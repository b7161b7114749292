//go:build !linux

package bench

import "os/exec"

// setParentDeathSignal has no portable equivalent outside Linux; receivers
// still exit when their standard input closes.
func setParentDeathSignal(cmd *exec.Cmd) {}
