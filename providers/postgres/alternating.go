package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/rotplan/rotplan/internal/sensitive"
	"github.com/rotplan/rotplan/providers"
)

// The alternating strategy keeps two login roles, role and alternate_role.
// A secret's value is a login, {"username": ..., "password": ...}, which
// generate "postgres_login" makes for the role not in use. The target sets
// that role's password and leaves the other alone, so the old login keeps
// working until Retire removes its password after the grace. A role whose
// password rotplan removed is marked VALID UNTIL '-infinity', which anyone
// may read in pg_roles; the generator reads that mark to know which role is
// free.

// Fields of a login value.
const (
	fieldUsername = "username"
	fieldPassword = "password"
)

// validUntil is what an alternating write sets VALID UNTIL to.
const (
	// validForever goes with a password the alternating strategy sets.
	validForever = "infinity"
	// validNever marks a role whose password rotplan removed: not in use.
	validNever = "-infinity"
)

// login is a login value, split into its fields.
type login struct {
	username string
	password sensitive.Value
}

// readLogin splits a login value. It names no field's content.
func readLogin(v sensitive.Value) (login, error) {
	fields, err := v.Fields()
	if err != nil {
		return login{}, errors.New(`the alternating strategy takes the whole login value, {"username", "password"}: generate it with generate "postgres_login", and give this target no field`)
	}
	user, pw := fields[fieldUsername], fields[fieldPassword]
	if user.IsEmpty() || pw.IsEmpty() {
		return login{}, errors.New(`the login value needs a username and a password field: generate it with generate "postgres_login"`)
	}
	return login{username: user.Reveal(), password: pw}, nil
}

// roleLogin is what the admin connection can tell about a role's password.
type roleLogin int

const (
	// roleMissing: there is no such role.
	roleMissing roleLogin = iota
	// roleRetired: the role has no password, or one whose VALID UNTIL has
	// passed (rotplan's mark on a role not in use), or may not log in.
	roleRetired
	// roleMayLogIn: the role has a password that has not expired; for an
	// admin that may not read pg_authid, the role is not marked retired
	// and may have one.
	roleMayLogIn
)

// readRoleLogin tells whether role may log in with a password. A
// superuser reads pg_authid; any other admin reads pg_roles, which shows
// VALID UNTIL but not whether there is a password. Nothing of the password
// itself is read.
func readRoleLogin(ctx context.Context, conn *pgx.Conn, role string) (roleLogin, error) {
	var may bool
	err := conn.QueryRow(ctx, "SELECT rolcanlogin AND rolpassword IS NOT NULL AND (rolvaliduntil IS NULL OR rolvaliduntil > now()) FROM pg_catalog.pg_authid WHERE rolname = $1", role).Scan(&may)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "42501" { // insufficient_privilege
		err = conn.QueryRow(ctx, "SELECT rolcanlogin AND (rolvaliduntil IS NULL OR rolvaliduntil > now()) FROM pg_catalog.pg_roles WHERE rolname = $1", role).Scan(&may)
	}
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return roleMissing, nil
	case err != nil:
		return 0, fmt.Errorf("read role %s: %w", pgx.Identifier{role}.Sanitize(), err)
	case may:
		return roleMayLogIn, nil
	}
	return roleRetired, nil
}

// freeRole picks the role of the pair that the next login goes on: the one
// that cannot log in while the other can, or the first when neither can
// (nothing is in use yet). When both may log in, which one consumers use
// is not known, and it is an error: the previous login is retired before
// a rotation, so this is a pair rotplan did not set up.
func freeRole(ctx context.Context, conn *pgx.Conn, first, second string) (string, error) {
	a, err := readRoleLogin(ctx, conn, first)
	if err != nil {
		return "", err
	}
	b, err := readRoleLogin(ctx, conn, second)
	if err != nil {
		return "", err
	}
	switch {
	case a == roleMayLogIn && b != roleMayLogIn:
		return second, nil
	case a != roleMayLogIn:
		return first, nil
	}
	return "", fmt.Errorf("roles %s and %s may both log in with a password, so it is not known which one is in use: retire the previous login first, or mark the role not in use with ALTER ROLE ... PASSWORD NULL VALID UNTIL '%s'",
		pgx.Identifier{first}.Sanitize(), pgx.Identifier{second}.Sanitize(), validNever)
}

// otherRole is the role of the block's pair that is not role.
func (b block) otherRole(role string) string {
	if role == b.role {
		return b.alternateRole
	}
	return b.role
}

// checkPair refuses a login for a role that is not one of the block's two.
func (b block) checkPair(l login) error {
	if l.username != b.role && l.username != b.alternateRole {
		return fmt.Errorf("the login is for role %s, which is neither role nor alternate_role of this target: give generate \"postgres_login\" the same two roles", pgx.Identifier{l.username}.Sanitize())
	}
	return nil
}

// adminConn opens the admin connection on first use and keeps it.
type adminConn struct {
	cfg  *pgx.ConnConfig
	conn *pgx.Conn
	err  error
}

