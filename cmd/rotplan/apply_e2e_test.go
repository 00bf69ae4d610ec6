package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	goredis "github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"

	"github.com/rotplan/rotplan/internal/sensitive"
	"github.com/rotplan/rotplan/internal/testservers"
	"github.com/rotplan/rotplan/providers/local"
)

// The tests in this file run `rotplan apply` as its own process (the test
// binary with ROTPLAN_TEST_AS_CLI=1, see TestMain) against a real PostgreSQL
// and a real Redis, one of each per top-level test, each subtest with its
// own role, ACL user and inventory directory. Every run logs at trace level,
// and when the test ends every byte rotplan printed or wrote is scanned for
// every secret value that ever appeared (see e2e.scanCanaries).

// TestApplyRotatesDuePasswords pins issue 3's rotation on real servers: a due
// PostgreSQL password is set with ALTER ROLE and afterwards the role accepts
// the new password only; a due Redis password is added beside the old one,
// which keeps working during grace and stops when apply retires it; the env
// file follows the store throughout. The rotation is applied from a saved
// plan, the retire with -json.
func TestApplyRotatesDuePasswords(t *testing.T) {
	e := startE2E(t)
	f := e.newFixture(t, "rotate", setup{postgres: true, redis: true})

	saved := filepath.Join(f.dir, "due.plan")
	r := f.rotplan(t, nil, "plan", "-detailed-exitcode", "-out", saved)
	r.wantCode(t, exitPending)
	r.wantStdout(t, `(?m)^  ~ secret\.db_password will be rotated \(due\)$`, `(?m)^  ~ secret\.redis_password will be rotated \(due\)$`)

	// app.env belongs to the app's user, who reads it through its group:
	// apply keeps that (issue 7, defect 6).
	envPath := filepath.Join(f.dir, "app.env")
	if err := os.Chmod(envPath, 0o640); err != nil {
		t.Fatal(err)
	}
	root := os.Geteuid() == 0
	if root {
		if err := os.Chown(envPath, 12345, 12345); err != nil {
			t.Fatal(err)
		}
	}

	r = f.rotplan(t, nil, "apply", "-auto-approve", saved)
	r.wantCode(t, exitOK)
	info, err := os.Stat(envPath)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o640 {
		t.Errorf("app.env has mode %v after apply, want the 0640 it had", info.Mode().Perm())
	}
	if uid, gid, ok := fileOwner(info); root && ok && (uid != 12345 || gid != 12345) {
		t.Errorf("app.env belongs to %d:%d after apply, want the 12345:12345 it had", uid, gid)
	}
	r.wantStdout(t,
		`(?m)^  secret\.db_password: set done \[`,
		`(?m)^  secret\.redis_password: verify done \[`,
		`(?m)^Apply complete: 2 rotated, 0 synced, 0 retired, 0 rolled back\.$`)

	store := f.store(t)
	db, cache := store["db_password"], store["redis_password"]
	if db.Current == "" || db.Current == f.initialDB || db.Previous != f.initialDB || db.Pending != "" {
		t.Fatalf("store after apply: db_password current changed=%t, previous is the old value=%t, pending=%t",
			db.Current != f.initialDB, db.Previous == f.initialDB, db.Pending != "")
	}
	if cache.Current == "" || cache.Current == f.initialRedis || cache.Previous != f.initialRedis || cache.Pending != "" {
		t.Fatalf("store after apply: redis_password current changed=%t, previous is the old value=%t, pending=%t",
			cache.Current != f.initialRedis, cache.Previous == f.initialRedis, cache.Pending != "")
	}
	f.wantPostgres(t, db.Current, true, "the new password")
	f.wantPostgres(t, f.initialDB, false, "the old password, after promote")
	f.wantRedis(t, cache.Current, true, "the new password")
	f.wantRedis(t, f.initialRedis, true, "the old password, during grace")
	f.wantEnv(t, map[string]string{"DB_PASSWORD": db.Current, "REDIS_PASSWORD": cache.Current, "REDIS_PREVIOUS_PASSWORD": f.initialRedis})
	f.wantJournalEmpty(t)

	f.rotplan(t, nil, "plan", "-detailed-exitcode").wantCode(t, exitOK)

	r = f.rotplan(t, nil, "plan", "-at", "+25h", "-detailed-exitcode")
	r.wantCode(t, exitPending)
	r.wantStdout(t, `(?m)^  - secret\.redis_password will retire its previous value \(retiring\)$`)

	r = f.rotplan(t, []string{"ROTPLAN_TEST_CLOCK=+25h"}, "apply", "-auto-approve", "-json")
	r.wantCode(t, exitOK)
	r.wantStdout(t,
		`(?m)^\{"type":"step_done",.*"secret":"secret\.redis_password","action":"retire","step":"retire",`,
		`\{"type":"summary","ok":true,"interrupted":false,"created":0,"rotated":0,"synced":0,"retired":2,"rolled_back":0,"rollbacks_finished":0,"failed":0,"skipped":0,"waiting":0\}\n\z`)
	f.wantRedis(t, f.initialRedis, false, "the old password, after retire")
	f.wantRedis(t, cache.Current, true, "the current password, after retire")
	f.wantPostgres(t, db.Current, true, "the current password, after retire")
	f.wantEnv(t, map[string]string{"DB_PASSWORD": db.Current, "REDIS_PASSWORD": cache.Current, "REDIS_PREVIOUS_PASSWORD": ""})
	for name, s := range f.store(t) {
		if s.Previous != "" || s.Pending != "" {
			t.Errorf("store after retire: %s still has a previous (%t) or pending (%t) value", name, s.Previous != "", s.Pending != "")
		}
	}
	f.wantJournalEmpty(t)
	f.rotplan(t, nil, "plan", "-at", "+25h", "-detailed-exitcode").wantCode(t, exitOK)

	// The audit log has the real time, whatever clock apply ran on (issue
	// 7, defect 9).
	for _, line := range strings.Split(strings.TrimSpace(f.read(t, "rotplan.audit.jsonl")), "\n") {
		var rec struct{ Time time.Time }
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatal(err)
		}
		if rec.Time.After(time.Now().Add(time.Minute)) {
			t.Fatalf("an audit record is stamped %s, in the future: the audit log took apply's clock", rec.Time)
		}
	}
}

