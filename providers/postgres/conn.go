package postgres

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/rotplan/rotplan/internal/sensitive"
)

// defaultConnectTimeout bounds each connection attempt whose DSN sets no
// connect_timeout, so an unreachable host fails on its own rather than
// using up the caller's whole deadline.
const defaultConnectTimeout = 10 * time.Second

// applicationName is what rotplan's connections say they are, unless the
// DSN says otherwise.
const applicationName = "rotplan"

// parseDSN parses a libpq connection URI or key=value string, taking
// defaults from the PG* environment variables as libpq does. A DSN usually
// holds a password, so the error never quotes it, nor pgx's error, which
// can quote part of it: only the name of a file it could not read.
func parseDSN(dsn string) (*pgx.ConnConfig, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		msg := "cannot parse it as a libpq URI (postgres://user:password@host:5432/database) or key=value string; special characters in a URI's password must be percent-encoded"
		var pathErr *fs.PathError
		if errors.As(err, &pathErr) {
			msg = pathErr.Error()
		}
		return nil, errors.New(msg)
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = defaultConnectTimeout
	}
	if _, ok := cfg.RuntimeParams["application_name"]; !ok {
		cfg.RuntimeParams["application_name"] = applicationName
	}
	return cfg, nil
}

// describe names where cfg connects and as whom, without its password:
// user@host:port/database.
func describe(cfg *pgconn.Config) string {
	return cfg.User + "@" + describeServer(cfg)
}

// describeServer names the server and database cfg connects to:
// host:port/database, or the socket directory for a Unix socket.
func describeServer(cfg *pgconn.Config) string {
	host := cfg.Host
	if !strings.HasPrefix(host, "/") {
		host = net.JoinHostPort(host, strconv.Itoa(int(cfg.Port)))
	}
	return host + "/" + cfg.Database
}

// loginResult is what a login probe learned.
type loginResult int

const (
	// loginAccepted: the server accepted the password.
	loginAccepted loginResult = iota
	// loginRejected: the server checked the password and refused it.
	loginRejected
	// loginFailed: the probe could not tell (see the error).
	loginFailed
)

func (r loginResult) String() string {
	switch r {
	case loginAccepted:
		return "accepted"
	case loginRejected:
		return "rejected"
	}
	return "failed"
}

// tryLogin logs in as role with password at the host, port, database and
// TLS settings of base, and says whether the server took the password. It
// never sends the cleartext when the server asks for SCRAM, as PostgreSQL
// does for a password stored as a SCRAM verifier.
func tryLogin(ctx context.Context, base *pgx.ConnConfig, role string, password sensitive.Value) (loginResult, error) {
	cfg := base.Config.Copy()
	cfg.User = role
	// Set after parsing, the password is the value alone: pgx reads a
	// password file only while parsing a DSN that has none.
	cfg.Password = password.Reveal()
	conn, err := pgconn.ConnectConfig(ctx, cfg)
	if err == nil {
		_ = conn.Close(ctx)
		return loginAccepted, nil
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "28P01": // invalid_password: the password check failed
			return loginRejected, nil
		case "3D000", "42501":
			// invalid_catalog_name (no such database) and
			// insufficient_privilege (no CONNECT privilege) come after
			// authentication has succeeded.
			return loginAccepted, nil
		}
	}
	// Anything else, including invalid_authorization_specification
	// (28000: no pg_hba.conf entry, or a role that may not log in), says
	// nothing about the password.
	return loginFailed, err
}

// redact returns err with any form of values in its text replaced by
// sensitive.Redacted. pgx and PostgreSQL do not quote passwords in errors;
// this covers a DSN malformed so that part of it lands in a host or database
// name. An error that needed redacting no longer unwraps, since the wrapped
// errors' text still holds the value.
func redact(err error, values ...sensitive.Value) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	if redacted := redactString(msg, values...); redacted != msg {
		return errors.New(redacted)
	}
	return err
}

// redactString replaces any form of values in s (as is, percent-encoded,
// Go-quoted) with sensitive.Redacted.
func redactString(s string, values ...sensitive.Value) string {
	for _, v := range values {
		if v.IsEmpty() {
			continue
		}
		plain := v.Reveal()
		quoted := strconv.Quote(plain)
		for _, form := range []string{plain, url.QueryEscape(plain), url.PathEscape(plain), quoted[1 : len(quoted)-1]} {
			s = strings.ReplaceAll(s, form, sensitive.Redacted)
		}
	}
	return s
}

// connectErr shortens pgx's connection error, which repeats the user and
// database that rotplan's own message already names.
func connectErr(err error) error {
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) && errors.Unwrap(ce) != nil {
		return errors.Unwrap(ce)
	}
	return err
}

// errNotKnown is the error for an attribute that is still unknown when a
// provider needs it, such as an env() whose variable is not set.
func errNotKnown(attr string) error {
	return fmt.Errorf("%s is not known yet: is every environment variable it reads set?", attr)
}
