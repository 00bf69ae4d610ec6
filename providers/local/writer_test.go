package local

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rotplan/rotplan/internal/sensitive"
	"github.com/rotplan/rotplan/providers"
)

// storeOp is one StoreWriter call on secret "db" of a Store.
type storeOp func(ctx context.Context, s *Store) error

var dbRef = providers.SecretRef{Name: "db", Config: cfg("", "")}

func wStage(v, rotation string) storeOp {
	return func(ctx context.Context, s *Store) error {
		_, err := s.Stage(ctx, providers.StageRequest{Secret: dbRef, Value: sensitive.New(v), Rotation: rotation, Now: t1})
		return err
	}
}

func wPromote(rotation string) storeOp {
	return func(ctx context.Context, s *Store) error {
		_, err := s.Promote(ctx, providers.PromoteRequest{Secret: dbRef, Rotation: rotation, Now: t1, RetireAfter: t2})
		return err
	}
}

func wDiscard(rotation string) storeOp {
	return func(ctx context.Context, s *Store) error {
		_, err := s.Discard(ctx, providers.DiscardRequest{Secret: dbRef, Rotation: rotation})
		return err
	}
}

func wMark(rotation string) storeOp {
	return func(ctx context.Context, s *Store) error {
		_, err := s.MarkFailed(ctx, providers.MarkFailedRequest{Secret: dbRef, Rotation: rotation})
		return err
	}
}

func wRetire(ctx context.Context, s *Store) error {
	_, err := s.RetirePrevious(ctx, providers.RetirePreviousRequest{Secret: dbRef})
	return err
}

func wPut(v string) storeOp {
	return func(_ context.Context, s *Store) error {
		return Update(filepath.Join(s.dir, DefaultPath), put(v))
	}
}

