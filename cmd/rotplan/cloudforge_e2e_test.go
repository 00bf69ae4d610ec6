package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	op "github.com/1password/onepassword-sdk-go"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/rotplan/rotplan/config"
	fakefly "github.com/rotplan/rotplan/internal/fakes/fly"
	fakeiam "github.com/rotplan/rotplan/internal/fakes/iam"
	fakesm "github.com/rotplan/rotplan/internal/fakes/secretsmanager"
	"github.com/rotplan/rotplan/internal/testservers"
	"github.com/rotplan/rotplan/providers"
	"github.com/rotplan/rotplan/providers/aws"
	"github.com/rotplan/rotplan/providers/azure"
	"github.com/rotplan/rotplan/providers/builtin"
	"github.com/rotplan/rotplan/providers/envfile"
	execprovider "github.com/rotplan/rotplan/providers/exec"
	"github.com/rotplan/rotplan/providers/fly"
	"github.com/rotplan/rotplan/providers/generators"
	"github.com/rotplan/rotplan/providers/httpcheck"
	"github.com/rotplan/rotplan/providers/local"
	"github.com/rotplan/rotplan/providers/onepassword"
	"github.com/rotplan/rotplan/providers/onepassword/onepasswordtest"
	"github.com/rotplan/rotplan/providers/postgres"
	"github.com/rotplan/rotplan/providers/redis"
)