func (a *adminConn) get(ctx context.Context) (*pgx.Conn, error) {
	if a.conn == nil && a.err == nil {
		conn, err := pgx.ConnectConfig(ctx, a.cfg)
		if err != nil {
			a.err = fmt.Errorf("connect to %s with admin_dsn: %w", describeServer(&a.cfg.Config), connectErr(err))
		}
		a.conn = conn
	}
	return a.conn, a.err
}

func (a *adminConn) close(ctx context.Context) {
	if a.conn != nil {
		_ = a.conn.Close(context.WithoutCancel(ctx))
	}
}

// observeAlternating logs in with the current login: accepted is "holds
// current", a failed password check "holds other". The role not in use
// counts as one Unknown credential when it may log in with a password that
// is not the previous login's (see readRoleLogin: for an admin that may not
// read pg_authid, when rotplan has not marked it retired).
func (t *Target) observeAlternating(ctx context.Context, b block, item providers.ObserveItem) providers.Observation {
	cur, err := readLogin(item.Current)
	if err == nil {
		err = b.checkPair(cur)
	}
	if err != nil {
		return providers.Observation{Err: b.fail("", err)}
	}
	adminCfg, err := b.adminConfig()
	if err != nil {
		return providers.Observation{Err: b.fail("admin_dsn", err)}
	}
	probeCfg := probeConfig(adminCfg)
	res, err := tryLogin(ctx, probeCfg, cur.username, cur.password)
	t.logger.Debug("login probe", "role", cur.username, "server", describeServer(&probeCfg.Config), "result", res.String())
	var obs providers.Observation
	switch res {
	case loginAccepted:
		obs.Holds = providers.HoldsCurrent
	case loginRejected:
		obs.Holds = providers.HoldsOther
	default:
		return providers.Observation{Err: b.fail("login probe", redact(connectErr(err), item.Current, cur.password))}
	}

	other := b.otherRole(cur.username)
	if prev, err := readLogin(item.Previous); err == nil && prev.username == other {
		if res, _ := tryLogin(ctx, probeCfg, other, prev.password); res == loginAccepted {
			return obs // the previous login, during its grace
		}
	}
	admin := &adminConn{cfg: adminCfg}
	defer admin.close(ctx)
	conn, err := admin.get(ctx)
	if err != nil {
		return providers.Observation{Err: b.fail("read role", err)}
	}
	state, err := readRoleLogin(ctx, conn, other)
	if err != nil {
		return providers.Observation{Err: b.fail("", err)}
	}
	if state == roleMayLogIn {
		obs.Unknown = 1
	}
	return obs
}

// deliverAlternating makes the login's role accept its password, creating
// the role first, cloned from the other's memberships, when it does not
// exist. The other role is not touched: its login keeps working. A login
// for the role the previous login uses is refused, since setting it would
// end the login consumers hold.
func (t *Target) deliverAlternating(ctx context.Context, b block, item providers.WriteItem, probeCfg *pgx.ConnConfig, admin *adminConn) (skipped bool, err error) {
	next, err := readLogin(item.Value)
	if err == nil {
		err = b.checkPair(next)
	}
	if err != nil {
		return false, err
	}
	if err := checkPassword(next.password); err != nil {
		return false, err
	}
	if prev, perr := readLogin(item.Previous); perr == nil && prev.username == next.username {
		return false, fmt.Errorf("the new login is for role %s, which the current login uses: setting it would end the login consumers hold; the alternating strategy sets the other role", pgx.Identifier{next.username}.Sanitize())
	}
	if res, _ := tryLogin(ctx, probeCfg, next.username, next.password); res == loginAccepted {
		t.logger.Debug("role already accepts the login", "role", next.username)
		return true, nil
	}
	conn, err := admin.get(ctx)
	if err != nil {
		return false, err
	}
	state, err := readRoleLogin(ctx, conn, next.username)
	if err != nil {
		return false, err
	}
	if state == roleMissing {
		if err := t.cloneRole(ctx, conn, b.otherRole(next.username), next.username); err != nil {
			return false, err
		}
	}
	if err := alterRole(ctx, conn, next.username, next.password, validForever); err != nil {
		return false, redact(err, item.Value, next.password)
	}
	t.logger.Debug("password set", "op", string(opDeliver), "role", next.username)
	return false, nil
}

// revertAlternating undoes a deliver: the candidate login's role has its
// password removed (and is marked retired), and the old login's role
// accepts the old password, set again only if it does not.
func (t *Target) revertAlternating(ctx context.Context, b block, item providers.WriteItem, probeCfg *pgx.ConnConfig, admin *adminConn) (skipped bool, err error) {
	var old login
	if !item.Value.IsEmpty() {
		if old, err = readLogin(item.Value); err == nil {
			err = b.checkPair(old)
		}
		if err != nil {
			return false, err
		}
	}
	skipped = true
	if !item.Previous.IsEmpty() {
		cand, err := readLogin(item.Previous)
		if err != nil {
			return false, err
		}
		if cand.username != old.username {
			changed, err := t.retireRole(ctx, admin, cand.username)
			if err != nil {
				return false, err
			}
			skipped = skipped && !changed
		}
	}
	if old.username == "" {
		return skipped, nil
	}
	if res, _ := tryLogin(ctx, probeCfg, old.username, old.password); res == loginAccepted {
		return skipped, nil
	}
	conn, err := admin.get(ctx)
	if err != nil {
		return false, err
	}
	if err := alterRole(ctx, conn, old.username, old.password, validForever); err != nil {
		return false, redact(err, item.Value, old.password)
	}
	t.logger.Debug("password set", "op", string(opRevert), "role", old.username)
	return false, nil
}