// TestApplyTakesOverRedisUser pins issue 7, defect 5 on a real Redis: an ACL
// user that already had a password rotplan never knew. Plan says so before
// the create; after it, plan reports the unknown password as drift to
// retire; the retire removes it, and only the store's value logs in.
func TestApplyTakesOverRedisUser(t *testing.T) {
	e := startE2E(t)
	f := e.newFixture(t, "takeover", setup{redis: true})
	// The store and app.env forget the password: rotplan takes the user
	// over with a password of its own.
	f.write(t, "rotplan.store", `{"format_version": 1, "secrets": {}}`)
	f.write(t, "app.env", "")
	unknown := f.initialRedis

	r := f.rotplan(t, nil, "plan", "-detailed-exitcode")
	r.wantCode(t, exitPending)
	r.wantStdout(t,
		`(?m)^  \+ secret\.redis_password will be created \(missing\)$`,
		`(?m)^      note:     target\.redis\.app already accepts 1 credential that rotplan did not make; plan reports it until a retire removes it$`)

	f.rotplan(t, nil, "apply", "-auto-approve").wantCode(t, exitOK)
	created := f.store(t)["redis_password"].Current
	f.wantRedis(t, created, true, "the created password")
	f.wantRedis(t, unknown, true, "the password rotplan did not make, until the retire")

	r = f.rotplan(t, nil, "plan", "-detailed-exitcode")
	r.wantCode(t, exitPending)
	r.wantStdout(t,
		`(?m)^  - secret\.redis_password will retire credentials rotplan did not make \(drifted\)$`,
		`(?m)^      target\.redis\.app accepts 1 credential that rotplan did not make; retire removes it$`)

	r = f.rotplan(t, nil, "apply", "-auto-approve")
	r.wantCode(t, exitOK)
	r.wantStdout(t, `(?m)^Apply complete: 0 rotated, 0 synced, 1 retired, 0 rolled back\.$`)
	f.wantRedis(t, unknown, false, "the password rotplan did not make, after the retire")
	f.wantRedis(t, created, true, "the store's password, after the retire")
	f.rotplan(t, nil, "plan", "-detailed-exitcode").wantCode(t, exitOK)
}

// TestApplySyncsPostgresRoleTakenOver pins the PostgreSQL half of issue 7,
// defect 5: a role whose password is not the store's is drift, and apply
// sets the store's password, so the other stops working.
func TestApplySyncsPostgresRoleTakenOver(t *testing.T) {
	e := startE2E(t)
	f := e.newFixture(t, "pg takeover", setup{postgres: true})
	// The store's value is fresh; the role has some other password.
	err := local.Update(filepath.Join(f.dir, "rotplan.store"), func(file *local.File) error {
		return file.Put("db_password", sensitive.New(f.initialDB), time.Now())
	})
	if err != nil {
		t.Fatal(err)
	}
	other := randomCanary(t)
	e.canary(other)
	e.pg.SetPassword(t, f.role, other)

	r := f.rotplan(t, nil, "plan", "-detailed-exitcode")
	r.wantCode(t, exitPending)
	r.wantStdout(t, `(?m)^  > secret\.db_password will be synced to its targets \(drifted\)$`, `target\.postgres\.app holds a different value`)
	f.rotplan(t, nil, "apply", "-auto-approve").wantCode(t, exitOK)
	f.wantPostgres(t, f.initialDB, true, "the store's password")
	f.wantPostgres(t, other, false, "the password rotplan did not make")
	f.rotplan(t, nil, "plan", "-detailed-exitcode").wantCode(t, exitOK)
}

