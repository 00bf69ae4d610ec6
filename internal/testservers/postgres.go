package testservers

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// PostgresAdmin is the superuser of every cluster StartPostgres makes.
const PostgresAdmin = "rotplan_admin"

// Postgres is a running throwaway PostgreSQL cluster.
//
// Every host connection, the superuser's included, authenticates with
// SCRAM-SHA-256, and new passwords are stored as SCRAM verifiers. The
// server logs every statement (log_statement = all) to LogFile, so a test
// can check what reached the server.
type Postgres struct {
	// Host and Port are where the server listens: 127.0.0.1 and a free port.
	Host string
	Port int
	// AdminPassword is PostgresAdmin's password, random for each cluster.
	AdminPassword string
	// AdminDSN connects as PostgresAdmin to the postgres database.
	AdminDSN string
	// Dir holds DataDir, the server's socket and LogFile.
	Dir string
	// DataDir is the cluster's data directory, with pg_hba.conf.
	DataDir string
	// LogFile is the server's log.
	LogFile string
}

// StartPostgres starts a cluster that lives until the test ends: initdb in a
// new temporary directory, a server on 127.0.0.1 and a free port, with
// durability turned off for speed. Cleanup stops it (immediate mode) and
// removes the directory. When the test runs as root, initdb and the server,
// which refuse to run as root, run as the postgres system user.
//
// A cluster takes a second or two to start: share one between the subtests
// of a test, giving each its own roles.
func StartPostgres(tb testing.TB) *Postgres {
	tb.Helper()
	initdb, pgCtl := require(tb, "initdb"), require(tb, "pg_ctl")
	require(tb, "postgres") // pg_ctl finds it beside itself; fail here with the hint if it is missing
	run := newRunner(tb)

	dir, err := os.MkdirTemp("", "rotplan-pg-")
	if err != nil {
		tb.Fatalf("testservers: postgres: %v", err)
	}
	tb.Cleanup(func() {
		if err := os.RemoveAll(dir); err != nil {
			tb.Errorf("testservers: postgres: remove %s: %v", dir, err)
		}
	})
	run.own(tb, dir)

	p := &Postgres{
		Host:          "127.0.0.1",
		Port:          FreePort(tb),
		AdminPassword: randomHex(tb, 16),
		Dir:           dir,
		DataDir:       filepath.Join(dir, "data"),
		LogFile:       filepath.Join(dir, "server.log"),
	}
	p.AdminDSN = p.DSN(PostgresAdmin, p.AdminPassword, "postgres")
	data := p.DataDir

	pwfile := filepath.Join(dir, "pwfile")
	if err := os.WriteFile(pwfile, []byte(p.AdminPassword+"\n"), 0o600); err != nil {
		tb.Fatalf("testservers: postgres: %v", err)
	}
	run.own(tb, pwfile)
	if out, err := run.command(dir, initdb,
		"--pgdata="+data, "--username="+PostgresAdmin, "--pwfile="+pwfile,
		"--auth=scram-sha-256", "--encoding=UTF8", "--locale=C",
		"--no-sync", "--no-instructions",
	).CombinedOutput(); err != nil {
		tb.Fatalf("testservers: postgres: initdb: %v\n%s", err, out)
	}
	if err := os.Remove(pwfile); err != nil {
		tb.Fatalf("testservers: postgres: %v", err)
	}

	// Settings go in postgresql.conf rather than on pg_ctl's command line,
	// which would need shell quoting.
	conf := fmt.Sprintf(`
listen_addresses = '127.0.0.1'
port = %d
unix_socket_directories = '%s'
password_encryption = 'scram-sha-256'
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 40
shared_buffers = 16MB
log_statement = 'all'
log_line_prefix = '%%m [%%p] %%q%%u@%%d '
`, p.Port, dir)
	f, err := os.OpenFile(filepath.Join(data, "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err == nil {
		_, err = f.WriteString(conf)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		tb.Fatalf("testservers: postgres: write postgresql.conf: %v", err)
	}

	out, err := run.command(dir, pgCtl, "start", "--pgdata="+data, "--log="+p.LogFile, "--wait", "--timeout=60", "--silent").CombinedOutput()
	// Stop even after a failed start: pg_ctl may give up waiting on a
	// server that is still coming up.
	tb.Cleanup(func() {
		if out, err := run.command(dir, pgCtl, "stop", "--pgdata="+data, "--mode=immediate", "--wait", "--silent").CombinedOutput(); err != nil && !bytes.Contains(out, []byte("PID file")) {
			tb.Errorf("testservers: postgres: pg_ctl stop: %v\n%s", err, out)
		}
	})
	if err != nil {
		tb.Fatalf("testservers: postgres: pg_ctl start: %v\n%s\nserver log (last lines):\n%s", err, out, p.logTail(30))
	}
	p.waitReady(tb, 30*time.Second)
	return p
}

// DSN returns a connection URI for user on database, over TCP without TLS.
func (p *Postgres) DSN(user, password, database string) string {
	u := url.URL{
		Scheme:   "postgres",
		User:     url.UserPassword(user, password),
		Host:     net.JoinHostPort(p.Host, strconv.Itoa(p.Port)),
		Path:     "/" + database,
		RawQuery: "sslmode=disable",
	}
	return u.String()
}

// Exec runs sql as the superuser, failing the test on error.
func (p *Postgres) Exec(tb testing.TB, sql string, args ...any) {
	tb.Helper()
	p.exec(tb, false, sql, args...)
}

// CreateRole creates a login role with password. The statement is not
// logged, so LogFile never holds password: a test can then check that
// something else did not log it either.
func (p *Postgres) CreateRole(tb testing.TB, name, password string) {
	tb.Helper()
	sql := "CREATE ROLE " + pgx.Identifier{name}.Sanitize() + " LOGIN PASSWORD '" + strings.ReplaceAll(password, "'", "''") + "'"
	p.exec(tb, true, sql)
}

// SetPassword gives an existing role a new password, kept out of the
// server's statement log as CreateRole's is.
func (p *Postgres) SetPassword(tb testing.TB, name, password string) {
	tb.Helper()
	p.exec(tb, true, "ALTER ROLE "+pgx.Identifier{name}.Sanitize()+" PASSWORD '"+strings.ReplaceAll(password, "'", "''")+"'")
}

// AddHBA puts line ("host all app 127.0.0.1/32 trust") at the top of
// pg_hba.conf, where it wins over initdb's rules, and waits until the server
// has reloaded it.
func (p *Postgres) AddHBA(tb testing.TB, line string) {
	tb.Helper()
	path := filepath.Join(p.DataDir, "pg_hba.conf")
	old, err := os.ReadFile(path)
	if err != nil {
		tb.Fatalf("testservers: postgres: %v", err)
	}
	if err := os.WriteFile(path, append([]byte(line+"\n"), old...), 0o600); err != nil {
		tb.Fatalf("testservers: postgres: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	loadTime := func() time.Time {
		conn, err := pgx.Connect(ctx, p.AdminDSN)
		if err != nil {
			tb.Fatalf("testservers: postgres: connect as %s: %v", PostgresAdmin, err)
		}
		defer conn.Close(ctx)
		var t time.Time
		if err := conn.QueryRow(ctx, "SELECT pg_conf_load_time()").Scan(&t); err != nil {
			tb.Fatalf("testservers: postgres: %v", err)
		}
		return t
	}
	before := loadTime()
	p.Exec(tb, "SELECT pg_reload_conf()")
	// A new session reports when the postmaster last loaded its files.
	for !loadTime().After(before) {
		if ctx.Err() != nil {
			tb.Fatalf("testservers: postgres: the server did not reload pg_hba.conf\nserver log (last lines):\n%s", p.logTail(30))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Log returns what the server has logged so far.
func (p *Postgres) Log(tb testing.TB) string {
	tb.Helper()
	b, err := os.ReadFile(p.LogFile)
	if err != nil {
		tb.Fatalf("testservers: postgres: read server log: %v", err)
	}
	return string(b)
}

func (p *Postgres) exec(tb testing.TB, quiet bool, sql string, args ...any) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, p.AdminDSN)
	if err != nil {
		tb.Fatalf("testservers: postgres: connect as %s: %v", PostgresAdmin, err)
	}
	defer conn.Close(ctx)
	if quiet {
		if _, err := conn.Exec(ctx, "SET log_statement = 'none'"); err != nil {
			tb.Fatalf("testservers: postgres: %v", err)
		}
		if _, err := conn.Exec(ctx, sql, args...); err != nil {
			tb.Fatalf("testservers: postgres: statement failed: %v", err)
		}
		return
	}
	if _, err := conn.Exec(ctx, sql, args...); err != nil {
		tb.Fatalf("testservers: postgres: %s: %v", sql, err)
	}
}

// waitReady waits until the superuser can log in: pg_ctl --wait already
// waits for the server to accept connections; this also proves the
// password and pg_hba.conf.
func (p *Postgres) waitReady(tb testing.TB, timeout time.Duration) {
	tb.Helper()
	WaitTCP(tb, net.JoinHostPort(p.Host, strconv.Itoa(p.Port)), timeout)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	for {
		conn, err := pgx.Connect(ctx, p.AdminDSN)
		if err == nil {
			conn.Close(ctx)
			return
		}
		if ctx.Err() != nil {
			tb.Fatalf("testservers: postgres: %s cannot log in: %v\nserver log (last lines):\n%s", PostgresAdmin, err, p.logTail(30))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// logTail returns the last n lines of the server log, or why it cannot.
func (p *Postgres) logTail(n int) string {
	b, err := os.ReadFile(p.LogFile)
	if err != nil {
		return "(" + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// runner runs PostgreSQL's programs, as the postgres system user when the
// test runs as root.
type runner struct {
	runuser  string // path of runuser, "" when not root
	uid, gid int
}

func newRunner(tb testing.TB) *runner {
	tb.Helper()
	if os.Geteuid() != 0 {
		return &runner{}
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		tb.Fatalf("testservers: postgres: running as root, and PostgreSQL refuses to run as root, but there is no postgres user to run it as (%v): run `make test`, which installs PostgreSQL and creates it", err)
	}
	uid, err1 := strconv.Atoi(u.Uid)
	gid, err2 := strconv.Atoi(u.Gid)
	if err1 != nil || err2 != nil {
		tb.Fatalf("testservers: postgres: user postgres has uid %q gid %q", u.Uid, u.Gid)
	}
	return &runner{runuser: require(tb, "runuser"), uid: uid, gid: gid}
}

// own gives path to the user the programs run as.
func (r *runner) own(tb testing.TB, path string) {
	tb.Helper()
	if r.runuser == "" {
		return
	}
	if err := os.Chown(path, r.uid, r.gid); err != nil {
		tb.Fatalf("testservers: postgres: %v", err)
	}
}

func (r *runner) command(dir, program string, args ...string) *exec.Cmd {
	var cmd *exec.Cmd
	if r.runuser == "" {
		cmd = exec.Command(program, args...)
	} else {
		cmd = exec.Command(r.runuser, append([]string{"-u", "postgres", "--", program}, args...)...)
	}
	// The programs chdir and read PG* variables; give them a directory
	// they can enter and none of the caller's settings.
	cmd.Dir = dir
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PG") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "LC_ALL=C")
	return cmd
}

func randomHex(tb testing.TB, n int) string {
	tb.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		tb.Fatalf("testservers: %v", err)
	}
	return hex.EncodeToString(b)
}
