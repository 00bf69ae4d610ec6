package local

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"time"
	"unicode/utf8"

	"github.com/rotplan/rotplan/internal/atomicfile"
	"github.com/rotplan/rotplan/internal/sensitive"
	"github.com/rotplan/rotplan/providers"
)

// Expected outcomes of the write methods, for errors.Is.
var (
	// ErrPendingConflict: the secret already holds a pending value that the
	// rotation being staged did not put there, or put there with another
	// value.
	ErrPendingConflict = errors.New("a different pending value is already staged")
	// ErrNoPending: there is no pending value to promote.
	ErrNoPending = errors.New("no pending value")
)

// File is a store file loaded for a read-modify-write. Use Update to change a
// file that another process may change too; Open and Save alone take no
// lock.
type File struct {
	path    string
	doc     document[version]
	changed bool
}

// Open loads the store file at path; a missing file is an empty store. Like
// Inspect, it refuses a file its group or other users can access.
func Open(path string) (*File, error) {
	doc, err := readDocument[version](path)
	if err != nil {
		return nil, fmt.Errorf("local store %s: %w", path, err)
	}
	if doc.Secrets == nil {
		doc.Secrets = map[string]*entry[version]{}
	}
	return &File{path: path, doc: *doc}, nil
}

// Path is the file's path.
func (f *File) Path() string { return f.path }

// Update runs fn on the store file at path while holding an exclusive lock
// on path+".lock", and saves the file if fn changed it and returned nil. Two
// processes updating one file take turns, so neither loses the other's
// write. Under the lock, before reading the file, it removes the temporary
// files a crashed writer of it left (atomicfile.RemoveStale), since they
// hold values in clear text; when it cannot, it fails before fn runs.
func Update(path string, fn func(*File) error) error {
	if real, err := filepath.EvalSymlinks(path); err == nil {
		path = real
	}
	unlock, err := lockFile(path + ".lock")
	if err != nil {
		return fmt.Errorf("local store %s: lock: %w", path, err)
	}
	defer unlock()
	if _, err := atomicfile.RemoveStale(path); err != nil {
		return fmt.Errorf("local store %s: %w", path, err)
	}
	f, err := Open(path)
	if err != nil {
		return err
	}
	if err := fn(f); err != nil {
		return err
	}
	if !f.changed {
		return nil
	}
	return f.Save()
}

// Put sets the current value of secret name, made at createdAt, leaving its
// other slots alone. It is for seeding a store (tests, examples, an import);
// a rotation uses Stage and Promote.
func (f *File) Put(name string, value sensitive.Value, createdAt time.Time) error {
	if err := f.checkValue(name, value); err != nil {
		return err
	}
	e := f.entry(name)
	e.Current = &version{ID: newID(), Value: value.Reveal(), CreatedAt: formatTime(createdAt)}
	f.changed = true
	return nil
}

// Stage puts value in the pending slot of secret name for rotation
// rotationID, leaving current intact. Staging the same value for the same
// rotation again, before or after its promote, changes nothing; a pending
// value of another rotation, or another value for this one, is refused with
// ErrPendingConflict.
func (f *File) Stage(name string, value sensitive.Value, rotationID string, now time.Time) error {
	if rotationID == "" {
		return f.errorf(name, "stage: a rotation id is required")
	}
	if err := f.checkValue(name, value); err != nil {
		return err
	}
	e := f.entry(name)
	if p := e.Pending; p != nil {
		switch {
		case p.Rotation != rotationID && p.Rotation == "":
			return f.errorf(name, "stage: the pending slot holds a value that rotplan did not stage; remove it or promote it by hand first: %w", ErrPendingConflict)
		case p.Rotation != rotationID:
			return f.errorf(name, "stage: rotation %s already staged a pending value; resume it with apply or discard it first: %w", p.Rotation, ErrPendingConflict)
		case !sensitive.New(p.Value).Equal(value):
			return f.errorf(name, "stage: rotation %s staged a different value before; resume with the pending value: %w", rotationID, ErrPendingConflict)
		}
		return nil
	}
	if c := e.Current; c != nil && c.Rotation == rotationID {
		if !sensitive.New(c.Value).Equal(value) {
			return f.errorf(name, "stage: rotation %s was already promoted with a different value: %w", rotationID, ErrPendingConflict)
		}
		return nil // already staged and promoted
	}
	e.Pending = &version{ID: newID(), Value: value.Reveal(), CreatedAt: formatTime(now), Rotation: rotationID}
	f.changed = true
	return nil
}

