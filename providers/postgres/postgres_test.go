package postgres

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/zclconf/go-cty/cty"

	"github.com/rotplan/rotplan/internal/sensitive"
	"github.com/rotplan/rotplan/internal/testservers"
	"github.com/rotplan/rotplan/providers"
)

// TestPostgres runs the target and the check against a real PostgreSQL
// server, one cluster for all its subtests, each with roles of its own.
func TestPostgres(t *testing.T) {
	pg := testservers.StartPostgres(t)
	for _, tc := range []struct {
		name string
		run  func(*testing.T, *testservers.Postgres)
	}{
		{"observe", testObserve},
		{"observe before create", testObserveWithoutValue},
		{"deliver to a missing role", testDeliverNoRole},
		{"deliver sets a verifier, never the cleartext", testDeliver},
		{"deliver again is skipped", testDeliverIdempotent},
		{"revert", testRevert},
		{"one admin connection per admin_dsn", testOneAdminConnection},
		{"quoted role names", testQuotedRole},
		{"verifier matches the server's own", testVerifierMatchesServer},
		{"retire", testRetire},
		{"alternating: a client never refused through two rotations", testAlternatingNoGap},
		{"alternating: rollback", testAlternatingRollback},
		{"alternating: first use clones memberships", testAlternatingClone},
		{"alternating: observe", testObserveAlternating},
		{"alternating: refusals", testAlternatingRefusals},
		{"postgres_login picks the role not in use", testLoginGenerator},
		{"verify", testVerify},
		{"verify retries", testVerifyRetries},
		{"no error carries the value", testCanary},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, pg) })
	}
}

func testObserve(t *testing.T, pg *testservers.Postgres) {
	pg.CreateRole(t, "observe_app", "observe-current-1")
	down := fmt.Sprintf("postgres://rotplan_admin:x@127.0.0.1:%d/postgres?sslmode=disable&connect_timeout=2", testservers.FreePort(t))
	// A database the role may not connect to: the server checks the
	// privilege after the password, so the probe still tells.
	pg.Exec(t, "CREATE DATABASE observe_private")
	pg.Exec(t, "REVOKE CONNECT ON DATABASE observe_private FROM PUBLIC")
	private := pg.DSN(testservers.PostgresAdmin, pg.AdminPassword, "observe_private")
	// A role the server lets in without a password: a login proves nothing.
	pg.CreateRole(t, "observe_trusted", "observe-current-1")
	pg.AddHBA(t, "host all observe_trusted 127.0.0.1/32 trust")

	tests := []struct {
		name     string
		config   cty.Value
		current  string
		want     providers.Holding
		wantErr  string
		errCheck func(error) bool
	}{
		{name: "current", config: targetBlock(t, pg.AdminDSN, "observe_app", ""), current: "observe-current-1", want: providers.HoldsCurrent},
		{name: "other", config: targetBlock(t, pg.AdminDSN, "observe_app", ""), current: "observe-stale-0", want: providers.HoldsOther},
		// PostgreSQL answers a login as a role that does not exist as it
		// does a wrong password, so as not to reveal which roles exist.
		{name: "no such role", config: targetBlock(t, pg.AdminDSN, "observe_nobody", ""), current: "observe-current-1", want: providers.HoldsOther},
		{name: "server down", config: targetBlock(t, down, "observe_app", ""), current: "observe-current-1", wantErr: `postgres role "observe_app": login probe:`},
		{name: "bad admin_dsn", config: targetBlock(t, "postgres://a:b@host:port:x/db", "observe_app", ""), current: "observe-current-1", wantErr: "admin_dsn: cannot parse"},
		{name: "no CONNECT privilege, current", config: targetBlock(t, private, "observe_app", ""), current: "observe-current-1", want: providers.HoldsCurrent},
		{name: "no CONNECT privilege, other", config: targetBlock(t, private, "observe_app", ""), current: "observe-stale-0", want: providers.HoldsOther},
		{name: "trust is no proof", config: targetBlock(t, pg.AdminDSN, "observe_trusted", ""), current: "observe-current-1", wantErr: `authentication method requirement "scram-sha-256,md5" failed`},
	}
	req := providers.ObserveRequest{}
	for _, tc := range tests {
		req.Items = append(req.Items, providers.ObserveItem{Secret: "db_password", Target: "target.postgres." + tc.name, Config: tc.config, Current: sensitive.New(tc.current)})
	}
	resp, err := newTarget(t).Observe(ctx(t), req)
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Results) != len(tests) {
		t.Fatalf("%d results for %d items", len(resp.Results), len(tests))
	}
	for i, tc := range tests {
		got := resp.Results[i]
		switch {
		case tc.wantErr != "":
			if got.Err == nil || !strings.Contains(got.Err.Error(), tc.wantErr) {
				t.Errorf("%s: error %v, want one containing %q", tc.name, got.Err, tc.wantErr)
			}
		case got.Err != nil:
			t.Errorf("%s: %v", tc.name, got.Err)
		case got.Holds != tc.want:
			t.Errorf("%s: holds %s, want %s", tc.name, got.Holds, tc.want)
		}
	}
}

