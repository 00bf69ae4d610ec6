package state

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/zclconf/go-cty/cty"

	"github.com/rotplan/rotplan/internal/atomicfile"
	"github.com/rotplan/rotplan/internal/filelock"
)

// Local keeps the state in a file, its lock in a sibling .lock file.
type Local struct {
	path string
}

var _ Backend = (*Local)(nil)

// LocalType is the local backend: state "local" { path = "rotplan.state" },
// the default.
func LocalType() Type {
	return Type{
		Name: "local",
		Spec: hcldec.ObjectSpec{
			"path": &hcldec.AttrSpec{Name: "path", Type: cty.String},
		},
		Open: func(cfg cty.Value, dir string) (Backend, error) {
			p, err := attrString(cfg, "path", DefaultLocalPath)
			if err != nil {
				return nil, err
			}
			if !filepath.IsAbs(p) {
				p = filepath.Join(dir, p)
			}
			return NewLocal(p), nil
		},
	}
}

// DefaultLocalPath is the local state file, beside the inventory.
const DefaultLocalPath = "rotplan.state"

// NewLocal returns the local backend for the state file at path.
func NewLocal(path string) *Local { return &Local{path: path} }

// Path is the state file's path.
func (l *Local) Path() string { return l.path }

func (l *Local) String() string { return l.path }

// Close does nothing: the local backend holds nothing open.
func (l *Local) Close() error { return nil }

func (l *Local) lockPath() string { return l.path + ".lock" }

// Read returns the state, empty when there is no file yet.
func (l *Local) Read(context.Context) (*State, error) { return l.read() }

func (l *Local) read() (*State, error) {
	b, err := os.ReadFile(l.path)
	if errors.Is(err, os.ErrNotExist) {
		return New(), nil
	}
	if err != nil {
		return nil, fmt.Errorf("read state: %w", err)
	}
	return decode(l.path, b)
}

// decode reads a state file of this format or of format 1.
func decode(path string, b []byte) (*State, error) {
	var head struct {
		FormatVersion int `json:"format_version"`
	}
	if err := json.Unmarshal(b, &head); err != nil {
		return nil, fmt.Errorf("read state %s: not a rotplan state file (%v)", path, err)
	}
	st := New()
	switch head.FormatVersion {
	case FormatVersion:
		if err := json.Unmarshal(b, st); err != nil {
			return nil, fmt.Errorf("read state %s: not a rotplan state file (%v)", path, err)
		}
	case 1:
		var v1 struct {
			Serial    int64                  `json:"serial"`
			Rotations map[string]*v1Rotation `json:"rotations"`
		}
		if err := json.Unmarshal(b, &v1); err != nil {
			return nil, fmt.Errorf("read state %s: not a rotplan state file (%v)", path, err)
		}
		st.Serial = v1.Serial
		for name, r := range v1.Rotations {
			if up, ok := r.upgrade(); ok {
				st.Rotations[name] = up
			}
		}
	default:
		return nil, fmt.Errorf("read state %s: format_version %d, this rotplan reads %d", path, head.FormatVersion, FormatVersion)
	}
	if st.Rotations == nil {
		st.Rotations = map[string]*Rotation{}
	}
	return st, nil
}

// localLock is a held lock on the state file.
type localLock struct {
	l    *Local
	f    *os.File
	info LockInfo
}

