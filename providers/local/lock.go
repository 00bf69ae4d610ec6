package local

import (
	"os"

	"github.com/rotplan/rotplan/internal/filelock"
)

// lockFile takes an exclusive lock on path, creating it with mode 0600, and
// waits for another holder to let go. The lock file stays: removing it would
// let two processes lock different files.
func lockFile(path string) (unlock func(), err error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := filelock.Lock(f, filelock.Exclusive); err != nil {
		f.Close()
		return nil, err
	}
	return func() { f.Close() }, nil // closing releases the lock
}
