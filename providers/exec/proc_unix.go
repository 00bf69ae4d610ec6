//go:build unix

package exec

import (
	"errors"
	"os"
	osexec "os/exec"
	"syscall"
)

// ownProcessGroup starts cmd in a process group of its own and makes
// cancelling it kill that whole group.
//
// On Ctrl-C a terminal sends SIGINT to its foreground process group, which
// rotplan and everything it starts would otherwise share: a check would die
// mid-flight while rotplan, on a first interrupt, means to let it finish.
// In a group of its own the command is stopped only by rotplan, through the
// context. The kill reaches the children the command started too (a shell
// script's), so none outlives it; one that left the group and holds the
// command's standard error is cut off by waitDelay.
func ownProcessGroup(cmd *osexec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		// The group's id is its leader's pid, the command's.
		err := syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		if errors.Is(err, syscall.ESRCH) {
			return os.ErrProcessDone
		}
		return err
	}
}
