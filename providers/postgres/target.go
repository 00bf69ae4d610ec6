package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/hashicorp/go-hclog"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/zclconf/go-cty/cty"
	"golang.org/x/sync/errgroup"

	"github.com/rotplan/rotplan/internal/sensitive"
	"github.com/rotplan/rotplan/providers"
)

// probeParallelism bounds the login probes one Observe runs at once.
const probeParallelism = 4

// probeRequireAuth is the require_auth a login probe uses unless admin_dsn
// sets one: the server must ask for a challenge-response method, so the
// probe never sends the value itself, as the "password" method would.
const probeRequireAuth = "scram-sha-256,md5"

// Target is the postgres target: login roles whose password is a secret.
// Each call covers many roles; roles that share an admin_dsn share one
// admin connection.
type Target struct {
	logger hclog.Logger
}

var _ providers.TargetWriter = (*Target)(nil)

// New returns a postgres target.
func New(s providers.Settings) (*Target, error) {
	logger := s.Logger
	if logger == nil {
		logger = hclog.NewNullLogger()
	}
	return &Target{logger: logger.Named("postgres")}, nil
}

// Observe logs in as each item's role with the store's current value: a
// role that accepts it holds the current value, one whose password check
// fails holds another. Anything else (an unreachable server, a pg_hba.conf
// that turns the role away) is the item's error. A role has one password,
// so with a current value there is nothing else to count as Unknown: a
// password rotplan did not make fails the probe, and a sync replaces it.
// With no current value (the secret is about to be created) Observe reads
// whether the role has a password instead (see observeWithoutValue).
func (t *Target) Observe(ctx context.Context, req providers.ObserveRequest) (*providers.ObserveResponse, error) {
	resp := &providers.ObserveResponse{Results: make([]providers.Observation, len(req.Items))}
	var g errgroup.Group
	g.SetLimit(probeParallelism)
	for i, item := range req.Items {
		g.Go(func() error {
			resp.Results[i] = t.observe(ctx, item)
			return nil
		})
	}
	_ = g.Wait()
	return resp, nil
}

func (t *Target) observe(ctx context.Context, item providers.ObserveItem) providers.Observation {
	b, err := decodeBlock(item.Config)
	if err == nil {
		err = b.checkStrategy()
	}
	if err != nil {
		return providers.Observation{Err: err}
	}
	if item.Current.IsEmpty() {
		return t.observeWithoutValue(ctx, b)
	}
	if b.strategy == StrategyAlternating {
		return t.observeAlternating(ctx, b, item)
	}
	admin, err := b.adminConfig()
	if err != nil {
		return providers.Observation{Err: b.fail("admin_dsn", err)}
	}
	cfg := probeConfig(admin)
	res, err := tryLogin(ctx, cfg, b.role, item.Current)
	t.logger.Debug("login probe", "role", b.role, "server", describeServer(&cfg.Config), "result", res.String())
	switch res {
	case loginAccepted:
		return providers.Observation{Holds: providers.HoldsCurrent}
	case loginRejected:
		return providers.Observation{Holds: providers.HoldsOther}
	}
	return providers.Observation{Err: b.fail("login probe", redact(connectErr(err), item.Current))}
}

