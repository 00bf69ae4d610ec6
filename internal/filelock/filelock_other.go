//go:build !unix && !windows

package filelock

import (
	"errors"
	"os"
)

func lock(*os.File, Mode, bool) error {
	return errors.New("file locking is not supported on this system")
}

func unlock(*os.File) error { return nil }
