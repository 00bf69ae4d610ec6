//go:build !unix

package exec

import osexec "os/exec"

// ownProcessGroup leaves cmd as it is: cancelling it kills the command
// alone.
func ownProcessGroup(*osexec.Cmd) {}
