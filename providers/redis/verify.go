package redis

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	goredis "github.com/redis/go-redis/v9"

	"github.com/rotplan/rotplan/providers"
)

// DefaultVerifyTimeout bounds a verify whose context has no deadline.
const DefaultVerifyTimeout = 30 * time.Second

// verifyParallelism bounds the nodes one verify checks at a time.
const verifyParallelism = 8

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

// Verify logs in to each node (address, then nodes) on a fresh
// connection, as username when the block names one, with the value as the
// password, and runs command (PING by default). Any reply but an error
// passes, a nil reply included; every node must pass. A refused login, a
// server that is loading or unreachable, is tried again with backoff until
// ctx's deadline (DefaultVerifyTimeout when it has none); any other error reply (no permission, unknown command) fails at
// once. The nodes are checked side by side (at most verifyParallelism at a
// time). The error names each node that did not pass.
func (v *Verifier) Verify(ctx context.Context, req providers.VerifyRequest) (*providers.VerifyResponse, error) {
	cfg, err := newBlockConfig(req.Config)
	if err != nil {
		return nil, fmt.Errorf("redis verify: %w", err)
	}
	address, err := cfg.string("address")
	if err != nil {
		return nil, fmt.Errorf("redis verify: %w", err)
	}
	listed, err := cfg.strings("nodes")
	if err != nil {
		return nil, fmt.Errorf("redis verify: %w", err)
	}
	var nodes []string
	seen := map[string]bool{}
	for _, n := range append([]string{address}, listed...) {
		if n != "" && !seen[nodeKey(n)] {
			seen[nodeKey(n)] = true
			nodes = append(nodes, n)
		}
	}
	where := nodeNames(nodes)
	useTLS, err := cfg.bool("tls")
	if err != nil {
		return nil, fmt.Errorf("redis verify at %s: %w", where, err)
	}
	username, err := cfg.string("username")
	if err != nil {
		return nil, fmt.Errorf("redis verify at %s: %w", where, err)
	}
	command, err := cfg.strings("command")
	if err != nil {
		return nil, fmt.Errorf("redis verify at %s: %w", where, err)
	}
	if len(command) == 0 {
		command = []string{"PING"}
	}
	who := "redis verify at " + where
	if username != "" {
		who = fmt.Sprintf("redis verify as %s at %s", username, where)
	}
	if len(nodes) == 0 {
		return nil, fmt.Errorf("%s: address or nodes is required", who)
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
	// The nodes are checked side by side, so that one that never passes
	// does not use up the others' time.
	type result struct {
		attempts int
		err      error
	}
	results := make([]result, len(nodes))
	var wg sync.WaitGroup
	limit := make(chan struct{}, verifyParallelism)
	for i, node := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			limit <- struct{}{}
			defer func() { <-limit }()
			attempts, err := v.verifyNode(ctx, node, useTLS, l, args)
			results[i] = result{attempts, err}
		}()
	}
	wg.Wait()
	var errs nodeErrors
	var passed []string
	for i, node := range nodes {
		if err := results[i].err; err != nil {
			errs = append(errs, nodeError{node, redact(err, req.Value)})
			continue
		}
		passed = append(passed, fmt.Sprintf("%s answered %s after %d attempt(s)", node, command[0], results[i].attempts))
	}
	switch {
	case len(errs) == 1 && len(nodes) == 1:
		return nil, fmt.Errorf("%s: %s: %w", who, command[0], errs[0].err)
	case len(errs) > 0:
		return nil, fmt.Errorf("%s: %s: %d of %d nodes did not pass: %w", who, command[0], len(errs), len(nodes), errs)
	}
	return &providers.VerifyResponse{Detail: strings.Join(passed, "; ")}, nil
}

// verifyNode runs the check on one node until it passes, fails for good,
// or ctx ends, and returns the attempts it took.
func (v *Verifier) verifyNode(ctx context.Context, node string, useTLS bool, l login, args []any) (int, error) {
	backoff := firstBackoff
	var last error
	for attempt := 1; ; attempt++ {
		err := run(ctx, node, useTLS, l, args)
		if err == nil {
			v.logger.Debug("verified", "node", node, "user", l.username, "attempts", attempt)
			return attempt, nil
		}
		// An attempt cut short by the deadline says less than the one
		// before it.
		if last == nil || ctx.Err() == nil {
			last = err
		}
		if !retryable(err) {
			return attempt, err
		}
		v.logger.Debug("verify attempt failed", "node", node, "user", l.username, "attempt", attempt, "error", redact(err, l.password))
		select {
		case <-ctx.Done():
			return attempt, fmt.Errorf("no success in %d attempt(s) before the deadline: %w", attempt, last)
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