func TestStoreWriter(t *testing.T) {
	tests := map[string]struct {
		ops  []storeOp
		want *slots // nil: the secret is absent
		// currentRotation is the rotation recorded on the current version.
		currentRotation string
		// err, when set, is what the last op fails with; the file then
		// keeps what the ops before it left.
		err error
		// errSays is part of the last op's error.
		errSays string
	}{
		"stage": {
			ops:  []storeOp{wPut("val-one"), wStage("val-two", "r1")},
			want: &slots{current: "val-one", pending: "val-two", rotation: "r1"},
		},
		"stage_first_value": {
			ops:  []storeOp{wStage("val-one", "r1")},
			want: &slots{pending: "val-one", rotation: "r1"},
		},
		"stage_twice": {
			ops:  []storeOp{wPut("val-one"), wStage("val-two", "r1"), wStage("val-two", "r1")},
			want: &slots{current: "val-one", pending: "val-two", rotation: "r1"},
		},
		"stage_again_after_promote": {
			ops:             []storeOp{wPut("val-one"), wStage("val-two", "r1"), wPromote("r1"), wStage("val-two", "r1")},
			want:            &slots{current: "val-two", previous: "val-one", rotatedAt: t1, retireAfter: t2},
			currentRotation: "r1",
		},
		"stage_over_other_rotation": {
			ops:     []storeOp{wPut("val-one"), wStage("val-two", "r1"), wStage("val-three", "r2")},
			want:    &slots{current: "val-one", pending: "val-two", rotation: "r1"},
			err:     ErrPendingConflict,
			errSays: "rotation r1 already staged",
		},
		"stage_other_value_same_rotation": {
			ops:  []storeOp{wPut("val-one"), wStage("val-two", "r1"), wStage("val-three", "r1")},
			want: &slots{current: "val-one", pending: "val-two", rotation: "r1"},
			err:  ErrPendingConflict,
		},
		"stage_without_rotation": {
			ops:     []storeOp{wPut("val-one"), wStage("val-two", "")},
			want:    &slots{current: "val-one"},
			errSays: "a rotation id is required",
		},
		"promote": {
			ops:             []storeOp{wPut("val-one"), wStage("val-two", "r1"), wPromote("r1")},
			want:            &slots{current: "val-two", previous: "val-one", rotatedAt: t1, retireAfter: t2},
			currentRotation: "r1",
		},
		"promote_first_value": {
			ops:             []storeOp{wStage("val-one", "r1"), wPromote("r1")},
			want:            &slots{current: "val-one", rotatedAt: t1},
			currentRotation: "r1",
		},
		"promote_twice": {
			ops:             []storeOp{wPut("val-one"), wStage("val-two", "r1"), wPromote("r1"), wPromote("r1")},
			want:            &slots{current: "val-two", previous: "val-one", rotatedAt: t1, retireAfter: t2},
			currentRotation: "r1",
		},
		"promote_again_after_retire": {
			ops:             []storeOp{wPut("val-one"), wStage("val-two", "r1"), wPromote("r1"), wRetire, wPromote("r1")},
			want:            &slots{current: "val-two", rotatedAt: t1},
			currentRotation: "r1",
		},
		"promote_again_after_another_rotation_staged": {
			ops:             []storeOp{wPut("val-one"), wStage("val-two", "r1"), wPromote("r1"), wStage("val-three", "r2"), wPromote("r1")},
			want:            &slots{current: "val-two", pending: "val-three", previous: "val-one", rotation: "r2", rotatedAt: t1, retireAfter: t2},
			currentRotation: "r1",
		},
		"promote_other_rotation": {
			ops:     []storeOp{wPut("val-one"), wStage("val-two", "r1"), wPromote("r2")},
			want:    &slots{current: "val-one", pending: "val-two", rotation: "r1"},
			err:     ErrPendingConflict,
			errSays: "belongs to rotation r1",
		},
		"promote_nothing_pending": {
			ops:  []storeOp{wPut("val-one"), wPromote("r1")},
			want: &slots{current: "val-one"},
			err:  ErrNoPending,
		},
		"promote_missing_secret": {
			ops: []storeOp{wPromote("r1")},
			err: ErrNoPending,
		},
		"promote_without_rotation": {
			// A value put by hand has no rotation: "" must not match it.
			ops:     []storeOp{wPut("val-one"), wPromote("")},
			want:    &slots{current: "val-one"},
			errSays: "a rotation id is required",
		},
		"promote_after_discard": {
			ops:  []storeOp{wPut("val-one"), wStage("val-two", "r1"), wDiscard("r1"), wPromote("r1")},
			want: &slots{current: "val-one"},
			err:  ErrNoPending,
		},
		"discard": {
			ops:  []storeOp{wPut("val-one"), wStage("val-two", "r1"), wDiscard("r1")},
			want: &slots{current: "val-one"},
		},
		"discard_twice": {
			ops:  []storeOp{wPut("val-one"), wStage("val-two", "r1"), wDiscard("r1"), wDiscard("r1")},
			want: &slots{current: "val-one"},
		},
		"discard_only_value_removes_secret": {
			ops: []storeOp{wStage("val-one", "r1"), wDiscard("r1")},
		},
		"discard_nothing_pending": {
			ops:  []storeOp{wPut("val-one"), wDiscard("r1")},
			want: &slots{current: "val-one"},
		},
		"discard_missing_secret": {
			ops: []storeOp{wDiscard("r1")},
		},
		"discard_other_rotation": {
			ops:     []storeOp{wPut("val-one"), wStage("val-two", "r1"), wDiscard("r2")},
			want:    &slots{current: "val-one", pending: "val-two", rotation: "r1"},
			err:     ErrPendingConflict,
			errSays: "belongs to rotation r1",
		},
		"discard_after_promote_keeps_current": {
			ops:             []storeOp{wPut("val-one"), wStage("val-two", "r1"), wPromote("r1"), wDiscard("r1")},
			want:            &slots{current: "val-two", previous: "val-one", rotatedAt: t1, retireAfter: t2},
			currentRotation: "r1",
		},
		"mark_failed": {
			ops:  []storeOp{wPut("val-one"), wStage("val-two", "r1"), wMark("r1")},
			want: &slots{current: "val-one", pending: "val-two", rotation: "r1", failed: true},
		},
		"mark_failed_first_value": {
			ops:  []storeOp{wStage("val-one", "r1"), wMark("r1")},
			want: &slots{pending: "val-one", rotation: "r1", failed: true},
		},
		"mark_failed_twice": {
			ops:  []storeOp{wPut("val-one"), wStage("val-two", "r1"), wMark("r1"), wMark("r1")},
			want: &slots{current: "val-one", pending: "val-two", rotation: "r1", failed: true},
		},
		"mark_failed_nothing_pending": {
			ops:  []storeOp{wPut("val-one"), wMark("r1")},
			want: &slots{current: "val-one"},
		},
		"mark_failed_missing_secret": {
			ops: []storeOp{wMark("r1")},
		},
		"mark_failed_after_discard": {
			ops:  []storeOp{wPut("val-one"), wStage("val-two", "r1"), wMark("r1"), wDiscard("r1"), wMark("r1")},
			want: &slots{current: "val-one"},
		},
		"mark_failed_other_rotation": {
			ops:     []storeOp{wPut("val-one"), wStage("val-two", "r1"), wMark("r2")},
			want:    &slots{current: "val-one", pending: "val-two", rotation: "r1"},
			err:     ErrPendingConflict,
			errSays: "belongs to rotation r1; it is left alone",
		},
		"mark_failed_without_rotation": {
			ops:     []storeOp{wPut("val-one"), wStage("val-two", "r1"), wMark("")},
			want:    &slots{current: "val-one", pending: "val-two", rotation: "r1"},
			errSays: "a rotation id is required",
		},
		"promote_after_mark_failed": {
			ops:     []storeOp{wPut("val-one"), wStage("val-two", "r1"), wMark("r1"), wPromote("r1")},
			want:    &slots{current: "val-one", pending: "val-two", rotation: "r1", failed: true},
			err:     providers.ErrPendingFailed,
			errSays: "promote rotation r1",
		},
		"promote_first_value_after_mark_failed": {
			ops:     []storeOp{wStage("val-one", "r1"), wMark("r1"), wPromote("r1")},
			want:    &slots{pending: "val-one", rotation: "r1", failed: true},
			err:     providers.ErrPendingFailed,
			errSays: "promote rotation r1",
		},
		"stage_again_after_mark_failed_keeps_mark": {
			ops:  []storeOp{wPut("val-one"), wStage("val-two", "r1"), wMark("r1"), wStage("val-two", "r1")},
			want: &slots{current: "val-one", pending: "val-two", rotation: "r1", failed: true},
		},
		"discard_after_mark_failed": {
			ops:  []storeOp{wPut("val-one"), wStage("val-two", "r1"), wMark("r1"), wDiscard("r1")},
			want: &slots{current: "val-one"},
		},
		"discard_after_mark_failed_then_next_rotation": {
			// The mark went with the discarded version: the next
			// rotation's pending version is not failed.
			ops:  []storeOp{wPut("val-one"), wStage("val-two", "r1"), wMark("r1"), wDiscard("r1"), wStage("val-three", "r2")},
			want: &slots{current: "val-one", pending: "val-three", rotation: "r2"},
		},
		"retire_previous": {
			ops:             []storeOp{wPut("val-one"), wStage("val-two", "r1"), wPromote("r1"), wRetire},
			want:            &slots{current: "val-two", rotatedAt: t1},
			currentRotation: "r1",
		},
		"retire_previous_twice": {
			ops:             []storeOp{wPut("val-one"), wStage("val-two", "r1"), wPromote("r1"), wRetire, wRetire},
			want:            &slots{current: "val-two", rotatedAt: t1},
			currentRotation: "r1",
		},
		"retire_nothing_previous": {
			ops:  []storeOp{wPut("val-one"), wRetire},
			want: &slots{current: "val-one"},
		},
		"retire_keeps_pending": {
			ops:             []storeOp{wPut("val-one"), wStage("val-two", "r1"), wPromote("r1"), wStage("val-three", "r2"), wRetire},
			want:            &slots{current: "val-two", pending: "val-three", rotation: "r2", rotatedAt: t1},
			currentRotation: "r1",
		},
		"whole_rotation_resumed_step_by_step": {
			// A crash after each step: every step runs again.
			ops: []storeOp{
				wPut("val-one"),
				wStage("val-two", "r1"), wStage("val-two", "r1"),
				wPromote("r1"), wStage("val-two", "r1"), wPromote("r1"),
				wDiscard("r1"),
				wRetire, wRetire,
			},
			want:            &slots{current: "val-two", rotatedAt: t1},
			currentRotation: "r1",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			s := &Store{dir: dir}
			ctx := context.Background()
			for i, op := range tc.ops {
				err := op(ctx, s)
				if i < len(tc.ops)-1 || tc.err == nil && tc.errSays == "" {
					if err != nil {
						t.Fatalf("op %d: %v", i, err)
					}
					continue
				}
				if err == nil {
					t.Fatalf("last op succeeded, want %v %q", tc.err, tc.errSays)
				}
				if tc.err != nil && !errors.Is(err, tc.err) {
					t.Errorf("last op: got %v, want %v", err, tc.err)
				}
				if !strings.Contains(err.Error(), tc.errSays) || !strings.Contains(err.Error(), `"db"`) {
					t.Errorf("last op: error %q, want it to name the secret and say %q", err, tc.errSays)
				}
				for _, v := range []string{"val-one", "val-two", "val-three"} {
					if strings.Contains(err.Error(), v) {
						t.Errorf("error mentions value %q: %v", v, err)
					}
				}
			}
			got := inspectDB(t, dir)
			if tc.want == nil || got == nil {
				if got != tc.want {
					t.Fatalf("got %+v, want %+v", got, tc.want)
				}
				return
			}
			if *got != *tc.want {
				t.Errorf("got  %+v\nwant %+v", *got, *tc.want)
			}
			if rot := currentRotation(t, dir); rot != tc.currentRotation {
				t.Errorf("current rotation %q, want %q", rot, tc.currentRotation)
			}
		})
	}
}

