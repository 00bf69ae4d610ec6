package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/rotplan/rotplan/internal/sensitive"
	"github.com/rotplan/rotplan/providers/local"
)

// altSecret is a PostgreSQL login alternating between two roles, delivered
// to app.env as PGUSER and DB_PASSWORD, and checked with a query that only
// the members of a group role may run. %s is more verify blocks.
const altSecret = `
rotplan {
  grace = "24h"
}

secret "db_login" {
  description = "The application's PostgreSQL login."
  frequency   = "90d"

  store "local" {}
  generate "postgres_login" {
    admin_dsn      = env("PG_ADMIN_DSN")
    role           = "pgalt_a"
    alternate_role = "pgalt_b"
  }
  target "postgres" "app" {
    admin_dsn      = env("PG_ADMIN_DSN")
    role           = "pgalt_a"
    strategy       = "alternating"
    alternate_role = "pgalt_b"
  }
  target "env_file" "user" {
    path  = "app.env"
    key   = "PGUSER"
    field = "username"
  }
  target "env_file" "password" {
    path  = "app.env"
    key   = "DB_PASSWORD"
    field = "password"
  }
  verify "postgres" {
    dsn   = "host=${env("PG_HOST")} port=${env("PG_PORT")} user=${secret.db_login.value.username} password=${secret.db_login.value.password} dbname=postgres sslmode=disable"
    query = "SELECT count(*) FROM pgalt_data"
  }
%s}
`

