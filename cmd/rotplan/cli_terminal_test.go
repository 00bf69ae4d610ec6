//go:build unix

package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// init without -secret asks on the terminal, and writes what it was told.
func TestInitTerminalAsks(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "team")
	r := startOnTerminal(t, dir, nil, "init")
	at := r.expect(t, 0, "Secret names, separated by commas [api_token]: ")
	r.typeIn(t, "db_password, api_key\r")
	at = r.expect(t, at, "Rotate every [90d]: ")
	r.typeIn(t, "30d\r")
	at = r.expect(t, at, "Copy the values into the env file (- for none) [app.env]: ")
	r.typeIn(t, "-\r")
	r.expect(t, at, "Keep apply's state in (local, postgres, s3) [local]: ")
	r.typeIn(t, "s3\r")
	if code := r.exitCode(t); code != exitOK {
		t.Fatalf("init exited %d:\n%s", code, r.screen())
	}
	src := readFile(t, dir, "secrets.hcl")
	for _, want := range []string{`secret "db_password"`, `secret "api_key"`, `frequency = "30d"`, `state "s3"`} {
		if !strings.Contains(src, want) {
			t.Errorf("secrets.hcl lacks %s:\n%s", want, src)
		}
	}
	if strings.Contains(src, "env_file") {
		t.Errorf("secrets.hcl has an env file target, though none was asked for:\n%s", src)
	}
}

// import asks for a value the store lacks without echoing it, and stores
// it as current.
func TestImportTerminalHiddenPrompt(t *testing.T) {
	dir := t.TempDir()
	inv := "secret \"api_token\" {\n  frequency = \"90d\"\n  generate \"random\" {}\n}\n"
	if err := os.WriteFile(filepath.Join(dir, "secrets.hcl"), []byte(inv), 0o600); err != nil {
		t.Fatal(err)
	}
	const value = "typed-in-token-value"
	r := startOnTerminal(t, dir, nil, "import", "secret.api_token", "-changed-at", "2026-10-01")
	r.expect(t, 0, "Paste the value in use today (input is hidden): ")
	// The prompt is shown a moment before the echo goes off: type once it
	// has, as a person would.
	waitFor(t, "the terminal's echo to go off", func() bool {
		modes, err := unix.IoctlGetTermios(int(r.tty.Fd()), ioctlGetTermios)
		return err == nil && modes.Lflag&unix.ECHO == 0
	})
	r.typeIn(t, value+"\r")
	if code := r.exitCode(t); code != exitOK {
		t.Fatalf("import exited %d:\n%s", code, r.screen())
	}
	if strings.Contains(r.screen(), value) {
		t.Error("the terminal echoed the value")
	}
	if store := readFile(t, dir, "rotplan.store"); !strings.Contains(store, value) || !strings.Contains(store, `"rotated_at": "2026-10-01T00:00:00Z"`) {
		t.Errorf("the store does not hold the value as current, rotated 2026-10-01:\n%s", strings.ReplaceAll(store, value, "(the value)"))
	}
}
