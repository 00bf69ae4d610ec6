// Package atomicfile replaces files whole: readers see the old contents or
// the new, never a mix, and a crash leaves one or the other.
//
// A file that already exists keeps its owner, group and permission bits
// (an env file that belongs to an application's user stays readable by
// it); a file Write creates has mode 0600, whatever the umask, because the
// files rotplan makes (the local store, env files, state, saved plans) are
// its user's alone.
//
// The new contents go to a temporary file beside the old one, named
// .<name>.<pid>.<random>.rotplan-tmp, then renamed over it. A writer killed
// in between leaves that file behind, holding what it was writing, so every
// temporary file matches the one pattern *.rotplan-tmp, and RemoveStale
// removes those a writer that is gone left.
//
// atomicfile imports nothing from rotplan.
package atomicfile

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// TempSuffix ends the name of every temporary file Write makes: an ignore
// pattern of "*" + TempSuffix covers them all.
const TempSuffix = ".rotplan-tmp"

// staleAfter is the age after which RemoveStale removes a temporary file
// even if a process with its writer's pid is running: no write takes that
// long, so the pid has been given to another process.
const staleAfter = 15 * time.Minute

// randomLen is the number of hex digits of a temporary file's random part.
const randomLen = 12

// Write replaces path with data: a temporary file in the same directory,
// given the owner, group and permission bits of the file it replaces (mode
// 0600 for a new file), synced, renamed over path, then the directory
// synced. A symbolic link at path is followed, so the link stays and its
// target is replaced.
//
// When the old file's owner or group cannot be given to the new one (the
// user rotplan runs as may not give a file away), Write fails, saying so
// and what to do, and leaves the file as it was. A failed Write removes its
// temporary file.
func Write(path string, data []byte) (err error) {
	if real, err := filepath.EvalSymlinks(path); err == nil {
		path = real
	}
	old, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		old = nil
	case err != nil:
		return err
	}
	dir := filepath.Dir(path)
	tmp, err := createTemp(dir, filepath.Base(path))
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()

	mode := fs.FileMode(0o600)
	if old != nil {
		mode = old.Mode().Perm()
		// Before the chmod: a chown may clear mode bits.
		if err = keepOwner(tmp, path, old); err != nil {
			return err
		}
	}
	if err = tmp.Chmod(mode); err != nil { // whatever the umask
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

// createTemp creates .<base>.<pid>.<random>.rotplan-tmp in dir, mode 0600
// before the umask, and opens it for writing.
func createTemp(dir, base string) (*os.File, error) {
	prefix := "." + base + "." + strconv.Itoa(os.Getpid()) + "."
	for try := 0; ; try++ {
		b := make([]byte, randomLen/2)
		_, _ = rand.Read(b) // never fails: crypto/rand crashes the program instead
		name := filepath.Join(dir, prefix+hex.EncodeToString(b)+TempSuffix)
		f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, fs.ErrExist) && try < 10 {
			continue
		}
		return f, err
	}
}

// RemoveStale removes the temporary files that killed writers of path left
// behind: those in path's directory (after following a symbolic link at
// path, as Write does) named for path's base name, whose writer's pid no
// process has now, or that are older than staleAfter. A temporary
// file of a running writer younger than that is kept: another process may
// be writing it. Where a process cannot be looked up by pid (Windows), age
// is the only rule.
//
// It returns the paths it removed, sorted. A missing directory holds
// nothing to remove. Writers that lock path call it under their lock, before
// they write.
func RemoveStale(path string) (removed []string, err error) {
	if real, err := filepath.EvalSymlinks(path); err == nil {
		path = real
	}
	dir, base := filepath.Dir(path), filepath.Base(path)
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("remove stale temporary files of %s: %w", path, err)
	}
	now := time.Now()
	var errs []error
	for _, e := range entries {
		pid, ok := writerPID(e.Name(), base)
		if !ok || !e.Type().IsRegular() {
			continue
		}
		info, err := e.Info()
		if errors.Is(err, fs.ErrNotExist) {
			continue // its writer renamed it
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if now.Sub(info.ModTime()) < staleAfter && processRunning(pid) {
			continue
		}
		name := filepath.Join(dir, e.Name())
		if err := os.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
			continue
		}
		removed = append(removed, name)
	}
	slices.Sort(removed)
	if err := errors.Join(errs...); err != nil {
		return removed, fmt.Errorf("remove stale temporary files of %s: %w", path, err)
	}
	return removed, nil
}

// writerPID reports whether name is a temporary file Write made for a file
// named base, .<base>.<pid>.<random>.rotplan-tmp, and the pid of its writer.
func writerPID(name, base string) (pid int, ok bool) {
	rest, ok := strings.CutPrefix(name, "."+base+".")
	if !ok {
		return 0, false
	}
	rest, ok = strings.CutSuffix(rest, TempSuffix)
	if !ok {
		return 0, false
	}
	digits, random, ok := strings.Cut(rest, ".")
	if !ok || len(random) != randomLen || strings.Trim(random, "0123456789abcdef") != "" {
		return 0, false
	}
	if digits == "" || strings.Trim(digits, "0123456789") != "" {
		return 0, false
	}
	pid, err := strconv.Atoi(digits)
	if err != nil || pid <= 0 {
		return 0, false
	}
	return pid, true
}