func currentRotation(t *testing.T, dir string) string {
	t.Helper()
	resp, err := (&Store{dir: dir}).Inspect(context.Background(), providers.InspectRequest{Secrets: []providers.SecretRef{dbRef}})
	if err != nil {
		t.Fatal(err)
	}
	if st := resp.Secrets["db"]; st != nil && st.Current != nil {
		return st.Current.Rotation
	}
	return ""
}

// A crash between the write and the journal entry means apply stages and
// promotes again: the store must end up exactly as after one run, with the
// same version ids and no second previous.
func TestStoreWriterRerunsChangeNothing(t *testing.T) {
	dir := t.TempDir()
	s := &Store{dir: dir}
	ctx := context.Background()
	path := filepath.Join(dir, DefaultPath)
	snapshot := func() string {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	if err := wPut("val-one")(ctx, s); err != nil {
		t.Fatal(err)
	}
	for _, step := range []struct {
		name string
		op   storeOp
	}{
		{"stage", wStage("val-two", "r1")},
		{"promote", wPromote("r1")},
		{"retire", wRetire},
	} {
		t.Run(step.name, func(t *testing.T) {
			if err := step.op(ctx, s); err != nil {
				t.Fatal(err)
			}
			before := snapshot()
			if err := step.op(ctx, s); err != nil {
				t.Fatalf("again: %v", err)
			}
			if after := snapshot(); after != before {
				t.Errorf("running %s again changed the file:\n%s\nthen\n%s", step.name, before, after)
			}
		})
	}
}

func TestStoreWriterLocates(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "secrets"), 0o700); err != nil {
		t.Fatal(err)
	}
	s := &Store{dir: dir}
	ref := providers.SecretRef{Name: "db", Config: cfg("secrets/prod.store", "DB_PASSWORD")}
	ctx := context.Background()
	if _, err := s.Stage(ctx, providers.StageRequest{Secret: ref, Value: sensitive.New("val-two"), Rotation: "r1", Now: t1}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Promote(ctx, providers.PromoteRequest{Secret: ref, Rotation: "r1", Now: t1, RetireAfter: t2}); err != nil {
		t.Fatal(err)
	}
	f, err := Open(filepath.Join(dir, "secrets", "prod.store"))
	if err != nil {
		t.Fatal(err)
	}
	e := f.doc.Secrets["DB_PASSWORD"]
	if e == nil || e.Current == nil || e.Current.Value != "val-two" || len(f.doc.Secrets) != 1 {
		t.Fatalf("entry DB_PASSWORD not written in secrets/prod.store: %v", f.doc.Secrets)
	}
	if _, err := os.Stat(filepath.Join(dir, DefaultPath)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("wrote the default store file too: %v", err)
	}
	assertMode(t, filepath.Join(dir, "secrets", "prod.store"))
}

