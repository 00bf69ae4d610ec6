// Package filelock locks open files between processes: flock(2) on unix,
// LockFileEx on windows. The kernel releases a lock when its holder exits
// or is killed, so a crashed rotplan never leaves one behind.
//
// filelock imports nothing from rotplan.
package filelock

import (
	"errors"
	"os"
)

// ErrLocked means another process holds a conflicting lock.
var ErrLocked = errors.New("locked by another process")

// Mode is the kind of lock to take.
type Mode int

const (
	// Exclusive excludes every other lock.
	Exclusive Mode = iota
	// Shared excludes exclusive locks only.
	Shared
)

// Lock takes a lock of the given mode on f, waiting for other holders.
func Lock(f *os.File, m Mode) error { return lock(f, m, true) }

// TryLock takes a lock of the given mode on f, or fails at once with
// ErrLocked.
func TryLock(f *os.File, m Mode) error { return lock(f, m, false) }

// Unlock releases f's lock; closing f releases it too.
func Unlock(f *os.File) error { return unlock(f) }
