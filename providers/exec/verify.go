package exec

import (
	"context"
	"fmt"

	"github.com/rotplan/rotplan/providers"
)

// Verifier is verify "exec": a command whose exit status 0 proves the
// value works.
type Verifier struct {
	runner runner
}

var _ providers.Verifier = (*Verifier)(nil)

// NewVerifier returns a verify "exec" that runs its commands in s.Dir.
func NewVerifier(s providers.Settings) (*Verifier, error) {
	return &Verifier{runner: newRunner(s, "exec")}, nil
}

// Verify runs the command once with the value; exit status 0 passes. It
// does not retry (ctx bounds it): a command that must wait for a restart
// retries itself. A failure says the exit status and the last lines of the
// command's standard error, every text of the value there replaced by
// (sensitive).
func (v *Verifier) Verify(ctx context.Context, req providers.VerifyRequest) (*providers.VerifyResponse, error) {
	c, err := decodeCommand(req.Config)
	if err != nil {
		return nil, fmt.Errorf("verify exec: %w", err)
	}
	if err := v.runner.run(ctx, c, req.Value); err != nil {
		return nil, fmt.Errorf("verify exec %w", err)
	}
	return &providers.VerifyResponse{Detail: scrub(c.argv[0], req.Value) + ": exit status 0"}, nil
}