func TestStoreWriterRefuses(t *testing.T) {
	ctx := context.Background()
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	tests := map[string]struct {
		setup func(t *testing.T, dir string)
		ctx   context.Context
		ref   providers.SecretRef
		want  string
		is    error
	}{
		"canceled": {
			ctx:  canceled,
			ref:  dbRef,
			want: "context canceled",
			is:   context.Canceled,
		},
		"no_name": {
			ctx:  ctx,
			ref:  providers.SecretRef{},
			want: "no name and no key",
		},
		"group_readable": {
			setup: func(t *testing.T, dir string) {
				writeFile(t, filepath.Join(dir, DefaultPath), `{"format_version": 1, "secrets": {}}`, 0o640)
			},
			ctx:  ctx,
			ref:  dbRef,
			want: "0640",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			if tc.setup != nil {
				tc.setup(t, dir)
			}
			s := &Store{dir: dir}
			calls := map[string]func() error{
				"stage": func() error {
					_, err := s.Stage(tc.ctx, providers.StageRequest{Secret: tc.ref, Value: sensitive.New(canary), Rotation: "r1", Now: t1})
					return err
				},
				"promote": func() error {
					_, err := s.Promote(tc.ctx, providers.PromoteRequest{Secret: tc.ref, Rotation: "r1", Now: t1, RetireAfter: t2})
					return err
				},
				"discard": func() error {
					_, err := s.Discard(tc.ctx, providers.DiscardRequest{Secret: tc.ref, Rotation: "r1"})
					return err
				},
				"retire": func() error {
					_, err := s.RetirePrevious(tc.ctx, providers.RetirePreviousRequest{Secret: tc.ref})
					return err
				},
				"mark failed": func() error {
					_, err := s.MarkFailed(tc.ctx, providers.MarkFailedRequest{Secret: tc.ref, Rotation: "r1"})
					return err
				},
			}
			for call, fn := range calls {
				err := fn()
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Errorf("%s: got %v, want an error saying %q", call, err, tc.want)
					continue
				}
				if tc.is != nil && !errors.Is(err, tc.is) {
					t.Errorf("%s: got %v, want %v", call, err, tc.is)
				}
				if strings.Contains(err.Error(), canary) {
					t.Errorf("%s: error leaks the value: %v", call, err)
				}
			}
			if fi, err := os.Stat(filepath.Join(dir, DefaultPath)); err == nil && tc.setup == nil {
				t.Errorf("a refused call created the store file (%v)", fi.Mode())
			}
		})
	}
}

