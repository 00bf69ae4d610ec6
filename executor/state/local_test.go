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

	start := time.Now()
	_, err = l.Lock(context.Background(), LockInfo{ID: "lock-2"}, 0)
	var locked *LockedError
	if !errors.As(err, &locked) {
		t.Fatalf("second lock: err = %v, want a LockedError", err)
	}
	if time.Since(start) > 2*time.Second {
		t.Error("a second lock without a timeout should fail at once")
	}
	if locked.Holder != first {
		t.Errorf("holder = %+v, want %+v", locked.Holder, first)
	}
	for _, want := range []string{"lock-1", "alice", "ops-1", "pid 4242", "2026-12-01T09:00:00Z", "rotplan force-unlock lock-1"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	if err := l.ForceUnlock("lock-1"); err == nil || !strings.Contains(err.Error(), "running process") {
		t.Errorf("force-unlock of a live holder: err = %v, want a refusal", err)
	}

	if err := held.Unlock(); err != nil {
		t.Fatal(err)
	}
	again, err := l.Lock(context.Background(), LockInfo{ID: "lock-3"}, 0)
	if err != nil {
		t.Fatalf("lock after unlock: %v", err)
	}
	again.Unlock()
}

func TestLockWaitsForTimeout(t *testing.T) {
	l := NewLocal(filepath.Join(t.TempDir(), "rotplan.state"))
	held, err := l.Lock(context.Background(), LockInfo{ID: "a"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		time.Sleep(300 * time.Millisecond)
		held.Unlock()
	}()
	k, err := l.Lock(context.Background(), LockInfo{ID: "b"}, 10*time.Second)
	if err != nil {
		t.Fatalf("lock with a timeout did not wait for the holder: %v", err)
	}
	k.Unlock()
}

func TestWriteAndRead(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rotplan.state")
	l := NewLocal(path)
	st, err := l.Read()
	if err != nil || st.Serial != 0 || len(st.Rotations) != 0 {
		t.Fatalf("empty state: %+v, %v", st, err)
	}
	k, err := l.Lock(context.Background(), LockInfo{ID: "a"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer k.Unlock()
	st.Rotations["db"] = &Rotation{ID: "r1", Secret: "db", Step: StepStage, Done: true}
	for i := 0; i < 2; i++ {
		if err := k.Write(st); err != nil {
			t.Fatal(err)
		}
	}
	got, err := l.Read()
	if err != nil {
		t.Fatal(err)
	}
	if got.Serial != 2 || got.Rotations["db"].Step != StepStage || !got.Rotations["db"].Done {
		t.Errorf("read back %+v", got)
	}
	info, err := os.Stat(path)
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("state file mode = %v, %v; want 0600", info.Mode().Perm(), err)
	}
}

func TestStepOrder(t *testing.T) {
	if !StepPromote.After(StepVerify) || StepStage.After(StepDeliver) || StepGenerate.After(StepGenerate) {
		t.Error("step order is wrong")
	}
}

func TestAudit(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rotplan.audit.jsonl")
	a := NewAudit(path)
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
}