// TestApplyRollsBackFailedCheck pins the rollback: when a check of the new
// value fails, every target is back on the old value (the PostgreSQL role
// and the Redis user accept it, and no longer the candidate; the env file
// holds it), the store's current is untouched and nothing is left pending,
// and apply exits 1 saying what rolled back and why.
func TestApplyRollsBackFailedCheck(t *testing.T) {
	e := startE2E(t)

	// Each failing check is preceded by one that records the candidate it
	// was given in a file of the test, so the test can try it afterwards
	// (and scan for it).
	tests := map[string]struct {
		setup       setup
		rolledBack  int
		checkFailed string // what the failed check says
	}{
		"postgres query fails": {
			setup: setup{postgres: true, dbVerify: func(candidate string) string {
				return captureVerify(candidate, false) + `
  verify "postgres" {
    dsn   = "host=${env("PG_HOST")} port=${env("PG_PORT")} user=` + roleToken + ` dbname=postgres sslmode=disable password=${secret.db_password.value}"
    query = "SELECT * FROM no_such_table"
  }
`
			}},
			rolledBack:  1,
			checkFailed: `no_such_table`,
		},
		"redis command refused": {
			setup: setup{redis: true, redisVerify: func(candidate string) string {
				return captureVerify(candidate, false) + `
  verify "redis" {
    address  = env("REDIS_ADDR")
    username = "` + userToken + `"
    command  = ["NO_SUCH_COMMAND"]
  }
`
			}},
			rolledBack:  1,
			checkFailed: `(?i)unknown command`,
		},
		"exec check fails on both": {
			setup: setup{postgres: true, redis: true,
				dbVerify:    func(candidate string) string { return captureVerify(candidate, true) },
				redisVerify: func(candidate string) string { return captureVerify(candidate, true) },
			},
			rolledBack:  2,
			checkFailed: `verify exec sh: exit status 1`,
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := e.newFixture(t, "rollback "+name, tt.setup)

			r := f.rotplan(t, nil, "apply", "-auto-approve")
			r.wantCode(t, exitError)
			r.wantStdout(t,
				`(?m)^  secret\.\w+: check failed: verify\.\w+\[\d+\]: .*`+tt.checkFailed,
				`(?m)^secret\.\w+: rolled back; every target is on the old value again: check verify\.\w+\[\d+\] failed: `,
				fmt.Sprintf(`(?m)^Apply finished with failures: 0 rotated, 0 synced, 0 retired, %d rolled back\.$`, tt.rolledBack))

			store := f.store(t)
			want := map[string]string{}
			if tt.setup.postgres {
				db := store["db_password"]
				if db.Current != f.initialDB || db.Pending != "" || db.Previous != "" {
					t.Errorf("store: db_password current untouched=%t, pending left=%t, previous=%t", db.Current == f.initialDB, db.Pending != "", db.Previous != "")
				}
				candidate := f.candidate(t, "db_password")
				f.wantPostgres(t, f.initialDB, true, "the old password, after the rollback")
				f.wantPostgres(t, candidate, false, "the failed candidate, after the rollback")
				want["DB_PASSWORD"] = f.initialDB
			}
			if tt.setup.redis {
				cache := store["redis_password"]
				if cache.Current != f.initialRedis || cache.Pending != "" || cache.Previous != "" {
					t.Errorf("store: redis_password current untouched=%t, pending left=%t, previous=%t", cache.Current == f.initialRedis, cache.Pending != "", cache.Previous != "")
				}
				candidate := f.candidate(t, "redis_password")
				f.wantRedis(t, f.initialRedis, true, "the old password, after the rollback")
				f.wantRedis(t, candidate, false, "the failed candidate, after the rollback")
				want["REDIS_PASSWORD"] = f.initialRedis
				want["REDIS_PREVIOUS_PASSWORD"] = ""
			}
			f.wantEnv(t, want)
			f.wantJournalEmpty(t)
			if audit := f.read(t, "rotplan.audit.jsonl"); !strings.Contains(audit, `"outcome":"rolled back"`) {
				t.Error("the audit log does not record the rollback")
			}
			// Still due, nothing in progress: the next apply starts afresh.
			r = f.rotplan(t, nil, "plan", "-detailed-exitcode")
			r.wantCode(t, exitPending)
			if strings.Contains(r.stdout, "in progress") {
				t.Error("plan after the rollback still shows a rotation in progress")
			}
		})
	}
}

// crashSteps are the steps of the rotation protocol, in order.
var crashSteps = []string{"generate", "stage", "set", "deliver", "verify", "promote"}

