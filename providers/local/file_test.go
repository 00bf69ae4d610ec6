package local

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rotplan/rotplan/internal/atomicfile"
	"github.com/rotplan/rotplan/internal/sensitive"
	"github.com/rotplan/rotplan/providers"
)

var (
	t0 = date("2025-01-01T00:00:00Z")
	t1 = date("2025-03-01T12:00:00Z")
	t2 = date("2025-03-02T12:00:00Z")
)

func put(v string) func(*File) error {
	return func(f *File) error { return f.Put("db", sensitive.New(v), t0) }
}

func stage(v, rotation string) func(*File) error {
	return func(f *File) error { return f.Stage("db", sensitive.New(v), rotation, t1) }
}

func promote(f *File) error        { return f.Promote("db", t1, t2) }
func discardPending(f *File) error { return f.DiscardPending("db") }
func retirePrevious(f *File) error { return f.RetirePrevious("db") }

// slots is what a test expects of secret "db" after a sequence of updates.
type slots struct {
	current, pending, previous string // values; "" when the slot is empty
	rotation                   string
	failed                     bool // the pending version is marked failed
	rotatedAt, retireAfter     time.Time
}

func TestFileRoundTrips(t *testing.T) {
	tests := map[string]struct {
		ops  []func(*File) error
		want *slots // nil: the secret is absent
		// err, when set, is what the last op fails with; the file then
		// keeps what the ops before it left.
		err error
	}{
		"put": {
			ops:  []func(*File) error{put("one")},
			want: &slots{current: "one"},
		},
		"put_replaces_current": {
			ops:  []func(*File) error{put("one"), put("two")},
			want: &slots{current: "two"},
		},
		"stage_keeps_current": {
			ops:  []func(*File) error{put("one"), stage("two", "r1")},
			want: &slots{current: "one", pending: "two", rotation: "r1"},
		},
		"promote": {
			ops:  []func(*File) error{put("one"), stage("two", "r1"), promote},
			want: &slots{current: "two", previous: "one", rotatedAt: t1, retireAfter: t2},
		},
		"first_promote_has_no_previous": {
			ops:  []func(*File) error{stage("one", "r1"), promote},
			want: &slots{current: "one", rotatedAt: t1},
		},
		"discard_pending": {
			ops:  []func(*File) error{put("one"), stage("two", "r1"), discardPending},
			want: &slots{current: "one"},
		},
		"discard_only_value_removes_secret": {
			ops: []func(*File) error{stage("one", "r1"), discardPending},
		},
		"retire_previous": {
			ops:  []func(*File) error{put("one"), stage("two", "r1"), promote, retirePrevious},
			want: &slots{current: "two", rotatedAt: t1},
		},
		"discard_and_retire_without_value_do_nothing": {
			ops:  []func(*File) error{put("one"), discardPending, retirePrevious},
			want: &slots{current: "one"},
		},
		"second_rotation_replaces_previous": {
			ops:  []func(*File) error{put("one"), stage("two", "r1"), promote, stage("three", "r2"), promote},
			want: &slots{current: "three", previous: "two", rotatedAt: t1, retireAfter: t2},
		},
		"stage_again_same_rotation": {
			ops:  []func(*File) error{put("one"), stage("two", "r1"), stage("two", "r1")},
			want: &slots{current: "one", pending: "two", rotation: "r1"},
		},
		"stage_again_after_promote": {
			ops:  []func(*File) error{put("one"), stage("two", "r1"), promote, stage("two", "r1")},
			want: &slots{current: "two", previous: "one", rotatedAt: t1, retireAfter: t2},
		},
		"stage_over_other_rotation": {
			ops:  []func(*File) error{put("one"), stage("two", "r1"), stage("three", "r2")},
			want: &slots{current: "one", pending: "two", rotation: "r1"},
			err:  ErrPendingConflict,
		},
		"stage_other_value_same_rotation": {
			ops:  []func(*File) error{put("one"), stage("two", "r1"), stage("three", "r1")},
			want: &slots{current: "one", pending: "two", rotation: "r1"},
			err:  ErrPendingConflict,
		},
		"stage_other_value_after_promote": {
			ops:  []func(*File) error{stage("two", "r1"), promote, stage("three", "r1")},
			want: &slots{current: "two", rotatedAt: t1},
			err:  ErrPendingConflict,
		},
		"promote_without_pending": {
			ops:  []func(*File) error{put("one"), promote},
			want: &slots{current: "one"},
			err:  ErrNoPending,
		},
		"promote_twice": {
			ops:  []func(*File) error{put("one"), stage("two", "r1"), promote, promote},
			want: &slots{current: "two", previous: "one", rotatedAt: t1, retireAfter: t2},
			err:  ErrNoPending,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, DefaultPath)
			for i, op := range tc.ops {
				err := Update(path, op)
				if i == len(tc.ops)-1 && tc.err != nil {
					if !errors.Is(err, tc.err) {
						t.Fatalf("last op: got %v, want %v", err, tc.err)
					}
					for _, v := range []string{"one", "two", "three"} {
						if strings.Contains(err.Error(), `"`+v+`"`) || strings.HasSuffix(err.Error(), v) {
							t.Errorf("error mentions value %q: %v", v, err)
						}
					}
					break
				}
				if err != nil {
					t.Fatalf("op %d: %v", i, err)
				}
			}
			if got := inspectDB(t, dir); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

// inspectDB reads secret "db" back through the Store.
func inspectDB(t *testing.T, dir string) *slots {
	t.Helper()
	s := &Store{dir: dir}
	refs := []providers.SecretRef{{Name: "db"}}
	ins, err := s.Inspect(context.Background(), providers.InspectRequest{Secrets: refs})
	if err != nil {
		t.Fatal(err)
	}
	st := ins.Secrets["db"]
	if st == nil {
		return nil
	}
	if st.Err != nil {
		t.Fatal(st.Err)
	}
	got := &slots{rotatedAt: st.RotatedAt}
	for slot, dst := range map[providers.Slot]*string{providers.SlotCurrent: &got.current, providers.SlotPending: &got.pending, providers.SlotPrevious: &got.previous} {
		resp, err := s.Read(context.Background(), providers.ReadRequest{Secrets: refs, Slot: slot})
		if err != nil || len(resp.Errors) > 0 {
			t.Fatal(err, resp.Errors)
		}
		*dst = resp.Values["db"].Reveal()
	}
	for slot, v := range map[string]*providers.Version{"current": st.Current, "pending": st.Pending, "previous": st.Previous} {
		if v == nil {
			continue
		}
		if len(v.ID) != 12 || strings.Trim(v.ID, "0123456789abcdef") != "" {
			t.Errorf("%s id %q is not 12 hex digits", slot, v.ID)
		}
		if v.CreatedAt.IsZero() {
			t.Errorf("%s has no created_at", slot)
		}
	}
	if st.Pending != nil {
		got.rotation = st.Pending.Rotation
		got.failed = st.Pending.Failed
	}
	if st.Previous != nil {
		got.retireAfter = st.Previous.RetireAfter
	}
	return got
}

func TestStageIsIdempotent(t *testing.T) {
	path := filepath.Join(t.TempDir(), DefaultPath)
	ids := map[string]bool{}
	for range 3 {
		if err := Update(path, stage("two", "r1")); err != nil {
			t.Fatal(err)
		}
		resp, err := (&Store{}).Inspect(context.Background(), providers.InspectRequest{Secrets: []providers.SecretRef{{Name: "db", Config: cfg(path, "")}}})
		if err != nil {
			t.Fatal(err)
		}
		ids[resp.Secrets["db"].Pending.ID] = true
	}
	if len(ids) != 1 {
		t.Fatalf("staging one rotation three times made versions %v, want one", ids)
	}
}

func TestSave(t *testing.T) {
	tests := map[string]struct {
		setup func(t *testing.T, dir string) (path string) // returns the path to save
		check func(t *testing.T, dir string)
	}{
		"new_file": {
			setup: func(t *testing.T, dir string) string { return filepath.Join(dir, DefaultPath) },
		},
		"existing_file": {
			setup: func(t *testing.T, dir string) string {
				path := filepath.Join(dir, DefaultPath)
				writeFile(t, path, `{"format_version": 1, "secrets": {"other": {"current": {"id": "x", "value": "keep", "created_at": "2025-01-01T00:00:00Z"}}}}`, 0o600)
				return path
			},
			check: func(t *testing.T, dir string) {
				resp, err := (&Store{dir: dir}).Read(context.Background(), providers.ReadRequest{Secrets: []providers.SecretRef{{Name: "other"}}})
				if err != nil || resp.Values["other"].Reveal() != "keep" {
					t.Errorf("lost another secret: %v %v", err, resp)
				}
			},
		},
		"through_symlink": {
			setup: func(t *testing.T, dir string) string {
				if err := os.Mkdir(filepath.Join(dir, "real"), 0o700); err != nil {
					t.Fatal(err)
				}
				writeFile(t, filepath.Join(dir, "real", "s.store"), `{"format_version": 1, "secrets": {}}`, 0o600)
				if err := os.Symlink(filepath.Join("real", "s.store"), filepath.Join(dir, DefaultPath)); err != nil {
					t.Fatal(err)
				}
				return filepath.Join(dir, DefaultPath)
			},
			check: func(t *testing.T, dir string) {
				fi, err := os.Lstat(filepath.Join(dir, DefaultPath))
				if err != nil || fi.Mode()&os.ModeSymlink == 0 {
					t.Errorf("the symlink was replaced: %v %v", fi.Mode(), err)
				}
				assertMode(t, filepath.Join(dir, "real", "s.store"))
				assertNoTemp(t, filepath.Join(dir, "real"))
			},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			path := tc.setup(t, dir)
			if err := Update(path, put("one")); err != nil {
				t.Fatal(err)
			}
			assertMode(t, path)
			assertNoTemp(t, dir)
			if got := inspectDB(t, dir); got == nil || got.current != "one" {
				t.Fatalf("got %+v after save", got)
			}
			if tc.check != nil {
				tc.check(t, dir)
			}
		})
	}
}

func TestSaveIntoMissingDirectory(t *testing.T) {
	f, err := Open(filepath.Join(t.TempDir(), "nope", DefaultPath))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Put("db", sensitive.New(canary), t0); err != nil {
		t.Fatal(err)
	}
	err = f.Save()
	if err == nil {
		t.Fatal("saved into a directory that does not exist")
	}
	if strings.Contains(err.Error(), canary) {
		t.Fatalf("error leaks the value: %v", err)
	}
}

func TestRefusesBinaryValue(t *testing.T) {
	f, err := Open(filepath.Join(t.TempDir(), DefaultPath))
	if err != nil {
		t.Fatal(err)
	}
	for name, op := range map[string]func() error{
		"put":   func() error { return f.Put("db", sensitive.New("\xff"+canary), t0) },
		"stage": func() error { return f.Stage("db", sensitive.New("\xff"+canary), "r1", t1) },
	} {
		err := op()
		if err == nil || !strings.Contains(err.Error(), "UTF-8") || strings.Contains(err.Error(), canary) {
			t.Errorf("%s: got %v, want a UTF-8 error without the value", name, err)
		}
	}
}

func assertMode(t *testing.T, path string) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("%s has mode %04o, want 0600", path, fi.Mode().Perm())
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

func TestUpdateSerializes(t *testing.T) {
	path := filepath.Join(t.TempDir(), DefaultPath)
	const writers = 12
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for i := range writers {
		wg.Go(func() {
			errs <- Update(path, func(f *File) error {
				// Hold the file open a moment so that, unlocked, another
				// writer would read it before this one saves.
				time.Sleep(2 * time.Millisecond)
				return f.Put(fmt.Sprintf("s%02d", i), sensitive.New("v"), t0)
			})
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.doc.Secrets) != writers {
		t.Fatalf("%d secrets survived %d concurrent updates", len(f.doc.Secrets), writers)
	}
}
