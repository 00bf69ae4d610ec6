package filelock

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// Two opens of one file conflict as two processes would: flock and
// LockFileEx both lock per open file.
func TestLockModes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lock")
	open := func() *os.File {
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		return f
	}
	a, b, c := open(), open(), open()

	if err := TryLock(a, Exclusive); err != nil {
		t.Fatalf("first exclusive lock: %v", err)
	}
	for _, m := range []Mode{Exclusive, Shared} {
		if err := TryLock(b, m); !errors.Is(err, ErrLocked) {
			t.Errorf("lock mode %d while another holds it exclusively: err = %v, want ErrLocked", m, err)
		}
	}
	if err := Unlock(a); err != nil {
		t.Fatal(err)
	}

	if err := TryLock(b, Shared); err != nil {
		t.Fatalf("shared lock: %v", err)
	}
	if err := TryLock(c, Shared); err != nil {
		t.Errorf("a second shared lock: %v", err)
	}
	if err := TryLock(a, Exclusive); !errors.Is(err, ErrLocked) {
		t.Errorf("exclusive lock while shared ones are held: err = %v, want ErrLocked", err)
	}
	b.Close() // closing releases
	Unlock(c)
	if err := Lock(a, Exclusive); err != nil {
		t.Errorf("exclusive lock after the shared ones went: %v", err)
	}
}
