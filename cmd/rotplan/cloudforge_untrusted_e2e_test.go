package main

import (
	"os"
	"regexp"
	"testing"

	"github.com/rotplan/rotplan/internal/testservers"
)

// TestCloudforgeFakePlanWithoutApplyCredentials plans examples/cloudforge
// (issue 11) with none of the variables only its checks read: the bearer
// token its http checks send, the Okta and Entra settings, which
// examples/cloudforge/README.md once said plan needed. A pull request's plan
// needs read access to stores and targets, nothing more. apply, which runs
// the checks, still needs them and names the one missing; given them, it
// rotates.
func TestCloudforgeFakePlanWithoutApplyCredentials(t *testing.T) {
	s := &cfSuite{pg: testservers.StartPostgres(t), canaries: map[string]bool{}}
	s.pg.Exec(t, "CREATE DATABASE aegis")
	s.canary(s.pg.AdminPassword)
	w := s.start(t, cfDue{jwt: true})
	for _, name := range []string{"CLOUDFORGE_API_TOKEN", "OKTA_ORG_URL", "CLOUDFORGE_ENTRA_TENANT_ID", "CLOUDFORGE_ENTRA_CLIENT_ID"} {
		t.Setenv(name, "") // restored when the test ends
		if err := os.Unsetenv(name); err != nil {
			t.Fatal(err)
		}
	}

	r := w.rotplan(t, "plan", "-detailed-exitcode")
	r.wantCode(t, exitPending)
	r.wantStdout(t,
		`(?m)^  ~ secret\.jwt_signing_key will be rotated \(due\)$`,
		`(?m)^Plan: 1 to rotate, 0 to sync, 0 to retire, 4 unchanged\.$`)

	r = w.rotplan(t, "apply", "-auto-approve")
	r.wantCode(t, exitError)
	if !regexp.MustCompile(`The inventory reads CLOUDFORGE_API_TOKEN with env\(\), but it is not set\.`).MatchString(r.stderr) {
		t.Errorf("apply does not name the variable it needs:\n%s", r.stderr)
	}

	// With them, apply rotates the key and its checks pass.
	t.Setenv("CLOUDFORGE_API_TOKEN", w.apiToken)
	t.Setenv("OKTA_ORG_URL", w.api.srv.URL)
	t.Setenv("CLOUDFORGE_ENTRA_TENANT_ID", "00000000-0000-0000-0000-000000000000")
	t.Setenv("CLOUDFORGE_ENTRA_CLIENT_ID", "00000000-0000-0000-0000-000000000000")
	r = w.rotplan(t, "apply", "-auto-approve")
	r.wantCode(t, exitOK)
	r.wantStdout(t, `(?m)^Apply complete: 1 rotated, 0 synced, 0 retired, 0 rolled back\.$`)
}