// Lock takes the lock, waiting up to timeout for another holder to finish.
// If it is still held then, the error is a *LockedError naming the holder.
func (l *Local) Lock(ctx context.Context, info LockInfo, timeout time.Duration) (Lock, error) {
	f, err := os.OpenFile(l.lockPath(), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock state: %w", err)
	}
	deadline := time.Now().Add(timeout)
	// A plan probing for a running apply holds a shared lock for an
	// instant and records nothing: a lock with no holder recorded is tried
	// again for a moment before it counts as held.
	const anonymousWait = 500 * time.Millisecond
	for start := time.Now(); ; {
		err := filelock.TryLock(f, filelock.Exclusive)
		if err == nil {
			break
		}
		if !errors.Is(err, filelock.ErrLocked) {
			f.Close()
			return nil, fmt.Errorf("lock state: %w", err)
		}
		holder := readHolder(f)
		if !time.Now().Before(deadline) && (holder.ID != "unknown" || time.Since(start) > anonymousWait) {
			f.Close()
			return nil, &LockedError{Where: l.path, Holder: holder}
		}
		wait := 100 * time.Millisecond
		if holder.ID == "unknown" {
			wait = 5 * time.Millisecond
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, ctx.Err()
		case <-time.After(wait):
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
	// A crash between writing the state's temporary file and renaming it
	// leaves the file behind; under the lock, nobody else is writing one.
	if _, err := atomicfile.RemoveStale(l.path); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock state: %w", err)
	}
	return &localLock{l: l, f: f, info: info}, nil
}

// Holder reports the apply that holds the lock now, or nil when none does.
// It changes nothing: plan calls it to say that an apply is running.
func (l *Local) Holder(context.Context) (*LockInfo, error) {
	f, err := os.Open(l.lockPath())
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read state lock: %w", err)
	}
	defer f.Close()
	err = filelock.TryLock(f, filelock.Shared)
	switch {
	case err == nil:
		_ = filelock.Unlock(f)
		return nil, nil
	case errors.Is(err, filelock.ErrLocked):
		h := readHolder(f)
		return &h, nil
	}
	return nil, fmt.Errorf("read state lock: %w", err)
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

func (k *localLock) Info() LockInfo { return k.info }

// Lost is never closed: the kernel holds a file lock for as long as the
// process lives.
func (k *localLock) Lost() <-chan struct{} { return nil }

// PutRotation writes the state with r's entry added or replaced.
func (k *localLock) PutRotation(_ context.Context, serial int64, r *Rotation) (int64, error) {
	return k.update(serial, func(st *State) bool {
		st.Rotations[r.Secret] = r
		return true
	})
}

// DeleteRotation writes the state without secret's entry.
func (k *localLock) DeleteRotation(_ context.Context, serial int64, secret string) (int64, error) {
	return k.update(serial, func(st *State) bool {
		if _, ok := st.Rotations[secret]; !ok {
			return false
		}
		delete(st.Rotations, secret)
		return true
	})
}

// update changes the state file under the lock: read, check the serial,
// change, and write it whole with the next serial, to a temporary file
// renamed over the old one, mode 0600.
func (k *localLock) update(serial int64, change func(*State) bool) (int64, error) {
	if k.f == nil {
		return 0, ErrLockLost
	}
	st, err := k.l.read()
	if err != nil {
		return 0, err
	}
	if st.Serial != serial {
		return 0, fmt.Errorf("%w (serial %d, the journal's is %d)", ErrStaleSerial, serial, st.Serial)
	}
	if !change(st) {
		return st.Serial, nil
	}
	st.FormatVersion = FormatVersion
	st.Serial++
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return 0, err
	}
	if err := atomicfile.Write(k.l.path, append(b, '\n')); err != nil {
		return 0, fmt.Errorf("write state: %w", err)
	}
	return st.Serial, nil
}

// Unlock releases the lock. The lock file stays (emptied): removing it
// would let a waiter lock an unlinked file while a newcomer locks a new one.
func (k *localLock) Unlock(context.Context) error {
	if k.f == nil {
		return nil
	}
	_ = k.f.Truncate(0)
	err := k.f.Close() // closing releases the file lock
	k.f = nil
	return err
}

// ForceUnlock clears a lock whose holder is gone. The kernel releases a
// dead holder's flock by itself, so this only clears a record left behind;
// a lock whose holder is still running is refused.
func (l *Local) ForceUnlock(_ context.Context, id string) error {
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
	if err := filelock.TryLock(f, filelock.Exclusive); err != nil {
		return fmt.Errorf("lock %s is held by a running process (pid %d on %s); stop it rather than force the lock", id, holder.PID, holder.Host)
	}
	defer filelock.Unlock(f)
	return f.Truncate(0)
}
