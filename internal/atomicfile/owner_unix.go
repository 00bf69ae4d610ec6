//go:build unix

package atomicfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"
)

// keepOwner gives tmp the owner and group of old, the file at path it is to
// replace, when it does not have them already.
func keepOwner(tmp *os.File, path string, old fs.FileInfo) error {
	want, ok := old.Sys().(*syscall.Stat_t)
	if !ok {
		return nil
	}
	info, err := tmp.Stat()
	if err != nil {
		return err
	}
	if have, ok := info.Sys().(*syscall.Stat_t); ok && have.Uid == want.Uid && have.Gid == want.Gid {
		return nil
	}
	if err := tmp.Chown(int(want.Uid), int(want.Gid)); err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err // the temporary file's name says nothing useful
		}
		fix := "Run rotplan as root"
		if want.Uid != 0 {
			fix += fmt.Sprintf(", or as uid %d with gid %d among its groups", want.Uid, want.Gid)
		}
		return fmt.Errorf("cannot keep the owner of %s: it belongs to uid:gid %d:%d and rotplan runs as uid %d, which may not give a file that owner and group: %w; the file is unchanged. %s",
			path, want.Uid, want.Gid, os.Geteuid(), err, fix)
	}
	return nil
}

// processRunning reports whether a process with pid exists: kill(pid, 0)
// fails with ESRCH only when none does.
func processRunning(pid int) bool {
	return syscall.Kill(pid, 0) != syscall.ESRCH
}
