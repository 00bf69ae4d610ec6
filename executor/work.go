package executor

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/zclconf/go-cty/cty"

	"github.com/rotplan/rotplan/config"
	"github.com/rotplan/rotplan/executor/state"
	"github.com/rotplan/rotplan/internal/sensitive"
	"github.com/rotplan/rotplan/planner"
	"github.com/rotplan/rotplan/providers"
)

// work is one secret's change in progress.
type work struct {
	a      *Applier
	inv    *config.Inventory
	secret *config.Secret
	change *planner.Change
	ref    providers.SecretRef
	store  providers.StoreWriter

	started time.Time
	j       *state.Rotation
	// value is what targets get: a rotation's candidate, or the current
	// value for a sync or a retire. other is the value it replaces: the old
	// current of a rotation, the previous value of a sync or a retire.
	value, other sensitive.Value
	// cause is set when a rotation failed after staging: it rolls back.
	cause error
	// needed caches the values of the secrets this one needs, for decoding
	// its blocks.
	needed map[string]cty.Value

	settled bool
	outcome Outcome
}

func (a *Applier) newWork(inv *config.Inventory, s *config.Secret, c *planner.Change) (*work, error) {
	w := &work{a: a, inv: inv, secret: s, change: c}
	return w, w.open()
}

// open connects the work to its secret's store.
func (w *work) open() error {
	s := w.secret
	st, err := w.a.Registry.NewStore(s.Store.Type, settings(w.inv, s.Store, w.a.logger()))
	if err != nil {
		return fmt.Errorf("store %s: %w", s.Store.Type, err)
	}
	sw, ok := st.(providers.StoreWriter)
	if !ok {
		return fmt.Errorf("store %s cannot be written by apply", s.Store.Type)
	}
	w.store, w.ref = sw, providers.SecretRef{Name: s.Name, Config: s.Store.Config}
	return nil
}

// live reports whether the work goes on to the next phase.
func (w *work) live() bool { return !w.settled && w.cause == nil }

// rotating reports whether the change makes a new value.
func (w *work) rotating() bool {
	switch w.change.Action {
	case planner.Create, planner.Rotate, planner.Resume:
		return true
	}
	return false
}

// prepare gets a change ready for the phases that write: a rotation
// generated and staged (or found staged by an interrupted apply), a sync's
// or a retire's values read.
func (w *work) prepare(ctx context.Context) {
	w.started = w.a.now()
	w.a.emit(Event{Kind: EventSecretStarted, Secret: w.change.Address, Action: w.change.Action, Message: w.change.Reason})
	if err := w.open(); err != nil {
		w.settle(OutcomeFailed, err)
		return
	}
	if w.rotating() {
		w.prepareRotation(ctx)
		return
	}
	var err error
	if w.value, err = w.read(ctx, providers.SlotCurrent); err == nil {
		w.other, err = w.read(ctx, providers.SlotPrevious)
	}
	if err != nil {
		w.settle(OutcomeFailed, err)
		return
	}
	w.j = &state.Rotation{ID: newRotationID(w.a.now()), Secret: w.secret.Name, Action: w.change.Action.String(), Started: w.a.now()}
}

// prepareRotation generates and stages the new value, or picks up the one an
// interrupted apply staged. Every step is idempotent, so a resumed rotation
// runs again whatever the journal does not prove finished.
func (w *work) prepareRotation(ctx context.Context) {
	meta, err := w.inspect(ctx)
	if err != nil {
		w.settle(OutcomeFailed, err)
		return
	}
	j := w.a.journalOf(w.secret.Name)
	if j != nil && (meta.Pending == nil || meta.Pending.Rotation != j.ID) {
		// Nothing of the journaled rotation is staged: an apply was killed
		// after promoting or rolling it back, or before staging. It is
		// over, and the plan asks for a new one.
		w.a.forget(w.secret.Name)
		j = nil
	}
	if j == nil && meta.Pending != nil && meta.Pending.Rotation != "" {
		// The journal is gone but the store shows our staged value.
		j = &state.Rotation{ID: meta.Pending.Rotation, Secret: w.secret.Name, Action: w.change.Action.String(), Step: state.StepStage, Done: true, Started: meta.Pending.CreatedAt}
	}
	if j == nil {
		j = &state.Rotation{ID: newRotationID(w.a.now()), Secret: w.secret.Name, Action: w.change.Action.String(), Started: w.a.now()}
	}
	w.j = j

	if w.other, err = w.read(ctx, providers.SlotCurrent); err != nil {
		w.settle(OutcomeFailed, err)
		return
	}
	if j.RollingBack {
		w.value, _ = w.read(ctx, providers.SlotPending)
		w.cause = errors.New(j.Error)
		return
	}

	defer func() {
		if w.live() {
			w.a.setCandidate(w.secret.Name, w.value)
		}
	}()
	switch {
	case meta.Pending != nil && meta.Pending.Rotation == j.ID:
		if w.value, err = w.read(ctx, providers.SlotPending); err != nil {
			w.settle(OutcomeFailed, err)
		}
		return
	case meta.Pending != nil:
		w.settle(OutcomeFailed, fmt.Errorf("the store holds a pending value of another rotation (%s); finish or discard it first", orUnknown(meta.Pending.Rotation)))
		return
	}
	if err := w.step(state.StepGenerate, func() (err error) {
		w.value, err = w.generate(ctx)
		return err
	}); err != nil {
		w.a.forget(w.secret.Name)
		w.settle(OutcomeFailed, err)
		return
	}
	if err := w.step(state.StepStage, func() error {
		_, err := w.store.Stage(ctx, providers.StageRequest{Secret: w.ref, Value: w.value, Rotation: j.ID, Now: w.a.now()})
		return err
	}); err != nil {
		w.settle(OutcomeFailed, fmt.Errorf("stage in store %s: %w", w.secret.Store.Type, err))
	}
}