// A mark that is already there, and a mark refused, leave the file exactly
// as it was: apply may mark again after a crash, and another rotation's
// pending version is not rotplan's to change.
func TestStoreWriterMarkFailedChangesNothingTwice(t *testing.T) {
	dir := t.TempDir()
	s := &Store{dir: dir}
	ctx := context.Background()
	path := filepath.Join(dir, DefaultPath)
	for _, op := range []storeOp{wPut("val-one"), wStage("val-two", "r1"), wMark("r1")} {
		if err := op(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(before), `"failed": true`) {
		t.Errorf("the store file does not record the mark on the pending version")
	}
	for name, op := range map[string]storeOp{"mark again": wMark("r1"), "mark another rotation": wMark("r2"), "promote": wPromote("r1")} {
		_ = op(ctx, s)
		after, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if string(after) != string(before) {
			t.Errorf("%s changed the file", name)
		}
	}
}

// A pending value rotplan did not stage (put in the file by hand) is never
// marked.
func TestStoreWriterMarkFailedLeavesForeignPending(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, DefaultPath)
	const file = `{"format_version": 1, "secrets": {"db": {
  "current": {"id": "a1", "value": "val-one", "created_at": "2025-01-01T00:00:00Z"},
  "pending": {"id": "a2", "value": "val-two", "created_at": "2025-01-02T00:00:00Z"}
}}}
`
	writeFile(t, path, file, 0o600)
	_, err := (&Store{dir: dir}).MarkFailed(context.Background(), providers.MarkFailedRequest{Secret: dbRef, Rotation: "r1"})
	if !errors.Is(err, ErrPendingConflict) || !strings.Contains(err.Error(), "did not stage") {
		t.Fatalf("got %v, want ErrPendingConflict about a value rotplan did not stage", err)
	}
	if strings.Contains(err.Error(), "val-two") {
		t.Errorf("error mentions the pending value: %v", err)
	}
	if b, _ := os.ReadFile(path); string(b) != file {
		t.Errorf("the file changed")
	}
}

