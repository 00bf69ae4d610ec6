//go:build unix

package envfile

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"

	"github.com/rotplan/rotplan/providers"
)

// An env file that belongs to the application reading it stays its own:
// rotplan running as root used to leave it root's, mode 0600, and the
// application could no longer start (issue 7, defect 6).
func TestDeliverKeepsOwnerAndMode(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("not root: only root can give a file to uid 12345 to set this case up")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "app.env")
	if err := os.WriteFile(path, []byte("HOST=db\nDB=old\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(path, 12345, 12345); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o640); err != nil {
		t.Fatal(err)
	}
	tgt, err := New(providers.Settings{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := deliver(tgt, context.Background(), []providers.WriteItem{writeItem("db", target("app.env", "DB"), "new", "old")})
	if err != nil {
		t.Fatal(err)
	}
	checkResults(t, resp, []result{{}})
	if got, err := os.ReadFile(path); err != nil || string(got) != "HOST=db\nDB=new\n" {
		t.Fatalf("the file was not rewritten (%v)", err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	if st.Uid != 12345 || st.Gid != 12345 || fi.Mode().Perm() != 0o640 {
		t.Errorf("the file is %d:%d mode %04o, want 12345:12345 mode 0640 as before", st.Uid, st.Gid, fi.Mode().Perm())
	}
	assertNoTemp(t, dir)
}

// A temporary file that a killed apply left beside an env file holds values
// in clear text: the next write of that file removes it.
func TestDeliverRemovesStaleTemp(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.env")
	if err := os.WriteFile(path, []byte("DB=old\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	stale := filepath.Join(dir, ".app.env."+deadPID(t)+".0123456789ab.rotplan-tmp")
	// This process may be writing one right now.
	live := filepath.Join(dir, ".app.env."+strconv.Itoa(os.Getpid())+".0123456789ab.rotplan-tmp")
	for _, p := range []string{stale, live} {
		if err := os.WriteFile(p, []byte("DB=left-behind\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	tgt, err := New(providers.Settings{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := deliver(tgt, context.Background(), []providers.WriteItem{writeItem("db", target("app.env", "DB"), "new", "old")})
	if err != nil {
		t.Fatal(err)
	}
	checkResults(t, resp, []result{{}})
	if _, err := os.Stat(stale); err == nil {
		t.Errorf("%s is still there after a Deliver", filepath.Base(stale))
	}
	if _, err := os.Stat(live); err != nil {
		t.Errorf("%s, a live writer's, was removed: %v", filepath.Base(live), err)
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