// testObserveWithoutValue observes roles for a secret the store does not
// have yet: a password already there is one rotplan did not make.
func testObserveWithoutValue(t *testing.T, pg *testservers.Postgres) {
	pg.CreateRole(t, "before_app", "before-unknown-0")
	pg.Exec(t, "CREATE ROLE before_nopw LOGIN")
	// An admin that may change passwords but is no superuser, so may not
	// read pg_authid.
	pg.CreateRole(t, "before_admin", "before-admin-pw")
	pg.Exec(t, "ALTER ROLE before_admin CREATEROLE")
	limited := pg.DSN("before_admin", "before-admin-pw", "postgres")

	tests := []struct {
		name        string
		config      cty.Value
		want        providers.Holding
		wantUnknown int
		wantErr     string
	}{
		{name: "a password", config: targetBlock(t, pg.AdminDSN, "before_app", ""), want: providers.HoldsOther, wantUnknown: 1},
		{name: "no password", config: targetBlock(t, pg.AdminDSN, "before_nopw", ""), want: providers.HoldsNothing},
		{name: "no such role", config: targetBlock(t, pg.AdminDSN, "before_nobody", ""), wantErr: `postgres role "before_nobody": no such role: create it first`},
		{name: "pg_authid unreadable", config: targetBlock(t, limited, "before_app", ""), want: providers.HoldsUnknown},
		{name: "pg_authid unreadable, no such role", config: targetBlock(t, limited, "before_nobody", ""), wantErr: "no such role: create it first"},
	}
	req := providers.ObserveRequest{}
	for _, tc := range tests {
		req.Items = append(req.Items, providers.ObserveItem{Secret: "db_password", Target: "target.postgres." + tc.name, Config: tc.config})
	}
	resp, err := newTarget(t).Observe(ctx(t), req)
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Results) != len(tests) {
		t.Fatalf("%d results for %d items", len(resp.Results), len(tests))
	}
	for i, tc := range tests {
		got := resp.Results[i]
		switch {
		case tc.wantErr != "":
			if got.Err == nil || !strings.Contains(got.Err.Error(), tc.wantErr) {
				t.Errorf("%s: error %v, want one containing %q", tc.name, got.Err, tc.wantErr)
			}
		case got.Err != nil:
			t.Errorf("%s: %v", tc.name, got.Err)
		case got.Holds != tc.want || got.Unknown != tc.wantUnknown:
			t.Errorf("%s: holds %s, unknown %d; want %s, %d", tc.name, got.Holds, got.Unknown, tc.want, tc.wantUnknown)
		}
	}
}

// testDeliverNoRole delivers to a role that does not exist: the error says
// to create it, as Observe's does.
func testDeliverNoRole(t *testing.T, pg *testservers.Postgres) {
	resp, err := newTarget(t).Deliver(ctx(t), providers.DeliverRequest{Items: []providers.WriteItem{writeItem(targetBlock(t, pg.AdminDSN, "deliver_nobody", ""), "nobody-new", "")}})
	if err != nil {
		t.Fatal(err)
	}
	if got := resp.Results[0].Err; got == nil || !strings.Contains(got.Error(), `postgres role "deliver_nobody": deliver: no such role: create it first`) {
		t.Errorf("error %v, want one saying the role must be created first", got)
	}
}

