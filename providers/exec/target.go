package exec

import (
	"context"
	"errors"
	"fmt"

	"github.com/rotplan/rotplan/internal/sensitive"
	"github.com/rotplan/rotplan/providers"
)

// Target is target "exec": a command that delivers a value to a system
// rotplan has no provider for.
type Target struct {
	runner runner
}

var _ providers.TargetWriter = (*Target)(nil)

// NewTarget returns a target "exec" that runs its commands in s.Dir.
func NewTarget(s providers.Settings) (*Target, error) {
	return &Target{runner: newRunner(s, "exec")}, nil
}

// Observe reports HoldsUnknown for every item: a command cannot be asked
// what the system holds, so such a target never reports drift.
func (t *Target) Observe(ctx context.Context, req providers.ObserveRequest) (*providers.ObserveResponse, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	resp := &providers.ObserveResponse{Results: make([]providers.Observation, len(req.Items))}
	for i := range resp.Results {
		resp.Results[i].Holds = providers.HoldsUnknown
	}
	return resp, nil
}

// Deliver runs each item's command with its Value, one after another in
// the request's order. A command cannot tell whether the value is in place
// already, so no item is Skipped, and the command must be safe to run again
// (apply runs it again after a crash). Previous is not passed: a command
// that keeps a second value valid does so itself.
func (t *Target) Deliver(ctx context.Context, req providers.DeliverRequest) (*providers.WriteResponse, error) {
	return t.each(ctx, req.Items, "deliver", func(item providers.WriteItem) (sensitive.Value, error) {
		if item.Value.IsEmpty() {
			return sensitive.Value{}, errors.New("no value to deliver")
		}
		return item.Value, nil
	})
}

// Revert runs each item's command with Value, the old value, so that the
// system holds it again in place of the failed candidate; no item is
// Skipped. With no old value (the failed rotation was the secret's first)
// the command is not run, since running it with nothing could blank the
// system's credential: the item fails, asking for a person to undo the
// delivery.
func (t *Target) Revert(ctx context.Context, req providers.RevertRequest) (*providers.WriteResponse, error) {
	return t.each(ctx, req.Items, "revert", func(item providers.WriteItem) (sensitive.Value, error) {
		if item.Value.IsEmpty() {
			return sensitive.Value{}, errors.New("no old value to restore: the failed rotation was the secret's first, so undo what its command did by hand")
		}
		return item.Value, nil
	})
}

// Retire does nothing: a command delivers one value and has no previous
// one to remove. Every item is Skipped.
func (t *Target) Retire(ctx context.Context, req providers.RetireRequest) (*providers.WriteResponse, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	resp := &providers.WriteResponse{Results: make([]providers.WriteResult, len(req.Items))}
	for i := range resp.Results {
		resp.Results[i].Skipped = true
	}
	return resp, nil
}

// each runs the command of every item with the value pick chooses. Once ctx
// is done, the items not yet run fail with its error.
func (t *Target) each(ctx context.Context, items []providers.WriteItem, op string, pick func(providers.WriteItem) (sensitive.Value, error)) (*providers.WriteResponse, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	resp := &providers.WriteResponse{Results: make([]providers.WriteResult, len(items))}
	for i, item := range items {
		err := func() error {
			c, err := decodeCommand(item.Config)
			if err != nil {
				return err
			}
			value, err := pick(item)
			if err != nil {
				return err
			}
			return t.runner.run(ctx, c, value)
		}()
		if err != nil {
			resp.Results[i].Err = fmt.Errorf("exec: secret %q %s: %s: %w", item.Secret, item.Target, op, err)
		}
	}
	return resp, nil
}
