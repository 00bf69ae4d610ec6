package state

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
	"time"

	"github.com/rotplan/rotplan/internal/atomicfile"
)

// Local keeps the state in a file, its lock in a sibling .lock file.
type Local struct {
	path string
}

// NewLocal returns the local backend for the state file at path.
func NewLocal(path string) *Local { return &Local{path: path} }

// Path is the state file's path.
func (l *Local) Path() string { return l.path }

func (l *Local) lockPath() string { return l.path + ".lock" }

// Read returns the state, empty when there is no file yet.
func (l *Local) Read() (*State, error) {
	b, err := os.ReadFile(l.path)
	if errors.Is(err, os.ErrNotExist) {
		return New(), nil
	}
	if err != nil {
		return nil, fmt.Errorf("read state: %w", err)
	}
	st := New()
	if err := json.Unmarshal(b, st); err != nil {
		return nil, fmt.Errorf("read state %s: not a rotplan state file (%v)", l.path, err)
	}
	if st.FormatVersion != FormatVersion {
		return nil, fmt.Errorf("read state %s: format_version %d, this rotplan reads %d", l.path, st.FormatVersion, FormatVersion)
	}
	if st.Rotations == nil {
		st.Rotations = map[string]*Rotation{}
	}
	return st, nil
}

// Lock is a held lock on the state.
type Lock struct {
	l    *Local
	f    *os.File
	Info LockInfo
}

// Lock takes the lock, waiting up to timeout for another holder to finish.
// If it is still held then, the error is a *LockedError naming the holder.
func (l *Local) Lock(ctx context.Context, info LockInfo, timeout time.Duration) (*Lock, error) {
	f, err := os.OpenFile(l.lockPath(), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock state: %w", err)
	}
	deadline := time.Now().Add(timeout)
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("lock state: %w", err)
		}
		if !time.Now().Before(deadline) {
			holder := readHolder(f)
			// The holder records itself just after it takes the lock: a
			// moment later its record is there to name it.
			for i := 0; i < 20 && holder.ID == "unknown"; i++ {
				time.Sleep(5 * time.Millisecond)
				holder = readHolder(f)
			}
			f.Close()
			return nil, &LockedError{Path: l.path, Holder: holder}
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	b, _ := json.Marshal(info)
	err = f.Truncate(0)
	if err == nil {
		_, err = f.WriteAt(append(b, '\n'), 0)
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("lock state: record holder: %w", err)
	}
	_ = f.Sync()
	return &Lock{l: l, f: f, Info: info}, nil
}

// readHolder reads the holder's details from the lock file; a holder that
// has not written them yet reads as unknown.
func readHolder(f *os.File) LockInfo {
	var info LockInfo
	b, err := io.ReadAll(io.NewSectionReader(f, 0, 1<<16))
	if err == nil {
		_ = json.Unmarshal(bytes.TrimSpace(b), &info)
	}
	if info.ID == "" {
		info.ID = "unknown"
	}
	return info
}

// Write saves the state under the lock: a new serial, written to a
// temporary file and renamed over the old one, mode 0600.
func (k *Lock) Write(st *State) error {
	st.FormatVersion = FormatVersion
	st.Serial++
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.Write(k.l.path, append(b, '\n')); err != nil {
		return fmt.Errorf("write state: %w", err)
	}
	return nil
}

// Unlock releases the lock. The lock file stays (emptied): removing it
// would let a waiter lock an unlinked file while a newcomer locks a new one.
func (k *Lock) Unlock() error {
	if k.f == nil {
		return nil
	}
	_ = k.f.Truncate(0)
	err := k.f.Close() // closing releases the flock
	k.f = nil
	return err
}

// ForceUnlock clears a lock whose holder is gone. The kernel releases a
// dead holder's flock by itself, so this only clears a record left behind;
// a lock whose holder is still running is refused.
func (l *Local) ForceUnlock(id string) error {
	f, err := os.OpenFile(l.lockPath(), os.O_RDWR, 0o600)
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("the state %s is not locked", l.path)
	}
	if err != nil {
		return err
	}
	defer f.Close()
	if info, err := f.Stat(); err == nil && info.Size() == 0 {
		// Unlock empties the file: no apply holds it, nor left it behind.
		return fmt.Errorf("the state %s is not locked", l.path)
	}
	holder := readHolder(f)
	if holder.ID != id {
		return fmt.Errorf("the state %s is locked by %s, not %s; nothing was changed", l.path, holder.ID, id)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		return fmt.Errorf("lock %s is held by a running process (pid %d on %s); stop it rather than force the lock", id, holder.PID, holder.Host)
	}
	defer syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	return f.Truncate(0)
}
