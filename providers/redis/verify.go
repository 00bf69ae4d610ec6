package redis

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
	goredis "github.com/redis/go-redis/v9"

	"github.com/rotplan/rotplan/providers"
)

// DefaultVerifyTimeout bounds a verify whose context has no deadline.
const DefaultVerifyTimeout = 30 * time.Second

// Backoff between verify attempts: it doubles from the first to the last.
const (
	firstBackoff = 100 * time.Millisecond
	lastBackoff  = 2 * time.Second
)

// Verifier is verify "redis": log in with the value, run a command.
type Verifier struct {
	logger hclog.Logger
}

var _ providers.Verifier = (*Verifier)(nil)

// NewVerifier returns a redis verifier.
func NewVerifier(s providers.Settings) (*Verifier, error) {
	logger := s.Logger
	if logger == nil {
		logger = hclog.NewNullLogger()
	}
	return &Verifier{logger: logger.Named("redis")}, nil
}

// Verify logs in on a fresh connection, as username when the block names
// one, with the value as the password, and runs command (PING by default).
// Any reply but an error passes, a nil reply included. A refused login, a
// server that is loading or unreachable, is tried again with backoff until
// ctx's deadline (DefaultVerifyTimeout when it has none); any other error
// reply (no permission, unknown command) fails at once.
func (v *Verifier) Verify(ctx context.Context, req providers.VerifyRequest) (*providers.VerifyResponse, error) {
	cfg, err := newBlockConfig(req.Config)
	if err != nil {
		return nil, fmt.Errorf("redis verify: %w", err)
	}
	address, err := cfg.string("address")
	if err != nil {
		return nil, fmt.Errorf("redis verify: %w", err)
	}
	useTLS, err := cfg.bool("tls")
	if err != nil {
		return nil, fmt.Errorf("redis verify at %s: %w", address, err)
	}
	username, err := cfg.string("username")
	if err != nil {
		return nil, fmt.Errorf("redis verify at %s: %w", address, err)
	}
	command, err := cfg.strings("command")
	if err != nil {
		return nil, fmt.Errorf("redis verify at %s: %w", address, err)
	}
	if len(command) == 0 {
		command = []string{"PING"}
	}
	who := "redis verify at " + address
	if username != "" {
		who = fmt.Sprintf("redis verify as %s at %s", username, address)
	}
	if address == "" {
		return nil, fmt.Errorf("%s: address is required", who)
	}
	if req.Value.IsEmpty() {
		return nil, fmt.Errorf("%s: no value to verify", who)
	}

	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultVerifyTimeout)
		defer cancel()
	}
	args := make([]any, len(command))
	for i, a := range command {
		args[i] = a
	}
	l := login{username: username, password: req.Value}
	backoff := firstBackoff
	var last error
	for attempt := 1; ; attempt++ {
		err := run(ctx, address, useTLS, l, args)
		if err == nil {
			v.logger.Debug("verified", "address", address, "user", username, "attempts", attempt)
			return &providers.VerifyResponse{Detail: fmt.Sprintf("%s answered %s after %d attempt(s)", address, command[0], attempt)}, nil
		}
		// An attempt cut short by the deadline says less than the one
		// before it.
		if last == nil || ctx.Err() == nil {
			last = err
		}
		if !retryable(err) {
			return nil, fmt.Errorf("%s: %s: %w", who, command[0], redact(err, req.Value))
		}
		v.logger.Debug("verify attempt failed", "address", address, "user", username, "attempt", attempt, "error", redact(err, req.Value))
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("%s: %s: no success in %d attempt(s) before the deadline: %w", who, command[0], attempt, redact(last, req.Value))
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, lastBackoff)
	}
}

// run logs in and runs one command.
func run(ctx context.Context, address string, useTLS bool, l login, args []any) error {
	c := newClient(address, useTLS, l)
	defer c.Close()
	err := c.Do(ctx, args...).Err()
	if errors.Is(err, goredis.Nil) {
		return nil
	}
	return err
}

// retryable reports whether a failed attempt may pass later: a refused
// login (a password still on its way to a replica), a server not ready, a
// network error. An error reply to the command itself will not change.
func retryable(err error) bool {
	if errors.Is(err, context.Canceled) {
		return false
	}
	var rerr goredis.Error
	if !errors.As(err, &rerr) {
		return true
	}
	if isAuthError(err) {
		return true
	}
	for _, prefix := range []string{"LOADING", "BUSY", "TRYAGAIN", "MASTERDOWN", "CLUSTERDOWN"} {
		if strings.HasPrefix(rerr.Error(), prefix) {
			return true
		}
	}
	return false
}