// retireAlternating leaves only the current login working: the other
// role's password is removed and the role marked retired. It refuses when
// the current login does not work, rather than leave no working login.
func (t *Target) retireAlternating(ctx context.Context, b block, item providers.WriteItem, probeCfg *pgx.ConnConfig, admin *adminConn) (skipped bool, err error) {
	cur, err := readLogin(item.Value)
	if err == nil {
		err = b.checkPair(cur)
	}
	if err != nil {
		return false, err
	}
	res, err := tryLogin(ctx, probeCfg, cur.username, cur.password)
	switch res {
	case loginRejected:
		return false, fmt.Errorf("role %s does not accept the current login, so retiring the other would leave none working: sync it first", pgx.Identifier{cur.username}.Sanitize())
	case loginFailed:
		return false, fmt.Errorf("login probe: %w", redact(connectErr(err), item.Value, cur.password))
	}
	changed, err := t.retireRole(ctx, admin, b.otherRole(cur.username))
	return !changed, err
}

// retireRole removes role's password and marks it retired, unless it is
// missing or retired already. It reports whether it changed anything.
func (t *Target) retireRole(ctx context.Context, admin *adminConn, role string) (bool, error) {
	conn, err := admin.get(ctx)
	if err != nil {
		return false, err
	}
	state, err := readRoleLogin(ctx, conn, role)
	if err != nil || state != roleMayLogIn {
		return false, err
	}
	if err := alterRole(ctx, conn, role, sensitive.Value{}, validNever); err != nil {
		return false, err
	}
	t.logger.Debug("password removed", "role", role)
	return true, nil
}

// cloneRole creates role as a login role that is a member of every role
// from is a member of, with the same admin option, in one transaction. The
// privileges granted to from itself are not copied: grant them to a group
// role both are members of.
func (t *Target) cloneRole(ctx context.Context, conn *pgx.Conn, from, role string) error {
	tx, err := conn.Begin(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()

	var exists bool
	if err := tx.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = $1)", from).Scan(&exists); err != nil {
		return fmt.Errorf("read role %s: %w", pgx.Identifier{from}.Sanitize(), err)
	}
	if !exists {
		return fmt.Errorf("neither %s nor %s exists: create %s first (CREATE ROLE %s LOGIN, with its privileges); rotplan creates the second role of the pair, cloned from the first",
			pgx.Identifier{from}.Sanitize(), pgx.Identifier{role}.Sanitize(), pgx.Identifier{from}.Sanitize(), pgx.Identifier{from}.Sanitize())
	}
	rows, err := tx.Query(ctx, `SELECT g.rolname, bool_or(m.admin_option)
FROM pg_catalog.pg_auth_members m
JOIN pg_catalog.pg_roles g ON g.oid = m.roleid
JOIN pg_catalog.pg_roles u ON u.oid = m.member
WHERE u.rolname = $1
GROUP BY g.rolname
ORDER BY g.rolname`, from)
	if err != nil {
		return fmt.Errorf("read the memberships of %s: %w", pgx.Identifier{from}.Sanitize(), err)
	}
	type membership struct {
		group string
		admin bool
	}
	var groups []membership
	for rows.Next() {
		var m membership
		if err := rows.Scan(&m.group, &m.admin); err != nil {
			rows.Close()
			return err
		}
		groups = append(groups, m)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read the memberships of %s: %w", pgx.Identifier{from}.Sanitize(), err)
	}

	if _, err := tx.Exec(ctx, "CREATE ROLE "+pgx.Identifier{role}.Sanitize()+" LOGIN"); err != nil {
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "42501" {
			return fmt.Errorf("role %s does not exist, and admin_dsn may not create it (CREATEROLE): create it yourself as a login role with the memberships of %s, or give admin_dsn CREATEROLE", pgx.Identifier{role}.Sanitize(), pgx.Identifier{from}.Sanitize())
		}
		return fmt.Errorf("create role %s: %w", pgx.Identifier{role}.Sanitize(), err)
	}
	for _, m := range groups {
		stmt := "GRANT " + pgx.Identifier{m.group}.Sanitize() + " TO " + pgx.Identifier{role}.Sanitize()
		if m.admin {
			stmt += " WITH ADMIN OPTION"
		}
		if _, err := tx.Exec(ctx, stmt); err != nil {
			return fmt.Errorf("grant %s to %s, as %s has it: %w", pgx.Identifier{m.group}.Sanitize(), pgx.Identifier{role}.Sanitize(), pgx.Identifier{from}.Sanitize(), err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("create role %s: %w", pgx.Identifier{role}.Sanitize(), err)
	}
	t.logger.Info("created the second role of the pair", "role", role, "cloned_from", from, "memberships", len(groups))
	return nil
}
