package postgres

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/zclconf/go-cty/cty"

	"github.com/rotplan/rotplan/internal/sensitive"
	"github.com/rotplan/rotplan/internal/testservers"
	"github.com/rotplan/rotplan/providers"
)

// testAlternatingNoGap rotates a pair of roles twice, step by step as apply
// does (generate, set, deliver the copy, verify, retire after the grace),
// while a client logs in and queries in a loop with the login the consumer
// holds at each moment: no login is ever refused. The first rotation
// creates the second role with the first's memberships, through which it
// reads the table.
func testAlternatingNoGap(t *testing.T, pg *testservers.Postgres) {
	pg.Exec(t, "CREATE ROLE nogap_readers NOLOGIN")
	pg.Exec(t, "CREATE TABLE nogap_data (n int)")
	pg.Exec(t, "GRANT SELECT ON nogap_data TO nogap_readers")
	pg.CreateRole(t, "nogap_a", "nogap-initial-0001")
	pg.Exec(t, "GRANT nogap_readers TO nogap_a")
	cfg := altBlock(t, pg.AdminDSN, "nogap_a", "nogap_b")
	gen := loginBlock(t, pg.AdminDSN, "nogap_a", "nogap_b")
	tgt := newTarget(t)

	// held is the login the consumer holds: what the env file it reads
	// says at each moment.
	var held atomic.Pointer[sensitive.Value]
	initial := loginValue("nogap_a", "nogap-initial-0001")
	held.Store(&initial)
	var attempts atomic.Int64
	var mu sync.Mutex
	var refused []string
	var phase atomic.Value
	phase.Store("before the rotation")
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		for {
			select {
			case <-done:
				return
			default:
			}
			l, err := readLogin(*held.Load())
			if err == nil {
				err = queryAs(pg, l, "SELECT count(*) FROM nogap_data")
			}
			attempts.Add(1)
			if err != nil {
				mu.Lock()
				refused = append(refused, fmt.Sprintf("%s: %v", phase.Load(), err))
				mu.Unlock()
			}
		}
	}()
	// step lets the client log in a few times in each phase.
	step := func(name string) {
		phase.Store(name)
		for n := attempts.Load() + 3; attempts.Load() < n; {
			time.Sleep(2 * time.Millisecond)
		}
	}

	step("before the rotation")
	current := initial
	for i, wantRole := range []string{"nogap_b", "nogap_a"} {
		next := generateLogin(t, gen)
		if l, _ := readLogin(next); l.username != wantRole {
			t.Fatalf("rotation %d: the login is for %s, want %s", i+1, l.username, wantRole)
		}
		step(fmt.Sprintf("rotation %d generated", i+1))
		resp, err := tgt.Deliver(ctx(t), providers.DeliverRequest{Items: []providers.WriteItem{{Config: cfg, Value: next, Previous: current}}})
		checkResults(t, resp, err, false)
		step(fmt.Sprintf("rotation %d set", i+1))
		held.Store(&next)
		step(fmt.Sprintf("rotation %d delivered", i+1))
		// Promoted: both logins work during the grace.
		wantLogin(t, pg, current, true, "the old login during the grace")
		wantLogin(t, pg, next, true, "the new login")
		step(fmt.Sprintf("rotation %d promoted", i+1))
		resp, err = tgt.Retire(ctx(t), providers.RetireRequest{Items: []providers.WriteItem{{Config: cfg, Value: next, Previous: current}}})
		checkResults(t, resp, err, false)
		step(fmt.Sprintf("rotation %d retired", i+1))
		wantLogin(t, pg, current, false, "the old login after retire")
		wantLogin(t, pg, next, true, "the new login after retire")
		resp, err = tgt.Retire(ctx(t), providers.RetireRequest{Items: []providers.WriteItem{{Config: cfg, Value: next, Previous: current}}})
		checkResults(t, resp, err, true)
		current = next
	}
	close(done)
	<-stopped
	if len(refused) > 0 {
		t.Errorf("the client was refused %d times in %d attempts:\n%s", len(refused), attempts.Load(), strings.Join(refused, "\n"))
	}
	t.Logf("%d logins, none refused", attempts.Load())
	if log := pg.Log(t); strings.Contains(log, "nogap-initial") {
		t.Errorf("a password is in the server log")
	}
}