// TestApplyResumesAfterCrash kills apply with SIGKILL (ROTPLAN_TEST_CRASH_AFTER
// makes it kill itself) once each step of the protocol has begun and once it
// is done, and while a failed rotation rolls back; then apply runs again, and
// must leave a working credential in the store and in every consumer,
// nothing pending and an empty journal. Once staged, the new value is the one
// that ends up current; a candidate that rolled back never works again.
func TestApplyResumesAfterCrash(t *testing.T) {
	e := startE2E(t)

	type point struct {
		spec     string // ROTPLAN_TEST_CRASH_AFTER
		rollback bool   // the check fails in the killed run
		replace  bool   // the second apply is -replace: it must rotate again
	}
	var points []point
	for _, step := range crashSteps {
		points = append(points, point{spec: step + ":begun"}, point{spec: step})
	}
	points = append(points,
		point{spec: "rollback:begun", rollback: true},
		point{spec: "rollback", rollback: true},
		// Killed after promote, before the journal was cleared: the next
		// rotation is a new one, not that finished one reported again.
		point{spec: "promote", replace: true},
	)
	distinct := map[string]bool{}
	for _, p := range points {
		distinct[p.spec] = true
	}

	var mu sync.Mutex
	tried := 0
	t.Cleanup(func() {
		t.Logf("crash points tried: %d applies killed, at %d distinct points for each of 2 secret kinds (%d distinct in all)", tried, len(distinct), 2*len(distinct))
	})

	for _, kind := range []string{"postgres", "redis"} {
		t.Run(kind, func(t *testing.T) {
			for _, p := range points {
				sub := p.spec
				if p.replace {
					sub += "/then-replace"
				}
				t.Run(sub, func(t *testing.T) {
					t.Parallel()
					s := setup{postgres: kind == "postgres", redis: kind == "redis"}
					// The check records each candidate it is given, and fails
					// while the file fail-verify exists.
					check := func(candidate string) string {
						return fmt.Sprintf(`
  verify "exec" {
    command = ["sh", "-c", "cat > \"$0\"; test ! -e fail-verify", %q]
  }
`, candidate)
					}
					s.dbVerify, s.redisVerify = check, check
					f := e.newFixture(t, kind+" crash "+sub, s)
					name, key, initial := "db_password", "DB_PASSWORD", f.initialDB
					login := f.wantPostgres
					if kind == "redis" {
						name, key, initial = "redis_password", "REDIS_PASSWORD", f.initialRedis
						login = f.wantRedis
					}
					if p.rollback {
						f.write(t, "fail-verify", "")
					}

					killed := f.rotplan(t, []string{"ROTPLAN_TEST_CRASH_AFTER=" + p.spec}, "apply", "-auto-approve", "-parallelism", "1")
					if !killed.killed {
						t.Fatalf("apply was not killed at %s (exit %d):\n%s%s", p.spec, killed.code, killed.stdout, killed.stderr)
					}
					mu.Lock()
					tried++
					mu.Unlock()
					afterCrash := f.store(t)[name]
					var rolledBack string // the candidate of the failed check
					if p.rollback {
						rolledBack = f.candidate(t, name)
					}

					// The killed apply's lock record stays behind; the kernel
					// released the lock itself, so force-unlock clears it.
					id := f.lockHolder(t)
					r := f.rotplan(t, nil, "force-unlock", id)
					r.wantCode(t, exitOK)
					r.wantStdout(t, `(?m)^Lock `+id+` is released\.$`)

					if p.rollback {
						if err := os.Remove(filepath.Join(f.dir, "fail-verify")); err != nil {
							t.Fatal(err)
						}
					}
					// A writer killed between writing a temporary file and
					// renaming it leaves the value in clear beside the file;
					// the next apply removes what a dead writer left
					// (issue 7, defect 7).
					leftover := randomCanary(t)
					f.e.canary(leftover)
					for _, base := range []string{"app.env", "rotplan.store", "rotplan.state"} {
						f.write(t, "."+base+".999999999.0123456789ab.rotplan-tmp", leftover)
					}

					args := []string{"apply", "-auto-approve"}
					if p.replace {
						args = append(args, "-replace", "secret."+name)
					}
					r = f.rotplan(t, nil, args...)
					if p.spec == "rollback:begun" {
						// The store marked the candidate failed: plan says
						// rolling back, and apply finishes it, as planned.
						r.wantStdout(t,
							`(?m)^  < secret\.`+name+` will finish rolling back its failed rotation \(in progress\)$`,
							`(?m)^secret\.`+name+`: rolled back; every target is on the old value again: finished the rollback an earlier apply began: check verify\.exec\[\d\] failed`,
							`(?m)^Apply complete: 0 rotated, 0 synced, 0 retired, 0 rolled back, 1 rollback finished\.$`)
					}
					r.wantCode(t, exitOK)

					if temps, _ := filepath.Glob(filepath.Join(f.dir, ".*.rotplan-tmp")); len(temps) > 0 {
						t.Errorf("temporary files left by a dead writer survive the next apply: %v", temps)
					}
					got := f.store(t)[name]
					if got.Current == "" || got.Pending != "" {
						t.Fatalf("after the second apply the store has a current value: %t, a pending one: %t", got.Current != "", got.Pending != "")
					}
					f.wantJournalEmpty(t)
					login(t, got.Current, true, "the store's current value")
					want := map[string]string{key: got.Current}
					if kind == "redis" {
						want["REDIS_PREVIOUS_PASSWORD"] = got.Previous
					}
					f.wantEnv(t, want)

					switch {
					case p.spec == "rollback:begun":
						if got.Current != initial {
							t.Error("the rollback did not leave the old value current")
						}
						login(t, rolledBack, false, "the candidate that rolled back")
						f.rotplan(t, nil, "plan", "-detailed-exitcode").wantCode(t, exitPending) // still due
						return
					case p.spec == "rollback":
						// The rollback had finished; the second apply rotated anew.
						login(t, rolledBack, false, "the candidate that rolled back")
					case afterCrash.Pending != "":
						if got.Current != afterCrash.Pending {
							t.Error("the second apply did not promote the value the killed one had staged")
						}
					case p.replace:
						if got.Current == afterCrash.Current || got.Previous != afterCrash.Current {
							t.Errorf("apply -replace after the kill: rotated again=%t, previous is the killed apply's value=%t", got.Current != afterCrash.Current, got.Previous == afterCrash.Current)
						}
						login(t, afterCrash.Current, kind == "redis", "the killed apply's value, now previous")
						f.rotplan(t, nil, "plan", "-detailed-exitcode").wantCode(t, exitOK)
						return
					case afterCrash.Current != initial:
						if got.Current != afterCrash.Current {
							t.Error("the second apply rotated again a value the killed one had promoted")
						}
					}
					if got.Current == initial || got.Previous != initial {
						t.Errorf("after the second apply: rotated=%t, previous is the old value=%t", got.Current != initial, got.Previous == initial)
					}
					// With the single strategy the old PostgreSQL password
					// stops at once; a Redis user keeps it during grace.
					login(t, initial, kind == "redis", "the old value")
					f.rotplan(t, nil, "plan", "-detailed-exitcode").wantCode(t, exitOK)
				})
			}
		})
	}
}