// observeWithoutValue tells what a role holds before the secret exists,
// with nothing to log in with: HoldsOther with one Unknown credential when
// it has a password, which rotplan did not make and create replaces,
// HoldsNothing when it has none. Only a superuser may read pg_authid, where
// that is kept; for another admin_dsn the role's password cannot be seen
// and the answer is HoldsUnknown. A role that does not exist is an error,
// as for Deliver. Nothing of the password but whether there is one is read.
func (t *Target) observeWithoutValue(ctx context.Context, b block) providers.Observation {
	cfg, err := b.adminConfig()
	if err != nil {
		return providers.Observation{Err: b.fail("admin_dsn", err)}
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return providers.Observation{Err: b.fail("read role", fmt.Errorf("connect to %s with admin_dsn: %w", describeServer(&cfg.Config), connectErr(err)))}
	}
	defer func() { _ = conn.Close(context.WithoutCancel(ctx)) }()

	var hasPassword bool
	err = conn.QueryRow(ctx, "SELECT rolpassword IS NOT NULL FROM pg_catalog.pg_authid WHERE rolname = $1", b.role).Scan(&hasPassword)
	var pgErr *pgconn.PgError
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return providers.Observation{Err: b.fail("", errNoSuchRole(b.role))}
	case errors.As(err, &pgErr) && pgErr.Code == "42501": // insufficient_privilege
		// Not a superuser: pg_roles, which anyone may read, still tells
		// whether the role exists.
		var exists bool
		if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = $1)", b.role).Scan(&exists); err != nil {
			return providers.Observation{Err: b.fail("read role", err)}
		}
		if !exists {
			return providers.Observation{Err: b.fail("", errNoSuchRole(b.role))}
		}
		t.logger.Debug("admin_dsn may not read pg_authid: cannot tell whether the role has a password", "role", b.role)
		return providers.Observation{Holds: providers.HoldsUnknown}
	case err != nil:
		return providers.Observation{Err: b.fail("read role", err)}
	}
	t.logger.Debug("read role", "role", b.role, "has_password", hasPassword)
	if hasPassword {
		return providers.Observation{Holds: providers.HoldsOther, Unknown: 1}
	}
	return providers.Observation{Holds: providers.HoldsNothing}
}

// errNoSuchRole is the error for a role that does not exist.
func errNoSuchRole(role string) error {
	return fmt.Errorf("no such role: create it first (CREATE ROLE %s LOGIN, with its privileges); rotplan sets passwords, not roles", pgx.Identifier{role}.Sanitize())
}

// Deliver sets each role's password to Value with ALTER ROLE, sending a
// SCRAM-SHA-256 verifier rather than the cleartext. A role that already
// accepts Value (a re-run after a crash) is skipped. With the single
// strategy the old password stops working at once; Previous is not used.
func (t *Target) Deliver(ctx context.Context, req providers.DeliverRequest) (*providers.WriteResponse, error) {
	return t.setPasswords(ctx, opDeliver, req.Items), nil
}

// Revert sets each role's password back to Value, the value a failed
// rotation replaced, the same way Deliver does; the failed candidate stops
// working. An empty Value (the rotation created the secret) removes the
// role's password.
func (t *Target) Revert(ctx context.Context, req providers.RevertRequest) (*providers.WriteResponse, error) {
	return t.setPasswords(ctx, opRevert, req.Items), nil
}

// Retire leaves only the current value working. For the single strategy
// there is nothing to do, since the previous password stopped working when
// Deliver set the new one, and the item is skipped. For the alternating
// strategy it removes the password of the role the current login does not
// use (see retireAlternating).
func (t *Target) Retire(ctx context.Context, req providers.RetireRequest) (*providers.WriteResponse, error) {
	return t.setPasswords(ctx, opRetire, req.Items), nil
}

// writeOp is what a write does to the roles.
type writeOp string

const (
	opDeliver writeOp = "deliver" // the role accepts Value
	opRevert  writeOp = "revert"  // the role accepts Value again, not Previous
	opRetire  writeOp = "retire"  // only Value works
)

