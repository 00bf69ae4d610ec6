//go:build unix

package regular_test

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/rotplan/rotplan/internal/regular"
)

// A named pipe with no writer would block a plain open forever; Open
// refuses it at once.
func TestReadFileRefusesNamedPipe(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "x.hcl")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("no named pipes here: %v", err)
	}
	_, err := regular.ReadFile(fifo, 1<<20)
	if !errors.Is(err, regular.ErrNotRegular) {
		t.Fatalf("err = %v, want ErrNotRegular", err)
	}
}

func TestReadFileRefusesDevice(t *testing.T) {
	_, err := regular.ReadFile("/dev/zero", 1<<20)
	if !errors.Is(err, regular.ErrNotRegular) {
		t.Fatalf("err = %v, want ErrNotRegular", err)
	}
}

// A symbolic link is followed: to a regular file it reads, to a device it
// is refused.
func TestReadFileFollowsSymlinks(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "target")
	if err := os.WriteFile(target, []byte("ok"), 0o600); err != nil {
		t.Fatal(err)
	}
	for link, to := range map[string]string{"good": target, "bad": "/dev/zero"} {
		if err := os.Symlink(to, filepath.Join(dir, link)); err != nil {
			t.Fatal(err)
		}
	}
	if b, err := regular.ReadFile(filepath.Join(dir, "good"), 10); err != nil || string(b) != "ok" {
		t.Fatalf("ReadFile(good) = %q, %v", b, err)
	}
	if _, err := regular.ReadFile(filepath.Join(dir, "bad"), 10); !errors.Is(err, regular.ErrNotRegular) {
		t.Fatalf("ReadFile(bad) err = %v, want ErrNotRegular", err)
	}
}

// Files under /proc report a size of 0 and hold more: the limit still holds.
func TestReadFileLimitsWhatStatDoesNotReport(t *testing.T) {
	const path = "/proc/self/maps"
	if _, err := os.Stat(path); err != nil {
		t.Skip("no /proc here")
	}
	var tooLarge *regular.TooLargeError
	if _, err := regular.ReadFile(path, 16); !errors.As(err, &tooLarge) {
		t.Fatalf("err = %v, want a TooLargeError", err)
	}
}