// TestApplyRunsOneAtATime starts ten applies at once on one inventory:
// exactly one takes the state lock and rotates, and each of the others fails
// at once (while the one holding the lock is still inside its verify step)
// naming the holder: lock id, user, host, pid, since when, and the
// force-unlock command; force-unlock of a live holder is refused.
func TestApplyRunsOneAtATime(t *testing.T) {
	e := startE2E(t)
	f := e.newFixture(t, "concurrent", setup{postgres: true, dbVerify: func(string) string {
		// The holder waits in verify until the test releases it, so every
		// other apply meets the lock (and the test never relies on a delay).
		return `
  verify "exec" {
    command = ["sh", "-c", "cat > /dev/null; i=0; while [ ! -e release ] && [ $i -lt 1200 ]; do sleep 0.05; i=$((i+1)); done"]
  }
`
	}})
	const n = 10
	type proc struct {
		cmd            *exec.Cmd
		stdout, stderr bytes.Buffer
		err            error
		done           chan struct{}
	}
	started := time.Now().UTC().Truncate(time.Second)
	procs := make([]*proc, n)
	exited := make(chan int, n)
	for i := range procs {
		p := &proc{done: make(chan struct{})}
		p.cmd = f.command(t, nil, "apply", "-auto-approve")
		p.cmd.Stdout, p.cmd.Stderr = &p.stdout, &p.stderr
		procs[i] = p
	}
	for i, p := range procs {
		if err := p.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		go func() {
			p.err = p.cmd.Wait()
			close(p.done)
			exited <- i
		}()
	}
	release := func() { f.write(t, "release", "") }
	defer release()

	// Nine must exit while the tenth holds the lock and waits for release.
	var losers []*proc
	for len(losers) < n-1 {
		p := procs[<-exited]
		e.record(p.cmd.Args, p.stdout.String(), p.stderr.String())
		if p.err == nil {
			t.Fatalf("an apply succeeded while another held the lock:\n%s", p.stdout.String())
		}
		losers = append(losers, p)
	}
	var winner *proc
	for _, p := range procs {
		select {
		case <-p.done:
		default:
			winner = p
		}
	}
	if winner == nil {
		t.Fatal("no apply is left holding the lock")
	}

	host, _ := os.Hostname()
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	locked := regexp.MustCompile(`(?m)^Error: the state .*rotplan\.state is locked by another apply: lock ([0-9a-f]+), held by (\S+) on (\S+) \(pid (\d+)\) since (\S+)\. Wait for it to finish; if that process is gone, run: rotplan force-unlock ([0-9a-f]+)$`)
	var id string
	for _, p := range losers {
		if code := p.cmd.ProcessState.ExitCode(); code != exitError {
			t.Errorf("a second apply exited %d, want %d", code, exitError)
		}
		m := locked.FindStringSubmatch(p.stderr.String())
		if m == nil {
			t.Errorf("a second apply did not name the holder:\n%s", p.stderr.String())
			continue
		}
		if id == "" {
			id = m[1]
		}
		since, err := time.Parse(time.RFC3339, m[5])
		switch {
		case m[1] != id || m[6] != id:
			t.Errorf("lock ids differ: %s, %s and %s", id, m[1], m[6])
		case m[2] != u.Username || m[3] != host:
			t.Errorf("holder is %s on %s, want %s on %s", m[2], m[3], u.Username, host)
		case m[4] != fmt.Sprint(winner.cmd.Process.Pid):
			t.Errorf("holder pid is %s, want the running apply's %d", m[4], winner.cmd.Process.Pid)
		case err != nil || since.Before(started) || since.After(time.Now()):
			t.Errorf("holder's start time %s is not when this test started it (%s or later)", m[5], started.Format(time.RFC3339))
		}
		if p.stdout.Len() > 0 {
			t.Errorf("a refused apply printed a plan or progress:\n%s", p.stdout.String())
		}
	}
	if id != "" {
		r := f.rotplan(t, nil, "force-unlock", id)
		r.wantCode(t, exitError)
		r.wantStderr(t, `lock `+id+` is held by a running process \(pid `+fmt.Sprint(winner.cmd.Process.Pid)+` on `)
	}

	// A plan made meanwhile says an apply is running and who runs it, not
	// that the rotation was interrupted (issue 7, defect 8).
	if id != "" {
		r := f.rotplan(t, nil, "plan")
		r.wantCode(t, exitOK)
		r.wantStdout(t,
			`(?m)^Note: an apply is running: lock `+id+`, held by \S+ on \S+ \(pid `+fmt.Sprint(winner.cmd.Process.Pid)+`\), since \S+\. What it is doing shows as in progress\.$`,
			`(?m)^  ! secret\.db_password \(in progress\): an apply is running and rotating it: lock `+id+`, `)
		if strings.Contains(r.stdout, "interrupted") {
			t.Errorf("plan calls the running apply's rotation interrupted:\n%s", r.stdout)
		}
	}

	release()
	<-winner.done
	e.record(winner.cmd.Args, winner.stdout.String(), winner.stderr.String())
	if winner.err != nil {
		t.Fatalf("the apply holding the lock failed: %v\n%s%s", winner.err, winner.stdout.String(), winner.stderr.String())
	}
	if !strings.Contains(winner.stdout.String(), "Apply complete: 1 rotated") {
		t.Errorf("the apply holding the lock did not rotate:\n%s", winner.stdout.String())
	}

	// One rotation happened, once.
	db := f.store(t)["db_password"]
	if db.Previous != f.initialDB || db.Current == f.initialDB {
		t.Error("the store does not show exactly one rotation from the old value")
	}
	f.wantPostgres(t, db.Current, true, "the rotated password")
	f.wantEnv(t, map[string]string{"DB_PASSWORD": db.Current})
	rotations := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(f.read(t, "rotplan.audit.jsonl")), "\n") {
		var rec struct{ Rotation string }
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatal(err)
		}
		rotations[rec.Rotation] = true
	}
	if len(rotations) != 1 {
		t.Errorf("the audit log records %d rotations, want 1", len(rotations))
	}
}

