//go:build unix

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"
)

// The tests in this file run `rotplan apply` as its own process on a
// pseudo-terminal, as an operator would at a shell: they answer its prompts,
// press Ctrl-C (the terminal then sends SIGINT to the whole foreground
// process group, checks included) and read what the terminal showed.

// terminalInventory is two manual secrets and a generated one, each
// delivered to app.env; the generated one has a check that records that it
// started and waits for the file "release" (or fails when "fail" exists).
const terminalInventory = `
secret "vendor_a" {
  frequency = "90d"
  generate "manual" {
    instructions = "Create key A in vendor A's console."
  }
  target "env_file" "app" {
    path = "app.env"
    key  = "VENDOR_A"
  }
}

secret "vendor_b" {
  frequency = "90d"
  generate "manual" {
    instructions = "Create key B in vendor B's console."
  }
  target "env_file" "app" {
    path = "app.env"
    key  = "VENDOR_B"
  }
}

secret "session" {
  frequency = "90d"
  generate "random" {}
  target "env_file" "app" {
    path = "app.env"
    key  = "SESSION"
  }
  verify "exec" {
    command = ["sh", "-c", "cat > /dev/null; touch checking; i=0; while [ ! -e release ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i+1)); done; test ! -e fail"]
  }
}

secret "after_session" {
  frequency  = "90d"
  depends_on = [secret.session]
  generate "random" {}
  target "env_file" "app" {
    path = "app.env"
    key  = "AFTER_SESSION"
  }
}
`

// terminalDir writes the inventory, a store whose values are 100 days old
// and app.env holding them.
func terminalDir(t *testing.T, inventory string, names ...string) string {
	t.Helper()
	dir := t.TempDir()
	created := time.Now().Add(-100 * 24 * time.Hour).UTC().Format(time.RFC3339)
	type version struct {
		ID        string `json:"id"`
		Value     string `json:"value"`
		CreatedAt string `json:"created_at"`
	}
	doc := map[string]any{"format_version": 1}
	secrets := map[string]any{}
	var env strings.Builder
	for _, n := range names {
		secrets[n] = map[string]any{"current": version{ID: "v1", Value: "old-" + n, CreatedAt: created}, "rotated_at": created}
		env.WriteString(strings.ToUpper(n) + "=old-" + n + "\n")
	}
	doc["secrets"] = secrets
	b, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	for name, content := range map[string]string{"secrets.hcl": inventory, "rotplan.store": string(b), "app.env": env.String()} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// onTerminal is rotplan running on a pseudo-terminal.
type onTerminal struct {
	cmd     *exec.Cmd
	master  *os.File
	tty     *os.File // the terminal's side, kept open to read its modes
	mu      sync.Mutex
	shown   bytes.Buffer // everything the terminal showed
	exited  chan struct{}
	waitErr error
}

func startOnTerminal(t *testing.T, dir string, env []string, args ...string) *onTerminal {
	t.Helper()
	bin, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	master, tty, err := pty.Open()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	cmd := exec.CommandContext(ctx, bin, append([]string{"-chdir=" + dir}, args...)...)
	cmd.Env = append(append(os.Environ(), "ROTPLAN_TEST_AS_CLI=1", "ROTPLAN_TEST_CRASH_AFTER=", "NO_COLOR=1", "TERM=xterm"), env...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = tty, tty, tty
	// A session of its own with the terminal as its controlling terminal,
	// so Ctrl-C reaches its foreground process group, as at a shell.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r := &onTerminal{cmd: cmd, master: master, tty: tty, exited: make(chan struct{})}
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := master.Read(buf)
			r.mu.Lock()
			r.shown.Write(buf[:n])
			r.mu.Unlock()
			if err != nil {
				return
			}
		}
	}()
	go func() {
		r.waitErr = cmd.Wait()
		close(r.exited)
	}()
	t.Cleanup(func() {
		master.Close()
		tty.Close()
	})
	return r
}

func (r *onTerminal) screen() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.shown.String()
}