// setPasswords carries out op for each item, grouping the items by
// admin_dsn so that one admin connection serves all the roles behind it.
func (t *Target) setPasswords(ctx context.Context, op writeOp, items []providers.WriteItem) *providers.WriteResponse {
	resp := &providers.WriteResponse{Results: make([]providers.WriteResult, len(items))}
	var dsns []string
	groups := map[string][]role{}
	for i, item := range items {
		b, err := decodeBlock(item.Config)
		if err == nil {
			err = b.checkStrategy()
		}
		if err == nil && b.strategy == StrategySingle {
			if op == opRetire {
				resp.Results[i].Skipped = true
				continue
			}
			switch {
			case !item.Value.IsEmpty():
				if perr := checkPassword(item.Value); perr != nil {
					err = b.fail(string(op), perr)
				}
			case op == opDeliver:
				err = b.fail(string(op), errors.New("there is no value to set"))
			}
		}
		if err == nil && b.strategy == StrategyAlternating && item.Value.IsEmpty() && op != opRevert {
			err = b.fail(string(op), errors.New("there is no login"))
		}
		if err != nil {
			resp.Results[i].Err = err
			continue
		}
		if _, seen := groups[b.adminDSN]; !seen {
			dsns = append(dsns, b.adminDSN)
		}
		groups[b.adminDSN] = append(groups[b.adminDSN], role{index: i, block: b})
	}

	for _, dsn := range dsns {
		t.setGroup(ctx, op, items, groups[dsn], resp.Results)
	}
	return resp
}

// role is one item of a write, decoded.
type role struct {
	index int
	block block
}

// setGroup carries out op for roles that share an admin_dsn, opening the
// admin connection when the first role needs it.
func (t *Target) setGroup(ctx context.Context, op writeOp, items []providers.WriteItem, roles []role, results []providers.WriteResult) {
	adminCfg, err := roles[0].block.adminConfig()
	if err != nil {
		for _, r := range roles {
			results[r.index].Err = r.block.fail("admin_dsn", err)
		}
		return
	}
	probeCfg := probeConfig(adminCfg)
	admin := &adminConn{cfg: adminCfg}
	defer admin.close(ctx)
	for _, r := range roles {
		item, res := items[r.index], &results[r.index]
		if err := ctx.Err(); err != nil {
			res.Err = r.block.fail(string(op), err)
			continue
		}
		var err error
		switch {
		case r.block.strategy == StrategyAlternating && op == opDeliver:
			res.Skipped, err = t.deliverAlternating(ctx, r.block, item, probeCfg, admin)
		case r.block.strategy == StrategyAlternating && op == opRevert:
			res.Skipped, err = t.revertAlternating(ctx, r.block, item, probeCfg, admin)
		case r.block.strategy == StrategyAlternating:
			res.Skipped, err = t.retireAlternating(ctx, r.block, item, probeCfg, admin)
		default:
			res.Skipped, err = t.setSingle(ctx, op, r.block, item, probeCfg, admin)
		}
		if err != nil {
			res.Err = r.block.fail(string(op), err)
		}
	}
}

// setSingle sets one role's password to item.Value (none when it is
// empty), skipping a role that already accepts it.
func (t *Target) setSingle(ctx context.Context, op writeOp, b block, item providers.WriteItem, probeCfg *pgx.ConnConfig, admin *adminConn) (skipped bool, err error) {
	if !item.Value.IsEmpty() {
		// The probe only saves a needless ALTER: when it cannot tell, the
		// password is set anyway.
		if login, _ := tryLogin(ctx, probeCfg, b.role, item.Value); login == loginAccepted {
			t.logger.Debug("role already accepts the value", "op", string(op), "role", b.role)
			return true, nil
		}
	}
	conn, err := admin.get(ctx)
	if err != nil {
		return false, err
	}
	if err := alterPassword(ctx, conn, b.role, item.Value); err != nil {
		return false, redact(err, item.Value)
	}
	t.logger.Debug("password set", "op", string(op), "role", b.role)
	return false, nil
}

// alterPassword runs ALTER ROLE role PASSWORD with password's SCRAM-SHA-256
// verifier, or PASSWORD NULL when password is empty.
func alterPassword(ctx context.Context, admin *pgx.Conn, role string, password sensitive.Value) error {
	return alterRole(ctx, admin, role, password, "")
}