func testDeliver(t *testing.T, pg *testservers.Postgres) {
	const oldPw, newPw = "deliver-old-7c1f", "deliver-new-2b9e#:+-."
	pg.CreateRole(t, "deliver_app", oldPw)
	item := writeItem(targetBlock(t, pg.AdminDSN, "deliver_app", ""), newPw, oldPw)

	resp, err := newTarget(t).Deliver(ctx(t), providers.DeliverRequest{Items: []providers.WriteItem{item}})
	checkResults(t, resp, err, false)
	if !canLogin(t, pg, "deliver_app", newPw) {
		t.Errorf("the role does not accept the new password")
	}
	if canLogin(t, pg, "deliver_app", oldPw) {
		t.Errorf("the role still accepts the old password")
	}
	if stored := storedPassword(t, pg, "deliver_app"); !strings.HasPrefix(stored, "SCRAM-SHA-256$4096:") {
		t.Errorf("stored password %q is not a SCRAM-SHA-256 verifier", stored)
	}

	log := pg.Log(t)
	if !regexp.MustCompile(`ALTER ROLE "deliver_app" PASSWORD 'SCRAM-SHA-256\$4096:`).MatchString(log) {
		t.Errorf("the server log does not show the ALTER ROLE with a verifier:\n%s", log)
	}
	if strings.Contains(log, newPw) {
		t.Errorf("the new password's cleartext is in the server log")
	}

	obs, err := newTarget(t).Observe(ctx(t), providers.ObserveRequest{Items: []providers.ObserveItem{{Config: item.Config, Current: item.Value}}})
	if err != nil || obs.Results[0].Err != nil || obs.Results[0].Holds != providers.HoldsCurrent {
		t.Errorf("observe after deliver: %+v, %v; want holds current", obs, err)
	}
}

func testDeliverIdempotent(t *testing.T, pg *testservers.Postgres) {
	pg.CreateRole(t, "again_app", "again-old")
	item := writeItem(targetBlock(t, pg.AdminDSN, "again_app", ""), "again-new", "again-old")
	req := providers.DeliverRequest{Items: []providers.WriteItem{item}}
	resp, err := newTarget(t).Deliver(ctx(t), req)
	checkResults(t, resp, err, false)
	before := storedPassword(t, pg, "again_app")

	resp, err = newTarget(t).Deliver(ctx(t), req)
	checkResults(t, resp, err, true)
	if after := storedPassword(t, pg, "again_app"); after != before {
		t.Errorf("a skipped deliver changed the stored verifier")
	}
}

func testRevert(t *testing.T, pg *testservers.Postgres) {
	const oldPw, candidate = "revert-old-4411", "revert-candidate-9d0a"
	pg.CreateRole(t, "revert_app", oldPw)
	cfg := targetBlock(t, pg.AdminDSN, "revert_app", "")
	resp, err := newTarget(t).Deliver(ctx(t), providers.DeliverRequest{Items: []providers.WriteItem{writeItem(cfg, candidate, oldPw)}})
	checkResults(t, resp, err, false)

	// Revert: Value is the old value, Previous the failed candidate.
	revert := providers.RevertRequest{Items: []providers.WriteItem{writeItem(cfg, oldPw, candidate)}}
	resp, err = newTarget(t).Revert(ctx(t), revert)
	checkResults(t, resp, err, false)
	if !canLogin(t, pg, "revert_app", oldPw) || canLogin(t, pg, "revert_app", candidate) {
		t.Errorf("after revert the role must accept the old password and not the candidate")
	}
	resp, err = newTarget(t).Revert(ctx(t), revert)
	checkResults(t, resp, err, true)

	t.Run("a created secret", func(t *testing.T) {
		// A failed first rotation has no old value: the candidate must
		// stop working all the same.
		resp, err := newTarget(t).Revert(ctx(t), providers.RevertRequest{Items: []providers.WriteItem{writeItem(cfg, "", oldPw)}})
		checkResults(t, resp, err, false)
		if stored := storedPassword(t, pg, "revert_app"); stored != "" {
			t.Errorf("stored password %q, want none", stored)
		}
	})
}

