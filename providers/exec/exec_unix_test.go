//go:build unix

package exec

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/rotplan/rotplan/internal/sensitive"
	"github.com/rotplan/rotplan/providers"
)

// startCheck runs verify exec with script in the background and returns
// its directory and the channel its error arrives on.
func startCheck(t *testing.T, ctx context.Context, script string) (dir string, done <-chan error) {
	t.Helper()
	s, _ := settings(t)
	v, err := NewVerifier(s)
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() {
		_, err := v.Verify(ctx, providers.VerifyRequest{Secret: "api_token", Config: sh("", script), Value: sensitive.New(canary)})
		errc <- err
	}()
	return s.Dir, errc
}

// readPID waits for the script to write a pid, a line, to file in dir.
func readPID(t *testing.T, dir, file string, done <-chan error) int {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		select {
		case err := <-done:
			t.Fatalf("the command ended before it wrote %s: %v", file, err)
		default:
		}
		b, err := os.ReadFile(filepath.Join(dir, file))
		if err != nil || !bytes.HasSuffix(b, []byte("\n")) {
			continue
		}
		pid, err := strconv.Atoi(string(bytes.TrimSpace(b)))
		if err != nil {
			t.Fatalf("%s holds %q", file, b)
		}
		return pid
	}
	t.Fatalf("the command never wrote %s", file)
	return 0
}

// gone reports whether no process has pid any more: none does, or a zombie
// that its new parent has not reaped yet.
func gone(pid int) bool {
	if syscall.Kill(pid, 0) == syscall.ESRCH {
		return true
	}
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(stat, ')') // after the command's name
	return i > 0 && i+2 < len(stat) && stat[i+2] == 'Z'
}

// Cancelling a command kills the processes it started too: a check whose
// child sleeps on must not outlive rotplan's decision to stop it.
func TestCancelKillsTheProcessGroup(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dir, done := startCheck(t, ctx, `cat >/dev/null; sleep 60 & echo $! > grandchild.pid; echo $$ > child.pid; wait`)
	child := readPID(t, dir, "child.pid", done)
	grandchild := readPID(t, dir, "grandchild.pid", done)
	t.Cleanup(func() { syscall.Kill(grandchild, syscall.SIGKILL) })

	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("got %v, want context.Canceled", err)
	}
	for name, pid := range map[string]int{"the command": child, "its child": grandchild} {
		deadline := time.Now().Add(10 * time.Second)
		for !gone(pid) && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if !gone(pid) {
			t.Errorf("%s (pid %d) still runs after the cancel", name, pid)
		}
	}
}

// A command runs in a process group of its own, so the SIGINT a terminal
// sends rotplan's group on Ctrl-C does not reach it.
func TestCommandHasItsOwnProcessGroup(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dir, done := startCheck(t, ctx, `cat >/dev/null; echo $$ > child.pid; exec sleep 60`)
	child := readPID(t, dir, "child.pid", done)

	pgid, err := syscall.Getpgid(child)
	if err != nil {
		t.Fatal(err)
	}
	if ours := syscall.Getpgrp(); pgid == ours {
		t.Errorf("the command is in rotplan's process group %d", ours)
	}
	if pgid != child {
		t.Errorf("the command (pid %d) is in process group %d, want its own", child, pgid)
	}
	cancel()
	<-done
}