// failed records a failure in a phase: a staged rotation rolls back, any
// other change has failed.
func (w *work) failed(err error) {
	if w.rotating() {
		w.cause = err
		return
	}
	w.settle(OutcomeFailed, err)
}

// settle records how the change ended and reports it.
func (w *work) settle(o Outcome, err error) {
	w.settled, w.outcome = true, o
	e := Event{Secret: w.change.Address, Action: w.change.Action, Elapsed: w.a.now().Sub(w.started)}
	switch {
	case errors.Is(err, ErrNoOperatorValue):
		w.outcome = OutcomeSkipped
		e.Kind, e.Message = EventSecretSkipped, err.Error()
	case o == OutcomeRolledBack:
		e.Kind, e.Message = EventRolledBack, err.Error()
	case err != nil:
		w.outcome = OutcomeFailed
		e.Kind, e.Message = EventSecretFailed, err.Error()
	default:
		e.Kind = EventSecretDone
	}
	w.a.emit(e)
}

// revokeChecklist hands a person the revocation only they can do, and
// audits whether they confirmed it.
func (w *work) revokeChecklist(ctx context.Context) {
	how := w.secret.Generate.StringAttr("revoke_instructions")
	if how == "" {
		return
	}
	w.a.emit(Event{Kind: EventOperator, Secret: w.secret.Address(), Action: w.change.Action, Message: "revoke the previous value: " + how})
	outcome := "not confirmed: nobody was asked; revoke it by hand"
	if w.a.ConfirmOperator != nil && w.a.ConfirmOperator(ctx, w.secret, how) {
		outcome = "confirmed by the operator"
	}
	w.a.audit(w, w.j, "revoke", outcome, how)
}

// step runs one step of one secret, journaled before and after.
func (w *work) step(step state.Step, fn func() error) error {
	return w.a.batchStep([]*work{w}, step, func([]*work) map[*work]error {
		if err := fn(); err != nil {
			return map[*work]error{w: err}
		}
		return nil
	})[w]
}

// begin journals a step as begun.
func (w *work) begin(step state.Step) error {
	a := w.a
	now := a.now()
	if err := a.journal(w.j, func() { w.j.Step, w.j.Done, w.j.Updated = step, false, now }); err != nil {
		return err
	}
	a.audit(w, w.j, step, "started", "")
	a.emit(Event{Kind: EventStepStarted, Secret: w.secret.Address(), Action: w.change.Action, Step: step})
	a.hook(w.secret.Name, step, false)
	return nil
}

// end journals a step as done.
func (w *work) end(step state.Step, elapsed time.Duration) error {
	a := w.a
	now := a.now()
	if err := a.journal(w.j, func() { w.j.Done, w.j.Updated = true, now }); err != nil {
		return err
	}
	a.audit(w, w.j, step, "done", "")
	a.emit(Event{Kind: EventStepDone, Secret: w.secret.Address(), Action: w.change.Action, Step: step, Elapsed: elapsed})
	a.hook(w.secret.Name, step, true)
	return nil
}

// finish clears a rotation from the journal and records how it ended.
func (w *work) finish(outcome string) {
	w.a.forget(w.secret.Name)
	w.a.audit(w, w.j, "", outcome, "")
}

func (w *work) inspect(ctx context.Context) (*providers.StoredSecret, error) {
	resp, err := w.store.Inspect(ctx, providers.InspectRequest{Secrets: []providers.SecretRef{w.ref}})
	if err != nil {
		return nil, fmt.Errorf("inspect store %s: %w", w.secret.Store.Type, err)
	}
	meta := resp.Secrets[w.secret.Name]
	if meta == nil {
		return &providers.StoredSecret{}, nil
	}
	if meta.Err != nil {
		return nil, meta.Err
	}
	return meta, nil
}

// read returns a slot's value, empty when the slot is.
func (w *work) read(ctx context.Context, slot providers.Slot) (sensitive.Value, error) {
	return readValue(ctx, w.store, w.ref, slot)
}