func testOneAdminConnection(t *testing.T, pg *testservers.Postgres) {
	roles := []string{"group_a", "group_b", "group_c"}
	var items []providers.WriteItem
	for _, r := range roles {
		pg.CreateRole(t, r, r+"-old")
		items = append(items, writeItem(targetBlock(t, pg.AdminDSN, r, ""), r+"-new", r+"-old"))
	}
	resp, err := newTarget(t).Deliver(ctx(t), providers.DeliverRequest{Items: items})
	checkResults(t, resp, err, false)

	// The log prefix has the backend's pid: one admin connection means
	// one pid for every ALTER ROLE.
	pids := map[string]bool{}
	for _, m := range regexp.MustCompile(`\[(\d+)\] rotplan_admin@postgres LOG:  statement: ALTER ROLE "group_`).FindAllStringSubmatch(pg.Log(t), -1) {
		pids[m[1]] = true
	}
	if len(pids) != 1 {
		t.Errorf("ALTER ROLE ran on %d connections (pids %v), want 1", len(pids), pids)
	}
	for _, r := range roles {
		if !canLogin(t, pg, r, r+"-new") {
			t.Errorf("%s does not accept its new password", r)
		}
	}
}

func testQuotedRole(t *testing.T, pg *testservers.Postgres) {
	for _, role := range []string{`Mixed "Quoted" Role`, `x"; DROP ROLE rotplan_admin; --`, "Ünïcode role"} {
		t.Run(role, func(t *testing.T) {
			pg.CreateRole(t, role, "quoted-old")
			cfg := targetBlock(t, pg.AdminDSN, role, "")
			resp, err := newTarget(t).Deliver(ctx(t), providers.DeliverRequest{Items: []providers.WriteItem{writeItem(cfg, "quoted-new", "quoted-old")}})
			checkResults(t, resp, err, false)
			if !canLogin(t, pg, role, "quoted-new") {
				t.Errorf("the role does not accept its new password")
			}
			obs, err := newTarget(t).Observe(ctx(t), providers.ObserveRequest{Items: []providers.ObserveItem{{Config: cfg, Current: sensitive.New("quoted-new")}}})
			if err != nil || obs.Results[0].Holds != providers.HoldsCurrent {
				t.Errorf("observe: %+v, %v; want holds current", obs, err)
			}
		})
	}
	if !canLogin(t, pg, testservers.PostgresAdmin, pg.AdminPassword) {
		t.Errorf("the admin role is gone")
	}
}

// testVerifierMatchesServer has PostgreSQL hash passwords itself and checks
// that scramVerifierWith, given the same salt, gives the same verifier.
func testVerifierMatchesServer(t *testing.T, pg *testservers.Postgres) {
	passwords := map[string]string{
		"letters and digits": "Abc123xyz",
		"symbols":            `!#%+-.:=?@^_~$&*()[]{}<>,;/|"` + "`",
		"quote":              "it's",
		"backslash":          `back\slash`,
		"space":              "with space ",
		"control character":  "tab\there",
		"long":               strings.Repeat("0123456789", 20),
	}
	for name, pw := range passwords {
		t.Run(name, func(t *testing.T) {
			role := "scram_" + strings.ReplaceAll(name, " ", "_")
			pg.CreateRole(t, role, pw)
			stored := storedPassword(t, pg, role)
			m := regexp.MustCompile(`^SCRAM-SHA-256\$(\d+):([^$]+)\$`).FindStringSubmatch(stored)
			if m == nil {
				t.Fatalf("stored password %q is not a SCRAM verifier", stored)
			}
			iterations, _ := strconv.Atoi(m[1])
			salt, err := base64.StdEncoding.DecodeString(m[2])
			if err != nil {
				t.Fatal(err)
			}
			got, err := scramVerifierWith(sensitive.New(pw), salt, iterations)
			if err != nil {
				t.Fatal(err)
			}
			if got != stored {
				t.Errorf("verifier\n got %s\nwant %s (PostgreSQL's)", got, stored)
			}
		})
	}
}

func testRetire(t *testing.T, pg *testservers.Postgres) {
	pg.CreateRole(t, "retire_app", "retire-current")
	item := writeItem(targetBlock(t, pg.AdminDSN, "retire_app", ""), "retire-current", "retire-previous")
	resp, err := newTarget(t).Retire(ctx(t), providers.RetireRequest{Items: []providers.WriteItem{item}})
	checkResults(t, resp, err, true)
	if !canLogin(t, pg, "retire_app", "retire-current") {
		t.Errorf("retire broke the current password")
	}
}