// TestApplyAlternatesPostgresRoles runs the alternating strategy through the
// CLI on a real PostgreSQL while a client logs in and queries in a loop
// with whatever login app.env holds at that moment: two rotations (the
// first creating pgalt_b with pgalt_a's memberships), their retires after
// the grace, and a rotation whose check fails and rolls back. The client is
// never refused. After each promote both roles log in; after each retire
// only the current one; after the rollback the candidate's role does not.
// Subtests kill apply after each step of the protocol and let the next
// apply finish, and create the secret for a role in use with a password
// rotplan did not make, then retire that password.
func TestApplyAlternatesPostgresRoles(t *testing.T) {
	e := startE2E(t)
	pg := e.pg
	pg.Exec(t, "CREATE ROLE pgalt_readers NOLOGIN")
	pg.Exec(t, "CREATE TABLE pgalt_data (n int)")
	pg.Exec(t, "GRANT SELECT ON pgalt_data TO pgalt_readers")
	f, initial := newAltFixture(t, e, "pgalt", "pgalt_a", "pgalt_b", true)
	client := startLoginLoop(t, f)

	r := altRun(t, f, nil, "plan", "-detailed-exitcode")
	r.wantCode(t, exitPending)
	r.wantStdout(t, `(?m)^  ~ secret\.db_login will be rotated \(due\)$`,
		`strategy alternating: the new login goes on whichever of pgalt_a and pgalt_b is not in use, created with the other's memberships if it does not exist`)

	// Rotation 1: pgalt_b is created with pgalt_a's memberships.
	client.phase("rotation 1")
	r = altRun(t, f, nil, "apply", "-auto-approve")
	r.wantCode(t, exitOK)
	r.wantStdout(t, `(?m)^Apply complete: 1 rotated, 0 synced, 0 retired, 0 rolled back\.$`)
	first := altStore(t, f)
	if first.current.username != "pgalt_b" || first.previous.username != "pgalt_a" || first.previous.password != initial {
		t.Fatalf("after rotation 1 the store holds a login for %s, previous %s (the initial one: %t); want pgalt_b, then pgalt_a", first.current.username, first.previous.username, first.previous.password == initial)
	}
	altWantEnv(t, f, first.current)
	client.wait(t)
	altWantLogin(t, f, first.current, true, "the new login")
	altWantLogin(t, f, first.previous, true, "the old login during the grace")

	r = altRun(t, f, nil, "plan", "-at", "+25h", "-detailed-exitcode")
	r.wantCode(t, exitPending)
	r.wantStdout(t, `(?m)^  - secret\.db_login will retire its previous value \(retiring\)$`)
	client.phase("retire 1")
	r = altRun(t, f, []string{"ROTPLAN_TEST_CLOCK=+25h"}, "apply", "-auto-approve")
	r.wantCode(t, exitOK)
	client.wait(t)
	altWantLogin(t, f, first.previous, false, "the old login after retire")
	altWantLogin(t, f, first.current, true, "the current login after retire")
	r = altRun(t, f, []string{"ROTPLAN_TEST_CLOCK=+25h"}, "plan", "-at", "+25h", "-detailed-exitcode")
	r.wantCode(t, exitOK)

	// Rotation 2, 91 days on: back to pgalt_a.
	client.phase("rotation 2")
	r = altRun(t, f, []string{"ROTPLAN_TEST_CLOCK=+91d"}, "apply", "-auto-approve")
	r.wantCode(t, exitOK)
	second := altStore(t, f)
	if second.current.username != "pgalt_a" || second.previous.username != "pgalt_b" {
		t.Fatalf("after rotation 2 the store holds a login for %s, previous %s; want pgalt_a, then pgalt_b", second.current.username, second.previous.username)
	}
	altWantEnv(t, f, second.current)
	client.wait(t)
	altWantLogin(t, f, second.current, true, "the new login")
	altWantLogin(t, f, second.previous, true, "the old login during the grace")
	client.phase("retire 2")
	r = altRun(t, f, []string{"ROTPLAN_TEST_CLOCK=+92d"}, "apply", "-auto-approve")
	r.wantCode(t, exitOK)
	client.wait(t)
	altWantLogin(t, f, second.previous, false, "the old login after retire")
	altWantLogin(t, f, second.current, true, "the current login after retire")

	// Rotation 3 fails its check and rolls back.
	f.write(t, "secrets.hcl", fmt.Sprintf(altSecret, captureVerify(filepath.Join(f.candidates, "db_login"), true)))
	client.phase("rotation 3, rolled back")
	r = altRun(t, f, []string{"ROTPLAN_TEST_CLOCK=+182d"}, "apply", "-auto-approve")
	r.wantCode(t, exitError)
	r.wantStdout(t, `(?m)^Apply finished with failures: 0 rotated, 0 synced, 0 retired, 1 rolled back\.$`)
	client.wait(t)
	after := altStore(t, f)
	if after.current != second.current || after.pending.username != "" || after.previous.username != "" {
		t.Errorf("after the rollback the store's current is the one before: %t; pending left: %t; previous: %t", after.current == second.current, after.pending.username != "", after.previous.username != "")
	}
	candidate, err := readAltLogin(f.candidate(t, "db_login"))
	if err != nil {
		t.Fatal(err)
	}
	e.canary(candidate.password)
	if candidate.username != "pgalt_b" {
		t.Errorf("the failed candidate is for %s, want pgalt_b", candidate.username)
	}
	altWantLogin(t, f, candidate, false, "the failed candidate after the rollback")
	altWantLogin(t, f, second.current, true, "the current login after the rollback")
	altWantEnv(t, f, second.current)

	attempts, refused := client.stop()
	if len(refused) > 0 {
		t.Errorf("the client was refused %d times in %d attempts:\n%s", len(refused), attempts, strings.Join(refused, "\n"))
	}
	t.Logf("%d logins through the rotations, none refused", attempts)

	t.Run("SIGKILL after each step", func(t *testing.T) {
		// Killed once each step of the protocol is done, apply runs again
		// and finishes the rotation: the store's login works, app.env
		// holds it, the journal is empty, and the old login still works
		// through the grace. The client is never refused, killed or not.
		for _, step := range crashSteps {
			t.Run(step, func(t *testing.T) {
				id := "pgalt_k_" + step
				f, initial := newAltFixture(t, e, "pgalt-crash-"+step, id+"_a", id+"_b", true)
				old := altLogin{username: id + "_a", password: initial}
				client := startLoginLoop(t, f)
				killed := altRun(t, f, []string{"ROTPLAN_TEST_CRASH_AFTER=" + step}, "apply", "-auto-approve")
				if !killed.killed {
					t.Fatalf("apply was not killed after %s (exit %d):\n%s", step, killed.code, killed.stdout)
				}
				client.wait(t)
				lock := f.lockHolder(t)
				altRun(t, f, nil, "force-unlock", lock).wantCode(t, exitOK)
				altRun(t, f, nil, "apply", "-auto-approve").wantCode(t, exitOK)
				client.wait(t)

				got := altStore(t, f)
				if got.current.username != id+"_b" || got.pending.username != "" || got.previous != old {
					t.Fatalf("after the second apply the store holds a login for %s (pending: %t, previous the old login: %t), want %s_b", got.current.username, got.pending.username != "", got.previous == old, id)
				}
				f.wantJournalEmpty(t)
				altWantEnv(t, f, got.current)
				altWantLogin(t, f, got.current, true, "the store's login")
				altWantLogin(t, f, old, true, "the old login during the grace")
				altRun(t, f, nil, "plan", "-detailed-exitcode").wantCode(t, exitOK)
				attempts, refused := client.stop()
				if len(refused) > 0 {
					t.Errorf("the client was refused %d times in %d attempts:\n%s", len(refused), attempts, strings.Join(refused, "\n"))
				}
			})
		}
	})

	t.Run("create takes over a role", func(t *testing.T) {
		// The application logs in as pgalt_c with a password rotplan never
		// made, and the store has no login yet: create puts the first login
		// on pgalt_d, made with pgalt_c's memberships, and leaves pgalt_c
		// alone; a retire then removes what rotplan did not make.
		f, initial := newAltFixture(t, e, "pgalt-create", "pgalt_c", "pgalt_d", false)
		old := altLogin{username: "pgalt_c", password: initial}
		client := startLoginLoop(t, f)

		r := altRun(t, f, nil, "plan", "-detailed-exitcode")
		r.wantCode(t, exitPending)
		r.wantStdout(t, `(?m)^  \+ secret\.db_login will be created \(missing\)$`, `target\.postgres\.app already accepts 1 credential that rotplan did not make`)
		client.phase("create")
		r = altRun(t, f, nil, "apply", "-auto-approve")
		r.wantCode(t, exitOK)
		created := altStore(t, f)
		if created.current.username != "pgalt_d" || created.previous.username != "" {
			t.Fatalf("after create the store holds a login for %s (previous: %t), want pgalt_d", created.current.username, created.previous.username != "")
		}
		altWantEnv(t, f, created.current)
		client.wait(t)
		altWantLogin(t, f, created.current, true, "the created login")
		altWantLogin(t, f, old, true, "the login rotplan did not make, before a retire")

		r = altRun(t, f, nil, "plan", "-detailed-exitcode")
		r.wantCode(t, exitPending)
		r.wantStdout(t, `(?m)^  - secret\.db_login will retire credentials rotplan did not make`)
		client.phase("retire what rotplan did not make")
		r = altRun(t, f, nil, "apply", "-auto-approve")
		r.wantCode(t, exitOK)
		client.wait(t)
		altWantLogin(t, f, old, false, "the login rotplan did not make, after the retire")
		altWantLogin(t, f, created.current, true, "the created login, after the retire")
		altRun(t, f, nil, "plan", "-detailed-exitcode").wantCode(t, exitOK)

		attempts, refused := client.stop()
		if len(refused) > 0 {
			t.Errorf("the client was refused %d times in %d attempts:\n%s", len(refused), attempts, strings.Join(refused, "\n"))
		}
	})
}