// alterRole is alterPassword, also setting VALID UNTIL when validUntil is
// not "" (validForever or validNever).
func alterRole(ctx context.Context, admin *pgx.Conn, role string, password sensitive.Value, validUntil string) error {
	literal := "NULL"
	if !password.IsEmpty() {
		verifier, err := scramVerifier(password)
		if err != nil {
			return err
		}
		// A verifier holds only base64, digits, '$' and ':'; the quoting
		// is for form's sake.
		literal = "'" + strings.ReplaceAll(verifier, "'", "''") + "'"
	}
	// ALTER ROLE takes no bind parameters, so the statement is built here:
	// the role quoted as an identifier, the verifier as a literal.
	stmt := "ALTER ROLE " + pgx.Identifier{role}.Sanitize() + " PASSWORD " + literal
	if validUntil != "" {
		stmt += " VALID UNTIL '" + validUntil + "'"
	}
	if _, err := admin.Exec(ctx, stmt); err != nil {
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "42704" { // undefined_object
			return errNoSuchRole(role)
		}
		return fmt.Errorf("alter role: %w", err)
	}
	return nil
}

// block is a decoded target "postgres" block.
type block struct {
	adminDSN      string
	role          string
	strategy      string
	alternateRole string
}

// decodeBlock reads a decoded target "postgres" block.
func decodeBlock(cfg cty.Value) (block, error) {
	cfg, _ = cfg.UnmarkDeep()
	if cfg.IsNull() || !cfg.IsKnown() || !cfg.Type().IsObjectType() {
		return block{}, errors.New("postgres: the target block is not known yet")
	}
	attr := func(name string) (string, error) {
		if !cfg.Type().HasAttribute(name) {
			return "", nil
		}
		v := cfg.GetAttr(name)
		switch {
		case !v.IsKnown():
			return "", errNotKnown(name)
		case v.IsNull():
			return "", nil
		case !v.Type().Equals(cty.String):
			return "", fmt.Errorf("%s must be a string", name)
		}
		return v.AsString(), nil
	}
	var b block
	var err error
	if b.role, err = attr("role"); err != nil {
		return block{}, fmt.Errorf("postgres: %w", err)
	}
	if b.role == "" || strings.IndexByte(b.role, 0) >= 0 {
		return block{}, errors.New("postgres: role must be a role name: not empty, no NUL byte")
	}
	for name, dst := range map[string]*string{"admin_dsn": &b.adminDSN, "strategy": &b.strategy, "alternate_role": &b.alternateRole} {
		if *dst, err = attr(name); err != nil {
			return block{}, b.fail("", err)
		}
	}
	if b.adminDSN == "" {
		return block{}, b.fail("", errors.New("admin_dsn is empty"))
	}
	if b.strategy == "" {
		b.strategy = StrategySingle
	}
	return b, nil
}

// fail wraps err with the role and what was being done.
func (b block) fail(doing string, err error) error {
	if doing == "" {
		return fmt.Errorf("postgres role %q: %w", b.role, err)
	}
	return fmt.Errorf("postgres role %q: %s: %w", b.role, doing, err)
}

// checkStrategy reports a strategy rotplan does not know, and an
// alternating block without its second role.
func (b block) checkStrategy() error {
	switch b.strategy {
	case StrategySingle:
		return nil
	case StrategyAlternating:
		if b.alternateRole == "" || b.alternateRole == b.role || strings.IndexByte(b.alternateRole, 0) >= 0 {
			return b.fail("", errors.New("the alternating strategy needs alternate_role, a role name other than role"))
		}
		return nil
	}
	return b.fail("", fmt.Errorf("unknown strategy %q", b.strategy))
}

// adminConfig parses admin_dsn.
func (b block) adminConfig() (*pgx.ConnConfig, error) {
	return parseDSN(b.adminDSN)
}

// probeConfig returns the settings of a login probe: admin_dsn's host,
// port, database and TLS settings, and a require_auth that keeps the value
// off the wire unless admin_dsn says otherwise. tryLogin sets the user and
// password.
func probeConfig(admin *pgx.ConnConfig) *pgx.ConnConfig {
	cfg := admin.Copy()
	if cfg.RequireAuth == "" {
		cfg.RequireAuth = probeRequireAuth
	}
	return cfg
}
