package executor

import (
	"context"
	"errors"

	"github.com/rotplan/rotplan/internal/sensitive"
	"github.com/rotplan/rotplan/planner"
)

// Operator is the person running apply, or what stands in for them (the
// -value-file and -revoked flags of a job). Apply asks every question
// before it changes anything, one at a time, so no prompt is ever shared
// with another or printed over by progress. A question interrupted (Ctrl-C)
// returns ErrInterrupted, and apply stops with nothing changed.
type Operator interface {
	// Approve asks whether to carry out the plan just shown.
	Approve(ctx context.Context) (bool, error)
	// Value asks for the new value of a secret only a person can make.
	// ErrNoOperatorValue means none can be had now: the secret waits.
	Value(ctx context.Context, q ValueQuestion) (sensitive.Value, error)
	// ConfirmRevoked asks whether the person has revoked a previous value
	// that only they can revoke. false means not yet: its retire waits.
	ConfirmRevoked(ctx context.Context, q RevokeQuestion) (bool, error)
}

// ValueQuestion asks for a manual secret's new value.
type ValueQuestion struct {
	Secret       string // the secret's address
	Name         string
	Instructions string // how to make it, from the generate block
}

// RevokeQuestion asks for the confirmation of a revocation.
type RevokeQuestion struct {
	Secret       string // the secret's address
	Name         string
	Instructions string // how to revoke it, from the generate block
}

var (
	// ErrNoOperatorValue means a manual secret's new value was not supplied.
	ErrNoOperatorValue = errors.New("a person must supply the new value: pass -value-file secret.NAME=PATH, or run apply on a terminal to be asked")
	// ErrInterrupted means the operator interrupted a question.
	ErrInterrupted = errors.New("interrupted")
)

// ask puts every question the plan raises to the operator, in plan order,
// before anything changes: revocations to confirm before their retire, and
// the values of manual secrets to rotate. It returns ErrInterrupted when
// the operator interrupted a question.
func (a *Applier) ask(ctx context.Context, works []*work) error {
	for _, w := range works {
		switch {
		case w.kind == kindRetire && w.revokeInstructions() != "":
			how := w.revokeInstructions()
			a.emit(Event{Kind: EventOperator, Secret: w.secret.Address(), Action: w.action, Message: "revoke the previous value: " + how})
			ok := false
			if a.Operator != nil {
				var err error
				ok, err = a.Operator.ConfirmRevoked(ctx, RevokeQuestion{Secret: w.secret.Address(), Name: w.secret.Name, Instructions: how})
				if isInterrupt(ctx, err) {
					return ErrInterrupted
				}
				ok = ok && err == nil
			}
			w.confirmed = ok
			outcome := "not confirmed: the retire waits until the operator confirms the revocation"
			if ok {
				outcome = "confirmed by the operator"
			}
			a.audit(w, "revoke", outcome, how)

		case w.kind == kindRotation && w.manual() && w.change.Action != planner.Resume:
			if w.first != nil && !w.first.confirmed && w.first.revokeInstructions() != "" {
				continue // it waits for the revocation anyway
			}
			if a.Operator == nil {
				w.operatorErr = ErrNoOperatorValue
				continue
			}
			v, err := a.Operator.Value(ctx, ValueQuestion{Secret: w.secret.Address(), Name: w.secret.Name, Instructions: w.secret.Generate.StringAttr("instructions")})
			switch {
			case isInterrupt(ctx, err):
				return ErrInterrupted
			case err != nil:
				w.operatorErr = err
			case v.IsEmpty():
				w.operatorErr = ErrNoOperatorValue
			default:
				a.remember(v)
				w.operatorValue = v
			}
		}
	}
	return nil
}

// isInterrupt reports whether a question ended because the operator
// interrupted it.
func isInterrupt(ctx context.Context, err error) bool {
	return errors.Is(err, ErrInterrupted) || ctx.Err() != nil
}

// revokeInstructions says how a person revokes this secret's previous
// value, "" when rotplan retires it alone.
func (w *work) revokeInstructions() string {
	return w.secret.Generate.StringAttr("revoke_instructions")
}

// manual reports whether only a person can make the secret's value.
func (w *work) manual() bool {
	b := w.secret.Generate
	return b != nil && b.Schema != nil && b.Schema.Manual
}
