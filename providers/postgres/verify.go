package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/jackc/pgx/v5"
	"github.com/zclconf/go-cty/cty"

	"github.com/rotplan/rotplan/providers"
)

// Retries of a failing check: the first wait, the longest, and how many
// attempts a check makes when its context has no deadline.
const (
	verifyFirstWait   = 100 * time.Millisecond
	verifyMaxWait     = 2 * time.Second
	verifyMaxAttempts = 5
)

// Verifier is verify "postgres": it connects with the block's DSN, which
// carries the value being checked, and runs its query.
type Verifier struct {
	logger hclog.Logger
}

var _ providers.Verifier = (*Verifier)(nil)

// NewVerifier returns a postgres check.
func NewVerifier(s providers.Settings) (*Verifier, error) {
	logger := s.Logger
	if logger == nil {
		logger = hclog.NewNullLogger()
	}
	return &Verifier{logger: logger.Named("postgres")}, nil
}

// Verify connects and runs the query, retrying with a growing pause until
// it succeeds or ctx ends (a consumer may be restarting, a replica catching
// up); without a deadline it makes verifyMaxAttempts attempts. Errors name the user,
// server and database, never the DSN, which holds the password.
func (v *Verifier) Verify(ctx context.Context, req providers.VerifyRequest) (*providers.VerifyResponse, error) {
	dsn, query, err := decodeVerify(req.Config)
	if err != nil {
		return nil, err
	}
	cfg, err := parseDSN(dsn)
	if err != nil {
		return nil, fmt.Errorf("postgres: dsn: %w", err)
	}
	// The user or database could be made from the value, however unwisely.
	where := redactString(describe(&cfg.Config), req.Value)
	_, hasDeadline := ctx.Deadline()

	var last error
	wait := verifyFirstWait
	for attempt := 1; ; attempt++ {
		err := check(ctx, cfg, query)
		if err == nil {
			v.logger.Debug("check passed", "server", where, "attempt", attempt)
			return &providers.VerifyResponse{Detail: "logged in as " + where + " and ran the query"}, nil
		}
		// An attempt cut short by the deadline says less than the one
		// before it.
		if last == nil || ctx.Err() == nil {
			last = err
		}
		v.logger.Debug("check failed", "server", where, "attempt", attempt, "error", redact(err, req.Value))
		if !hasDeadline && attempt >= verifyMaxAttempts || ctx.Err() != nil {
			return nil, redact(fmt.Errorf("postgres %s: after %d attempts: %w", where, attempt, last), req.Value)
		}
		select {
		case <-ctx.Done():
		case <-time.After(wait):
		}
		wait = min(2*wait, verifyMaxWait)
	}
}

// check makes one attempt: connect, run query, close.
func check(ctx context.Context, cfg *pgx.ConnConfig, query string) error {
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("connect: %w", connectErr(err))
	}
	defer conn.Close(context.WithoutCancel(ctx))
	// Without arguments, pgx runs the query with the simple protocol, so
	// it may hold several statements.
	if _, err := conn.Exec(ctx, query); err != nil {
		return fmt.Errorf("query: %w", err)
	}
	return nil
}

// decodeVerify reads a decoded verify "postgres" block.
func decodeVerify(cfg cty.Value) (dsn, query string, err error) {
	cfg, _ = cfg.UnmarkDeep()
	if cfg.IsNull() || !cfg.IsKnown() || !cfg.Type().IsObjectType() || !cfg.Type().HasAttribute("dsn") {
		return "", "", errors.New("postgres: the verify block is not known yet")
	}
	get := func(name string) (string, error) {
		if !cfg.Type().HasAttribute(name) {
			return "", nil
		}
		v := cfg.GetAttr(name)
		switch {
		case !v.IsKnown():
			return "", fmt.Errorf("postgres: %w", errNotKnown(name))
		case v.IsNull():
			return "", nil
		case !v.Type().Equals(cty.String):
			return "", fmt.Errorf("postgres: %s must be a string", name)
		}
		return v.AsString(), nil
	}
	if dsn, err = get("dsn"); err != nil {
		return "", "", err
	}
	if dsn == "" {
		return "", "", errors.New("postgres: dsn is empty")
	}
	if query, err = get("query"); err != nil {
		return "", "", err
	}
	if query == "" {
		query = "SELECT 1"
	}
	return dsn, query, nil
}