// newAltFixture makes an inventory directory for altSecret with the roles
// a and b, a existing as a member of pgalt_readers with a password that is
// returned, and app.env holding its login. With stored, the store holds
// that login too, 100 days old (due); without, the store has nothing yet.
func newAltFixture(t *testing.T, e *e2e, name, a, b string, stored bool) (*fixture, string) {
	t.Helper()
	initial := randomCanary(t)
	e.canary(initial)
	e.pg.CreateRole(t, a, initial)
	e.pg.Exec(t, "GRANT pgalt_readers TO "+a)
	f := &fixture{e: e, dir: e.mkdir(t, name), candidates: e.mkdir(t, name+"-candidates")}
	e.mu.Lock()
	e.dirs = append(e.dirs, f.dir)
	e.mu.Unlock()
	if stored {
		login := sensitive.FromFields(map[string]sensitive.Value{"username": sensitive.New(a), "password": sensitive.New(initial)})
		err := local.Update(filepath.Join(f.dir, "rotplan.store"), func(file *local.File) error {
			return file.Put("db_login", login, time.Now().Add(-100*24*time.Hour))
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	f.write(t, "app.env", "# the application's database login\nPGUSER="+a+"\nDB_PASSWORD="+initial+"\n")
	f.write(t, "secrets.hcl", strings.NewReplacer("pgalt_a", a, "pgalt_b", b).Replace(fmt.Sprintf(altSecret, "")))
	return f, initial
}

// altLogin is a login value as the test reads it.
type altLogin struct{ username, password string }

func readAltLogin(v string) (altLogin, error) {
	var m map[string]string
	if err := json.Unmarshal([]byte(v), &m); err != nil {
		return altLogin{}, errors.New("not a login value")
	}
	return altLogin{username: m["username"], password: m["password"]}, nil
}

type altSlots struct{ current, pending, previous altLogin }

// altStore reads the logins in the store; every password joins the
// canaries (not the usernames: role names are printed, as they should be).
func altStore(t *testing.T, f *fixture) altSlots {
	t.Helper()
	if _, err := os.Stat(filepath.Join(f.dir, "rotplan.store")); errors.Is(err, fs.ErrNotExist) {
		return altSlots{} // nothing made yet
	}
	s := f.store(t)["db_login"]
	var out altSlots
	for _, x := range []struct {
		v   string
		dst *altLogin
	}{{s.Current, &out.current}, {s.Pending, &out.pending}, {s.Previous, &out.previous}} {
		if x.v == "" {
			continue
		}
		l, err := readAltLogin(x.v)
		if err != nil {
			t.Fatal(err)
		}
		f.e.canary(l.password)
		*x.dst = l
	}
	return out
}

// altRun is fixture.rotplan without its reading of app.env, which would
// make the role name in PGUSER a canary.
func altRun(t *testing.T, f *fixture, env []string, args ...string) result {
	t.Helper()
	cmd := f.command(t, env, args...)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := result{stdout: stdout.String(), stderr: stderr.String()}
	var exitErr *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exitErr):
		r.code = exitErr.ExitCode()
		if ws, ok := exitErr.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL {
			r.killed = true
		}
	default:
		t.Fatalf("rotplan %s: %v", strings.Join(args, " "), err)
	}
	f.e.record(cmd.Args, r.stdout, r.stderr)
	altStore(t, f)
	if l, err := readAppEnv(f); err == nil {
		f.e.canary(l.password)
	}
	return r
}

// readAppEnv reads the login app.env holds, as the application would.
func readAppEnv(f *fixture) (altLogin, error) {
	b, err := os.ReadFile(filepath.Join(f.dir, "app.env"))
	if err != nil {
		return altLogin{}, err
	}
	var l altLogin
	for _, line := range strings.Split(string(b), "\n") {
		k, v, _ := strings.Cut(line, "=")
		v = strings.Trim(v, `"'`)
		switch k {
		case "PGUSER":
			l.username = v
		case "DB_PASSWORD":
			l.password = v
		}
	}
	if l.username == "" || l.password == "" {
		return altLogin{}, errors.New("app.env has no PGUSER or no DB_PASSWORD")
	}
	return l, nil
}

func altWantEnv(t *testing.T, f *fixture, want altLogin) {
	t.Helper()
	got, err := readAppEnv(f)
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Errorf("app.env holds a login for %s (the expected password: %t), want %s", got.username, got.password == want.password, want.username)
	}
}

