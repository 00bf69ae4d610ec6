// Package atomicfile replaces files whole: readers see the old contents or
// the new, never a mix, and a crash leaves one or the other. Every file it
// writes has mode 0600, whatever the umask, because rotplan's files (the
// local store, env files, state, saved plans, the audit log's neighbours)
// are its owner's alone.
//
// atomicfile imports nothing from rotplan.
package atomicfile

import (
	"os"
	"path/filepath"
)

// Write replaces path with data: a temporary file in the same directory,
// mode 0600, synced, renamed over path, then the directory synced. A
// symbolic link at path is followed, so the link stays and its target is
// replaced.
func Write(path string, data []byte) (err error) {
	if real, err := filepath.EvalSymlinks(path); err == nil {
		path = real
	}
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	// CreateTemp opens with O_CREATE|O_EXCL and mode 0600.
	tmp, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err = tmp.Chmod(0o600); err != nil { // whatever the umask
		return err
	}
	if _, err = tmp.Write(data); err != nil {
		return err
	}
	if err = tmp.Sync(); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
