package main

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	fakeiam "github.com/rotplan/rotplan/internal/fakes/iam"
)

// TestIAMAccessKeyFakeEndToEnd rotates an IAM user's access key through
// the CLI against the IAM and STS fake, which checks every signature: the
// key pair is kept in the local store as {access_key_id,
// secret_access_key} and proven by verify "aws_sts" signed with it. It
// creates the first key, has plan report a key made by hand (target
// "aws_iam_access_key") and a retire deactivate it, rotates the key (both
// keys live through the grace),
// retires the old one (revoke = "deactivate": made Inactive), and then a
// rotation whose check fails is rolled back: the new key is deleted and
// the current one still works. Last, an apply is killed right after the
// new key is minted and journaled, and the next applies delete that key. No
// secret access key appears in anything rotplan printed or wrote outside
// the store.
func TestIAMAccessKeyFakeEndToEnd(t *testing.T) {
	fake := fakeiam.New(t)
	const adminID, adminSecret = "AKIAE2EADMIN00000001", "e2e-admin-secret"
	fake.AddKey("rotplan-admin", adminID, adminSecret)
	fake.AddUser("app")
	// Each apply's key is made a minute after the last one, as IAM would
	// date keys made days apart; rotplan tells a retiring key from a
	// rolled-back one by their dates.
	minted := time.Now().Add(-time.Hour)
	next := func() {
		minted = minted.Add(time.Minute)
		at := minted
		fake.SetClock(func() time.Time { return at })
	}
	next()

	dir := t.TempDir()
	inventory := `
provider "aws" {
  region   = "us-east-1"
  endpoint = env("IAM_ENDPOINT")
}

secret "app_key" {
  frequency = "90d"
  grace     = "24h"
  store "local" {}
  generate "aws_iam_access_key" {
    user_name = "app"
    revoke    = "deactivate"
  }
  target "aws_iam_access_key" "app" {
    user_name = "app"
  }
  verify "aws_sts" {
    account = "` + fakeiam.Account + `"
    arn     = "` + fakeiam.ARN("app") + `"
    timeout = "5s"
  }
}
`
	if err := os.WriteFile(filepath.Join(dir, "secrets.hcl"), []byte(inventory), 0o600); err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{
		"IAM_ENDPOINT":                fake.URL,
		"AWS_ENDPOINT_URL":            "",
		"AWS_ACCESS_KEY_ID":           adminID,
		"AWS_SECRET_ACCESS_KEY":       adminSecret,
		"AWS_SESSION_TOKEN":           "",
		"AWS_PROFILE":                 "",
		"AWS_REGION":                  "",
		"AWS_CONFIG_FILE":             filepath.Join(dir, "no-aws-config"),
		"AWS_SHARED_CREDENTIALS_FILE": filepath.Join(dir, "no-aws-credentials"),
		"AWS_EC2_METADATA_DISABLED":   "true",
		"NO_COLOR":                    "1",
	} {
		t.Setenv(k, v)
	}

	// secrets are every secret access key the store has held: none may
	// appear anywhere else.
	secrets := map[string]bool{adminSecret: true}
	type pair struct{ id, secret string }
	storeFile := filepath.Join(dir, "rotplan.store")
	current := func(t *testing.T) (cur, prev pair) {
		t.Helper()
		b, err := os.ReadFile(storeFile)
		if err != nil {
			t.Fatal(err)
		}
		var doc struct {
			Secrets map[string]struct {
				Current, Previous *struct{ Value string }
			}
		}
		if err := json.Unmarshal(b, &doc); err != nil {
			t.Fatal(err)
		}
		read := func(v *struct{ Value string }) pair {
			if v == nil {
				return pair{}
			}
			var f struct {
				ID     string `json:"access_key_id"`
				Secret string `json:"secret_access_key"`
			}
			if err := json.Unmarshal([]byte(v.Value), &f); err != nil || f.ID == "" || f.Secret == "" {
				t.Fatalf("the store does not hold an access key's fields: %v", err)
			}
			secrets[f.Secret] = true
			return pair{f.ID, f.Secret}
		}
		e := doc.Secrets["app_key"]
		return read(e.Current), read(e.Previous)
	}
	var said strings.Builder
	rotplan := func(args ...string) (int, string) {
		t.Helper()
		var stdout, stderr bytes.Buffer
		code := run(append([]string{"-chdir=" + dir}, args...), strings.NewReader(""), &stdout, &stderr)
		said.WriteString(stdout.String() + stderr.String())
		return code, stdout.String() + stderr.String()
	}
	statuses := func() map[string]string {
		out := map[string]string{}
		for _, k := range fake.Keys("app") {
			out[k.ID] = k.Status
		}
		return out
	}
	works := func(t *testing.T, p pair) bool {
		t.Helper()
		api := sts.New(sts.Options{Region: "us-east-1", BaseEndpoint: awssdk.String(fake.URL), Credentials: credentials.NewStaticCredentialsProvider(p.id, p.secret, ""), RetryMaxAttempts: 1})
		_, err := api.GetCallerIdentity(t.Context(), &sts.GetCallerIdentityInput{})
		return err == nil
	}

	// Create: the first key.
	if code, out := rotplan("apply", "-auto-approve"); code != exitOK {
		t.Fatalf("apply (create) exited %d:\n%s", code, out)
	}
	a, _ := current(t)
	if got := statuses(); len(got) != 1 || got[a.id] != fakeiam.Active || !works(t, a) {
		t.Fatalf("after the create the user has %v; the store's key %s works: %v", got, a.id, works(t, a))
	}

	// A key made by hand: plan reports it, and a retire deactivates it.
	fake.AddKey("app", "AKIAHANDMADE00000001", "handmade-secret")
	secrets["handmade-secret"] = true
	if code, out := rotplan("plan", "-detailed-exitcode"); code != exitPending || !strings.Contains(out, "accepts 1 credential that rotplan did not make") {
		t.Fatalf("plan with a hand-made key exited %d:\n%s", code, out)
	}
	if code, out := rotplan("apply", "-auto-approve"); code != exitOK {
		t.Fatalf("apply (retire the hand-made key) exited %d:\n%s", code, out)
	}
	if got := statuses(); got["AKIAHANDMADE00000001"] != fakeiam.Inactive || got[a.id] != fakeiam.Active {
		t.Fatalf("after the retire of the hand-made key the user has %v", got)
	}
	if code, out := rotplan("plan", "-detailed-exitcode"); code != exitOK {
		t.Fatalf("plan after that exited %d:\n%s", code, out)
	}

	// Rotate: a second key, made in the slot of the inactive hand-made
	// one; the first stays valid through the grace.
	next()
	if code, out := rotplan("apply", "-auto-approve", "-replace", "secret.app_key"); code != exitOK {
		t.Fatalf("apply (rotate) exited %d:\n%s", code, out)
	}
	b, prev := current(t)
	if prev != a || b.id == a.id || !works(t, a) || !works(t, b) {
		t.Fatalf("after the rotation the store holds %s (previous %s), want a new key and %s; both work: %v %v", b.id, prev.id, a.id, works(t, a), works(t, b))
	}

	// Retire, once the grace is over: the old key is made Inactive.
	clock = func() time.Time { return time.Now().Add(25 * time.Hour) }
	defer func() { clock = nil }()
	if code, out := rotplan("apply", "-auto-approve"); code != exitOK || !strings.Contains(out, "retire") {
		t.Fatalf("apply (retire) exited %d:\n%s", code, out)
	}
	if cur, prev := current(t); cur != b || prev != (pair{}) {
		t.Fatalf("after the retire the store holds %s and previous %s", cur.id, prev.id)
	}
	if got := statuses(); got[a.id] != fakeiam.Inactive || got[b.id] != fakeiam.Active || works(t, a) {
		t.Fatalf("after the retire the user has %v, want %s inactive and %s active", got, a.id, b.id)
	}

	// A rotation whose check fails: STS denies the new key. The inactive
	// key makes room for it first; the rollback deletes it; the current
	// key still works.
	next()
	fake.FailNext("GetCallerIdentity", fakeiam.Failure{Status: 403, Code: "AccessDenied", Message: "User is not authorized to perform: sts:GetCallerIdentity"})
	code, out := rotplan("apply", "-auto-approve", "-replace", "secret.app_key")
	if code != exitError || !strings.Contains(out, "AccessDenied") {
		t.Fatalf("apply (failing check) exited %d:\n%s", code, out)
	}
	if cur, prev := current(t); cur != b || prev != (pair{}) {
		t.Errorf("after the rollback the store holds %s and previous %s, want %s alone", cur.id, prev.id, b.id)
	}
	if got := statuses(); len(got) != 1 || got[b.id] != fakeiam.Active || !works(t, b) {
		t.Errorf("after the rollback the user has %v, want only %s, working", got, b.id)
	}
	if n := fake.Calls("CreateAccessKey"); n != 3 {
		t.Errorf("%d keys were minted, want 3", n)
	}

	// An apply killed (SIGKILL) once the new key is minted and journaled,
	// before the store took it: the next apply finds the journaled rotation
	// that no store holds, and deletes the key it minted.
	fake.SetClock(time.Now)
	cli := exec.Command(os.Args[0], "-chdir="+dir, "apply", "-auto-approve", "-replace", "secret.app_key")
	cli.Env = append(os.Environ(), "ROTPLAN_TEST_AS_CLI=1", "ROTPLAN_TEST_CRASH_AFTER=generate", "ROTPLAN_TEST_CLOCK=", "ROTPLAN_LOG=trace")
	killed, _ := cli.CombinedOutput()
	said.Write(killed)
	if cli.ProcessState == nil || cli.ProcessState.Success() {
		t.Fatalf("the apply to kill was not killed:\n%s", killed)
	}
	if got := statuses(); len(got) != 2 {
		t.Fatalf("after the kill the user has %v, want the current key and the one just minted", got)
	}
	// The target sees the minted key as one rotplan did not make, so the
	// next plan is a retire, which deactivates it; the executor sweeps a
	// journaled rotation only for a secret with no other change planned,
	// so the apply after that deletes it.
	if code, out := rotplan("apply", "-auto-approve"); code != exitOK {
		t.Fatalf("apply after the kill exited %d:\n%s", code, out)
	}
	for _, k := range fake.Keys("app") {
		if k.ID != b.id && k.Status != fakeiam.Inactive {
			t.Errorf("after the apply that followed the kill, %s is %s", k.ID, k.Status)
		}
	}
	if code, out := rotplan("apply", "-auto-approve"); code != exitOK {
		t.Fatalf("the second apply after the kill exited %d:\n%s", code, out)
	}
	if got := statuses(); len(got) != 1 || got[b.id] != fakeiam.Active || !works(t, b) {
		t.Errorf("after the applies that followed the kill the user has %v, want only %s, working", got, b.id)
	}
	if code, out := rotplan("plan", "-detailed-exitcode"); code != exitOK {
		t.Errorf("plan at the end exited %d:\n%s", code, out)
	}
	if cur, prev := current(t); cur != b || prev != (pair{}) {
		t.Errorf("after the kill the store holds %s and previous %s, want %s alone", cur.id, prev.id, b.id)
	}

	// Nothing rotplan printed or wrote outside the store names a secret.
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || path == storeFile {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for s := range secrets {
			if bytes.Contains(b, []byte(s)) {
				t.Errorf("%s holds a secret access key", filepath.Base(path))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for s := range secrets {
		if strings.Contains(said.String(), s) {
			t.Errorf("rotplan printed a secret access key:\n%s", said.String())
		}
	}
}
