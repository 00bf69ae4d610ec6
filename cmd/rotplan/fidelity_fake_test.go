package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	fakefly "github.com/rotplan/rotplan/internal/fakes/fly"
	fakesm "github.com/rotplan/rotplan/internal/fakes/secretsmanager"
)

// fidelityEnv points the AWS SDK at nothing of this machine's setup.
func fidelityEnv(t *testing.T) {
	t.Helper()
	dir := t.TempDir()
	for k, v := range map[string]string{
		"AWS_ACCESS_KEY_ID":           "AKIAFIDELITYFAKE0001",
		"AWS_SECRET_ACCESS_KEY":       "fidelity-fake-secret-key",
		"AWS_SESSION_TOKEN":           "",
		"AWS_PROFILE":                 "",
		"AWS_ENDPOINT_URL":            "",
		"AWS_CONFIG_FILE":             filepath.Join(dir, "config"),
		"AWS_SHARED_CREDENTIALS_FILE": filepath.Join(dir, "credentials"),
		"AWS_EC2_METADATA_DISABLED":   "true",
		"ROTPLAN_LOG":                 "",
		"NO_COLOR":                    "1",
	} {
		t.Setenv(k, v)
	}
}

// fidelityRun runs rotplan on dir in this process.
func fidelityRun(t *testing.T, dir string, args ...string) (int, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(append([]string{"-chdir=" + dir}, args...), strings.NewReader(""), &stdout, &stderr)
	return code, stdout.String() + stderr.String()
}

// TestCloudforgeFakePlanAfterApplyListLag: Secrets Manager's ListSecrets
// may not show the last five minutes' changes. A plan right after an apply
// (a CI retry) must not see the rotated secret as still due and rotate it
// again, cutting the previous value's grace short.
func TestCloudforgeFakePlanAfterApplyListLag(t *testing.T) {
	fidelityEnv(t)
	sm := fakesm.New(t)
	sm.SetListLag(5 * time.Minute)
	old := time.Now().Add(-100 * 24 * time.Hour)
	sm.Seed(fakesm.Secret{Name: "cloudforge/api-key", Current: "fidelity-old-value-0001", Created: old, LastChanged: old})

	dir := t.TempDir()
	inv := fmt.Sprintf(`
provider "aws" {
  region   = "us-east-1"
  endpoint = %q
}

secret "api_key" {
  frequency = "90d"
  store "aws_secretsmanager" {
    secret_id = "cloudforge/api-key"
  }
  generate "random" {}
}
`, sm.URL)
	if err := os.WriteFile(filepath.Join(dir, "secrets.hcl"), []byte(inv), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, out := fidelityRun(t, dir, "plan", "-detailed-exitcode"); code != exitPending || !strings.Contains(out, "will be rotated (due)") {
		t.Fatalf("plan before: exit %d\n%s", code, out)
	}
	if code, out := fidelityRun(t, dir, "apply", "-auto-approve"); code != exitOK || !strings.Contains(out, "1 rotated") {
		t.Fatalf("apply: exit %d\n%s", code, out)
	}
	code, out := fidelityRun(t, dir, "plan", "-detailed-exitcode")
	if code != exitOK {
		t.Fatalf("plan right after the apply: exit %d, want 0 (nothing to do)\n%s", code, out)
	}
	if sm.Calls("DescribeSecret") == 0 {
		t.Error("plan never confirmed the lagging list with DescribeSecret")
	}
}

// TestFlyFakeDriftAndSync: a secret copied into a Fly app, whose digests
// are opaque as current Fly's are, and into an env file. After the apply,
// plan sees the app holding it (by the digest record kept in the store);
// a sync the env file needs leaves the app alone (no update, no restart);
// a hand edit of the Fly secret is drift.
func TestFlyFakeDriftAndSync(t *testing.T) {
	fidelityEnv(t)
	sm := fakesm.New(t)
	old := time.Now().Add(-100 * 24 * time.Hour)
	sm.Seed(fakesm.Secret{Name: "cloudforge/jwt", Current: "fidelity-jwt-value-0000", Created: old, LastChanged: old})
	fly := fakefly.New(t)
	fly.Seed("cloudforge-api", map[string]string{"JWT_SIGNING_KEY": "fidelity-jwt-value-0000"})
	machine := fly.AddMachine("cloudforge-api", fakefly.MachineSpec{})

	dir := t.TempDir()
	inv := fmt.Sprintf(`
provider "aws" {
  region   = "us-east-1"
  endpoint = %q
}

provider "fly" {
  api_token = %q
  api_url   = %q
}

secret "jwt_signing_key" {
  frequency = "90d"
  store "aws_secretsmanager" {
    secret_id = "cloudforge/jwt"
  }
  generate "random" {}
  target "fly" "api" {
    app = "cloudforge-api"
    key = "JWT_SIGNING_KEY"
  }
  target "env_file" "worker" {
    path = "worker.env"
    key  = "JWT_SIGNING_KEY"
  }
}
`, sm.URL, fakefly.DefaultToken, fly.URL)
	if err := os.WriteFile(filepath.Join(dir, "secrets.hcl"), []byte(inv), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, out := fidelityRun(t, dir, "apply", "-auto-approve"); code != exitOK || !strings.Contains(out, "1 rotated") {
		t.Fatalf("apply: exit %d\n%s", code, out)
	}
	if code, out := fidelityRun(t, dir, "plan", "-detailed-exitcode"); code != exitOK {
		t.Fatalf("plan after the apply: exit %d, want 0\n%s", code, out)
	}
	rotated, _ := fly.Value("cloudforge-api", "JWT_SIGNING_KEY")

	// The env file is edited by hand: a sync, which the Fly app does not
	// need.
	envPath := filepath.Join(dir, "worker.env")
	if err := os.WriteFile(envPath, []byte("JWT_SIGNING_KEY=edited-by-hand\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out := fidelityRun(t, dir, "plan", "-detailed-exitcode")
	if code != exitPending || !strings.Contains(out, "target.env_file.worker holds a different value") || strings.Contains(out, "target.fly.api holds") {
		t.Fatalf("plan after the env file's edit: exit %d\n%s", code, out)
	}
	before, _ := fly.Machine("cloudforge-api", machine)
	writes := fly.Calls("cloudforge-api").Writes
	if code, out := fidelityRun(t, dir, "apply", "-auto-approve"); code != exitOK || !strings.Contains(out, "1 synced") {
		t.Fatalf("sync: exit %d\n%s", code, out)
	}
	after, _ := fly.Machine("cloudforge-api", machine)
	if after.Updates != before.Updates || fly.Calls("cloudforge-api").Writes != writes {
		t.Errorf("the sync wrote to the Fly app or restarted its Machine (updates %d → %d), which held the value already", before.Updates, after.Updates)
	}
	if v, _ := fly.Value("cloudforge-api", "JWT_SIGNING_KEY"); v != rotated {
		t.Error("the Fly app's value changed")
	}

	// The Fly secret is edited by hand: drift.
	fly.Seed("cloudforge-api", map[string]string{"JWT_SIGNING_KEY": "edited-in-fly-by-hand"})
	code, out = fidelityRun(t, dir, "plan", "-detailed-exitcode")
	if code != exitPending || !strings.Contains(out, "target.fly.api holds a different value") {
		t.Fatalf("plan after the Fly secret's edit: exit %d, want drift\n%s", code, out)
	}
}
