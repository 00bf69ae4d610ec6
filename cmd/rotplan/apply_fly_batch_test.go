package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rotplan/rotplan/internal/fakes/fly"
)

// TestApplyBatchesFlyAppFake pins DESIGN's "one update per Fly app, not one
// per secret": three secrets due at once, each copied into the same Fly app,
// reach it in one secrets update and one rolling restart, and a secret made
// from one of them (the next dependency level) in one more.
func TestApplyBatchesFlyAppFake(t *testing.T) {
	api := fly.New(t)
	api.Seed("cloudforge-api", map[string]string{})
	machine := api.AddMachine("cloudforge-api", fly.MachineSpec{})

	dir := t.TempDir()
	var inv strings.Builder
	fmt.Fprintf(&inv, "provider \"fly\" {\n  api_token = %q\n  api_url   = %q\n}\n", fly.DefaultToken, api.URL)
	for _, name := range []string{"jwt_signing_key", "session_key", "db_password"} {
		fmt.Fprintf(&inv, `
secret %q {
  frequency = "90d"
  generate "random" {}
  target "fly" "api" {
    app = "cloudforge-api"
    key = %q
  }
}
`, name, strings.ToUpper(name))
	}
	inv.WriteString(`
secret "database_url" {
  frequency = "90d"
  generate "template" {
    template = "postgres://app:${secret.db_password.value}@db/app"
  }
  target "fly" "api" {
    app = "cloudforge-api"
    key = "DATABASE_URL"
  }
}
`)
	if err := os.WriteFile(filepath.Join(dir, "secrets.hcl"), []byte(inv.String()), 0o644); err != nil {
		t.Fatal(err)
	}

	var stdout, stderr bytes.Buffer
	if code := run([]string{"-chdir=" + dir, "apply", "-auto-approve", "-no-color"}, strings.NewReader(""), &stdout, &stderr); code != exitOK {
		t.Fatalf("apply exited %d:\n%s\n%s", code, stdout.String(), stderr.String())
	}
	if !strings.Contains(stdout.String(), "Apply complete: 4 created") {
		t.Fatalf("apply did not create the four secrets:\n%s", stdout.String())
	}

	calls := api.Calls("cloudforge-api")
	if calls.Writes != 2 {
		t.Errorf("secrets updates = %d, want 2: one for the three independent secrets, one for the DSN made from one of them", calls.Writes)
	}
	m, _ := api.Machine("cloudforge-api", machine)
	if m.Updates != 2 {
		t.Errorf("the Machine was restarted %d times, want 2 (one per update)", m.Updates)
	}
	for _, key := range []string{"JWT_SIGNING_KEY", "SESSION_KEY", "DB_PASSWORD", "DATABASE_URL"} {
		if _, ok := api.RunningValue("cloudforge-api", machine, key); !ok {
			t.Errorf("the Machine does not run %s", key)
		}
	}
}
