package executor

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rotplan/rotplan/config"
	"github.com/rotplan/rotplan/executor/state"
	"github.com/rotplan/rotplan/internal/sensitive"
	"github.com/rotplan/rotplan/planner"
	"github.com/rotplan/rotplan/providers"
)

// This file holds what an operator does to one secret outside a plan,
// under the state lock the Applier holds: adopt a value made before
// rotplan (Import), and abandon a rotation that cannot finish (Abort).

// ErrImportNeedsValue is Import's answer for a store that holds no value
// yet when the request brings none.
var ErrImportNeedsValue = errors.New("the store holds no value for it yet: give the value it has today")

// ImportRequest adopts a secret's existing value as its current one.
type ImportRequest struct {
	Secret string
	// Value is the value in use today, for a store that holds none yet;
	// empty when the store holds it already.
	Value sensitive.Value
	// ChangedAt is when the value was made, where the operator knows it;
	// zero means now. Ignored when the store holds the value: the store's
	// own date counts then.
	ChangedAt time.Time
}

// ImportResult says what Import did.
type ImportResult struct {
	// Stored is true when the value was written to the store as current,
	// false when the store held it already and nothing was written.
	Stored bool
	// RotatedAt is when the value counts as made: plan ages it from here.
	// Zero when the store holds it and keeps no date.
	RotatedAt time.Time
}

// Import adopts a secret's existing value as current without rotating it.
// A store that holds it already is left as it is: plan ages the value by
// the store's own date. Otherwise the value is staged and promoted at once,
// with ChangedAt as its rotated-at time, journaled like any rotation so a
// crash between the two is resumed by apply. Targets are not touched: they
// hold the value already, or plan reports them drifted.
func (a *Applier) Import(ctx context.Context, inv *config.Inventory, req ImportRequest) (*ImportResult, error) {
	s := inv.Secret(req.Secret)
	if s == nil {
		return nil, fmt.Errorf("the inventory declares no secret.%s", req.Secret)
	}
	a.remember(req.Value)
	w := a.newWork(inv, s, &planner.Change{Secret: s.Name, Address: s.Address(), Action: planner.Create}, kindRotation)
	if err := w.open(); err != nil {
		return nil, fmt.Errorf("import %s: %w", s.Address(), err)
	}
	meta, err := w.inspect(ctx)
	if err != nil {
		return nil, fmt.Errorf("import %s: %w", s.Address(), err)
	}
	if j := a.journalOf(s.Name); j != nil || meta.Pending != nil {
		return nil, fmt.Errorf("import %s: a rotation of it is in flight; finish it with rotplan apply, or abandon it with rotplan state abort %s", s.Address(), s.Address())
	}
	record := func(step state.Step, outcome, detail string) {
		if a.Audit == nil {
			return
		}
		err := a.Audit.Append(state.AuditRecord{Time: time.Now().UTC(), Operator: a.Who, Secret: s.Address(), Rotation: w.id, Action: "import", Step: step, Outcome: outcome, Detail: a.redact(detail)})
		if err != nil {
			a.logger().Error("audit log", "error", err)
		}
	}

	if meta.Current != nil {
		if !req.Value.IsEmpty() {
			return nil, fmt.Errorf("import %s: the store holds a value for it already; import adopts that one as it is, so give no value", s.Address())
		}
		at := meta.RotatedAt
		if at.IsZero() {
			at = meta.Current.CreatedAt
		}
		detail := "the store holds it already; nothing written"
		if !at.IsZero() {
			detail += "; last changed " + at.UTC().Format(time.RFC3339)
		}
		record("", "adopted", detail)
		return &ImportResult{RotatedAt: at}, nil
	}
	if req.Value.IsEmpty() {
		return nil, fmt.Errorf("import %s: %w", s.Address(), ErrImportNeedsValue)
	}
	at := req.ChangedAt
	if at.IsZero() {
		at = a.now()
	}
	at = at.UTC()

	w.value = req.Value
	w.j = &state.Rotation{ID: w.id, Secret: s.Name, Action: "import", Started: time.Now().UTC()}
	if err := a.journal(w.j, StateGenerated, nil, ""); err != nil {
		return nil, fmt.Errorf("import %s: %w", s.Address(), err)
	}
	fail := func(step state.Step, err error) (*ImportResult, error) {
		record(step, "failed", err.Error())
		return nil, fmt.Errorf("import %s: %s", s.Address(), a.redact(err.Error()))
	}
	if _, err := w.store.Stage(ctx, providers.StageRequest{Secret: w.ref, Value: req.Value, Rotation: w.id, Now: at}); err != nil {
		a.forget(w.j)
		return fail(state.StepStage, fmt.Errorf("stage in store %s: %w", s.Store.Type, err))
	}
	record(state.StepStage, "done", "")
	if err := a.journal(w.j, StateStaged, nil, ""); err != nil {
		return fail(state.StepStage, err)
	}
	if _, err := w.store.Promote(ctx, providers.PromoteRequest{Secret: w.ref, Rotation: w.id, Now: at}); err != nil {
		return fail(state.StepPromote, fmt.Errorf("promote in store %s: %w; run rotplan apply to finish it", s.Store.Type, err))
	}
	a.forget(w.j)
	record(state.StepPromote, "done", "")
	record("", "imported", "adopted as current, made "+at.Format(time.RFC3339))
	return &ImportResult{Stored: true, RotatedAt: at}, nil
}