// altWantLogin checks whether a login logs in.
func altWantLogin(t *testing.T, f *fixture, l altLogin, want bool, what string) {
	t.Helper()
	err := altQuery(f, l, "SELECT 1")
	var pgErr *pgconn.PgError
	switch {
	case err == nil && !want:
		t.Errorf("%s (role %s) still logs in", what, l.username)
	case err != nil && want:
		t.Errorf("%s (role %s) does not log in: %s", what, l.username, redactValue(err, l.password))
	case err != nil && !(errors.As(err, &pgErr) && pgErr.Code == "28P01"):
		t.Fatalf("%s (role %s): %s", what, l.username, redactValue(err, l.password))
	}
}

func altQuery(f *fixture, l altLogin, query string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, f.e.pg.DSN(l.username, l.password, "postgres"))
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, query)
	return err
}

// loginLoop is a client that reads app.env and logs in with it, over and
// over, as an application that reconnects would.
type loginLoop struct {
	attempts atomic.Int64
	current  atomic.Value // the phase, for the report
	mu       sync.Mutex
	refused  []string
	done     chan struct{}
	stopped  chan struct{}
}

func startLoginLoop(t *testing.T, f *fixture) *loginLoop {
	c := &loginLoop{done: make(chan struct{}), stopped: make(chan struct{})}
	c.current.Store("before the rotations")
	go func() {
		defer close(c.stopped)
		for {
			select {
			case <-c.done:
				return
			default:
			}
			l, err := readAppEnv(f)
			if err == nil {
				err = altQuery(f, l, "SELECT count(*) FROM pgalt_data")
				if err != nil {
					err = errors.New(redactValue(err, l.password))
				}
			}
			c.attempts.Add(1)
			if err != nil {
				c.mu.Lock()
				c.refused = append(c.refused, fmt.Sprintf("%s: %v", c.current.Load(), err))
				c.mu.Unlock()
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	t.Cleanup(func() { c.stop() })
	return c
}

func (c *loginLoop) phase(name string) { c.current.Store(name) }

// wait lets the client log in a few more times.
func (c *loginLoop) wait(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for n := c.attempts.Load() + 3; c.attempts.Load() < n; {
		if time.Now().After(deadline) {
			t.Fatal("the client stopped logging in")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (c *loginLoop) stop() (int64, []string) {
	select {
	case <-c.done:
	default:
		close(c.done)
	}
	<-c.stopped
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.attempts.Load(), c.refused
}
