package main

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCanaryQuickstart runs every read-only command on the quickstart with
// trace logging on and checks that none of the store's values, nor the
// values its dotenv file holds, appear in anything rotplan printed or wrote.
func TestCanaryQuickstart(t *testing.T) {
	dir := t.TempDir()
	copyDir(t, "../../examples/quickstart", dir)
	if err := os.Chmod(filepath.Join(dir, "rotplan.store"), 0o600); err != nil {
		t.Fatal(err)
	}
	canaries := storeValues(t, filepath.Join(dir, "rotplan.store"))
	canaries = append(canaries, envValues(t, filepath.Join(dir, "app.env"))...)
	if len(canaries) < 10 {
		t.Fatalf("only %d canary values found; the quickstart should hold more", len(canaries))
	}
	envBefore, err := os.ReadFile(filepath.Join(dir, "app.env"))
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("ROTPLAN_LOG", "trace")

	runs := [][]string{
		{"validate"},
		{"plan", "-at", "2026-12-01"},
		{"plan", "-at", "2026-12-01", "-json"},
		{"plan", "-at", "2026-12-01", "-markdown"},
		{"plan", "-at", "2026-12-01", "-out", filepath.Join(dir, "saved.plan")},
		{"plan", "-at", "+400d", "-detailed-exitcode"},
		{"plan", "-at", "2026-12-01", "-target", "secret.database_url", "-replace", "secret.db_password"},
		{"show", filepath.Join(dir, "saved.plan")},
		{"graph"},
		{"fmt", "-check"},
	}
	var output bytes.Buffer
	var logged bool
	for _, args := range runs {
		var stdout, stderr bytes.Buffer
		code := run(append([]string{"-chdir=" + dir}, args...), strings.NewReader(""), &stdout, &stderr)
		if code != exitOK && code != exitPending && code != exitFormat {
			t.Errorf("rotplan %s exited %d:\n%s", strings.Join(args, " "), code, stderr.String())
		}
		logged = logged || strings.Contains(stderr.String(), "[DEBUG]")
		output.Write(stdout.Bytes())
		output.Write(stderr.Bytes())
	}
	if !logged {
		t.Error("no debug log line reached stderr: the trace run logged nothing, so it proves nothing")
	}

	scan := func(where string, b []byte) {
		for _, c := range canaries {
			if bytes.Contains(b, []byte(c)) {
				t.Errorf("a secret value leaked into %s", where)
			}
		}
	}
	scan("stdout or stderr", output.Bytes())
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		switch filepath.Base(path) {
		case "rotplan.store", "app.env":
			return nil // the store itself, and the target file plan only reads
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		scan(path, b)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if envAfter, _ := os.ReadFile(filepath.Join(dir, "app.env")); !bytes.Equal(envBefore, envAfter) {
		t.Error("plan changed app.env")
	}
	if info, err := os.Stat(filepath.Join(dir, "saved.plan")); err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("saved plan: %v, mode %v; want mode 0600", err, info.Mode().Perm())
	}
}

// storeValues returns every "value" field of a local store file.
func storeValues(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Secrets map[string]map[string]json.RawMessage `json:"secrets"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	var values []string
	for _, slots := range doc.Secrets {
		for _, raw := range slots {
			var v struct{ Value string }
			if json.Unmarshal(raw, &v) == nil && v.Value != "" {
				values = append(values, v.Value)
			}
		}
	}
	return values
}

// envValues returns the values of a dotenv file's secret-looking keys.
func envValues(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var values []string
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, "=")
		if !ok || strings.HasPrefix(k, "#") || k == "APP_ENV" || k == "LISTEN_ADDR" {
			continue
		}
		values = append(values, strings.Trim(v, `"`))
	}
	return values
}

func copyDir(t *testing.T, from, to string) {
	t.Helper()
	entries, err := os.ReadDir(from)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(from, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(to, e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