// e2e is one top-level test's servers, and everything its rotplan runs
// printed, for the canary scan.
type e2e struct {
	pg    *testservers.Postgres
	redis *testservers.Redis
	env   []string // what every run gets: the servers' addresses, trace logging
	root  string   // holds every subtest's directories until the scan

	mu       sync.Mutex
	canaries map[string]bool // every secret value seen
	printed  []printed
	dirs     []string // every inventory directory
}

type printed struct {
	what           string
	stdout, stderr string
}

// startE2E starts a PostgreSQL and a Redis for t and its subtests, and scans
// for leaks when t ends.
func startE2E(t *testing.T) *e2e {
	t.Helper()
	e := &e2e{pg: testservers.StartPostgres(t), redis: testservers.StartRedis(t), root: t.TempDir(), canaries: map[string]bool{}}
	adminDSN := fmt.Sprintf("host=%s port=%d user=%s password=%s dbname=postgres sslmode=disable", e.pg.Host, e.pg.Port, testservers.PostgresAdmin, e.pg.AdminPassword)
	e.env = append(os.Environ(),
		"ROTPLAN_TEST_AS_CLI=1",
		"ROTPLAN_LOG=trace",
		"NO_COLOR=1",
		"ROTPLAN_TEST_CRASH_AFTER=",
		"PG_HOST="+e.pg.Host,
		fmt.Sprintf("PG_PORT=%d", e.pg.Port),
		"PG_ADMIN_DSN="+adminDSN,
		"REDIS_ADDR="+e.redis.Addr,
		"REDIS_ADMIN_PASSWORD="+e.redis.AdminPassword,
	)
	// The admin passwords are secrets too.
	e.canary(e.pg.AdminPassword)
	e.canary(e.redis.AdminPassword)
	t.Cleanup(func() { e.scanCanaries(t) })
	return e
}

func (e *e2e) canary(v string) {
	if v == "" {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.canaries[v] = true
}

func (e *e2e) record(args []string, stdout, stderr string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.printed = append(e.printed, printed{what: strings.Join(args[1:], " "), stdout: stdout, stderr: stderr})
}

// scanCanaries fails t if any value seen in the test appears in what rotplan
// printed (with trace logging on), in any file it wrote beside an inventory
// other than the store and the env file (the state, the audit log, saved
// plans, the lock), or in PostgreSQL's log of every statement it received.
func (e *e2e) scanCanaries(t *testing.T) {
	e.mu.Lock()
	defer e.mu.Unlock()
	var scanned, leaks int
	var logged bool
	scan := func(where string, b []byte) {
		scanned += len(b)
		for c := range e.canaries {
			if bytes.Contains(b, []byte(c)) {
				leaks++
				t.Errorf("a secret value leaked into %s", where)
			}
		}
	}
	for _, p := range e.printed {
		logged = logged || strings.Contains(p.stderr, "[DEBUG]") || strings.Contains(p.stderr, "[TRACE]")
		scan("the stdout of rotplan "+p.what, []byte(p.stdout))
		scan("the stderr of rotplan "+p.what, []byte(p.stderr))
	}
	files := 0
	for _, dir := range e.dirs {
		err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			switch filepath.Base(path) {
			case "rotplan.store", "app.env":
				return nil // where the values belong
			}
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			files++
			scan(path, b)
			return nil
		})
		if err != nil {
			t.Error(err)
		}
	}
	scan("the PostgreSQL server log", []byte(e.pg.Log(t)))
	if !logged {
		t.Error("no run logged at debug or trace level: the scan of stderr proves nothing")
	}
	t.Logf("canary scan: %d secret values, %d runs' output and %d files (%d bytes): %d leaks", len(e.canaries), len(e.printed), files, scanned, leaks)
}

// mkdir makes a directory that lasts until the top-level test ends, so
// that the canary scan can read what a subtest left in it.
func (e *e2e) mkdir(t *testing.T, name string) string {
	t.Helper()
	dir := filepath.Join(e.root, name)
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	return dir
}

// setup says what an inventory holds.
type setup struct {
	postgres, redis bool // secret db_password (a PostgreSQL role), redis_password (a Redis ACL user)
	// dbVerify and redisVerify return more verify blocks for each secret,
	// given a file where a check may record its candidate.
	dbVerify, redisVerify func(candidate string) string
}

// In the strings the verify functions return, these stand for the role and
// the user.
const (
	roleToken = "@ROLE@"
	userToken = "@USER@"
)

// captureVerify is a check that records the candidate in the file
// candidate, and fails when fail is set.
func captureVerify(candidate string, fail bool) string {
	exit := "0"
	if fail {
		exit = "1"
	}
	return fmt.Sprintf(`
  verify "exec" {
    command = ["sh", "-c", "cat > \"$0\"; exit %s", %q]
  }
`, exit, candidate)
}

// fixture is one subtest's inventory directory, PostgreSQL role and Redis
// user, with due secrets.
type fixture struct {
	e             *e2e
	dir           string
	candidates    string // where checks record candidates
	role, user    string
	initialDB     string
	initialRedis  string
	postgres, red bool
}

var unsafeName = regexp.MustCompile(`[^a-z0-9]+`)

