package state

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestLockIsExclusive(t *testing.T) {
	l := NewLocal(filepath.Join(t.TempDir(), "rotplan.state"))
	first := LockInfo{ID: "lock-1", Operation: "apply", PID: 4242, Host: "ops-1", User: "alice", Created: time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)}
	held, err := l.Lock(context.Background(), first, 0)
	if err != nil {
		t.Fatal(err)
	}

	_, err = l.Lock(context.Background(), LockInfo{ID: "lock-2"}, 0)
	var locked *LockedError
	if !errors.As(err, &locked) {
		t.Fatalf("second lock: err = %v, want a LockedError", err)
	}
	if locked.Holder != first {
		t.Errorf("holder = %+v, want %+v", locked.Holder, first)
	}
	for _, want := range []string{"lock-1", "alice", "ops-1", "pid 4242", "2026-12-01T09:00:00Z", "rotplan force-unlock lock-1"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	if err := l.ForceUnlock(context.Background(), "lock-1"); err == nil || !strings.Contains(err.Error(), "running process") {
		t.Errorf("force-unlock of a live holder: err = %v, want a refusal", err)
	}

	if err := held.Unlock(context.Background()); err != nil {
		t.Fatal(err)
	}
	again, err := l.Lock(context.Background(), LockInfo{ID: "lock-3"}, 0)
	if err != nil {
		t.Fatalf("lock after unlock: %v", err)
	}
	again.Unlock(context.Background())
}

// The state file is written whole, mode 0600.
func TestLocalFileMode(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rotplan.state")
	l := NewLocal(path)
	k, err := l.Lock(context.Background(), LockInfo{ID: "a"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer k.Unlock(context.Background())
	if _, err := k.PutRotation(context.Background(), 0, &Rotation{ID: "r1", Secret: "db", State: "staged"}); err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(path)
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("state file mode = %v, %v; want 0600", info.Mode().Perm(), err)
	}
}

// A state file written by a rotplan of format 1 (the last step begun and
// whether it finished) is read as the states its rotations had reached.
func TestReadFormat1(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rotplan.state")
	v1 := `{"format_version": 1, "serial": 7, "rotations": {
	  "a": {"id": "r-a", "secret": "a", "action": "rotate", "step": "deliver", "done": true},
	  "b": {"id": "r-b", "secret": "b", "action": "rotate", "step": "verify", "done": false},
	  "c": {"id": "r-c", "secret": "c", "action": "rotate", "step": "set", "done": false, "rolling_back": true, "error": "check failed"},
	  "d": {"id": "r-d", "secret": "d", "action": "create", "step": "generate", "done": false},
	  "e": {"id": "r-e", "secret": "e", "action": "sync", "step": "deliver", "done": false}
	}}`
	if err := os.WriteFile(path, []byte(v1), 0o600); err != nil {
		t.Fatal(err)
	}
	st, err := NewLocal(path).Read(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for name, r := range st.Rotations {
		got[name] = r.State
	}
	want := map[string]string{"a": "delivered", "b": "delivered", "c": "rolling back"}
	if st.Serial != 7 || len(got) != len(want) {
		t.Fatalf("serial %d, states %v; want 7, %v", st.Serial, got, want)
	}
	for name, state := range want {
		if got[name] != state {
			t.Errorf("rotation %s: state %q, want %q", name, got[name], state)
		}
	}
	if st.Rotations["c"].Error != "check failed" || st.Rotations["a"].ID != "r-a" {
		t.Errorf("entries lost their fields: %+v, %+v", st.Rotations["c"], st.Rotations["a"])
	}
}

// Holder names a running holder without taking or changing anything, and
// a plan probing it never makes an apply fail to lock.
func TestHolder(t *testing.T) {
	l := NewLocal(filepath.Join(t.TempDir(), "rotplan.state"))
	if h, err := l.Holder(context.Background()); err != nil || h != nil {
		t.Fatalf("no lock file: holder %+v, %v; want none", h, err)
	}
	if _, err := os.Stat(l.lockPath()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Holder created the lock file: %v", err)
	}
	held, err := l.Lock(context.Background(), LockInfo{ID: "lock-1", User: "alice"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	h, err := l.Holder(context.Background())
	if err != nil || h == nil || h.ID != "lock-1" || h.User != "alice" {
		t.Fatalf("holder = %+v, %v; want lock-1 held by alice", h, err)
	}
	held.Unlock(context.Background())
	if h, err := l.Holder(context.Background()); err != nil || h != nil {
		t.Errorf("after unlock: holder %+v, %v; want none", h, err)
	}

	// While probes hold the shared lock again and again, a lock still
	// succeeds.
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
				_, _ = l.Holder(context.Background())
			}
		}
	}()
	k, err := l.Lock(context.Background(), LockInfo{ID: "lock-2"}, 0)
	close(stop)
	<-done
	if err != nil {
		t.Fatalf("lock while a plan probes: %v", err)
	}
	k.Unlock(context.Background())
}

func TestAudit(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rotplan.audit.jsonl")
	var stream strings.Builder
	a := NewAudit(path, AuditStream{W: &stream})
	for _, outcome := range []string{"started", "done"} {
		if err := a.Append(AuditRecord{Secret: "db", Action: "rotate", Step: StepStage, Outcome: outcome}); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if lines := strings.Count(string(b), "\n"); lines != 2 {
		t.Errorf("audit log has %d lines, want 2", lines)
	}
	if info, _ := os.Stat(path); info.Mode().Perm() != 0o600 {
		t.Errorf("audit log mode = %v, want 0600", info.Mode().Perm())
	}
	lines := strings.Split(strings.TrimSpace(stream.String()), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], `{"type":"audit","time":`) || !strings.Contains(lines[1], `"outcome":"done"`) {
		t.Errorf("audit stream:\n%s\nwant two JSON lines of type audit", stream.String())
	}
}
