//go:build unix

package regular

import (
	"os"
	"syscall"
)

// openNonblocking opens path with O_NONBLOCK, so that opening a named pipe
// with no writer returns at once instead of waiting for one. A regular file
// ignores the flag.
func openNonblocking(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
}