// testAlternatingRollback sets a candidate login and reverts it, as after a
// failed check: the candidate's role no longer logs in, the old login still
// does, and the next login goes on the same free role again.
func testAlternatingRollback(t *testing.T, pg *testservers.Postgres) {
	pg.CreateRole(t, "rollback_a", "rollback-old-0001")
	cfg := altBlock(t, pg.AdminDSN, "rollback_a", "rollback_b")
	old, candidate := loginValue("rollback_a", "rollback-old-0001"), loginValue("rollback_b", "rollback-cand-0002")
	tgt := newTarget(t)
	resp, err := tgt.Deliver(ctx(t), providers.DeliverRequest{Items: []providers.WriteItem{{Config: cfg, Value: candidate, Previous: old}}})
	checkResults(t, resp, err, false)
	wantLogin(t, pg, candidate, true, "the candidate")

	revert := providers.RevertRequest{Items: []providers.WriteItem{{Config: cfg, Value: old, Previous: candidate}}}
	resp, err = tgt.Revert(ctx(t), revert)
	checkResults(t, resp, err, false)
	wantLogin(t, pg, candidate, false, "the candidate after rollback")
	wantLogin(t, pg, old, true, "the old login after rollback")
	if stored := storedPassword(t, pg, "rollback_b"); stored != "" {
		t.Errorf("the candidate's role still has a password")
	}
	resp, err = tgt.Revert(ctx(t), revert)
	checkResults(t, resp, err, true)

	if l, _ := readLogin(generateLogin(t, loginBlock(t, pg.AdminDSN, "rollback_a", "rollback_b"))); l.username != "rollback_b" {
		t.Errorf("after a rollback the next login is for %s, want rollback_b", l.username)
	}

	t.Run("a created secret", func(t *testing.T) {
		// A failed first rotation has no old login: the candidate stops
		// working all the same, and rollback_a is left as it was.
		resp, err := tgt.Deliver(ctx(t), providers.DeliverRequest{Items: []providers.WriteItem{{Config: cfg, Value: candidate}}})
		checkResults(t, resp, err, false)
		resp, err = tgt.Revert(ctx(t), providers.RevertRequest{Items: []providers.WriteItem{{Config: cfg, Previous: candidate}}})
		checkResults(t, resp, err, false)
		wantLogin(t, pg, candidate, false, "the candidate after rollback")
		wantLogin(t, pg, old, true, "the login rotplan did not make")
	})
}

// testAlternatingClone creates the second role on first use: a login role
// that is a member of every role the first is a member of, with the same
// admin option. An admin that may not create roles is told what to do.
func testAlternatingClone(t *testing.T, pg *testservers.Postgres) {
	pg.Exec(t, "CREATE ROLE clone_readers NOLOGIN")
	pg.Exec(t, "CREATE ROLE clone_writers NOLOGIN")
	pg.CreateRole(t, "clone_a", "clone-a-pw-0001")
	pg.Exec(t, "GRANT clone_readers TO clone_a")
	pg.Exec(t, "GRANT clone_writers TO clone_a WITH ADMIN OPTION")
	cfg := altBlock(t, pg.AdminDSN, "clone_a", "clone_b")
	next := loginValue("clone_b", "clone-b-pw-0002")
	resp, err := newTarget(t).Deliver(ctx(t), providers.DeliverRequest{Items: []providers.WriteItem{{Config: cfg, Value: next, Previous: loginValue("clone_a", "clone-a-pw-0001")}}})
	checkResults(t, resp, err, false)
	wantLogin(t, pg, next, true, "the cloned role's login")
	if got, want := memberships(t, pg, "clone_b"), "clone_readers clone_writers(admin)"; got != want {
		t.Errorf("clone_b is a member of %q, want %q", got, want)
	}

	t.Run("admin may not create roles", func(t *testing.T) {
		pg.CreateRole(t, "clone_limited", "clone-limited-pw")
		limited := pg.DSN("clone_limited", "clone-limited-pw", "postgres")
		cfg := altBlock(t, limited, "clone_a", "clone_c")
		resp, err := newTarget(t).Deliver(ctx(t), providers.DeliverRequest{Items: []providers.WriteItem{{Config: cfg, Value: loginValue("clone_c", "clone-c-pw-0003")}}})
		if err != nil {
			t.Fatal(err)
		}
		if got := resp.Results[0].Err; got == nil || !strings.Contains(got.Error(), `role "clone_c" does not exist, and admin_dsn may not create it (CREATEROLE)`) {
			t.Errorf("error %v, want one saying the admin may not create the role", got)
		}
	})
	t.Run("neither role exists", func(t *testing.T) {
		cfg := altBlock(t, pg.AdminDSN, "clone_none_a", "clone_none_b")
		resp, err := newTarget(t).Deliver(ctx(t), providers.DeliverRequest{Items: []providers.WriteItem{{Config: cfg, Value: loginValue("clone_none_a", "clone-none-pw-01")}}})
		if err != nil {
			t.Fatal(err)
		}
		if got := resp.Results[0].Err; got == nil || !strings.Contains(got.Error(), `neither "clone_none_b" nor "clone_none_a" exists`) {
			t.Errorf("error %v, want one saying neither role exists", got)
		}
	})
}