// Promote makes the pending value of secret name current and the old current
// value previous, to retire after retireAfter, and records now as the
// rotated-at time. A previous value still held is replaced. Without a
// pending value it fails with ErrNoPending, and a pending value marked
// failed is refused with providers.ErrPendingFailed.
func (f *File) Promote(name string, now, retireAfter time.Time) error {
	e := f.doc.Secrets[name]
	if e == nil || e.Pending == nil {
		return f.errorf(name, "promote: %w", ErrNoPending)
	}
	if e.Pending.Failed {
		return f.errorf(name, "promote rotation %s: %w; discard it", e.Pending.Rotation, providers.ErrPendingFailed)
	}
	if old := e.Current; old != nil {
		old.RetireAfter = formatTime(retireAfter)
		e.Previous = old
	}
	e.Current, e.Pending = e.Pending, nil
	e.RotatedAt = formatTime(now)
	f.changed = true
	return nil
}

// MarkFailed marks the pending value of secret name, staged by rotation
// rotationID, as failed: Inspect reports it, Promote refuses it, staging
// the same rotation again keeps the mark, and DiscardPending drops the
// value with its mark. Marking it again, or marking when nothing is
// pending, changes nothing; a pending value of another rotation, or one
// rotplan did not stage, is left alone and refused with ErrPendingConflict.
func (f *File) MarkFailed(name, rotationID string) error {
	if rotationID == "" {
		return f.errorf(name, "mark failed: a rotation id is required")
	}
	e := f.doc.Secrets[name]
	switch {
	case e == nil || e.Pending == nil:
		return nil // discarded already
	case e.Pending.Rotation == "":
		return f.errorf(name, "mark rotation %s failed: the pending slot holds a value that rotplan did not stage; it is left alone: %w", rotationID, ErrPendingConflict)
	case e.Pending.Rotation != rotationID:
		return f.errorf(name, "mark rotation %s failed: the pending value belongs to rotation %s; it is left alone: %w", rotationID, e.Pending.Rotation, ErrPendingConflict)
	case e.Pending.Failed:
		return nil // marked before
	}
	e.Pending.Failed = true
	f.changed = true
	return nil
}

// DiscardPending removes the pending value of secret name, if any, with its
// failed mark.
func (f *File) DiscardPending(name string) error {
	e := f.doc.Secrets[name]
	if e == nil || e.Pending == nil {
		return nil
	}
	e.Pending = nil
	f.dropIfEmpty(name)
	f.changed = true
	return nil
}

// RetirePrevious removes the previous value of secret name, if any.
func (f *File) RetirePrevious(name string) error {
	e := f.doc.Secrets[name]
	if e == nil || e.Previous == nil {
		return nil
	}
	e.Previous = nil
	f.dropIfEmpty(name)
	f.changed = true
	return nil
}

// RecordTargets sets the records of the named targets of secret name,
// leaving the others; nothing changes for a secret with no entry.
func (f *File) RecordTargets(name string, records map[string]string) error {
	e := f.doc.Secrets[name]
	if e == nil {
		return nil
	}
	for target, rec := range records {
		if e.Targets[target] == rec {
			continue
		}
		if e.Targets == nil {
			e.Targets = map[string]string{}
		}
		e.Targets[target] = rec
		f.changed = true
	}
	return nil
}

// Save writes the file atomically: a temporary file in the same directory,
// synced, renamed over the target, then the directory synced. A reader sees
// the old file or the new one, never part of either. The file keeps its
// owner and mode (Open refused it unless only its owner can access it); a
// new file gets mode 0600.
func (f *File) Save() error {
	f.doc.FormatVersion = formatVersion
	b, err := json.MarshalIndent(&f.doc, "", "  ")
	if err != nil {
		return fmt.Errorf("local store %s: encode: %T", f.path, err)
	}
	b = append(b, '\n')
	defer clear(b)
	if err := atomicfile.Write(f.path, b); err != nil {
		return fmt.Errorf("local store %s: save: %w", f.path, err)
	}
	f.changed = false
	return nil
}

func (f *File) entry(name string) *entry[version] {
	e := f.doc.Secrets[name]
	if e == nil {
		e = &entry[version]{}
		f.doc.Secrets[name] = e
	}
	return e
}

func (f *File) dropIfEmpty(name string) {
	if e := f.doc.Secrets[name]; e != nil && e.Current == nil && e.Pending == nil && e.Previous == nil {
		delete(f.doc.Secrets, name)
	}
}

func (f *File) checkValue(name string, v sensitive.Value) error {
	if name == "" {
		return fmt.Errorf("local store %s: a secret name is required", f.path)
	}
	if !utf8.Valid(v.Bytes()) {
		return f.errorf(name, "the value is not valid UTF-8 text, which this store cannot hold; generate a text encoding (hex, base64)")
	}
	return nil
}

func (f *File) errorf(name, format string, args ...any) error {
	return fmt.Errorf("local store %s: secret %q: %w", f.path, name, fmt.Errorf(format, args...))
}

// newID returns a short random version id.
func newID() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b) // never fails: crypto/rand crashes the program instead
	return hex.EncodeToString(b)
}
