package envfile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rotplan/rotplan/internal/atomicfile"
	"github.com/rotplan/rotplan/internal/sensitive"
)

func values(kv ...string) map[string]sensitive.Value {
	m := map[string]sensitive.Value{}
	for i := 0; i < len(kv); i += 2 {
		m[kv[i]] = sensitive.New(kv[i+1])
	}
	return m
}

func TestWrite(t *testing.T) {
	const app = `# Database
export DB_PASSWORD='old' # rotated by rotplan

DB_HOST=db.internal
  # keep me
DB_PASSWORD_OLD=older
REDIS_URL="redis://cache:6379"
`
	tests := map[string]struct {
		before *string // nil: no file
		sets   map[string]sensitive.Value
		unsets []string
		want   string
	}{
		"replace_keeps_everything_else": {
			before: ptr(app),
			sets:   values("DB_PASSWORD", "new-value"),
			want:   strings.Replace(app, "'old'", "new-value", 1),
		},
		"dual_key": {
			before: ptr(app),
			sets:   values("DB_PASSWORD", "fresh", "DB_PASSWORD_OLD", "old"),
			want:   strings.NewReplacer("'old'", "fresh", "=older", "=old").Replace(app),
		},
		"unset_removes_the_line": {
			before: ptr(app),
			unsets: []string{"DB_PASSWORD_OLD"},
			want:   strings.Replace(app, "DB_PASSWORD_OLD=older\n", "", 1),
		},
		"unset_missing_key": {
			before: ptr(app),
			unsets: []string{"NOPE"},
			want:   app,
		},
		"append_sorted_at_end": {
			before: ptr(app),
			sets:   values("Z_KEY", "z", "A_KEY", "a b"),
			want:   app + "A_KEY='a b'\nZ_KEY=z\n",
		},
		"append_after_last_line_without_newline": {
			before: ptr("A=1"),
			sets:   values("B", "2"),
			want:   "A=1\nB=2\n",
		},
		"every_assignment_of_a_key": {
			before: ptr("A=1\nB=x\nA=2\n"),
			sets:   values("A", "3"),
			want:   "A=3\nB=x\nA=3\n",
		},
		"multiline_value_replaced_whole": {
			before: ptr("A=\"line1\nline2\"\nB=2\n"),
			sets:   values("A", "one"),
			want:   "A=one\nB=2\n",
		},
		"multiline_value_unset": {
			before: ptr("A='line1\nline2'\nB=2\n"),
			unsets: []string{"A"},
			want:   "B=2\n",
		},
		"crlf_kept": {
			before: ptr("# c\r\nA=1\r\n"),
			sets:   values("A", "2", "B", "3"),
			want:   "# c\r\nA=2\r\nB=3\r\n",
		},
		"spacing_kept": {
			before: ptr("A = 1   # why\n"),
			sets:   values("A", "two words"),
			want:   "A = 'two words'   # why\n",
		},
		"new_file": {
			sets: values("DB_PASSWORD", "p@ss/w0rd+="),
			want: "DB_PASSWORD=p@ss/w0rd+=\n",
		},
		"quoting": {
			before: ptr(""),
			sets:   values("PLAIN", "aZ09_-.,/:@%+=", "SPACE", "a b", "DOLLAR", "a$b", "HASH", "a#b", "APOS", "it's $x", "BACKSLASH", `a\b`, "NEWLINE", "a\nb", "QUOTE", `say "hi"`, "EMPTY", ""),
			want: `APOS="it's \$x"` + "\n" +
				`BACKSLASH="a\\b"` + "\n" +
				`DOLLAR='a$b'` + "\n" +
				"EMPTY=\n" +
				`HASH='a#b'` + "\n" +
				`NEWLINE="a\nb"` + "\n" +
				"PLAIN=aZ09_-.,/:@%+=\n" +
				`QUOTE='say "hi"'` + "\n" +
				"SPACE='a b'\n",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, ".env")
			if tc.before != nil {
				if err := os.WriteFile(path, []byte(*tc.before), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			if err := Write(path, tc.sets, tc.unsets); err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Fatalf("got:\n%s\nwant:\n%s", got, tc.want)
			}
			assertMode(t, path, 0o600) // new, or 0600 before
			assertNoTemp(t, dir)

			// What was written reads back as what was set.
			held, err := readValues(path)
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range tc.sets {
				if !held[k].Equal(v) {
					t.Errorf("%s reads back as a different value", k)
				}
			}
			for _, k := range tc.unsets {
				if _, ok := held[k]; ok {
					t.Errorf("%s is still set", k)
				}
			}
		})
	}
}

func ptr(s string) *string { return &s }