// testLoginGenerator picks the role not in use, as a superuser and as an
// admin that may not read pg_authid, and refuses a pair whose roles may
// both log in.
func testLoginGenerator(t *testing.T, pg *testservers.Postgres) {
	pg.CreateRole(t, "pick_admin", "pick-admin-pw")
	pg.Exec(t, "ALTER ROLE pick_admin CREATEROLE")
	limited := pg.DSN("pick_admin", "pick-admin-pw", "postgres")

	// pick1: pick1_a in use, pick1_b missing.
	pg.CreateRole(t, "pick1_a", "pick-pw-1")
	// pick2: pick2_a retired by rotplan, pick2_b in use.
	pg.CreateRole(t, "pick2_a", "pick-pw-2")
	pg.Exec(t, "ALTER ROLE pick2_a PASSWORD NULL VALID UNTIL '-infinity'")
	pg.CreateRole(t, "pick2_b", "pick-pw-2b")
	// pick3: neither has a password.
	pg.Exec(t, "CREATE ROLE pick3_a LOGIN")
	pg.Exec(t, "CREATE ROLE pick3_b LOGIN")
	// pick4: both log in.
	pg.CreateRole(t, "pick4_a", "pick-pw-4")
	pg.CreateRole(t, "pick4_b", "pick-pw-4b")
	// pick5: pick5_a's password expired by an operator.
	pg.CreateRole(t, "pick5_a", "pick-pw-5")
	pg.Exec(t, "ALTER ROLE pick5_a VALID UNTIL '2001-01-01'")
	pg.CreateRole(t, "pick5_b", "pick-pw-5b")
	// pick6: pick6_a may not log in.
	pg.Exec(t, "CREATE ROLE pick6_a NOLOGIN PASSWORD 'pick-pw-6'")
	pg.CreateRole(t, "pick6_b", "pick-pw-6b")

	tests := []struct {
		name, admin, a, b string
		want, wantErr     string
	}{
		{name: "second missing", admin: pg.AdminDSN, a: "pick1_a", b: "pick1_b", want: "pick1_b"},
		{name: "first retired", admin: pg.AdminDSN, a: "pick2_a", b: "pick2_b", want: "pick2_a"},
		{name: "neither logs in", admin: pg.AdminDSN, a: "pick3_a", b: "pick3_b", want: "pick3_a"},
		{name: "both log in", admin: pg.AdminDSN, a: "pick4_a", b: "pick4_b", wantErr: `roles "pick4_a" and "pick4_b" may both log in with a password`},
		{name: "first expired", admin: pg.AdminDSN, a: "pick5_a", b: "pick5_b", want: "pick5_a"},
		{name: "first may not log in", admin: pg.AdminDSN, a: "pick6_a", b: "pick6_b", want: "pick6_a"},
		{name: "not superuser, second missing", admin: limited, a: "pick1_a", b: "pick1_b", want: "pick1_b"},
		{name: "not superuser, first retired", admin: limited, a: "pick2_a", b: "pick2_b", want: "pick2_a"},
		// pg_roles does not say whether a role has a password: only
		// rotplan's mark tells.
		{name: "not superuser, neither marked", admin: limited, a: "pick3_a", b: "pick3_b", wantErr: "may both log in"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g, err := NewLoginGenerator(providers.Settings{})
			if err != nil {
				t.Fatal(err)
			}
			resp, err := g.Generate(ctx(t), providers.GenerateRequest{Secret: "db_login", Config: loginBlock(t, tc.admin, tc.a, tc.b)})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			fields, err := resp.Value.Fields()
			if err != nil || len(fields) != 2 {
				t.Fatalf("the value is not a login: %d fields, %v", len(fields), err)
			}
			if got := fields["username"].Reveal(); got != tc.want {
				t.Errorf("username %s, want %s", got, tc.want)
			}
			pw := fields["password"].Reveal()
			if len(pw) != loginDefaultLength || strings.Trim(pw, loginAlphabet) != "" {
				t.Errorf("the password has %d characters, not all letters and digits; want %d", len(pw), loginDefaultLength)
			}
		})
	}
}

