//go:build unix

package atomicfile

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// writerEnv, when set, makes the test binary a writer that rewrites the
// file it names and prints Write's error: TestWriteCannotKeepOwner runs it
// as another user.
const writerEnv = "ROTPLAN_ATOMICFILE_TEST_WRITE"

func TestMain(m *testing.M) {
	if path := os.Getenv(writerEnv); path != "" {
		fmt.Println(Write(path, []byte("new")))
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// owner returns the uid, gid and permission bits of path.
func owner(t *testing.T, path string) (uid, gid int, mode fs.FileMode) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	return int(st.Uid), int(st.Gid), fi.Mode().Perm()
}

func readString(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestWriteNewFileIs0600(t *testing.T) {
	for _, umask := range []int{0o000, 0o022, 0o277} {
		t.Run(fmt.Sprintf("umask_%04o", umask), func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "new.env")
			old := syscall.Umask(umask)
			err := Write(path, []byte("new"))
			syscall.Umask(old)
			if err != nil {
				t.Fatal(err)
			}
			if _, _, mode := owner(t, path); mode != 0o600 {
				t.Errorf("mode %04o, want 0600", mode)
			}
			if got := readString(t, path); got != "new" {
				t.Errorf("holds %q, want %q", got, "new")
			}
			assertEntries(t, dir, "new.env")
		})
	}
}

func TestWriteKeepsMode(t *testing.T) {
	for _, mode := range []fs.FileMode{0o600, 0o640, 0o644, 0o660, 0o400} {
		t.Run(fmt.Sprintf("%04o", mode), func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "app.env")
			if err := os.WriteFile(path, []byte("old"), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(path, mode); err != nil {
				t.Fatal(err)
			}
			if err := Write(path, []byte("new")); err != nil {
				t.Fatal(err)
			}
			if _, _, got := owner(t, path); got != mode {
				t.Errorf("mode %04o, want %04o as before", got, mode)
			}
			if got := readString(t, path); got != "new" {
				t.Errorf("holds %q, want %q", got, "new")
			}
			assertEntries(t, dir, "app.env")
		})
	}
}

// The file of an application's user stays that user's: issue 7, defect 6.
func TestWriteKeepsOwner(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("not root: only root can give a file to uid 12345 to set this case up")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "app.env")
	if err := os.WriteFile(path, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(path, 12345, 12345); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o640); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link.env")
	if err := os.Symlink("app.env", link); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{path, link} {
		if err := Write(p, []byte("new "+filepath.Base(p))); err != nil {
			t.Fatal(err)
		}
		if uid, gid, mode := owner(t, path); uid != 12345 || gid != 12345 || mode != 0o640 {
			t.Errorf("after writing %s: %d:%d mode %04o, want 12345:12345 mode 0640 as before", filepath.Base(p), uid, gid, mode)
		}
	}
	if got := readString(t, path); got != "new link.env" {
		t.Errorf("holds %q, want %q", got, "new link.env")
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&fs.ModeSymlink == 0 {
		t.Error("the link was replaced by a file")
	}
	assertEntries(t, dir, "app.env", "link.env")
}

// An owner may give a file any group of theirs: Write keeps it without
// being root.
func TestWriteKeepsGroup(t *testing.T) {
	gid := os.Getegid()
	if os.Geteuid() == 0 {
		gid = 12345
	} else if groups, err := os.Getgroups(); err == nil {
		for _, g := range groups {
			if g != gid {
				gid = g // a group a new file would not get
				break
			}
		}
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "app.env")
	if err := os.WriteFile(path, []byte("old"), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(path, -1, gid); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o640); err != nil {
		t.Fatal(err)
	}
	if err := Write(path, []byte("new")); err != nil {
		t.Fatal(err)
	}
	if u, g, mode := owner(t, path); u != os.Geteuid() || g != gid || mode != 0o640 {
		t.Errorf("%d:%d mode %04o, want %d:%d mode 0640 as before", u, g, mode, os.Geteuid(), gid)
	}
	assertEntries(t, dir, "app.env")
}

// A user who may not give a file away gets an error saying what to do, and
// the file stays as it was.
func TestWriteCannotKeepOwner(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("not root: only root can run the writer as uid 12345 over a file of another user")
	}
	const uid, gid = 12345, 12345

	// The test binary, where uid 12345 can run it.
	binDir, err := os.MkdirTemp("", "atomicfile-writer-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(binDir) })
	if err := os.Chmod(binDir, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(binDir, "writer")
	copyFile(t, bin)

	// Root's file in a directory uid 12345 may write.
	dir := filepath.Join(binDir, "work")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(dir, uid, gid); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "app.env")
	if err := os.WriteFile(path, []byte("old"), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(path, 0, 0); err != nil {
		t.Fatal(err)
	}

	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), writerEnv+"="+path)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uid, Gid: gid}}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the writer did not run: %v\n%s", err, out)
	}
	msg := strings.TrimSpace(string(out))
	for _, want := range []string{
		"cannot keep the owner of " + path,
		"belongs to uid:gid 0:0",
		"rotplan runs as uid " + strconv.Itoa(uid),
		"operation not permitted",
		"the file is unchanged. Run rotplan as root",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("the writer said %q, want it to say %q", msg, want)
		}
	}
	if got := readString(t, path); got != "old" {
		t.Errorf("the file holds %q, want it unchanged", got)
	}
	if u, g, mode := owner(t, path); u != 0 || g != 0 || mode != 0o640 {
		t.Errorf("the file is %d:%d mode %04o, want it unchanged: 0:0 mode 0640", u, g, mode)
	}
	assertEntries(t, dir, "app.env")
}

// copyFile copies the running test binary to path, mode 0755.
func copyFile(t *testing.T, path string) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.Open(exe)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
}

// A temporary file whose writer is gone is stale however young; one whose
// writer runs is not.
func TestRemoveStaleDeadWriter(t *testing.T) {
	exited := exec.Command("/bin/sh", "-c", "exit 0")
	if err := exited.Run(); err != nil {
		t.Fatal(err)
	}
	dead := strconv.Itoa(exited.Process.Pid) // reaped: no process has it
	self := strconv.Itoa(os.Getpid())

	dir := t.TempDir()
	path := filepath.Join(dir, "app.env")
	stale := filepath.Join(dir, ".app.env."+dead+".0123456789ab.rotplan-tmp")
	live := filepath.Join(dir, ".app.env."+self+".0123456789ab.rotplan-tmp")
	for _, p := range []string{path, stale, live} {
		if err := os.WriteFile(p, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	removed, err := RemoveStale(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(removed) != 1 || removed[0] != stale {
		t.Errorf("removed %q, want only %s", removed, stale)
	}
	assertEntries(t, dir, filepath.Base(live), "app.env")
}
