package atomicfile

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestWriteFollowsSymlink(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "store")
	if err := os.WriteFile(path, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink(path, link); err != nil {
		t.Fatal(err)
	}
	if err := Write(link, []byte("new")); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); string(b) != "new" {
		t.Errorf("the link's target holds %q, want %q", b, "new")
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Error("the link was replaced by a file")
	}
	assertEntries(t, dir, "link", "store")
}

func TestWriteFailureLeavesNoTemp(t *testing.T) {
	dir := t.TempDir()
	// A directory cannot be replaced by a file: the rename fails.
	path := filepath.Join(dir, "taken")
	if err := os.Mkdir(path, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := Write(path, []byte("new")); err == nil {
		t.Fatal("replaced a directory")
	}
	if fi, err := os.Stat(path); err != nil || !fi.IsDir() {
		t.Errorf("the directory is gone: %v", err)
	}
	assertEntries(t, dir, "taken")
}

func TestTempName(t *testing.T) {
	dir := t.TempDir()
	f, err := createTemp(dir, "app.env")
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	name := filepath.Base(f.Name())
	if ok, _ := filepath.Match("*.rotplan-tmp", name); !ok {
		t.Errorf("temporary file %s does not match *.rotplan-tmp", name)
	}
	if pid, ok := writerPID(name, "app.env"); !ok || pid != os.Getpid() {
		t.Errorf("temporary file %s: writer pid %d (%v), want %d", name, pid, ok, os.Getpid())
	}
}

// An old temporary file is stale even when a process has its writer's pid:
// pids are reused. This is the only rule where pids cannot be looked up.
func TestRemoveStaleByAge(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.env")
	self := strconv.Itoa(os.Getpid())
	const random = ".0123456789ab"
	old := time.Now().Add(-time.Hour)
	files := map[string]struct {
		mtime   time.Time // zero for now
		removed bool
	}{
		// This process is writing it.
		".app.env." + self + random + ".rotplan-tmp": {},
		// Still within the time a write may take.
		".app.env." + self + ".ba9876543210.rotplan-tmp": {mtime: time.Now().Add(-14 * time.Minute)},
		// Its writer's pid went to another process long ago.
		".app.env." + self + ".aaaaaaaaaaaa.rotplan-tmp": {mtime: old, removed: true},
		// Not temporary files of app.env, however old.
		".app." + self + random + ".rotplan-tmp":           {mtime: old},
		".app.env.bak." + self + random + ".rotplan-tmp":   {mtime: old},
		".other.env." + self + random + ".rotplan-tmp":     {mtime: old},
		".app.env." + self + random + ".rotplan-tmp.bak":   {mtime: old},
		"app.env.rotplan-tmp":                              {mtime: old},
		".app.env.rotplan-tmp.notes":                       {mtime: old},
		".app.env." + self + ".rotplan-tmp":                {mtime: old},
		".app.env.x" + self + random + ".rotplan-tmp":      {mtime: old},
		".app.env." + self + ".0123456789AB.rotplan-tmp":   {mtime: old},
		".app.env." + self + random + "0" + ".rotplan-tmp": {mtime: old},
		".app.env.0" + random + ".rotplan-tmp":             {mtime: old},
		"app.env":                                          {mtime: old},
	}
	var want []string
	for name, f := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
		if !f.mtime.IsZero() {
			if err := os.Chtimes(p, f.mtime, f.mtime); err != nil {
				t.Fatal(err)
			}
		}
		if f.removed {
			want = append(want, p)
		}
	}
	slices.Sort(want)
	// Write makes regular files only.
	notFile := filepath.Join(dir, ".app.env."+self+".cccccccccccc.rotplan-tmp")
	if err := os.Mkdir(notFile, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(notFile, old, old); err != nil {
		t.Fatal(err)
	}

	removed, err := RemoveStale(path)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(removed, want) {
		t.Errorf("removed %q, want %q", removed, want)
	}
	for name, f := range files {
		_, err := os.Stat(filepath.Join(dir, name))
		switch {
		case f.removed && err == nil:
			t.Errorf("%s is still there", name)
		case !f.removed && err != nil:
			t.Errorf("%s was removed: %v", name, err)
		}
	}
	if _, err := os.Stat(notFile); err != nil {
		t.Errorf("the directory %s was removed: %v", notFile, err)
	}
}

func TestRemoveStaleMissingDirectory(t *testing.T) {
	removed, err := RemoveStale(filepath.Join(t.TempDir(), "nope", "app.env"))
	if err != nil || len(removed) != 0 {
		t.Errorf("got %q, %v; want nothing removed and no error", removed, err)
	}
}

// assertEntries fails unless dir holds exactly names: no temporary file
// was left behind.
func assertEntries(t *testing.T, dir string, names ...string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	if !slices.Equal(got, names) {
		t.Errorf("the directory holds %s, want %s", strings.Join(got, " "), strings.Join(names, " "))
	}
}