func TestWriteRoundTrip(t *testing.T) {
	tricky := map[string]string{
		"plain":      "Zm9vYmFy+/==",
		"hex":        "0123456789abcdef",
		"spaces":     "  leading and trailing  ",
		"quotes":     `'single' and "double"`,
		"shell":      "$HOME ${X} `cmd` $(cmd) !event",
		"comment":    "a #not a comment",
		"backslash":  `C:\path\n\t\\`,
		"newlines":   "-----BEGIN KEY-----\nabc\r\n-----END KEY-----\n",
		"unicode":    "pässwörd ✓",
		"equals":     "==a=b==",
		"tab":        "a\tb",
		"only_quote": `"`,
		"only_apos":  `'`,
		"not_utf8":   "\xff\xfe",
	}
	for name, v := range tricky {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), ".env")
			if err := os.WriteFile(path, []byte("BEFORE=1\nSECRET=old\nAFTER=2\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := Write(path, values("SECRET", v), nil); err != nil {
				t.Fatal(err)
			}
			held, err := readValues(path)
			if err != nil {
				t.Fatal(err)
			}
			if got := held["SECRET"].Reveal(); got != v {
				t.Fatalf("read back %q, want %q", got, v)
			}
			if held["BEFORE"].Reveal() != "1" || held["AFTER"].Reveal() != "2" {
				t.Fatalf("neighbours changed")
			}
		})
	}
}

// A file keeps its mode: the application that reads it may be another
// user. Only a new file gets 0600.
func TestWriteMode(t *testing.T) {
	tests := map[string]struct {
		mode    os.FileMode // 0: no file before
		symlink bool
		want    os.FileMode
	}{
		"new":             {want: 0o600},
		"private":         {mode: 0o600, want: 0o600},
		"group_readable":  {mode: 0o640, want: 0o640},
		"world_readable":  {mode: 0o644, want: 0o644},
		"group_writable":  {mode: 0o660, want: 0o660},
		"through_symlink": {mode: 0o640, symlink: true, want: 0o640},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, ".env")
			real := path
			if tc.symlink {
				real = filepath.Join(dir, "shared.env")
				if err := os.Symlink("shared.env", path); err != nil {
					t.Fatal(err)
				}
			}
			if tc.mode != 0 {
				if err := os.WriteFile(real, []byte("A=1\n"), tc.mode); err != nil {
					t.Fatal(err)
				}
				if err := os.Chmod(real, tc.mode); err != nil {
					t.Fatal(err)
				}
			}
			if err := Write(path, values("A", "2"), nil); err != nil {
				t.Fatal(err)
			}
			assertMode(t, real, tc.want)
			assertNoTemp(t, dir)
			if tc.symlink {
				if fi, err := os.Lstat(path); err != nil || fi.Mode()&fs.ModeSymlink == 0 {
					t.Fatalf("the symlink was replaced by a file")
				}
			}
			got, err := os.ReadFile(real)
			if err != nil || string(got) != "A=2\n" {
				t.Fatalf("got %q, %v", got, err)
			}
		})
	}
}

func TestWriteRefuses(t *testing.T) {
	const before = "A=1\nB='" + canary + "\n"
	tests := map[string]struct {
		before string
		sets   map[string]sensitive.Value
		unsets []string
		err    string
	}{
		"set_and_unset": {sets: values("A", canary), unsets: []string{"A"}, err: "key A is both set and unset"},
		"bad_set_key":   {sets: values("A B", canary), err: `cannot set "A B"`},
		"bad_unset_key": {unsets: []string{"A=B"}, err: `cannot unset "A=B"`},
		"nul_in_value":  {sets: values("A", canary+"\x00"), err: "NUL byte"},
		"unparseable":   {before: before, sets: values("A", "2"), err: "cannot rewrite: line 2: unterminated single-quoted value"},
		"missing_dir":   {sets: values("A", canary), err: "no such file or directory"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, ".env")
			if name == "missing_dir" {
				path = filepath.Join(dir, "nope", ".env")
			}
			if tc.before != "" {
				if err := os.WriteFile(path, []byte(tc.before), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			err := Write(path, tc.sets, tc.unsets)
			if err == nil || !strings.Contains(err.Error(), tc.err) || !strings.Contains(err.Error(), path) {
				t.Fatalf("got %v, want an error naming %s and saying %q", err, path, tc.err)
			}
			if strings.Contains(err.Error(), canary) {
				t.Fatalf("error leaks a value: %v", err)
			}
			got, readErr := os.ReadFile(path)
			switch {
			case tc.before != "" && string(got) != tc.before:
				t.Fatalf("file changed to %q", got)
			case tc.before == "" && !errors.Is(readErr, fs.ErrNotExist):
				t.Fatalf("file created: %q, %v", got, readErr)
			}
			assertNoTemp(t, dir)
		})
	}
}

func assertMode(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != want {
		t.Errorf("%s has mode %04o, want %04o", path, fi.Mode().Perm(), want)
	}
}

// assertNoTemp fails if a temporary file was left in dir.
func assertNoTemp(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), atomicfile.TempSuffix) {
			t.Errorf("temporary file %s left behind", e.Name())
		}
	}
}