func testVerify(t *testing.T, pg *testservers.Postgres) {
	const pw = "verify-pw-31c8"
	pg.CreateRole(t, "verify_app", pw)
	pg.Exec(t, "CREATE TABLE verify_marker (n int)")
	pg.Exec(t, `GRANT SELECT ON verify_marker TO verify_app`)
	dsn := pg.DSN("verify_app", pw, "postgres")
	wrong := pg.DSN("verify_app", "verify-wrong-0000", "postgres")

	tests := map[string]struct {
		dsn, query string
		wantErr    string
	}{
		"default query":         {dsn: dsn},
		"query":                 {dsn: dsn, query: "SELECT count(*) FROM verify_marker"},
		"key=value dsn":         {dsn: fmt.Sprintf("host=%s port=%d user=verify_app password=%s dbname=postgres sslmode=disable", pg.Host, pg.Port, pw)},
		"wrong password":        {dsn: wrong, wantErr: "postgres verify_app@127.0.0.1:" + strconv.Itoa(pg.Port) + "/postgres: after "},
		"failing query":         {dsn: dsn, query: "SELECT * FROM no_such_table", wantErr: `query: ERROR: relation "no_such_table" does not exist`},
		"query it may not run":  {dsn: dsn, query: "DELETE FROM verify_marker", wantErr: "permission denied"},
		"unparseable dsn":       {dsn: "postgres://verify_app:" + pw + "@127.0.0.1:notaport/postgres", wantErr: "dsn: cannot parse"},
		"password in a db name": {dsn: pg.DSN("verify_app", pw, "verify-wrong-0000"), wantErr: sensitive.Redacted},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			c, cancel := context.WithTimeout(context.Background(), 600*time.Millisecond)
			defer cancel()
			value := sensitive.New(pw)
			if strings.Contains(tc.dsn, "verify-wrong-0000") {
				value = sensitive.New("verify-wrong-0000")
			}
			resp, err := newVerifier(t).Verify(c, providers.VerifyRequest{Secret: "db_password", Config: verifyBlock(t, tc.dsn, tc.query), Value: value})
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if resp.Detail == "" {
					t.Errorf("a passed check has no detail")
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
			}
			for _, secret := range []string{pw, "verify-wrong-0000", tc.dsn} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("the error quotes the password or the DSN: %v", err)
				}
			}
		})
	}
}

// testVerifyRetries starts a check before the role can log in, as after a
// rotation whose consumer is still restarting, and lets the role in a
// moment later: the check must keep trying until then.
func testVerifyRetries(t *testing.T, pg *testservers.Postgres) {
	const pw = "retry-pw-8e21"
	done := make(chan error, 1)
	time.AfterFunc(400*time.Millisecond, func() {
		c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		conn, err := pgx.Connect(c, pg.AdminDSN)
		if err == nil {
			defer conn.Close(c)
			_, err = conn.Exec(c, "CREATE ROLE retry_app LOGIN PASSWORD '"+pw+"'")
		}
		done <- err
	})
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := newVerifier(t).Verify(c, providers.VerifyRequest{Config: verifyBlock(t, pg.DSN("retry_app", pw, "postgres"), ""), Value: sensitive.New(pw)})
	if err := <-done; err != nil {
		t.Fatalf("create the role: %v", err)
	}
	if err != nil {
		t.Errorf("the check gave up before the role could log in: %v", err)
	}

	t.Run("no deadline", func(t *testing.T) {
		start := time.Now()
		_, err := newVerifier(t).Verify(context.Background(), providers.VerifyRequest{Config: verifyBlock(t, pg.DSN("retry_app", "retry-wrong", "postgres"), ""), Value: sensitive.New("retry-wrong")})
		if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("after %d attempts", verifyMaxAttempts)) {
			t.Errorf("error %v, want one after %d attempts", err, verifyMaxAttempts)
		}
		t.Logf("%d attempts took %s", verifyMaxAttempts, time.Since(start).Round(time.Millisecond))
	})
}