// TestCloudforgeFakeRunbook runs the runbook's three procedures that
// rotplan now carries out, with examples/cloudforge's own inventory files,
// through run() in this process:
//
//   - JWT signing key: 1Password → Fly, dual key for 24h, http checks, then
//     retire after the grace period;
//   - PostgreSQL DSN: the aegis password in 1Password → ALTER ROLE on a real
//     PostgreSQL → the DSN made from it → Fly → checks;
//   - Anthropic API key: made by a person (-value-file) → Secrets Manager →
//     Fly → checks, then retire with the operator's revoke checklist;
//
// and, for each, a failed check that rolls back; and the whole example
// plans against the same servers. 1Password is the
// in-process fake of its SDK (onepasswordtest, behind the newRegistry
// seam), Secrets Manager and Fly are wire-level fakes the real clients
// reach over HTTP (AWS_ENDPOINT_URL and FLY_FLAPS_BASE_URL), PostgreSQL is
// real, and the CloudForge API (and the Anthropic API the key is tried at)
// is an httptest server that answers from what the fake Fly Machines run.
//
// Every run logs at trace level; when each subtest ends, every value seen
// (seeded, generated, staged, delivered, read back from the fakes) is looked
// for in everything rotplan printed and in every file it wrote (state,
// audit log, saved plan), and at the end in PostgreSQL's statement log.
func TestCloudforgeFakeRunbook(t *testing.T) {
	s := &cfSuite{pg: testservers.StartPostgres(t), canaries: map[string]bool{}}
	s.pg.Exec(t, "CREATE DATABASE aegis")
	s.canary(s.pg.AdminPassword)
	t.Cleanup(func() { s.scan(t, "the PostgreSQL server log", []byte(s.pg.Log(t))) })

	// (a) The JWT signing key rotates with dual key, then retires.
	t.Run("jwt rotates with dual key and retires after grace", func(t *testing.T) {
		w := s.start(t, cfDue{jwt: true})

		saved := filepath.Join(w.dir, "due.plan")
		r := w.rotplan(t, "plan", "-detailed-exitcode", "-out", saved)
		r.wantCode(t, exitPending)
		r.wantStdout(t,
			`(?m)^  ~ secret\.jwt_signing_key will be rotated \(due\)$`,
			`(?m)^      targets:  target\.fly\.cloudforge_api \(deliver\)`,
			`(?m)^Plan: 1 to rotate, 0 to sync, 0 to retire, 4 unchanged\.$`)

		r = w.rotplan(t, "apply", saved)
		r.wantCode(t, exitOK)
		r.wantStdout(t,
			`(?m)^  secret\.jwt_signing_key: deliver done \[`,
			`(?m)^  secret\.jwt_signing_key: verify done \[`,
			`(?m)^Apply complete: 1 rotated, 0 synced, 0 retired, 0 rolled back\.$`)

		item := w.item(t, "aegis-personal-jwt-secret")
		next := item.fields["credential"]
		if next == "" || next == w.jwt0 {
			t.Fatalf("1Password: the credential field was not rotated (empty: %t)", next == "")
		}
		item.want(t, map[string]string{"credential-previous": w.jwt0, "credential-pending": ""})
		item.wantTag(t, "rotplan/credential/current=", true)
		item.wantTag(t, "rotplan/credential/retire-after=", true)
		item.wantTag(t, "rotplan/credential/pending=", false)
		w.wantFly(t, map[string]string{"JWT_SIGNING_KEY": next, "JWT_PREVIOUS_SIGNING_KEY": w.jwt0})
		// Tokens signed with the old key still pass, through the grace period.
		w.api.wantFindings(t, w.apiToken, http.StatusOK)

		w.rotplan(t, "plan", "-detailed-exitcode").wantCode(t, exitOK)

		// Runbook step 4: after the grace period the old key goes.
		r = w.rotplan(t, "plan", "-at", "+25h", "-detailed-exitcode")
		r.wantCode(t, exitPending)
		r.wantStdout(t,
			`(?m)^  - secret\.jwt_signing_key will retire its previous value \(retiring\)$`,
			`(?m)^Plan: 0 to rotate, 0 to sync, 1 to retire, 4 unchanged\.$`)
		r = w.rotplanLater(t, 25*time.Hour, "apply", "-auto-approve")
		r.wantCode(t, exitOK)
		r.wantStdout(t, `(?m)^Apply complete: 0 rotated, 0 synced, 1 retired, 0 rolled back\.$`)

		item = w.item(t, "aegis-personal-jwt-secret")
		item.want(t, map[string]string{"credential": next, "credential-previous": "", "credential-pending": ""})
		item.wantTag(t, "rotplan/credential/retire-after=", false)
		w.wantFly(t, map[string]string{"JWT_SIGNING_KEY": next, "JWT_PREVIOUS_SIGNING_KEY": ""})
		w.api.wantFindings(t, w.apiToken, http.StatusUnauthorized) // the old key is gone
		w.rotplan(t, "plan", "-at", "+25h", "-detailed-exitcode").wantCode(t, exitOK)
	})

	// (b) The PostgreSQL password rotates on the server, and the DSN made
	// from it follows to Fly.
	t.Run("dsn follows the password from ALTER ROLE to Fly", func(t *testing.T) {
		w := s.start(t, cfDue{db: true})

		r := w.rotplan(t, "plan", "-detailed-exitcode")
		r.wantCode(t, exitPending)
		r.wantStdout(t,
			`(?m)^  ~ secret\.db_password will be rotated \(due\)$`,
			`(?m)^  ~ secret\.database_url will be rotated \(due\)\n      derived from secret\.db_password, which gets a new value$`,
			`(?m)^Plan: 2 to rotate, 0 to sync, 0 to retire, 3 unchanged\.$`)

		r = w.rotplan(t, "apply", "-auto-approve")
		r.wantCode(t, exitOK)
		r.wantStdout(t,
			`(?m)^  secret\.db_password: set done \[`,
			`(?m)^  secret\.database_url: deliver done \[`,
			`(?m)^Apply complete: 2 rotated, 0 synced, 0 retired, 0 rolled back\.$`)
		// The DSN is made once the password is set and proven; the password
		// is promoted only once the DSN made from it passed too.
		if i, j := strings.Index(r.stdout, "secret.db_password: verify done"), strings.Index(r.stdout, "secret.database_url: rotating"); i < 0 || j < i {
			t.Errorf("database_url did not rotate after db_password:\n%s", r.stdout)
		}
		if i, j := strings.Index(r.stdout, "secret.database_url: verify done"), strings.Index(r.stdout, "secret.db_password: promote done"); i < 0 || j < i {
			t.Errorf("db_password was promoted before the DSN made from it passed its checks:\n%s", r.stdout)
		}

		pw := w.item(t, "aegis-postgres-password")
		next := pw.fields["credential"]
		if next == "" || next == w.db0 {
			t.Fatal("1Password: the aegis password was not rotated")
		}
		pw.want(t, map[string]string{"credential-previous": w.db0, "credential-pending": ""})
		w.wantLogin(t, next, true, "the new password")
		w.wantLogin(t, w.db0, false, "the old password")

		dsn := w.dsn(next)
		w.item(t, "aegis-database-url").want(t, map[string]string{"credential": dsn, "credential-previous": w.dsn(w.db0), "credential-pending": ""})
		w.wantFly(t, map[string]string{"AEGIS_DATABASE_URL": dsn})
		w.api.wantHealth(t, "postgres", "healthy")

		w.rotplan(t, "plan", "-detailed-exitcode").wantCode(t, exitOK)
	})

	// (c) A key only a person can make: from -value-file to Secrets
	// Manager and Fly; at retire, the revoke step is the operator's.
	t.Run("ai key from the operator to Secrets Manager and Fly", func(t *testing.T) {
		w := s.start(t, cfDue{anthropic: true})

		r := w.rotplan(t, "plan", "-detailed-exitcode")
		r.wantCode(t, exitPending)
		r.wantStdout(t,
			`(?m)^  \? secret\.anthropic_api_key waits for a person to make its new value \(manual\)$`,
			`(?m)^      how:      Create a key at https://console\.anthropic\.com/settings/keys`,
			`(?m)^Plan: 1 to rotate, 0 to sync, 0 to retire, 4 unchanged\.$`)

		// Without the value there is nothing to rotate with.
		r = w.rotplan(t, "apply", "-auto-approve")
		r.wantCode(t, exitOK)
		r.wantStdout(t, `(?m)^secret\.anthropic_api_key: waiting for the operator: a person must supply the new value`)
		if v, _ := w.sm.Value(cfAnthropic, fakesm.Current); v != w.ant0 || w.sm.Labelled(cfAnthropic, fakesm.Pending) != "" {
			t.Fatal("Secrets Manager changed although no value was supplied")
		}

		next := w.consoleKey(t)
		r = w.rotplan(t, "apply", "-auto-approve", "-value-file", "secret.anthropic_api_key="+w.valueFile(t, next))
		r.wantCode(t, exitOK)
		r.wantStdout(t,
			`(?m)^  secret\.anthropic_api_key: stage done \[`,
			`(?m)^  secret\.anthropic_api_key: verify done \[`,
			`(?m)^Apply complete: 1 rotated, 0 synced, 0 retired, 0 rolled back\.$`)
		w.wantAWS(t, cfAnthropic, next, w.ant0)
		if tags := w.sm.Tags(cfAnthropic); tags[aws.TagRotatedAt] == "" || tags[aws.TagRetireAfter] == "" {
			t.Errorf("Secrets Manager: tags %v lack rotplan's rotated-at and retire-after", slices.Sorted(maps.Keys(tags)))
		}
		w.wantFly(t, map[string]string{"ANTHROPIC_API_KEY": next})
		w.api.wantHealth(t, "ai_provider", "healthy")
		w.rotplan(t, "plan", "-detailed-exitcode").wantCode(t, exitOK)

		// Runbook step 5, after the grace period: revoke the old key in the
		// console. Nobody can be asked here (no terminal), so the retire
		// waits: the previous key stays, and the audit log says the
		// revocation was not confirmed.
		r = w.rotplan(t, "plan", "-at", "+25h", "-detailed-exitcode")
		r.wantCode(t, exitPending)
		r.wantStdout(t,
			`(?m)^  - secret\.anthropic_api_key will retire its previous value \(retiring\)$`,
			`(?m)^      the previous value's grace of 1d ended on \S+; retire: waiting for the operator's confirmation that it is revoked$`,
			`(?m)^      how:      At https://console\.anthropic\.com/settings/keys, delete the previous`)
		r = w.rotplanLater(t, 25*time.Hour, "apply", "-auto-approve")
		r.wantCode(t, exitOK)
		r.wantStdout(t,
			`(?m)^secret\.anthropic_api_key: operator step: revoke the previous value: At https://console\.anthropic\.com/settings/keys, delete the previous`,
			`(?m)^secret\.anthropic_api_key: waiting for the operator: retire waits for the confirmation that the previous value is revoked; run apply on a terminal, or apply -revoked secret\.anthropic_api_key once it is$`,
			`(?m)^Apply complete: 0 rotated, 0 synced, 0 retired, 0 rolled back, 1 waiting for the operator\.$`)
		w.wantAWS(t, cfAnthropic, next, w.ant0)
		r = w.rotplan(t, "plan", "-at", "+25h", "-detailed-exitcode")
		r.wantCode(t, exitPending)
		r.wantStdout(t, `retire: waiting for the operator's confirmation that it is revoked`)

		// The operator revoked it and says so.
		r = w.rotplanLater(t, 25*time.Hour, "apply", "-auto-approve", "-revoked", "secret.anthropic_api_key")
		r.wantCode(t, exitOK)
		r.wantStdout(t, `(?m)^Apply complete: 0 rotated, 0 synced, 1 retired, 0 rolled back\.$`)
		w.wantAWS(t, cfAnthropic, next, "")
		if tags := w.sm.Tags(cfAnthropic); tags[aws.TagRetireAfter] != "" {
			t.Error("Secrets Manager: the retire-after tag is still there after retire")
		}
		var outcomes []string
		for _, rec := range w.audit(t) {
			if rec.Secret == "secret.anthropic_api_key" && rec.Step == "revoke" {
				if !strings.Contains(rec.Detail, "console.anthropic.com") {
					t.Errorf("a revoke record lacks the instructions: %+v", rec)
				}
				outcomes = append(outcomes, rec.Outcome)
			}
		}
		if len(outcomes) != 2 || !strings.HasPrefix(outcomes[0], "not confirmed") || outcomes[1] != "confirmed by the operator" {
			t.Errorf("the audit log's revoke outcomes are %q; want not confirmed, then confirmed", outcomes)
		}
		w.rotplan(t, "plan", "-at", "+25h", "-detailed-exitcode").wantCode(t, exitOK)
	})

	// The whole example plans against the same servers: the secrets on
	// implemented providers are observed (the IAM key, which the fake
	// account does not hold yet, is to be created), and the two whose block
	// types are declared but not built yet are errors, as the README says.
	t.Run("the whole example plans", func(t *testing.T) {
		w := s.start(t, cfDue{})
		w.copyInventory(t, "identity.hcl", "cloud.hcl", "redis.hcl")
		okta := "cfokta0" + hex.EncodeToString(cfRandom(t, 20))
		s.canary(okta)
		w.sm.Seed(fakesm.Secret{Name: "aegis/okta-api-token", Current: okta, Created: time.Now().Add(-24 * time.Hour), LastChanged: time.Now().Add(-24 * time.Hour)})
		w.fly.Seed(cfAppName, map[string]string{"OKTA_API_TOKEN": okta})
		t.Setenv("OKTA_ORG_URL", w.api.srv.URL)
		t.Setenv("CLOUDFORGE_ENTRA_TENANT_ID", "00000000-0000-0000-0000-000000000000")
		t.Setenv("CLOUDFORGE_ENTRA_CLIENT_ID", "00000000-0000-0000-0000-000000000000")
		// IAM and STS answer at an IAM fake of their own (the SDK's
		// per-service endpoint variables), the IAM user with no key yet.
		iam := fakeiam.New(t)
		iam.AddKey("rotplan", os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY"))
		iam.AddUser("cloudforge-api")
		t.Setenv("AWS_ENDPOINT_URL_IAM", iam.URL)
		t.Setenv("AWS_ENDPOINT_URL_STS", iam.URL)

		r := w.rotplan(t, "plan", "-detailed-exitcode")
		r.wantCode(t, exitError)
		for _, name := range []string{"entra_client_secret", "redis_auth_token"} {
			r.wantStdout(t, `(?m)^  x secret\.`+name+`: .*not implemented`)
		}
		r.wantStdout(t,
			`(?m)^  \+ secret\.aws_iam_access_key will be created \(missing\)$`,
			`(?m)^Plan: 1 to create, 0 to rotate, 0 to sync, 0 to retire, 6 unchanged\.$`)
	})

	// (d) A failed check rolls each of them back.
	t.Run("rollback", func(t *testing.T) {
		t.Run("jwt when the app fails its health check", func(t *testing.T) {
			w := s.start(t, cfDue{jwt: true})
			w.api.down.Store(true)

			r := w.rotplan(t, "apply", "-auto-approve")
			w.wantRolledBack(t, r, "jwt_signing_key", `verify\.http\[0\]: .*status 503`, "0 rotated")

			w.item(t, "aegis-personal-jwt-secret").want(t, map[string]string{"credential": w.jwt0, "credential-pending": "", "credential-previous": ""})
			w.wantFly(t, map[string]string{"JWT_SIGNING_KEY": w.jwt0, "JWT_PREVIOUS_SIGNING_KEY": ""})
			w.wantCandidateGone(t)
			w.wantStillDue(t,
				`(?m)^  ~ secret\.jwt_signing_key will be rotated \(due\)$`,
				`(?m)^Plan: 1 to rotate, 0 to sync, 0 to retire, 4 unchanged\.$`)
		})

		t.Run("dsn when the database refuses the new login", func(t *testing.T) {
			// The aegis password's own check (SELECT 1 as aegis) fails: the
			// server turns every login to the aegis database away. The
			// password goes back on the server, and the DSN is not made.
			w := s.start(t, cfDue{db: true})
			s.pg.Exec(t, "REVOKE CONNECT ON DATABASE aegis FROM PUBLIC")
			t.Cleanup(func() { s.pg.Exec(t, "GRANT CONNECT ON DATABASE aegis TO PUBLIC") })

			r := w.rotplan(t, "apply", "-auto-approve")
			w.wantRolledBack(t, r, "db_password", `verify\.postgres\[0\]: postgres aegis@127\.0\.0\.1:\d+/aegis: .*permission denied`, "0 rotated")
			r.wantStdout(t,
				`(?m)^secret\.database_url: skipped: upstream failed: secret\.db_password \(rolled back\)$`,
				`(?m)^Apply finished with failures: 0 rotated, 0 synced, 0 retired, 1 rolled back, 1 skipped\.$`)
			s.pg.Exec(t, "GRANT CONNECT ON DATABASE aegis TO PUBLIC")

			w.item(t, "aegis-postgres-password").want(t, map[string]string{"credential": w.db0, "credential-pending": "", "credential-previous": ""})
			w.item(t, "aegis-database-url").want(t, map[string]string{"credential": w.dsn(w.db0), "credential-pending": "", "credential-previous": ""})
			w.wantLogin(t, w.db0, true, "the old password, after the rollback")
			for _, c := range w.candidates(t, "aegis-postgres-password") {
				w.wantLogin(t, c, false, "the candidate that rolled back")
			}
			w.wantFly(t, map[string]string{"AEGIS_DATABASE_URL": w.dsn(w.db0)})
			w.api.wantHealth(t, "postgres", "healthy")
			w.wantStillDue(t, cfDBDue...)
		})

		t.Run("dsn when the app fails its health check: the password rolls back with it", func(t *testing.T) {
			// The check that fails is database_url's. db_password, which it
			// is made from, passed its own check but is not promoted yet:
			// it rolls back with the DSN, so the role accepts the old
			// password again and the DSN Fly runs, which holds it, works.
			w := s.start(t, cfDue{db: true})
			w.api.down.Store(true)

			r := w.rotplan(t, "apply", "-auto-approve")
			r.wantCode(t, exitError)
			r.wantStdout(t,
				`(?m)^  secret\.database_url: check failed: verify\.http\[1\]: .*status 503`,
				`(?m)^secret\.database_url: rolled back; every target is on the old value again: check `,
				`(?m)^secret\.db_password: rolled back; every target is on the old value again: secret\.database_url, made from the same value, did not finish`,
				`(?m)^Apply finished with failures: 0 rotated, 0 synced, 0 retired, 2 rolled back\.$`)

			w.item(t, "aegis-postgres-password").want(t, map[string]string{"credential": w.db0, "credential-pending": "", "credential-previous": ""})
			w.item(t, "aegis-database-url").want(t, map[string]string{"credential": w.dsn(w.db0), "credential-pending": "", "credential-previous": ""})
			w.wantLogin(t, w.db0, true, "the old password, after the rollback")
			for _, c := range w.candidates(t, "aegis-postgres-password") {
				w.wantLogin(t, c, false, "the candidate that rolled back")
			}
			w.wantFly(t, map[string]string{"AEGIS_DATABASE_URL": w.dsn(w.db0)})
			w.api.down.Store(false)
			w.api.wantHealth(t, "postgres", "healthy")
			w.wantStillDue(t, cfDBDue...)
		})

		t.Run("ai key when the app fails its health check", func(t *testing.T) {
			w := s.start(t, cfDue{anthropic: true})
			w.api.down.Store(true)
			next := w.consoleKey(t)

			r := w.rotplan(t, "apply", "-auto-approve", "-value-file", "secret.anthropic_api_key="+w.valueFile(t, next))
			// The key itself works at Anthropic (check 0); the app does not
			// come up healthy with it (check 1).
			w.wantRolledBack(t, r, "anthropic_api_key", `verify\.http\[1\]: .*status 503`, "0 rotated")
			w.wantAWS(t, cfAnthropic, w.ant0, "")
			// Stage recorded the key's age (its last change) as rotplan's
			// rotated-at, and the rollback left it so: the key is as due
			// as it was.
			tags := w.sm.Tags(cfAnthropic)
			if want := w.changed[cfAnthropic].Format(time.RFC3339); tags[aws.TagRotatedAt] != want {
				t.Errorf("Secrets Manager: after the rollback rotplan's rotated-at tag is %q, want %q, the key's last change before the rotation", tags[aws.TagRotatedAt], want)
			}
			if tags[aws.TagRetireAfter] != "" {
				t.Error("Secrets Manager: a rotation that rolled back left rotplan's retire-after tag")
			}
			w.wantFly(t, map[string]string{"ANTHROPIC_API_KEY": w.ant0})
			w.wantStillDue(t,
				`(?m)^  \? secret\.anthropic_api_key waits for a person to make its new value \(manual\)$`,
				`(?m)^Plan: 1 to rotate, 0 to sync, 0 to retire, 4 unchanged\.$`)
		})
	})
}

// cfSuite is what the subtests share: one PostgreSQL server, and every
// value seen, for the scan of the server's log at the end.
type cfSuite struct {
	pg       *testservers.Postgres
	mu       sync.Mutex
	canaries map[string]bool
}

func (s *cfSuite) canary(v string) {
	if len(v) < 8 { // no secret here is shorter; shorter text matches by chance
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.canaries[v] = true
}

// scan fails t if any value seen so far appears in b.
func (s *cfSuite) scan(t *testing.T, where string, b []byte) int {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	leaks := 0
	for c := range s.canaries {
		if bytes.Contains(b, []byte(c)) {
			leaks++
			t.Errorf("a secret value leaked into %s", where)
		}
	}
	return leaks
}

// cfDue says which secrets are due when a subtest starts; the others were
// rotated a day ago.
type cfDue struct{ jwt, db, anthropic bool }

// cfDBDue is what plan shows with the aegis password due: the password,
// and the DSN made from it.
var cfDBDue = []string{
	`(?m)^  ~ secret\.db_password will be rotated \(due\)$`,
	`(?m)^  ~ secret\.database_url will be rotated \(due\)\n      derived from secret\.db_password, which gets a new value$`,
	`(?m)^Plan: 2 to rotate, 0 to sync, 0 to retire, 3 unchanged\.$`,
}

const (
	cfVault     = "Development"
	cfAppName   = "cloudforge-api"
	cfAnthropic = "aegis/anthropic-api-key"
	cfOpenAI    = "aegis/openai-api-key"
)

// cfFiles are the example's files these scenarios need, copied rather
// than trimmed. identity.hcl and redis.hcl are left out (but for the
// subtest that plans the whole example): their Entra ID (Azure Key Vault)
// and ElastiCache secrets use block types that are declared but not
// implemented yet, which plan reports as errors, failing every apply.
// cloud.hcl's IAM key has its own end-to-end test (TestIAMAccessKeyFake...).
// providers.hcl's provider "azure" block is used by no secret here, but its
// env() calls still need values.
var cfFiles = []string{"providers.hcl", "jwt.hcl", "database.hcl", "ai.hcl"}

// cfWorld is one subtest's CloudForge: the inventory directory, the fakes,
// the app, the aegis role, and the values it started with.
type cfWorld struct {
	s      *cfSuite
	dir    string // the inventory, state, audit log, saved plans
	values string // -value-file files, outside the inventory directory

	op       *cfOnePassword
	vaultID  string
	sm       *fakesm.Server
	fly      *fakefly.Server
	machines []string
	api      *cfAPI

	pgAddr   string
	apiToken string // CLOUDFORGE_API_TOKEN: a JWT signed with jwt0

	jwt0, db0, ant0, oai0 string
	// changed is when each 1Password item (by title) and Secrets Manager
	// secret (by name) last changed when the subtest started: their age,
	// as rotplan has never rotated them.
	changed map[string]time.Time

	runs    int  // rotplan runs, to check that trace logging reached stderr
	logs    bool // a run logged at debug or trace level
	applied bool // an apply ran, so there must be a state and an audit log
}

// start builds a subtest's CloudForge and points rotplan at it.
func (s *cfSuite) start(t *testing.T, due cfDue) *cfWorld {
	t.Helper()
	w := &cfWorld{
		s:      s,
		dir:    t.TempDir(),
		values: t.TempDir(),
		pgAddr: net.JoinHostPort(s.pg.Host, strconv.Itoa(s.pg.Port)),
		jwt0:   base64.StdEncoding.EncodeToString(cfRandom(t, 64)),
		db0:    "cfdb0" + hex.EncodeToString(cfRandom(t, 13)),
		ant0:   "sk-ant-api03-cf0" + hex.EncodeToString(cfRandom(t, 24)),
		oai0:   "sk-proj-cf0" + hex.EncodeToString(cfRandom(t, 24)),

		changed: map[string]time.Time{},
	}
	for _, v := range []string{w.jwt0, w.db0, w.dsn(w.db0), w.ant0, w.oai0} {
		s.canary(v)
	}
	w.copyInventory(t, cfFiles...)

	now := time.Now().UTC().Truncate(time.Second)
	age := func(isDue bool, frequency time.Duration) time.Time {
		if isDue {
			return now.Add(-frequency - 10*24*time.Hour)
		}
		return now.Add(-24 * time.Hour)
	}

	// 1Password: the three items the inventory names, never rotated by
	// rotplan, so their age is the items' last change.
	w.op = &cfOnePassword{Fake: onepasswordtest.New(), seen: s.canary, pending: map[string][]string{}}
	w.vaultID = w.op.AddVault(cfVault)
	for _, it := range []struct {
		title, value string
		due          bool
	}{
		{"aegis-personal-jwt-secret", w.jwt0, due.jwt},
		{"aegis-postgres-password", w.db0, due.db},
		{"aegis-database-url", w.dsn(w.db0), false},
	} {
		changed := age(it.due, 90*24*time.Hour)
		w.changed[it.title] = changed
		w.op.AddItem(op.Item{
			VaultID: w.vaultID, Title: it.title, Category: op.ItemCategoryAPICredentials,
			Fields:    []op.ItemField{{ID: "credential", Title: "credential", FieldType: op.ItemFieldTypeConcealed, Value: it.value}},
			CreatedAt: changed, UpdatedAt: changed,
		})
	}
	cfUseOnePassword(t, w.op)

	// Secrets Manager: the AI keys, never rotated by rotplan either.
	w.sm = fakesm.New(t)
	for _, sec := range []struct {
		name, value string
		due         bool
	}{{cfAnthropic, w.ant0, due.anthropic}, {cfOpenAI, w.oai0, false}} {
		changed := age(sec.due, 180*24*time.Hour)
		w.changed[sec.name] = changed
		w.sm.Seed(fakesm.Secret{Name: sec.name, Current: sec.value, Created: changed, LastChanged: changed})
	}

	// Fly: the app holds every secret the inventory delivers, and two
	// Machines run them.
	w.fly = fakefly.New(t)
	flyToken := "fm2_cf" + hex.EncodeToString(cfRandom(t, 24))
	w.fly.SetToken(flyToken)
	w.fly.Seed(cfAppName, map[string]string{
		"JWT_SIGNING_KEY":    w.jwt0,
		"AEGIS_DATABASE_URL": w.dsn(w.db0),
		"ANTHROPIC_API_KEY":  w.ant0,
		"OPENAI_API_KEY":     w.oai0,
	})
	w.machines = []string{w.fly.AddMachine(cfAppName, fakefly.MachineSpec{}), w.fly.AddMachine(cfAppName, fakefly.MachineSpec{Region: "ams"})}

	// PostgreSQL: the aegis role, with the password 1Password holds.
	s.pg.Exec(t, "DROP ROLE IF EXISTS aegis")
	s.pg.CreateRole(t, "aegis", w.db0)

	// The app, and Anthropic's API: keys the console has made work there.
	w.api = newCFAPI(t, w)
	w.api.consoleKeys[w.ant0] = true
	w.apiToken = cfSignJWT(w.jwt0, `{"sub":"rotplan-smoke-test","iat":`+strconv.FormatInt(now.Unix(), 10)+`}`)

	opToken := "ops_cf" + hex.EncodeToString(cfRandom(t, 24))
	awsSecret := "cfaws" + hex.EncodeToString(cfRandom(t, 20))
	for _, v := range []string{w.apiToken, opToken, flyToken, awsSecret} {
		s.canary(v)
	}
	for k, v := range map[string]string{
		"ROTPLAN_LOG":              "trace",
		"NO_COLOR":                 "1",
		"ROTPLAN_TEST_CRASH_AFTER": "",
		// 1Password: any token; the fake stands behind the SDK.
		"OP_SERVICE_ACCOUNT_TOKEN": opToken,
		// Secrets Manager: the SDK's own endpoint variable, and
		// credentials from the environment only.
		"AWS_ENDPOINT_URL":            w.sm.URL,
		"AWS_ACCESS_KEY_ID":           "AKIACLOUDFORGEFAKE01",
		"AWS_SECRET_ACCESS_KEY":       awsSecret,
		"AWS_SESSION_TOKEN":           "",
		"AWS_PROFILE":                 "",
		"AWS_CONFIG_FILE":             filepath.Join(w.values, "no-aws-config"),
		"AWS_SHARED_CREDENTIALS_FILE": filepath.Join(w.values, "no-aws-credentials"),
		"AWS_EC2_METADATA_DISABLED":   "true",
		// Fly.
		"FLY_API_TOKEN":      flyToken,
		"FLY_FLAPS_BASE_URL": w.fly.URL,
		// Azure: the provider block's settings; no secret here uses it.
		"AZURE_TENANT_ID":     "00000000-0000-0000-0000-000000000000",
		"AZURE_CLIENT_ID":     "00000000-0000-0000-0000-000000000000",
		"AZURE_CLIENT_SECRET": "not-used-by-these-secrets",
		// PostgreSQL.
		"CLOUDFORGE_PG_ADMIN_DSN": s.pg.AdminDSN,
		"CLOUDFORGE_DB_ADDR":      w.pgAddr,
		"CLOUDFORGE_DB_SSLMODE":   "disable",
		// The CloudForge API and the AI vendors.
		"CLOUDFORGE_API_URL":           w.api.srv.URL,
		"CLOUDFORGE_API_TOKEN":         w.apiToken,
		"CLOUDFORGE_ANTHROPIC_API_URL": w.api.srv.URL,
		"CLOUDFORGE_OPENAI_API_URL":    w.api.srv.URL,
	} {
		t.Setenv(k, v)
	}

	t.Cleanup(func() { w.scanFiles(t) })
	return w
}

// copyInventory copies files of examples/cloudforge. The copies differ from the example in one
// way: checks that give the app five minutes to come up give it two
// seconds, trying every second, so that a failed check rolls back in
// seconds rather than minutes. What is checked, and where, is unchanged.
func (w *cfWorld) copyInventory(t *testing.T, files ...string) {
	t.Helper()
	timeout := regexp.MustCompile(`(?m)^(\s*)timeout(\s*)= "5m"$`)
	for _, name := range files {
		b, err := os.ReadFile(filepath.Join(examplesDir, "cloudforge", name))
		if err != nil {
			t.Fatal(err)
		}
		b = timeout.ReplaceAll(b, []byte("${1}timeout${2}= \"2s\"\n${1}interval = \"1s\""))
		if err := os.WriteFile(filepath.Join(w.dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// cfUseOnePassword makes rotplan's registry, for the rest of t, the one
// rotplan ships with api in place of the 1Password SDK.
func cfUseOnePassword(t *testing.T, api onepassword.API) {
	t.Helper()
	build := func() *providers.Registry {
		r := providers.NewRegistry()
		for _, register := range []func(*providers.Registry){
			local.Register,
			generators.Register,
			envfile.Register,
			aws.Register,
			azure.Register,
			fly.Register,
			postgres.Register,
			redis.Register,
			httpcheck.Register,
			execprovider.Register,
		} {
			register(r)
		}
		onepassword.RegisterWith(r, func(context.Context, string) (onepassword.API, error) { return api, nil })
		return r
	}
	// The same block types as builtin's, so that the test cannot drift
	// from what rotplan ships.
	want, got := builtin.Registry(), build()
	for _, kind := range []config.BlockKind{config.KindProvider, config.KindStore, config.KindGenerate, config.KindTarget, config.KindVerify} {
		if w, g := want.TypeNames(kind), got.TypeNames(kind); !slices.Equal(w, g) {
			t.Fatalf("the test's registry has %s types %v, builtin.Registry has %v", kind, g, w)
		}
	}
	saved := newRegistry
	newRegistry = build
	t.Cleanup(func() { newRegistry = saved })
}

// cfOnePassword is the 1Password fake, noting every value written to it
// (the staged candidates too, which a rollback removes).
type cfOnePassword struct {
	*onepasswordtest.Fake
	seen func(string)

	mu      sync.Mutex
	pending map[string][]string // values put in each item's credential-pending field, by title
}

func (o *cfOnePassword) PutItem(ctx context.Context, item op.Item) (op.Item, error) {
	for _, f := range item.Fields {
		o.seen(f.Value)
		if f.Title == "credential-pending" && f.Value != "" {
			o.mu.Lock()
			if !slices.Contains(o.pending[item.Title], f.Value) {
				o.pending[item.Title] = append(o.pending[item.Title], f.Value)
			}
			o.mu.Unlock()
		}
	}
	return o.Fake.PutItem(ctx, item)
}

// staged returns the values staged in an item's credential-pending field.
func (o *cfOnePassword) staged(title string) []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return slices.Clone(o.pending[title])
}

func (o *cfOnePassword) CreateItem(ctx context.Context, p op.ItemCreateParams) (op.Item, error) {
	for _, f := range p.Fields {
		o.seen(f.Value)
	}
	return o.Fake.CreateItem(ctx, p)
}

// cfRun is how one rotplan run ended.
type cfRun struct {
	code           int
	stdout, stderr string
}

func (r cfRun) wantCode(t *testing.T, code int) {
	t.Helper()
	if r.code != code {
		t.Fatalf("exit code %d, want %d\nstdout:\n%s\nstderr (last lines):\n%s", r.code, code, r.stdout, lastLines(r.stderr, 30))
	}
}

func (r cfRun) wantStdout(t *testing.T, patterns ...string) {
	t.Helper()
	for _, p := range patterns {
		if !regexp.MustCompile(p).MatchString(r.stdout) {
			t.Errorf("stdout does not match %q:\n%s", p, r.stdout)
		}
	}
}

// rotplan runs rotplan on w's inventory in this process, stdin not a
// terminal; what it printed is scanned at once for every value seen so far,
// the values the fakes hold now included.
func (w *cfWorld) rotplan(t *testing.T, args ...string) cfRun {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(append([]string{"-chdir=" + w.dir}, args...), strings.NewReader(""), &stdout, &stderr)
	r := cfRun{code: code, stdout: stdout.String(), stderr: stderr.String()}
	w.collect(t)
	what := "rotplan " + strings.Join(args, " ")
	w.s.scan(t, "the stdout of "+what, stdout.Bytes())
	w.s.scan(t, "the stderr of "+what, stderr.Bytes())
	w.runs++
	w.applied = w.applied || args[0] == "apply"
	w.logs = w.logs || strings.Contains(r.stderr, "[TRACE]") || strings.Contains(r.stderr, "[DEBUG]")
	return r
}

// rotplanLater runs rotplan with apply's clock moved on by d, as if it ran
// that much later: apply itself always acts now.
func (w *cfWorld) rotplanLater(t *testing.T, d time.Duration, args ...string) cfRun {
	t.Helper()
	clock = func() time.Time { return time.Now().Add(d) }
	defer func() { clock = nil }()
	return w.rotplan(t, args...)
}

// collect adds every value the fakes hold now to the canaries.
func (w *cfWorld) collect(t *testing.T) {
	t.Helper()
	for _, title := range []string{"aegis-personal-jwt-secret", "aegis-postgres-password", "aegis-database-url"} {
		if it, ok := w.op.ItemByTitle(w.vaultID, title); ok {
			for _, f := range it.Fields {
				w.s.canary(f.Value)
			}
		}
	}
	for _, name := range []string{cfAnthropic, cfOpenAI} {
		for _, label := range []string{fakesm.Current, fakesm.Pending, fakesm.Previous} {
			v, _ := w.sm.Value(name, label)
			w.s.canary(v)
		}
	}
	for _, key := range w.fly.Names(cfAppName) {
		v, _ := w.fly.Value(cfAppName, key)
		w.s.canary(v)
		for _, m := range w.machines {
			v, _ := w.fly.RunningValue(cfAppName, m, key)
			w.s.canary(v)
		}
	}
}

// scanFiles looks for every value seen in every file rotplan wrote beside
// the inventory: the state, its lock record, the audit log, saved plans.
func (w *cfWorld) scanFiles(t *testing.T) {
	w.collect(t)
	var files []string
	err := filepath.WalkDir(w.dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		files = append(files, filepath.Base(path))
		w.s.scan(t, path, b)
		return nil
	})
	if err != nil {
		t.Error(err)
	}
	if w.applied && (!slices.Contains(files, "rotplan.state") || !slices.Contains(files, "rotplan.audit.jsonl")) {
		t.Errorf("the scan found no state or no audit log among %v", files)
	}
	if w.runs > 0 && !w.logs {
		t.Error("no run logged at debug or trace level: the scan of stderr proves nothing")
	}
	w.s.mu.Lock()
	n := len(w.s.canaries)
	w.s.mu.Unlock()
	t.Logf("canary scan: %d values seen so far, against %d runs' output and %v", n, w.runs, files)
}

// dsn is the DSN the inventory's template makes from password.
func (w *cfWorld) dsn(password string) string {
	return "postgres://aegis:" + password + "@" + w.pgAddr + "/aegis?sslmode=disable"
}

// consoleKey makes a new key "in the Anthropic console": it works at the
// fake Anthropic API from now on.
func (w *cfWorld) consoleKey(t *testing.T) string {
	t.Helper()
	k := "sk-ant-api03-cf1" + hex.EncodeToString(cfRandom(t, 24))
	w.s.canary(k)
	w.api.mu.Lock()
	w.api.consoleKeys[k] = true
	w.api.mu.Unlock()
	return k
}

// valueFile writes a -value-file outside the inventory directory, as an
// operator would paste it, with a trailing newline.
func (w *cfWorld) valueFile(t *testing.T, v string) string {
	t.Helper()
	path := filepath.Join(w.values, fmt.Sprintf("key-%d.txt", time.Now().UnixNano()))
	if err := os.WriteFile(path, []byte(v+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// cfItem is a 1Password item's fields by title, and its tags.
type cfItem struct {
	title  string
	fields map[string]string
	tags   []string
}

func (w *cfWorld) item(t *testing.T, title string) cfItem {
	t.Helper()
	it, ok := w.op.ItemByTitle(w.vaultID, title)
	if !ok {
		t.Fatalf("1Password: no item %s", title)
	}
	out := cfItem{title: title, fields: map[string]string{}, tags: it.Tags}
	for _, f := range it.Fields {
		out.fields[f.Title] = f.Value
		w.s.canary(f.Value)
	}
	return out
}

// want checks fields; "" means the field is absent.
func (i cfItem) want(t *testing.T, want map[string]string) {
	t.Helper()
	for title, v := range want {
		switch got, ok := i.fields[title]; {
		case v == "" && ok:
			t.Errorf("1Password %s: field %s is still there", i.title, title)
		case v != "" && !ok:
			t.Errorf("1Password %s: no field %s", i.title, title)
		case v != "" && got != v:
			t.Errorf("1Password %s: field %s does not hold the value expected", i.title, title)
		}
	}
}

func (i cfItem) wantTag(t *testing.T, prefix string, present bool) {
	t.Helper()
	found := slices.ContainsFunc(i.tags, func(tag string) bool { return strings.HasPrefix(tag, prefix) })
	if found != present {
		t.Errorf("1Password %s: a tag %s... is there: %t, want %t (tags %q)", i.title, prefix, found, present, i.tags)
	}
}

// candidates returns the values a rotation staged in an item's pending
// field at some point, which the recording fake saw.
func (w *cfWorld) candidates(t *testing.T, title string) []string {
	t.Helper()
	return w.op.staged(title)
}

// wantFly checks what the app stores and what each Machine runs; ""
// means absent.
func (w *cfWorld) wantFly(t *testing.T, want map[string]string) {
	t.Helper()
	for key, v := range want {
		got, ok := w.fly.Value(cfAppName, key)
		switch {
		case v == "" && ok:
			t.Errorf("Fly: the app still stores %s", key)
		case v != "" && got != v:
			t.Errorf("Fly: the app's %s is not the value expected (present: %t)", key, ok)
		}
		for _, m := range w.machines {
			got, ok := w.fly.RunningValue(cfAppName, m, key)
			switch {
			case v == "" && ok:
				t.Errorf("Fly: Machine %s still runs %s", m, key)
			case v != "" && got != v:
				st, _ := w.fly.Machine(cfAppName, m)
				t.Errorf("Fly: Machine %s (%s) does not run the %s expected (present: %t)", m, st.State, key, ok)
			}
		}
	}
}

// wantAWS checks the values under AWSCURRENT and AWSPREVIOUS ("" for no
// version with the label) and that no version is AWSPENDING.
func (w *cfWorld) wantAWS(t *testing.T, name, current, previous string) {
	t.Helper()
	if got, _ := w.sm.Value(name, fakesm.Current); got != current {
		t.Errorf("Secrets Manager %s: AWSCURRENT is not the value expected", name)
	}
	got, ok := w.sm.Value(name, fakesm.Previous)
	switch {
	case previous == "" && ok:
		t.Errorf("Secrets Manager %s: a version is still AWSPREVIOUS", name)
	case previous != "" && got != previous:
		t.Errorf("Secrets Manager %s: AWSPREVIOUS is not the value expected (present: %t)", name, ok)
	}
	if id := w.sm.Labelled(name, fakesm.Pending); id != "" {
		t.Errorf("Secrets Manager %s: version %s is still AWSPENDING", name, id)
	}
}

// wantLogin checks whether the aegis role accepts password.
func (w *cfWorld) wantLogin(t *testing.T, password string, accepted bool, what string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, w.s.pg.DSN("aegis", password, "aegis"))
	var pgErr *pgconn.PgError
	switch {
	case err == nil:
		conn.Close(ctx)
		if !accepted {
			t.Errorf("PostgreSQL: aegis accepts %s", what)
		}
	case errors.As(err, &pgErr) && pgErr.Code == "28P01": // invalid_password
		if accepted {
			t.Errorf("PostgreSQL: aegis refuses %s", what)
		}
	default:
		t.Fatalf("PostgreSQL: log in as aegis: %s", strings.ReplaceAll(err.Error(), password, "(sensitive)"))
	}
}

// wantRolledBack checks how an apply whose check failed ended: exit 1, the
// failed check, the rollback, and the tally.
func (w *cfWorld) wantRolledBack(t *testing.T, r cfRun, secret, check, rotated string) {
	t.Helper()
	r.wantCode(t, exitError)
	r.wantStdout(t,
		`(?m)^  secret\.`+secret+`: check failed: `+check,
		`(?m)^secret\.`+secret+`: rolled back; every target is on the old value again: check `,
		`(?m)^Apply finished with failures: `+rotated+`, 0 synced, 0 retired, 1 rolled back`)
	var outcomes []string
	for _, rec := range w.audit(t) {
		if rec.Secret == "secret."+secret && rec.Step == "" {
			outcomes = append(outcomes, rec.Outcome)
		}
	}
	if !slices.Contains(outcomes, "rolled back") {
		t.Errorf("the audit log records %s's outcomes %q, want \"rolled back\"", secret, outcomes)
	}
}

// wantCandidateGone checks that the JWT candidate that rolled back is
// nowhere in service: not stored by Fly, not run by a Machine.
func (w *cfWorld) wantCandidateGone(t *testing.T) {
	t.Helper()
	staged := w.candidates(t, "aegis-personal-jwt-secret")
	if len(staged) == 0 {
		t.Fatal("no candidate was staged in 1Password")
	}
	for _, c := range staged {
		for _, key := range w.fly.Names(cfAppName) {
			if v, _ := w.fly.Value(cfAppName, key); v == c {
				t.Errorf("Fly: the app still stores the candidate in %s", key)
			}
			for _, m := range w.machines {
				if v, _ := w.fly.RunningValue(cfAppName, m, key); v == c {
					t.Errorf("Fly: Machine %s still runs the candidate in %s", m, key)
				}
			}
		}
	}
}

// wantStillDue checks that after a rollback the secret is exactly as due
// as before the apply: plan -detailed-exitcode exits 2 with the lines want
// matches (the secret due, or waiting for a person), no rotation is in
// progress, and the journal is empty, so the next apply starts afresh.
//
// 1Password and Secrets Manager date a secret rotplan has never rotated
// from the item's or secret's last change, which staging and discarding
// the candidate are; the first stage records that date as rotplan's
// rotated-at, so the rollback does not make plan say "ok, rotated today".
func (w *cfWorld) wantStillDue(t *testing.T, want ...string) {
	t.Helper()
	r := w.rotplan(t, "plan", "-detailed-exitcode")
	r.wantCode(t, exitPending)
	r.wantStdout(t, want...)
	if strings.Contains(r.stdout, "in progress") {
		t.Errorf("plan after the rollback shows a rotation in progress:\n%s", r.stdout)
	}
	var st struct {
		Rotations map[string]json.RawMessage `json:"rotations"`
	}
	b, err := os.ReadFile(filepath.Join(w.dir, "rotplan.state"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	if len(st.Rotations) != 0 {
		t.Errorf("the journal still holds %d rotations", len(st.Rotations))
	}
}

// cfAuditRecord is one audit log record, as far as these tests read it.
type cfAuditRecord struct {
	Secret, Step, Outcome, Detail string
}

func (w *cfWorld) audit(t *testing.T) []cfAuditRecord {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(w.dir, "rotplan.audit.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	var out []cfAuditRecord
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var rec cfAuditRecord
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("audit log: %v", err)
		}
		out = append(out, rec)
	}
	return out
}

// cfAPI plays the CloudForge API as the runbook's checks see it, and
// Anthropic's and OpenAI's /v1/models. It answers from what the fake Fly
// Machines run, so a check passes only once they run the values under test:
//
//	GET /health           503 while down is set, or while the Machines are
//	                      not all started on the same values; else 200
//	                      {"status":"ok","components":{"postgres":...,
//	                      "ai_provider":...}}: postgres is "healthy" when
//	                      the AEGIS_DATABASE_URL they run logs in to the
//	                      real PostgreSQL, ai_provider when the
//	                      ANTHROPIC_API_KEY they run is a key the console
//	                      made
//	GET /api/v1/findings  200 {"total":3} when the bearer token is an HS256
//	                      JWT signed with the JWT_SIGNING_KEY or the
//	                      JWT_PREVIOUS_SIGNING_KEY every Machine runs
//	GET /v1/models        200 for a key the console made (x-api-key, or a
//	                      bearer token)
type cfAPI struct {
	w    *cfWorld
	srv  *httptest.Server
	down atomic.Bool // the test's switch: /health fails

	mu          sync.Mutex
	consoleKeys map[string]bool
}

var cfRunningKeys = []string{"JWT_SIGNING_KEY", "JWT_PREVIOUS_SIGNING_KEY", "AEGIS_DATABASE_URL", "ANTHROPIC_API_KEY", "OPENAI_API_KEY"}

func newCFAPI(t *testing.T, w *cfWorld) *cfAPI {
	a := &cfAPI{w: w, consoleKeys: map[string]bool{w.oai0: true}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", a.health)
	mux.HandleFunc("GET /api/v1/findings", a.findings)
	mux.HandleFunc("GET /v1/models", a.models)
	a.srv = httptest.NewServer(mux)
	t.Cleanup(a.srv.Close)
	return a
}

// running returns what every Machine runs, ok false unless all are
// started and run the same values.
func (a *cfAPI) running() (map[string]string, bool) {
	var first map[string]string
	for _, m := range a.w.machines {
		env := map[string]string{}
		if st, ok := a.w.fly.Machine(cfAppName, m); !ok || st.State != "started" {
			return nil, false
		}
		for _, k := range cfRunningKeys {
			if v, ok := a.w.fly.RunningValue(cfAppName, m, k); ok {
				env[k] = v
			}
		}
		if first == nil {
			first = env
		} else if !maps.Equal(first, env) {
			return nil, false
		}
	}
	return first, first != nil
}

func (a *cfAPI) health(rw http.ResponseWriter, r *http.Request) {
	env, ok := a.running()
	if a.down.Load() || !ok || env["JWT_SIGNING_KEY"] == "" {
		cfJSON(rw, http.StatusServiceUnavailable, map[string]any{"status": "unavailable"})
		return
	}
	component := func(ok bool) string {
		if ok {
			return "healthy"
		}
		return "unhealthy"
	}
	a.mu.Lock()
	ai := a.consoleKeys[env["ANTHROPIC_API_KEY"]]
	a.mu.Unlock()
	cfJSON(rw, http.StatusOK, map[string]any{"status": "ok", "components": map[string]any{
		"postgres":    component(cfPing(r.Context(), env["AEGIS_DATABASE_URL"])),
		"ai_provider": component(ai),
	}})
}

func (a *cfAPI) findings(rw http.ResponseWriter, r *http.Request) {
	env, ok := a.running()
	token, bearer := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || !bearer || !(cfVerifyJWT(token, env["JWT_SIGNING_KEY"]) || cfVerifyJWT(token, env["JWT_PREVIOUS_SIGNING_KEY"])) {
		cfJSON(rw, http.StatusUnauthorized, map[string]any{"error": "unauthorized"})
		return
	}
	cfJSON(rw, http.StatusOK, map[string]any{"total": 3, "findings": []any{}})
}

func (a *cfAPI) models(rw http.ResponseWriter, r *http.Request) {
	key := r.Header.Get("x-api-key")
	if bearer, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
		key = bearer
	}
	a.mu.Lock()
	ok := a.consoleKeys[key]
	a.mu.Unlock()
	if !ok {
		cfJSON(rw, http.StatusUnauthorized, map[string]any{"type": "error", "error": map[string]any{"type": "authentication_error", "message": "invalid x-api-key"}})
		return
	}
	cfJSON(rw, http.StatusOK, map[string]any{"data": []any{map[string]any{"id": "claude-test", "type": "model"}}})
}

// wantHealth checks a component of /health as the runbook's curl | jq does.
func (a *cfAPI) wantHealth(t *testing.T, component, want string) {
	t.Helper()
	resp, err := http.Get(a.srv.URL + "/health")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct{ Components map[string]string }
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("/health: status %d, %v", resp.StatusCode, err)
	}
	if got := body.Components[component]; got != want {
		t.Errorf("/health: components.%s is %q, want %q", component, got, want)
	}
}

func (a *cfAPI) wantFindings(t *testing.T, token string, status int) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, a.srv.URL+"/api/v1/findings", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != status {
		t.Errorf("/api/v1/findings with a token signed before the rotation: status %d, want %d", resp.StatusCode, status)
	}
}

// cfPing logs in with dsn and runs SELECT 1, as the app's health check does.
func cfPing(ctx context.Context, dsn string) bool {
	if dsn == "" {
		return false
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return false
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, "SELECT 1")
	return err == nil
}

// cfSignJWT makes an HS256 JWT with key (the Fly secret's text as bytes, as
// the API reads it).
func cfSignJWT(key, claims string) string {
	enc := base64.RawURLEncoding
	signing := enc.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`)) + "." + enc.EncodeToString([]byte(claims))
	mac := hmac.New(sha256.New, []byte(key))
	mac.Write([]byte(signing))
	return signing + "." + enc.EncodeToString(mac.Sum(nil))
}

func cfVerifyJWT(token, key string) bool {
	if key == "" {
		return false
	}
	i := strings.LastIndex(token, ".")
	if i < 0 {
		return false
	}
	mac := hmac.New(sha256.New, []byte(key))
	mac.Write([]byte(token[:i]))
	sig, err := base64.RawURLEncoding.DecodeString(token[i+1:])
	return err == nil && hmac.Equal(sig, mac.Sum(nil))
}

func cfJSON(rw http.ResponseWriter, status int, v any) {
	rw.Header().Set("Content-Type", "application/json")
	rw.WriteHeader(status)
	_ = json.NewEncoder(rw).Encode(v)
}

func cfRandom(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}