// A target's record (a Fly digest) is kept in the secret's entry, read back
// by Inspect for plan and the next write, and survives the secret's
// rotations; recording what is already there writes nothing.
func TestStoreRecordsTargets(t *testing.T) {
	dir := t.TempDir()
	s := &Store{dir: dir}
	ctx := context.Background()
	path := filepath.Join(dir, DefaultPath)
	record := func(recs map[string]string) {
		t.Helper()
		if _, err := s.RecordTargets(ctx, providers.RecordTargetsRequest{Secret: dbRef, Records: recs}); err != nil {
			t.Fatal(err)
		}
	}
	inspect := func() map[string]string {
		t.Helper()
		resp, err := s.Inspect(ctx, providers.InspectRequest{Secrets: []providers.SecretRef{dbRef}})
		if err != nil {
			t.Fatal(err)
		}
		if st := resp.Secrets["db"]; st != nil {
			return st.Records
		}
		return nil
	}

	record(map[string]string{"target.fly.api": "fly1:aa"}) // no entry yet: nothing to keep
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("recording for a secret the store does not hold wrote the file: %v", err)
	}
	for _, op := range []storeOp{wPut("val-one"), wStage("val-two", "r1")} {
		if err := op(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	record(map[string]string{"target.fly.api": "fly1:aa", "target.fly.web": "fly1:bb"})
	record(map[string]string{"target.fly.api": "fly1:cc"})
	if err := wPromote("r1")(ctx, s); err != nil {
		t.Fatal(err)
	}
	got := inspect()
	if got["target.fly.api"] != "fly1:cc" || got["target.fly.web"] != "fly1:bb" || len(got) != 2 {
		t.Errorf("records after the rotation: %v", got)
	}
	before, _ := os.ReadFile(path)
	record(map[string]string{"target.fly.api": "fly1:cc"})
	if after, _ := os.ReadFile(path); string(after) != string(before) {
		t.Error("recording what is already there rewrote the file")
	}
}