// expect waits until the terminal has shown text (after the first `after`
// bytes), and returns where it ends.
func (r *onTerminal) expect(t *testing.T, after int, text string) int {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		s := r.screen()
		if after <= len(s) {
			if i := strings.Index(s[after:], text); i >= 0 {
				return after + i + len(text)
			}
		}
		select {
		case <-r.exited:
			// What it printed last may still be on its way through the
			// terminal: a moment more, then no more waiting.
			if d := time.Now().Add(2 * time.Second); d.Before(deadline) {
				deadline = d
			}
		default:
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("the terminal did not show %q (rotplan exited: %v); it showed:\n%s", text, r.waitErr, r.screen())
	return 0
}

// typeIn types text at the terminal, as keys.
func (r *onTerminal) typeIn(t *testing.T, text string) {
	t.Helper()
	if _, err := r.master.Write([]byte(text)); err != nil {
		t.Fatal(err)
	}
}

// exitCode waits for rotplan to exit.
func (r *onTerminal) exitCode(t *testing.T) int {
	t.Helper()
	select {
	case <-r.exited:
	case <-time.After(90 * time.Second):
		t.Fatalf("rotplan did not exit; the terminal showed:\n%s", r.screen())
	}
	var exitErr *exec.ExitError
	switch {
	case r.waitErr == nil:
		return 0
	case errors.As(r.waitErr, &exitErr):
		return exitErr.ExitCode()
	}
	t.Fatal(r.waitErr)
	return -1
}

func readFile(t *testing.T, dir, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func touch(t *testing.T, dir, name string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), nil, 0o600); err != nil {
		t.Fatal(err)
	}
}

// waitForFile waits until a check has created name.
func waitForFile(t *testing.T, r *onTerminal, dir, name string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("%s never appeared; the terminal showed:\n%s", name, r.screen())
}

// Issue 7, defect 1: two manual secrets of one level are asked for one at
// a time, before anything changes, without echo; each gets its own value,
// and no progress line prints over a prompt.
func TestApplyTerminalAsksOneAtATime(t *testing.T) {
	dir := terminalDir(t, terminalInventory, "vendor_a", "vendor_b", "session", "after_session")
	touch(t, dir, "release")
	r := startOnTerminal(t, dir, nil, "apply", "-parallelism", "4")

	at := r.expect(t, 0, "Only 'yes' will be accepted: ")
	r.typeIn(t, "yes\r")
	at = r.expect(t, at, "secret.vendor_a needs a new value made by a person.")
	at = r.expect(t, at, "Paste it here (input is hidden; leave it empty to do it later): ")
	firstPrompt := at
	r.typeIn(t, "canary-typed-for-a\r")
	at = r.expect(t, at, "secret.vendor_b needs a new value made by a person.")
	at = r.expect(t, at, "Paste it here (input is hidden; leave it empty to do it later): ")
	lastPrompt := at
	r.typeIn(t, "canary-typed-for-b\r")
	r.expect(t, at, "Apply complete: 4 rotated")
	if code := r.exitCode(t); code != exitOK {
		t.Fatalf("exit %d; the terminal showed:\n%s", code, r.screen())
	}

	screen := r.screen()
	if strings.Contains(screen, "canary-typed") {
		t.Errorf("a value was echoed on the terminal:\n%s", screen)
	}
	if between := screen[firstPrompt:lastPrompt]; strings.Contains(between, " done [") || strings.Contains(between, ": rotating") {
		t.Errorf("progress printed between the prompts:\n%s", between)
	}
	env := readFile(t, dir, "app.env")
	for _, want := range []string{"VENDOR_A=canary-typed-for-a\n", "VENDOR_B=canary-typed-for-b\n"} {
		if !strings.Contains(env, want) {
			t.Errorf("app.env lacks %q: the values were swapped or lost", strings.SplitN(want, "=", 2)[0])
		}
	}
	for _, name := range []string{"rotplan.state", "rotplan.audit.jsonl"} {
		if strings.Contains(readFile(t, dir, name), "canary-typed") {
			t.Errorf("a value was written to %s", name)
		}
	}
}

// Issue 7, defect 2: Ctrl-C at the hidden prompt stops apply at once, with
// nothing changed and the terminal's echo back on.
func TestApplyTerminalInterruptAtPrompt(t *testing.T) {
	dir := terminalDir(t, terminalInventory, "vendor_a", "vendor_b", "session", "after_session")
	store, env := readFile(t, dir, "rotplan.store"), readFile(t, dir, "app.env")
	r := startOnTerminal(t, dir, nil, "apply", "-auto-approve")

	at := r.expect(t, 0, "Paste it here (input is hidden")
	r.typeIn(t, "half-typed\x03") // Ctrl-C
	r.expect(t, at, "Apply interrupted:")
	if code := r.exitCode(t); code != exitError {
		t.Errorf("exit %d after Ctrl-C, want %d", code, exitError)
	}
	if s := r.screen(); strings.Contains(s, "run apply on a terminal") || strings.Contains(s, " done [") {
		t.Errorf("apply went on after Ctrl-C at the prompt:\n%s", s)
	}
	if readFile(t, dir, "rotplan.store") != store || readFile(t, dir, "app.env") != env {
		t.Error("the store or app.env changed although apply was interrupted at its first question")
	}
	modes, err := unix.IoctlGetTermios(int(r.tty.Fd()), ioctlGetTermios)
	if err != nil {
		t.Fatal(err)
	}
	if modes.Lflag&unix.ECHO == 0 {
		t.Error("the terminal's echo is still off after apply exited")
	}
}

