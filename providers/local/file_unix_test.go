//go:build unix

package local

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
)

// A temporary file that a killed apply left beside the store holds every
// value in clear text: the next Update of the store removes it, whichever
// call makes that Update.
func TestUpdateRemovesStaleTemp(t *testing.T) {
	calls := map[string]storeOp{
		"put":     wPut("one"),
		"stage":   wStage("two", "r1"),
		"discard": wDiscard("r1"),
		"retire":  wRetire,
	}
	for name, op := range calls {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			writeFile(t, filepath.Join(dir, DefaultPath), `{"format_version": 1, "secrets": {}}`, 0o600)
			stale := filepath.Join(dir, "."+DefaultPath+"."+deadPID(t)+".0123456789ab.rotplan-tmp")
			// This process may be writing one right now.
			live := filepath.Join(dir, "."+DefaultPath+"."+strconv.Itoa(os.Getpid())+".0123456789ab.rotplan-tmp")
			for _, p := range []string{stale, live} {
				writeFile(t, p, `{"format_version": 1, "secrets": {"db": {}}}`, 0o600)
			}
			if err := op(context.Background(), &Store{dir: dir}); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(stale); err == nil {
				t.Errorf("%s is still there after the update", filepath.Base(stale))
			}
			if _, err := os.Stat(live); err != nil {
				t.Errorf("%s, a live writer's, was removed: %v", filepath.Base(live), err)
			}
		})
	}
}

// deadPID returns the pid of a process that has exited and been reaped.
func deadPID(t *testing.T) string {
	t.Helper()
	cmd := exec.Command("/bin/sh", "-c", "exit 0")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	return strconv.Itoa(cmd.Process.Pid)
}