// AbortResult says what Abort abandoned.
type AbortResult struct {
	// Rotation and State are the journal entry dropped; empty when there
	// was none.
	Rotation, State string
	// Discarded is the id of the rotation whose pending value was dropped
	// from the store, "" when none was.
	Discarded string
}

// Abort abandons a secret's rotation in flight, deliberately: one whose
// rollback cannot finish, or that nobody will finish. It drops the
// pending value rotplan staged in the store (a pending value rotplan did
// not stage is left alone and refused) and the journal entry, and audits
// it with reason. Targets keep what they hold: plan reports any that hold
// the abandoned value as drifted, and apply syncs them back.
func (a *Applier) Abort(ctx context.Context, inv *config.Inventory, name, reason string) (*AbortResult, error) {
	j := a.journalOf(name)
	s := inv.Secret(name)
	res := &AbortResult{}
	if j != nil {
		res.Rotation, res.State = j.ID, j.State
	}
	var w *work
	if s != nil {
		w = a.newWork(inv, s, &planner.Change{Secret: s.Name, Address: s.Address()}, kindRotation)
		if err := w.open(); err != nil {
			return nil, fmt.Errorf("abort secret.%s: %w", name, err)
		}
		meta, err := w.inspect(ctx)
		if err != nil {
			return nil, fmt.Errorf("abort secret.%s: %w; nothing was changed", name, err)
		}
		if p := meta.Pending; p != nil {
			if p.Rotation == "" {
				return nil, fmt.Errorf("abort secret.%s: the store's pending value was not staged by rotplan; nothing was changed: leave it to whoever staged it", name)
			}
			if _, err := w.store.Discard(ctx, providers.DiscardRequest{Secret: w.ref, Rotation: p.Rotation}); err != nil {
				return nil, fmt.Errorf("abort secret.%s: discard the pending value in store %s: %w; nothing else was changed", name, s.Store.Type, err)
			}
			res.Discarded = p.Rotation
		}
	}
	if j == nil && res.Discarded == "" {
		return nil, fmt.Errorf("secret.%s has no rotation in flight: nothing in the journal, nothing pending in its store", name)
	}
	if j != nil {
		a.forget(j)
		if cur := a.journalOf(name); cur != nil {
			return nil, fmt.Errorf("abort secret.%s: the journal entry could not be removed", name)
		}
	}
	if a.Audit != nil {
		detail := "abandoned by the operator"
		if j != nil {
			detail += fmt.Sprintf(" at state %q", j.State)
		}
		if res.Discarded != "" {
			detail += "; the pending value was discarded from the store"
		}
		if reason != "" {
			detail += ": " + reason
		}
		id := res.Rotation
		if id == "" {
			id = res.Discarded
		}
		if err := a.Audit.Append(state.AuditRecord{Time: time.Now().UTC(), Operator: a.Who, Secret: "secret." + name, Rotation: id, Action: "abort", Outcome: "aborted", Detail: a.redact(detail)}); err != nil {
			a.logger().Error("audit log", "error", err)
		}
	}
	return res, nil
}