// Issue 7, defect 2: Ctrl-C on the terminal while a check runs. The check,
// in its own process group, is not killed by it; nothing new starts; what
// is in flight finishes (here the check passes once released) and is
// promoted; apply says it was interrupted and exits 1.
func TestApplyTerminalInterruptFinishesInFlight(t *testing.T) {
	dir := terminalDir(t, terminalInventory, "vendor_a", "vendor_b", "session", "after_session")
	r := startOnTerminal(t, dir, nil, "apply", "-auto-approve", "-target", "secret.after_session")

	waitForFile(t, r, dir, "checking")
	r.typeIn(t, "\x03")
	r.expect(t, 0, "Interrupted: starting nothing new")
	touch(t, dir, "release")
	r.expect(t, 0, "Apply interrupted: 1 rotated")
	if code := r.exitCode(t); code != exitError {
		t.Errorf("exit %d, want %d", code, exitError)
	}
	screen := r.screen()
	for _, want := range []string{"secret.session: rotated [", "secret.after_session: skipped: apply was interrupted before it started"} {
		if !strings.Contains(screen, want) {
			t.Errorf("the terminal does not show %q:\n%s", want, screen)
		}
	}
	env := readFile(t, dir, "app.env")
	if strings.Contains(env, "SESSION=old-session") || !strings.Contains(env, "AFTER_SESSION=old-after_session") {
		t.Errorf("app.env: session rotated %t, after_session untouched %t", !strings.Contains(env, "SESSION=old-session"), strings.Contains(env, "AFTER_SESSION=old-after_session"))
	}
}

// Issue 7, defect 2: Ctrl-C while a check hangs past -stop-timeout: the
// check is cancelled, and the rollback runs on a context of its own, so
// app.env holds the old value again (it used to keep the unverified one,
// the rollback failing with "context canceled").
func TestApplyTerminalInterruptRollsBack(t *testing.T) {
	dir := terminalDir(t, terminalInventory, "vendor_a", "vendor_b", "session", "after_session")
	r := startOnTerminal(t, dir, nil, "apply", "-auto-approve", "-stop-timeout", "1s", "-target", "secret.after_session")

	waitForFile(t, r, dir, "checking")
	r.typeIn(t, "\x03")
	r.expect(t, 0, "Apply interrupted: 0 rotated, 0 synced, 0 retired, 1 rolled back, 1 skipped.")
	if code := r.exitCode(t); code != exitError {
		t.Errorf("exit %d, want %d", code, exitError)
	}
	if s := r.screen(); strings.Contains(s, "rollback failed too") {
		t.Errorf("the rollback failed:\n%s", s)
	}
	if env := readFile(t, dir, "app.env"); !strings.Contains(env, "SESSION=old-session\n") {
		t.Error("app.env does not hold the old value after the interrupted rotation rolled back")
	}
	var st struct{ Rotations map[string]any }
	if err := json.Unmarshal([]byte(readFile(t, dir, "rotplan.state")), &st); err != nil || len(st.Rotations) != 0 {
		t.Errorf("journal after the rollback: %v (%v)", st.Rotations, err)
	}
}

// Issue 7, defect 2: a second Ctrl-C stops apply at once; the journal keeps
// the rotation in flight, and the next apply resumes it.
func TestApplyTerminalSecondInterruptResumes(t *testing.T) {
	dir := terminalDir(t, terminalInventory, "vendor_a", "vendor_b", "session", "after_session")
	r := startOnTerminal(t, dir, nil, "apply", "-auto-approve", "-target", "secret.session")

	waitForFile(t, r, dir, "checking")
	r.typeIn(t, "\x03")
	at := r.expect(t, 0, "Interrupted: starting nothing new")
	r.typeIn(t, "\x03")
	r.expect(t, at, "Interrupted again: stopping now. Run apply again to resume from the journal.")
	if code := r.exitCode(t); code != exitError {
		t.Errorf("exit %d, want %d", code, exitError)
	}
	if state := readFile(t, dir, "rotplan.state"); !strings.Contains(state, `"state": "delivered"`) {
		t.Fatalf("the journal does not hold the rotation in flight:\n%s", state)
	}

	touch(t, dir, "release")
	again := startOnTerminal(t, dir, nil, "apply", "-auto-approve", "-target", "secret.session")
	again.expect(t, 0, "will resume its interrupted rotation")
	again.expect(t, 0, "Apply complete: 1 rotated")
	if code := again.exitCode(t); code != exitOK {
		t.Fatalf("the resuming apply exited %d:\n%s", code, again.screen())
	}
	if s := again.screen(); strings.Contains(s, "session: deliver done") {
		t.Errorf("the resumed rotation delivered again what the journal says was delivered:\n%s", s)
	}
}
