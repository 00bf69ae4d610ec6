package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	fakesm "github.com/rotplan/rotplan/internal/fakes/secretsmanager"
)

// TestTwoAWSAccountsFake pins issue 8's provider aliases: two provider
// blocks of one type, provider "aws" and provider "aws" "prod", each with
// its own endpoint (two Secrets Manager fakes standing for two accounts).
// A store chooses the second with provider = aws.prod. Plan reads each
// secret from its own account, and apply writes each to its own account
// only.
func TestTwoAWSAccountsFake(t *testing.T) {
	staging, prod := fakesm.New(t), fakesm.New(t)
	old := time.Now().Add(-100 * 24 * time.Hour)
	staging.Seed(fakesm.Secret{Name: "app/api-key", Current: "canary-staging-old", Created: old, LastChanged: old})
	prod.Seed(fakesm.Secret{Name: "app/api-key", Current: "canary-prod-old", Created: old, LastChanged: old})

	dir := t.TempDir()
	inventory := `
provider "aws" {
  region   = "eu-west-1"
  endpoint = env("STAGING_ENDPOINT")
}

provider "aws" "prod" {
  region   = "us-east-1"
  endpoint = env("PROD_ENDPOINT")
}

secret "staging_api_key" {
  frequency = "90d"
  store "aws_secretsmanager" {
    secret_id = "app/api-key"
  }
  generate "random" {}
}

secret "prod_api_key" {
  frequency = "90d"
  store "aws_secretsmanager" {
    provider  = aws.prod
    secret_id = "app/api-key"
  }
  generate "random" {}
}
`
	if err := os.WriteFile(filepath.Join(dir, "secrets.hcl"), []byte(inventory), 0o600); err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{
		"STAGING_ENDPOINT":            staging.URL,
		"PROD_ENDPOINT":               prod.URL,
		"AWS_ENDPOINT_URL":            "",
		"AWS_ACCESS_KEY_ID":           "AKIAALIASFAKE0000001",
		"AWS_SECRET_ACCESS_KEY":       "not-a-real-secret-key",
		"AWS_SESSION_TOKEN":           "",
		"AWS_PROFILE":                 "",
		"AWS_CONFIG_FILE":             filepath.Join(dir, "no-aws-config"),
		"AWS_SHARED_CREDENTIALS_FILE": filepath.Join(dir, "no-aws-credentials"),
		"AWS_EC2_METADATA_DISABLED":   "true",
		"NO_COLOR":                    "1",
	} {
		t.Setenv(k, v)
	}
	rotplan := func(args ...string) (int, string) {
		t.Helper()
		var stdout, stderr bytes.Buffer
		code := run(append([]string{"-chdir=" + dir}, args...), strings.NewReader(""), &stdout, &stderr)
		if strings.Contains(stdout.String()+stderr.String(), "canary-") {
			t.Fatalf("rotplan %s printed a value", strings.Join(args, " "))
		}
		return code, stdout.String() + stderr.String()
	}

	code, out := rotplan("plan", "-detailed-exitcode")
	if code != exitPending || !strings.Contains(out, "secret.staging_api_key will be rotated") || !strings.Contains(out, "secret.prod_api_key will be rotated") {
		t.Fatalf("plan exited %d:\n%s", code, out)
	}
	code, out = rotplan("apply", "-auto-approve", "-target", "secret.prod_api_key")
	if code != exitOK {
		t.Fatalf("apply exited %d:\n%s", code, out)
	}
	if v, _ := prod.Value("app/api-key", fakesm.Current); v == "canary-prod-old" || v == "" {
		t.Error("the prod account's secret was not rotated")
	}
	if v, _ := staging.Value("app/api-key", fakesm.Current); v != "canary-staging-old" {
		t.Error("rotating the prod secret changed the staging account's secret of the same name")
	}
	code, out = rotplan("plan", "-detailed-exitcode")
	if code != exitPending || !strings.Contains(out, "secret.staging_api_key will be rotated") || strings.Contains(out, "secret.prod_api_key will be rotated") {
		t.Errorf("plan after the prod rotation exited %d:\n%s", code, out)
	}
}