// testCanary runs every operation with a canary value in the ways most
// likely to put it in an error, and checks that none does.
func testCanary(t *testing.T, pg *testservers.Postgres) {
	const canaryPw = "canary-pw-5f0d2e"
	down := fmt.Sprintf("postgres://rotplan_admin:%s@127.0.0.1:%d/postgres?sslmode=disable&connect_timeout=2", canaryPw, testservers.FreePort(t))
	badAdmin := "postgres://rotplan_admin:" + canaryPw + "/x@127.0.0.1:5432/postgres"
	tgt, ver := newTarget(t), newVerifier(t)
	c := ctx(t)
	var errs []error
	verify := func(dsn string) error {
		vc, cancel := context.WithTimeout(c, 500*time.Millisecond)
		defer cancel()
		_, err := ver.Verify(vc, providers.VerifyRequest{Config: verifyBlock(t, dsn, ""), Value: sensitive.New(canaryPw)})
		return err
	}

	for _, cfg := range []cty.Value{
		targetBlock(t, pg.AdminDSN, "canary_nobody", ""),
		targetBlock(t, down, "canary_app", ""),
		targetBlock(t, badAdmin, "canary_app", ""),
	} {
		for _, v := range []string{canaryPw, "ünïcode-" + canaryPw, canaryPw + "\x00"} {
			item := writeItem(cfg, v, canaryPw+"-previous")
			obs, _ := tgt.Observe(c, providers.ObserveRequest{Items: []providers.ObserveItem{{Config: cfg, Current: item.Value}}})
			errs = append(errs, obs.Results[0].Err)
			for _, call := range []func() (*providers.WriteResponse, error){
				func() (*providers.WriteResponse, error) {
					return tgt.Deliver(c, providers.DeliverRequest{Items: []providers.WriteItem{item}})
				},
				func() (*providers.WriteResponse, error) {
					return tgt.Revert(c, providers.RevertRequest{Items: []providers.WriteItem{item}})
				},
			} {
				resp, err := call()
				errs = append(errs, err, resp.Results[0].Err)
			}
		}
	}

	// The alternating strategy and its generator, with logins.
	for _, admin := range []string{pg.AdminDSN, down, badAdmin} {
		cfg := altBlock(t, admin, "canary_alt_a", "canary_alt_b")
		previous := loginValue("canary_alt_a", canaryPw+"-previous")
		for _, v := range []sensitive.Value{loginValue("canary_alt_b", canaryPw), loginValue("canary_alt_b", "ünïcode-"+canaryPw), loginValue("canary_alt_a", canaryPw), loginValue("canary_elsewhere", canaryPw)} {
			item := providers.WriteItem{Config: cfg, Value: v, Previous: previous}
			obs, _ := tgt.Observe(c, providers.ObserveRequest{Items: []providers.ObserveItem{{Config: cfg, Current: v, Previous: previous}}})
			errs = append(errs, obs.Results[0].Err)
			for _, call := range []func() (*providers.WriteResponse, error){
				func() (*providers.WriteResponse, error) {
					return tgt.Deliver(c, providers.DeliverRequest{Items: []providers.WriteItem{item}})
				},
				func() (*providers.WriteResponse, error) {
					return tgt.Revert(c, providers.RevertRequest{Items: []providers.WriteItem{{Config: cfg, Value: previous, Previous: v}}})
				},
				func() (*providers.WriteResponse, error) {
					return tgt.Retire(c, providers.RetireRequest{Items: []providers.WriteItem{item}})
				},
			} {
				resp, err := call()
				errs = append(errs, err, resp.Results[0].Err)
			}
		}
		gen, err := NewLoginGenerator(providers.Settings{})
		if err != nil {
			t.Fatal(err)
		}
		_, err = gen.Generate(c, providers.GenerateRequest{Config: loginBlock(t, admin, "canary_alt_a", "canary_alt_b")})
		errs = append(errs, err)
	}

	for _, dsn := range []string{
		pg.DSN("canary_nobody", canaryPw, "postgres"),
		"postgres://app:" + canaryPw + "/x@127.0.0.1:5432/db",
		"postgres://app:" + canaryPw + "@127.0.0.1:5432/db?sslmode=bogus",
		"host=127.0.0.1 user=app password=" + canaryPw + " dbname=db sslmode=bogus",
		"postgres://app:" + canaryPw + "@127.0.0.1:" + strconv.Itoa(testservers.FreePort(t)) + "/db?connect_timeout=1",
	} {
		errs = append(errs, verify(dsn))
	}
	if strings.Contains(pg.Log(t), canaryPw) {
		t.Errorf("the canary value is in the server log")
	}
	// Last, as the server logs the name of a database that does not exist.
	errs = append(errs, verify(pg.DSN(testservers.PostgresAdmin, pg.AdminPassword, canaryPw)))

	failed := 0
	for _, err := range errs {
		if err == nil {
			continue
		}
		failed++
		t.Log(err)
		for e := err; e != nil; e = errors.Unwrap(e) {
			if strings.Contains(e.Error(), canaryPw) || strings.Contains(e.Error(), "canary-pw") {
				t.Errorf("an error carries the value: %v", e)
			}
		}
		if strings.Contains(fmt.Sprintf("%+v %#v", err, err), canaryPw) {
			t.Errorf("an error's formatting carries the value: %v", err)
		}
	}
	if failed < len(errs)/2 {
		t.Errorf("only %d of %d operations failed: the canary cases do not exercise errors", failed, len(errs))
	}
}