func readValue(ctx context.Context, store providers.Store, ref providers.SecretRef, slot providers.Slot) (sensitive.Value, error) {
	resp, err := store.Read(ctx, providers.ReadRequest{Secrets: []providers.SecretRef{ref}, Slot: slot})
	if err != nil {
		return sensitive.Value{}, fmt.Errorf("read %s value: %w", slot, err)
	}
	if err := resp.Errors[ref.Name]; err != nil {
		return sensitive.Value{}, fmt.Errorf("read %s value: %w", slot, err)
	}
	return resp.Values[ref.Name], nil
}

// generate makes the next value: from the operator for manual secrets,
// otherwise from the generator, with the values of the secrets the block
// references.
func (w *work) generate(ctx context.Context) (sensitive.Value, error) {
	b := w.secret.Generate
	if b.Schema != nil && b.Schema.Manual {
		if w.a.OperatorValue == nil {
			return sensitive.Value{}, ErrNoOperatorValue
		}
		return w.a.OperatorValue(ctx, w.secret)
	}
	cfg, err := w.decode(ctx, b, sensitive.Value{})
	if err != nil {
		return sensitive.Value{}, err
	}
	gen, err := w.a.Registry.NewGenerator(b.Type, settings(w.inv, b, w.a.logger()))
	if err != nil {
		return sensitive.Value{}, err
	}
	resp, err := gen.Generate(ctx, providers.GenerateRequest{Secret: w.secret.Name, Config: cfg})
	if err != nil {
		return sensitive.Value{}, fmt.Errorf("generate %s: %w", b.Type, err)
	}
	return resp.Value, nil
}

// decode decodes a block with the values of the secrets it references, and
// self as this secret's own value (for checks). A block that references no
// secret was decoded whole when the inventory was loaded.
func (w *work) decode(ctx context.Context, b *config.Block, self sensitive.Value) (cty.Value, error) {
	if b.Config.IsWhollyKnown() {
		return b.Config, nil
	}
	needed, err := w.neededValues(ctx)
	if err != nil {
		return cty.NilVal, err
	}
	values := make(map[string]cty.Value, len(needed)+1)
	for name, v := range needed {
		values[name] = v
	}
	if !self.IsEmpty() {
		values[w.secret.Name] = cty.StringVal(self.Reveal())
	}
	cfg, diags := b.Decode(w.inv.EvalContext(values))
	if diags.HasErrors() {
		// Diagnostics can quote expressions but never evaluated values.
		return cty.NilVal, fmt.Errorf("%s: %s", b.Address(), diags.Errs()[0])
	}
	return cfg, nil
}

// neededValues reads, once per work, the values of the secrets this one
// needs: a candidate staged earlier in this apply, else the store's current
// value.
func (w *work) neededValues(ctx context.Context) (map[string]cty.Value, error) {
	if w.needed != nil {
		return w.needed, nil
	}
	values := map[string]cty.Value{}
	for _, name := range w.secret.Needs() {
		if v, ok := w.a.candidate(name); ok {
			values[name] = cty.StringVal(v.Reveal())
			continue
		}
		other := w.inv.Secret(name)
		st, err := w.a.Registry.NewStore(other.Store.Type, settings(w.inv, other.Store, w.a.logger()))
		if err != nil {
			return nil, err
		}
		v, err := readValue(ctx, st, providers.SecretRef{Name: name, Config: other.Store.Config}, providers.SlotCurrent)
		if err != nil {
			return nil, fmt.Errorf("secret.%s: %w", name, err)
		}
		values[name] = cty.StringVal(v.Reveal())
	}
	w.needed = values
	return values, nil
}

// writeOp is what a batch of writes does at targets.
type writeOp int

const (
	deliverOp writeOp = iota // hold value, keep other (the old) where dual
	revertOp                 // hold other (the old) again, drop value
	retireOp                 // drop other (the previous)
)

// hasTargets reports whether the secret has targets that authenticate (or,
// with false, that hold copies).
func (w *work) hasTargets(authenticates bool) bool {
	for _, t := range w.secret.Targets {
		if t.Schema != nil && t.Schema.Authenticates == authenticates {
			return true
		}
	}
	return false
}

// verify runs every check against value.
func (w *work) verify(ctx context.Context, value sensitive.Value) error {
	for _, b := range w.secret.Verify {
		cfg, err := w.decode(ctx, b, value)
		if err != nil {
			return err
		}
		v, err := w.a.Registry.NewVerifier(b.Type, settings(w.inv, b, w.a.logger()))
		if err != nil {
			return fmt.Errorf("%s: %w", b.Address(), err)
		}
		// Each check keeps to its own deadline (an http check's timeout, a
		// few attempts for a login).
		_, err = v.Verify(ctx, providers.VerifyRequest{Secret: w.secret.Name, Config: cfg, Value: value})
		if err != nil {
			w.a.emit(Event{Kind: EventCheckFailed, Secret: w.secret.Address(), Action: w.change.Action, Step: state.StepVerify, Message: b.Address() + ": " + err.Error()})
			return fmt.Errorf("check %s failed: %w", b.Address(), err)
		}
	}
	return nil
}