// newFixture makes a role and an ACL user named after name, each with a
// password 100 days old (due, every 90 days), the store holding those
// passwords and an env file holding copies, and an inventory for them.
func (e *e2e) newFixture(t *testing.T, name string, s setup) *fixture {
	t.Helper()
	id := strings.Trim(unsafeName.ReplaceAllString(strings.ToLower(name), "_"), "_")
	f := &fixture{
		e:          e,
		dir:        e.mkdir(t, id),
		candidates: e.mkdir(t, id+"-candidates"),
		role:       "app_" + id,
		user:       "app_" + id,
		postgres:   s.postgres,
		red:        s.redis,
	}
	e.mu.Lock()
	e.dirs = append(e.dirs, f.dir)
	e.mu.Unlock()

	var inv, env strings.Builder
	inv.WriteString("rotplan {\n  grace = \"24h\"\n}\n")
	old := time.Now().Add(-100 * 24 * time.Hour)
	values := map[string]string{}
	if s.postgres {
		f.initialDB = randomCanary(t)
		e.pg.CreateRole(t, f.role, f.initialDB)
		values["db_password"] = f.initialDB
		fmt.Fprintf(&env, "DB_PASSWORD=%s\n", f.initialDB)
		more := ""
		if s.dbVerify != nil {
			more = s.dbVerify(filepath.Join(f.candidates, "db_password"))
		}
		inv.WriteString(strings.ReplaceAll(fmt.Sprintf(dbSecret, more), roleToken, f.role))
	}
	if s.redis {
		f.initialRedis = randomCanary(t)
		e.createRedisUser(t, f.user, f.initialRedis)
		values["redis_password"] = f.initialRedis
		fmt.Fprintf(&env, "REDIS_PASSWORD=%s\n", f.initialRedis)
		more := ""
		if s.redisVerify != nil {
			more = s.redisVerify(filepath.Join(f.candidates, "redis_password"))
		}
		inv.WriteString(strings.ReplaceAll(fmt.Sprintf(redisSecret, more), userToken, f.user))
	}
	for _, v := range values {
		e.canary(v)
	}
	err := local.Update(filepath.Join(f.dir, "rotplan.store"), func(file *local.File) error {
		for name, v := range values {
			if err := file.Put(name, sensitive.New(v), old); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	f.write(t, "app.env", env.String())
	f.write(t, "secrets.hcl", inv.String())
	return f
}

const dbSecret = `
secret "db_password" {
  description = "Password of the PostgreSQL role ` + roleToken + `."
  frequency   = "90d"

  store "local" {}
  generate "password" {
    length  = 32
    symbols = false
  }
  target "postgres" "app" {
    admin_dsn = env("PG_ADMIN_DSN")
    role      = "` + roleToken + `"
  }
  target "env_file" "app" {
    path = "app.env"
    key  = "DB_PASSWORD"
  }
  verify "postgres" {
    dsn = "host=${env("PG_HOST")} port=${env("PG_PORT")} user=` + roleToken + ` dbname=postgres sslmode=disable password=${secret.db_password.value}"
  }
%s}
`

const redisSecret = `
secret "redis_password" {
  description = "Password of the Redis ACL user ` + userToken + `."
  frequency   = "90d"

  generate "password" {
    length  = 40
    symbols = false
  }
  target "redis" "app" {
    address        = env("REDIS_ADDR")
    admin_username = "admin"
    admin_password = env("REDIS_ADMIN_PASSWORD")
    username       = "` + userToken + `"
  }
  target "env_file" "app" {
    path         = "app.env"
    key          = "REDIS_PASSWORD"
    previous_key = "REDIS_PREVIOUS_PASSWORD"
  }
  verify "redis" {
    address  = env("REDIS_ADDR")
    username = "` + userToken + `"
  }
%s}
`

func randomCanary(t *testing.T) string {
	t.Helper()
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return "canary" + hex.EncodeToString(b)
}

// result is how one rotplan run ended.
type result struct {
	code           int
	killed         bool // by SIGKILL
	stdout, stderr string
}

func (r result) wantCode(t *testing.T, code int) {
	t.Helper()
	if r.code != code {
		t.Fatalf("exit code %d, want %d\nstdout:\n%s\nstderr (last lines):\n%s", r.code, code, r.stdout, lastLines(r.stderr, 20))
	}
}

func (r result) wantStdout(t *testing.T, patterns ...string) {
	t.Helper()
	for _, p := range patterns {
		if !regexp.MustCompile(p).MatchString(r.stdout) {
			t.Errorf("stdout does not match %q:\n%s", p, r.stdout)
		}
	}
}

func (r result) wantStderr(t *testing.T, patterns ...string) {
	t.Helper()
	for _, p := range patterns {
		if !regexp.MustCompile(p).MatchString(r.stderr) {
			t.Errorf("stderr does not match %q:\n%s", p, lastLines(r.stderr, 20))
		}
	}
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// command returns rotplan, run on f's inventory as its own process with
// stdin not a terminal.
func (f *fixture) command(t *testing.T, env []string, args ...string) *exec.Cmd {
	t.Helper()
	bin, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	cmd := exec.CommandContext(ctx, bin, append([]string{"-chdir=" + f.dir}, args...)...)
	cmd.Env = append(append([]string{}, f.e.env...), env...)
	return cmd
}

// rotplan runs rotplan on f's inventory and waits for it; afterwards every
// value in the store and the env file joins the canaries.
func (f *fixture) rotplan(t *testing.T, env []string, args ...string) result {
	t.Helper()
	cmd := f.command(t, env, args...)
	var stdout, stderr bytes.Buffer
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
	f.store(t)
	f.env(t)
	return r
}

// slots are a secret's values in the local store; "" for an empty slot.
type slots struct{ Current, Pending, Previous string }

// store reads the store file; every value in it joins the canaries.
func (f *fixture) store(t *testing.T) map[string]slots {
	t.Helper()
	var doc struct {
		Secrets map[string]map[string]json.RawMessage `json:"secrets"`
	}
	if err := json.Unmarshal([]byte(f.read(t, "rotplan.store")), &doc); err != nil {
		t.Fatal(err)
	}
	out := map[string]slots{}
	for name, entry := range doc.Secrets {
		value := func(slot string) string {
			var v struct{ Value string }
			_ = json.Unmarshal(entry[slot], &v)
			f.e.canary(v.Value)
			return v.Value
		}
		out[name] = slots{Current: value("current"), Pending: value("pending"), Previous: value("previous")}
	}
	return out
}

// env reads the env file; every value in it joins the canaries.
func (f *fixture) env(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, line := range strings.Split(f.read(t, "app.env"), "\n") {
		k, v, ok := strings.Cut(line, "=")
		if !ok || strings.HasPrefix(k, "#") {
			continue
		}
		v = strings.Trim(v, `"'`)
		out[k] = v
		f.e.canary(v)
	}
	return out
}

// wantEnv checks the env file's keys; "" means the key is absent.
func (f *fixture) wantEnv(t *testing.T, want map[string]string) {
	t.Helper()
	got := f.env(t)
	for k, v := range want {
		switch g, ok := got[k]; {
		case v == "" && ok:
			t.Errorf("app.env still holds %s", k)
		case v != "" && g != v:
			t.Errorf("app.env: %s is not the value expected (present: %t)", k, ok)
		}
	}
}

// candidate returns the last candidate a check of secret name recorded.
func (f *fixture) candidate(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(f.candidates, name))
	if err != nil || len(b) == 0 {
		t.Fatalf("no candidate of %s was checked: %v", name, err)
	}
	f.e.canary(string(b))
	return string(b)
}

func (f *fixture) wantJournalEmpty(t *testing.T) {
	t.Helper()
	var st struct {
		Rotations map[string]json.RawMessage `json:"rotations"`
	}
	if err := json.Unmarshal([]byte(f.read(t, "rotplan.state")), &st); err != nil {
		t.Fatal(err)
	}
	if len(st.Rotations) != 0 {
		t.Errorf("the journal still holds %d rotations", len(st.Rotations))
	}
}

// lockHolder returns the id in the state's lock record.
func (f *fixture) lockHolder(t *testing.T) string {
	t.Helper()
	var info struct{ ID string }
	if err := json.Unmarshal([]byte(f.read(t, "rotplan.state.lock")), &info); err != nil || info.ID == "" {
		t.Fatalf("no lock record: %v", err)
	}
	return info.ID
}

func (f *fixture) read(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(f.dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func (f *fixture) write(t *testing.T, name, content string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(f.dir, name), []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// wantPostgres checks whether f's role accepts password.
func (f *fixture) wantPostgres(t *testing.T, password string, accepted bool, what string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, f.e.pg.DSN(f.role, password, "postgres"))
	var pgErr *pgconn.PgError
	switch {
	case err == nil:
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "SELECT 1"); err != nil {
			t.Fatalf("PostgreSQL role %s: %v", f.role, err)
		}
		if !accepted {
			t.Errorf("PostgreSQL role %s accepts %s", f.role, what)
		}
	case errors.As(err, &pgErr) && pgErr.Code == "28P01": // invalid_password
		if accepted {
			t.Errorf("PostgreSQL role %s refuses %s", f.role, what)
		}
	default:
		t.Fatalf("PostgreSQL role %s: log in: %v", f.role, redactValue(err, password))
	}
}

// wantRedis checks whether f's ACL user accepts password.
func (f *fixture) wantRedis(t *testing.T, password string, accepted bool, what string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := redisClient(f.e.redis.Addr, f.user, password)
	defer c.Close()
	err := c.Ping(ctx).Err()
	switch {
	case err == nil:
		if !accepted {
			t.Errorf("Redis user %s accepts %s", f.user, what)
		}
	case strings.Contains(err.Error(), "WRONGPASS"):
		if accepted {
			t.Errorf("Redis user %s refuses %s", f.user, what)
		}
	default:
		t.Fatalf("Redis user %s: log in: %v", f.user, redactValue(err, password))
	}
}

// createRedisUser makes an enabled ACL user with password and every
// permission.
func (e *e2e) createRedisUser(t *testing.T, name, password string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := redisClient(e.redis.Addr, e.redis.AdminUser, e.redis.AdminPassword)
	defer c.Close()
	if err := c.Do(ctx, "ACL", "SETUSER", name, "reset", "on", ">"+password, "~*", "&*", "+@all").Err(); err != nil {
		t.Fatalf("create Redis user %s: %v", name, redactValue(err, password))
	}
}

func redisClient(addr, username, password string) *goredis.Client {
	return goredis.NewClient(&goredis.Options{
		Addr:                     addr,
		Username:                 username,
		Password:                 password,
		Protocol:                 2,
		DisableIdentity:          true,
		MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled},
		MaxRetries:               -1,
	})
}

// redactValue keeps a test's failure message free of the value it tried.
func redactValue(err error, value string) string {
	return strings.ReplaceAll(err.Error(), value, "(sensitive)")
}