// Helpers.

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

func newTarget(t *testing.T) *Target {
	t.Helper()
	tgt, err := New(providers.Settings{})
	if err != nil {
		t.Fatal(err)
	}
	return tgt
}

func newVerifier(t *testing.T) *Verifier {
	t.Helper()
	v, err := NewVerifier(providers.Settings{})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// targetBlock decodes a target "postgres" block with the package's schema,
// as the inventory decoder would; extra is more HCL for its body.
func targetBlock(t *testing.T, adminDSN, role, extra string) cty.Value {
	t.Helper()
	return decodeBody(t, targetSpec, "admin_dsn = dsn\nrole = role\n"+extra, map[string]cty.Value{"dsn": cty.StringVal(adminDSN), "role": cty.StringVal(role)})
}

// verifyBlock decodes a verify "postgres" block; an empty query is left
// out, for the default.
func verifyBlock(t *testing.T, dsn, query string) cty.Value {
	t.Helper()
	body := "dsn = dsn\n"
	if query != "" {
		body += "query = query\n"
	}
	return decodeBody(t, verifySpec, body, map[string]cty.Value{"dsn": cty.StringVal(dsn), "query": cty.StringVal(query)})
}

func decodeBody(t *testing.T, spec hcldec.Spec, body string, vars map[string]cty.Value) cty.Value {
	t.Helper()
	f, diags := hclsyntax.ParseConfig([]byte(body), "test.hcl", hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	v, diags := hcldec.Decode(f.Body, spec, &hcl.EvalContext{Variables: vars})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	return v
}

func writeItem(cfg cty.Value, value, previous string) providers.WriteItem {
	return providers.WriteItem{Secret: "db_password", Target: "target.postgres.app", Config: cfg, Value: sensitive.New(value), Previous: sensitive.New(previous)}
}

// checkResults fails unless every result succeeded, skipped as wanted.
func checkResults(t *testing.T, resp *providers.WriteResponse, err error, skipped bool) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range resp.Results {
		if r.Err != nil {
			t.Fatalf("item %d: %v", i, r.Err)
		}
		if r.Skipped != skipped {
			t.Errorf("item %d: skipped %v, want %v", i, r.Skipped, skipped)
		}
	}
}

// canLogin reports whether role logs in with password; errors other than a
// failed password check fail the test.
func canLogin(t *testing.T, pg *testservers.Postgres, role, password string) bool {
	t.Helper()
	cfg, err := pgx.ParseConfig(pg.DSN("", "", "postgres"))
	if err != nil {
		t.Fatal(err)
	}
	cfg.User, cfg.Password = role, password
	conn, err := pgx.ConnectConfig(ctx(t), cfg)
	if err == nil {
		conn.Close(ctx(t))
		return true
	}
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "28P01" {
		t.Fatalf("log in as %s: %v", role, err)
	}
	return false
}

// storedPassword reads role's stored password ("" for none).
func storedPassword(t *testing.T, pg *testservers.Postgres, role string) string {
	t.Helper()
	conn, err := pgx.Connect(ctx(t), pg.AdminDSN)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx(t))
	var stored *string
	if err := conn.QueryRow(ctx(t), "SELECT rolpassword FROM pg_authid WHERE rolname = $1", role).Scan(&stored); err != nil {
		t.Fatalf("read %s's password: %v", role, err)
	}
	if stored == nil {
		return ""
	}
	return *stored
}