// testObserveAlternating logs in with the current login, and counts the
// other role as Unknown when it may log in with what is not the previous
// login.
func testObserveAlternating(t *testing.T, pg *testservers.Postgres) {
	pg.CreateRole(t, "obsalt1_a", "obsalt-cur-1")
	pg.Exec(t, "CREATE ROLE obsalt1_b LOGIN PASSWORD NULL VALID UNTIL '-infinity'")
	pg.CreateRole(t, "obsalt2_a", "obsalt-cur-2")
	pg.CreateRole(t, "obsalt2_b", "obsalt-unknown-2")
	pg.CreateRole(t, "obsalt3_a", "obsalt-cur-3")
	pg.CreateRole(t, "obsalt3_b", "obsalt-prev-3")

	tests := []struct {
		name              string
		a, b              string
		current, previous sensitive.Value
		want              providers.Holding
		wantUnknown       int
		wantErr           string
	}{
		{name: "current, other retired", a: "obsalt1_a", b: "obsalt1_b", current: loginValue("obsalt1_a", "obsalt-cur-1"), want: providers.HoldsCurrent},
		{name: "current, other missing", a: "obsalt1_a", b: "obsalt1_c", current: loginValue("obsalt1_a", "obsalt-cur-1"), want: providers.HoldsCurrent},
		{name: "current, other has a password", a: "obsalt2_a", b: "obsalt2_b", current: loginValue("obsalt2_a", "obsalt-cur-2"), want: providers.HoldsCurrent, wantUnknown: 1},
		{name: "current, other holds previous", a: "obsalt3_a", b: "obsalt3_b", current: loginValue("obsalt3_a", "obsalt-cur-3"), previous: loginValue("obsalt3_b", "obsalt-prev-3"), want: providers.HoldsCurrent},
		{name: "stale", a: "obsalt1_a", b: "obsalt1_b", current: loginValue("obsalt1_a", "obsalt-stale"), want: providers.HoldsOther},
		{name: "a plain value", a: "obsalt1_a", b: "obsalt1_b", current: sensitive.New("obsalt-cur-1"), wantErr: `give this target no field`},
		{name: "a role outside the pair", a: "obsalt1_a", b: "obsalt1_b", current: loginValue("obsalt2_a", "obsalt-cur-2"), wantErr: `neither role nor alternate_role`},
	}
	req := providers.ObserveRequest{}
	for _, tc := range tests {
		req.Items = append(req.Items, providers.ObserveItem{Secret: "db_login", Config: altBlock(t, pg.AdminDSN, tc.a, tc.b), Current: tc.current, Previous: tc.previous})
	}
	resp, err := newTarget(t).Observe(ctx(t), req)
	if err != nil {
		t.Fatal(err)
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

// testAlternatingRefusals pins what the alternating target will not do:
// set the role the current login uses, take a single field, or retire the
// other role when the current login does not work.
func testAlternatingRefusals(t *testing.T, pg *testservers.Postgres) {
	pg.CreateRole(t, "refuse_a", "refuse-cur-0001")
	pg.CreateRole(t, "refuse_b", "refuse-prev-0002")
	cfg := altBlock(t, pg.AdminDSN, "refuse_a", "refuse_b")
	cur := loginValue("refuse_a", "refuse-cur-0001")
	tgt := newTarget(t)
	tests := []struct {
		name    string
		call    func() (*providers.WriteResponse, error)
		wantErr string
	}{
		{"the role in use", func() (*providers.WriteResponse, error) {
			return tgt.Deliver(ctx(t), providers.DeliverRequest{Items: []providers.WriteItem{{Config: cfg, Value: loginValue("refuse_a", "refuse-new-0003"), Previous: cur}}})
		}, `which the current login uses`},
		{"one field", func() (*providers.WriteResponse, error) {
			return tgt.Deliver(ctx(t), providers.DeliverRequest{Items: []providers.WriteItem{{Config: cfg, Value: sensitive.New("refuse-new-0003")}}})
		}, `give this target no field`},
		{"retire with a stale login", func() (*providers.WriteResponse, error) {
			return tgt.Retire(ctx(t), providers.RetireRequest{Items: []providers.WriteItem{{Config: cfg, Value: loginValue("refuse_a", "refuse-stale-0004")}}})
		}, `does not accept the current login`},
	}
	for _, tc := range tests {
		resp, err := tc.call()
		if err != nil {
			t.Fatal(err)
		}
		if got := resp.Results[0].Err; got == nil || !strings.Contains(got.Error(), tc.wantErr) {
			t.Errorf("%s: error %v, want one containing %q", tc.name, got, tc.wantErr)
		}
	}
	wantLogin(t, pg, cur, true, "the current login")
	wantLogin(t, pg, loginValue("refuse_b", "refuse-prev-0002"), true, "the other login")
}

// Helpers.

// altBlock decodes an alternating target "postgres" block.
func altBlock(t *testing.T, adminDSN, role, alt string) cty.Value {
	t.Helper()
	return targetBlock(t, adminDSN, role, fmt.Sprintf("strategy = \"alternating\"\nalternate_role = %q\n", alt))
}

// loginBlock decodes a generate "postgres_login" block.
func loginBlock(t *testing.T, adminDSN, role, alt string) cty.Value {
	t.Helper()
	return decodeBody(t, loginSpec, "admin_dsn = dsn\nrole = role\nalternate_role = alt\n", map[string]cty.Value{"dsn": cty.StringVal(adminDSN), "role": cty.StringVal(role), "alt": cty.StringVal(alt)})
}

func loginValue(user, password string) sensitive.Value {
	return sensitive.FromFields(map[string]sensitive.Value{"username": sensitive.New(user), "password": sensitive.New(password)})
}

func generateLogin(t *testing.T, cfg cty.Value) sensitive.Value {
	t.Helper()
	g, err := NewLoginGenerator(providers.Settings{})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := g.Generate(ctx(t), providers.GenerateRequest{Secret: "db_login", Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	return resp.Value
}

// wantLogin checks whether a login value logs in.
func wantLogin(t *testing.T, pg *testservers.Postgres, v sensitive.Value, want bool, what string) {
	t.Helper()
	l, err := readLogin(v)
	if err != nil {
		t.Fatal(err)
	}
	if got := canLogin(t, pg, l.username, l.password.Reveal()); got != want {
		t.Errorf("%s (role %s): logs in %v, want %v", what, l.username, got, want)
	}
}

// queryAs logs in with l and runs query, as a consumer would.
func queryAs(pg *testservers.Postgres, l login, query string) error {
	cfg, err := pgx.ParseConfig(pg.DSN("", "", "postgres"))
	if err != nil {
		return err
	}
	cfg.User, cfg.Password = l.username, l.password.Reveal()
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.ConnectConfig(c, cfg)
	if err != nil {
		return fmt.Errorf("log in as %s: %w", l.username, redact(err, l.password))
	}
	defer conn.Close(c)
	if _, err := conn.Exec(c, query); err != nil {
		return fmt.Errorf("query as %s: %w", l.username, err)
	}
	return nil
}

// memberships lists the roles role is a member of, "(admin)" marking the
// admin option.
func memberships(t *testing.T, pg *testservers.Postgres, role string) string {
	t.Helper()
	conn, err := pgx.Connect(ctx(t), pg.AdminDSN)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx(t))
	rows, err := conn.Query(ctx(t), `SELECT g.rolname || CASE WHEN m.admin_option THEN '(admin)' ELSE '' END
FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid JOIN pg_roles u ON u.oid = m.member
WHERE u.rolname = $1 ORDER BY 1`, role)
	if err != nil {
		t.Fatal(err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return strings.Join(names, " ")
}
