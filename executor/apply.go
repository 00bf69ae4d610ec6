package executor

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/zclconf/go-cty/cty"

	"github.com/rotplan/rotplan/config"
	"github.com/rotplan/rotplan/executor/state"
	"github.com/rotplan/rotplan/internal/sensitive"
	"github.com/rotplan/rotplan/planner"
	"github.com/rotplan/rotplan/providers"
)

// DefaultParallelism is how many secrets apply works on at once.
const DefaultParallelism = 4

// ErrNoOperatorValue means a manual secret's new value was not supplied.
var ErrNoOperatorValue = errors.New("a person must supply the new value: pass -value-file secret.NAME=PATH, or run apply on a terminal to be asked")

// Applier carries out a plan: the rotation protocol for each secret, in
// dependency order, journaled in state before and after every step.
type Applier struct {
	Registry    *providers.Registry
	Logger      hclog.Logger
	Parallelism int
	// Now reads the clock; nil means time.Now.
	Now func() time.Time
	// Events receives progress; calls are serialised.
	Events func(Event)
	// Operator names who runs the apply, for the audit log.
	Operator string

	// Lock is the held state lock; State is the state read under it.
	Lock  *state.Lock
	State *state.State
	Audit *state.Audit

	// OperatorValue supplies a manual secret's new value, or returns
	// ErrNoOperatorValue.
	OperatorValue func(ctx context.Context, s *config.Secret) (sensitive.Value, error)
	// ConfirmOperator asks the person running apply to confirm a step only
	// they can do (revoking a key in a vendor's console) and reports
	// whether they did; nil means nobody can be asked.
	ConfirmOperator func(ctx context.Context, s *config.Secret, instructions string) bool
	// AfterStep, when set, is called after each step is journaled as begun
	// and as done; tests use it to kill the process at every point.
	AfterStep func(secret string, step state.Step, done bool)

	mu sync.Mutex // guards State, Lock writes and Events
}

// Apply runs every change of the plan that has an action. Independent
// secrets run in parallel; a secret whose upstream failed is skipped.
func (a *Applier) Apply(ctx context.Context, inv *config.Inventory, plan *planner.Plan) Result {
	var changes []*planner.Change
	planned := map[string]bool{}
	for _, c := range plan.Changes {
		if c.Action != planner.NoOp && c.Status != planner.StatusError {
			changes = append(changes, c)
			planned[c.Secret] = true
		}
	}
	a.sweep(ctx, inv, planned)
	done := make(map[string]chan struct{}, len(changes))
	for _, c := range changes {
		done[c.Secret] = make(chan struct{})
	}
	outcomes := map[string]Outcome{}
	var result Result
	var resultMu sync.Mutex

	sem := make(chan struct{}, a.parallelism())
	var wg sync.WaitGroup
	for _, c := range changes {
		s := inv.Secret(c.Secret)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer close(done[c.Secret])
			outcome := OutcomeDone
			var failed string
			for _, need := range s.Needs() {
				if !planned[need] {
					continue
				}
				<-done[need]
				resultMu.Lock()
				o := outcomes[need]
				resultMu.Unlock()
				if o != OutcomeDone && failed == "" {
					failed = need
				}
			}
			if failed != "" {
				outcome = OutcomeSkipped
				a.emit(Event{Kind: EventSecretSkipped, Secret: c.Address, Action: c.Action, Message: "upstream failed: secret." + failed})
			} else {
				sem <- struct{}{}
				outcome = a.run(ctx, inv, s, c)
				<-sem
			}
			resultMu.Lock()
			outcomes[c.Secret] = outcome
			result.add(c.Action, outcome)
			resultMu.Unlock()
		}()
	}
	wg.Wait()
	return result
}

// sweep clears journal entries the plan has nothing left to do for: a
// rotation killed after its promote, or before it staged anything. An entry
// whose value is still staged stays, for apply to resume.
func (a *Applier) sweep(ctx context.Context, inv *config.Inventory, planned map[string]bool) {
	a.mu.Lock()
	var stale []*state.Rotation
	for name, j := range a.State.Rotations {
		if !planned[name] {
			stale = append(stale, j)
		}
	}
	a.mu.Unlock()
	for _, j := range stale {
		s := inv.Secret(j.Secret)
		if s == nil {
			a.forget(j.Secret) // the secret left the inventory
			continue
		}
		w, err := a.newWork(inv, s, &planner.Change{Secret: s.Name, Address: s.Address()})
		if err != nil {
			continue
		}
		meta, err := w.inspect(ctx)
		if err != nil || (meta.Pending != nil && meta.Pending.Rotation == j.ID) {
			continue
		}
		a.forget(j.Secret)
	}
}

// run carries out one secret's change and reports how it ended.
func (a *Applier) run(ctx context.Context, inv *config.Inventory, s *config.Secret, c *planner.Change) Outcome {
	started := a.now()
	a.emit(Event{Kind: EventSecretStarted, Secret: c.Address, Action: c.Action, Message: c.Reason})
	w, err := a.newWork(inv, s, c)
	var outcome Outcome
	if err == nil {
		switch c.Action {
		case planner.Create, planner.Rotate, planner.Resume:
			outcome, err = w.rotate(ctx)
		case planner.Sync:
			outcome, err = w.sync(ctx)
		case planner.Retire:
			outcome, err = w.retire(ctx)
		default:
			err = fmt.Errorf("unknown action %s", c.Action)
		}
	}
	elapsed := a.now().Sub(started)
	switch {
	case errors.Is(err, ErrNoOperatorValue):
		a.emit(Event{Kind: EventSecretSkipped, Secret: c.Address, Action: c.Action, Elapsed: elapsed, Message: err.Error()})
		return OutcomeSkipped
	case err != nil && outcome == OutcomeRolledBack:
		a.emit(Event{Kind: EventRolledBack, Secret: c.Address, Action: c.Action, Elapsed: elapsed, Message: err.Error()})
		return outcome
	case err != nil:
		a.emit(Event{Kind: EventSecretFailed, Secret: c.Address, Action: c.Action, Elapsed: elapsed, Message: err.Error()})
		return OutcomeFailed
	}
	a.emit(Event{Kind: EventSecretDone, Secret: c.Address, Action: c.Action, Elapsed: elapsed})
	return OutcomeDone
}

// work is one secret's change in progress.
type work struct {
	a      *Applier
	inv    *config.Inventory
	secret *config.Secret
	change *planner.Change
	ref    providers.SecretRef
	store  providers.StoreWriter
}

func (a *Applier) newWork(inv *config.Inventory, s *config.Secret, c *planner.Change) (*work, error) {
	st, err := a.Registry.NewStore(s.Store.Type, settings(inv, s.Store, a.logger()))
	if err != nil {
		return nil, fmt.Errorf("store %s: %w", s.Store.Type, err)
	}
	sw, ok := st.(providers.StoreWriter)
	if !ok {
		return nil, fmt.Errorf("store %s cannot be written by apply", s.Store.Type)
	}
	return &work{a: a, inv: inv, secret: s, change: c, ref: providers.SecretRef{Name: s.Name, Config: s.Store.Config}, store: sw}, nil
}

// rotate runs generate, stage, set, deliver, verify and promote, or resumes
// them from the journal. Every step is idempotent, so a resumed rotation
// runs again whatever the journal does not prove finished.
func (w *work) rotate(ctx context.Context) (Outcome, error) {
	meta, err := w.inspect(ctx)
	if err != nil {
		return OutcomeFailed, err
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

	old, err := w.read(ctx, providers.SlotCurrent)
	if err != nil {
		return OutcomeFailed, err
	}

	if j.RollingBack {
		value, _ := w.read(ctx, providers.SlotPending)
		return w.rollback(ctx, j, value, old, errors.New(j.Error))
	}

	// generate and stage, unless a value of this rotation is staged.
	var value sensitive.Value
	switch {
	case meta.Pending != nil && meta.Pending.Rotation == j.ID:
		if value, err = w.read(ctx, providers.SlotPending); err != nil {
			return OutcomeFailed, err
		}
	case meta.Pending != nil:
		return OutcomeFailed, fmt.Errorf("the store holds a pending value of another rotation (%s); finish or discard it first", orUnknown(meta.Pending.Rotation))
	default:
		if err := w.step(j, state.StepGenerate, func() (err error) {
			value, err = w.generate(ctx)
			return err
		}); err != nil {
			w.a.forget(w.secret.Name)
			return OutcomeFailed, err
		}
		if err := w.step(j, state.StepStage, func() error {
			_, err := w.store.Stage(ctx, providers.StageRequest{Secret: w.ref, Value: value, Rotation: j.ID, Now: w.a.now()})
			return err
		}); err != nil {
			return OutcomeFailed, fmt.Errorf("stage in store %s: %w", w.secret.Store.Type, err)
		}
	}

	// From here the new value is safe in the store: any failure rolls back.
	for _, phase := range []struct {
		step          state.Step
		authenticates bool
	}{{state.StepSet, true}, {state.StepDeliver, false}} {
		if !w.hasTargets(phase.authenticates) {
			continue
		}
		if err := w.step(j, phase.step, func() error {
			return w.write(ctx, phase.authenticates, deliverOp, value, old)
		}); err != nil {
			return w.rollback(ctx, j, value, old, err)
		}
	}
	if err := w.step(j, state.StepVerify, func() error { return w.verify(ctx, value) }); err != nil {
		return w.rollback(ctx, j, value, old, err)
	}
	if err := w.step(j, state.StepPromote, func() error {
		now := w.a.now()
		_, err := w.store.Promote(ctx, providers.PromoteRequest{Secret: w.ref, Rotation: j.ID, Now: now, RetireAfter: now.Add(w.secret.Grace)})
		return err
	}); err != nil {
		return OutcomeFailed, fmt.Errorf("promote in store %s: %w", w.secret.Store.Type, err)
	}
	w.finish(j, "done")
	return OutcomeDone, nil
}

// rollback returns every target to the old value and discards the
// candidate; the store's current value was never touched.
func (w *work) rollback(ctx context.Context, j *state.Rotation, value, old sensitive.Value, cause error) (Outcome, error) {
	j.RollingBack = true
	j.Error = cause.Error()
	err := w.step(j, state.StepRollback, func() error {
		if !old.IsEmpty() {
			// Copies first, then the systems that authenticate, the
			// reverse of delivery.
			for _, authenticates := range []bool{false, true} {
				if err := w.write(ctx, authenticates, revertOp, old, value); err != nil {
					return err
				}
			}
		}
		_, err := w.store.Discard(ctx, providers.DiscardRequest{Secret: w.ref, Rotation: j.ID})
		return err
	})
	if err != nil {
		return OutcomeFailed, fmt.Errorf("%w; rollback failed too, run apply again to finish it: %v", cause, err)
	}
	w.finish(j, "rolled back")
	return OutcomeRolledBack, fmt.Errorf("rolled back: %w", cause)
}

// sync delivers the store's current value to targets that drifted.
func (w *work) sync(ctx context.Context) (Outcome, error) {
	value, err := w.read(ctx, providers.SlotCurrent)
	if err != nil {
		return OutcomeFailed, err
	}
	previous, err := w.read(ctx, providers.SlotPrevious)
	if err != nil {
		return OutcomeFailed, err
	}
	j := &state.Rotation{ID: newRotationID(w.a.now()), Secret: w.secret.Name, Action: w.change.Action.String(), Started: w.a.now()}
	for _, authenticates := range []bool{true, false} {
		step := state.StepDeliver
		if authenticates {
			step = state.StepSet
		}
		if !w.hasTargets(authenticates) {
			continue
		}
		if err := w.step(j, step, func() error { return w.write(ctx, authenticates, deliverOp, value, previous) }); err != nil {
			return OutcomeFailed, err
		}
	}
	if len(w.secret.Verify) > 0 {
		if err := w.step(j, state.StepVerify, func() error { return w.verify(ctx, value) }); err != nil {
			return OutcomeFailed, err
		}
	}
	w.finish(j, "done")
	return OutcomeDone, nil
}

// retire removes the previous value from targets and the store, and hands
// a person the revocation only they can do.
func (w *work) retire(ctx context.Context) (Outcome, error) {
	value, err := w.read(ctx, providers.SlotCurrent)
	if err != nil {
		return OutcomeFailed, err
	}
	previous, err := w.read(ctx, providers.SlotPrevious)
	if err != nil {
		return OutcomeFailed, err
	}
	j := &state.Rotation{ID: newRotationID(w.a.now()), Secret: w.secret.Name, Action: w.change.Action.String(), Started: w.a.now()}
	if err := w.step(j, state.StepRetire, func() error {
		if !previous.IsEmpty() {
			for _, authenticates := range []bool{false, true} {
				if err := w.write(ctx, authenticates, retireOp, value, previous); err != nil {
					return err
				}
			}
		}
		_, err := w.store.RetirePrevious(ctx, providers.RetirePreviousRequest{Secret: w.ref})
		return err
	}); err != nil {
		return OutcomeFailed, err
	}
	if how := stringAttr(w.secret.Generate.Config, "revoke_instructions"); how != "" {
		w.a.emit(Event{Kind: EventOperator, Secret: w.secret.Address(), Action: w.change.Action, Message: "revoke the previous value: " + how})
		outcome := "not confirmed: nobody was asked; revoke it by hand"
		if w.a.ConfirmOperator != nil && w.a.ConfirmOperator(ctx, w.secret, how) {
			outcome = "confirmed by the operator"
		}
		w.a.audit(w, j, "revoke", outcome, how)
	}
	w.finish(j, "done")
	return OutcomeDone, nil
}

// step journals a step as begun, runs it, and journals it as done.
func (w *work) step(j *state.Rotation, step state.Step, fn func() error) error {
	a := w.a
	j.Step, j.Done, j.Updated = step, false, a.now()
	if err := a.journal(j); err != nil {
		return err
	}
	a.audit(w, j, step, "started", "")
	a.emit(Event{Kind: EventStepStarted, Secret: w.secret.Address(), Action: w.change.Action, Step: step})
	a.hook(w.secret.Name, step, false)
	started := a.now()
	if err := fn(); err != nil {
		a.audit(w, j, step, "failed", err.Error())
		return err
	}
	j.Done, j.Updated = true, a.now()
	if err := a.journal(j); err != nil {
		return err
	}
	a.audit(w, j, step, "done", "")
	a.emit(Event{Kind: EventStepDone, Secret: w.secret.Address(), Action: w.change.Action, Step: step, Elapsed: a.now().Sub(started)})
	a.hook(w.secret.Name, step, true)
	return nil
}

// finish clears a rotation from the journal and records how it ended.
func (w *work) finish(j *state.Rotation, outcome string) {
	w.a.forget(w.secret.Name)
	w.a.audit(w, j, "", outcome, "")
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

// decode decodes a block with the current values of the secrets it
// references, and self as this secret's own value (for checks).
func (w *work) decode(ctx context.Context, b *config.Block, self sensitive.Value) (cty.Value, error) {
	if len(w.secret.Derives) == 0 && len(w.secret.DependsOn) == 0 && self.IsEmpty() {
		return b.Config, nil
	}
	values := map[string]cty.Value{}
	for _, name := range w.secret.Needs() {
		other := w.inv.Secret(name)
		st, err := w.a.Registry.NewStore(other.Store.Type, settings(w.inv, other.Store, w.a.logger()))
		if err != nil {
			return cty.NilVal, err
		}
		v, err := readValue(ctx, st, providers.SecretRef{Name: name, Config: other.Store.Config}, providers.SlotCurrent)
		if err != nil {
			return cty.NilVal, fmt.Errorf("secret.%s: %w", name, err)
		}
		values[name] = cty.StringVal(v.Reveal())
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

type writeOp int

const (
	deliverOp writeOp = iota
	revertOp
	retireOp
)

// write sends value (and other: the previous value, or the candidate to drop)
// to the secret's targets that authenticate, or to those that hold copies,
// one call per target type.
func (w *work) write(ctx context.Context, authenticates bool, op writeOp, value, other sensitive.Value) error {
	byType := map[string][]providers.WriteItem{}
	first := map[string]*config.Block{} // whose provider settings the type uses
	var types []string
	for _, t := range w.secret.Targets {
		if t.Schema == nil || t.Schema.Authenticates != authenticates {
			continue
		}
		if first[t.Type] == nil {
			first[t.Type] = t
			types = append(types, t.Type)
		}
		cfg, err := w.decode(ctx, t, sensitive.Value{})
		if err != nil {
			return err
		}
		byType[t.Type] = append(byType[t.Type], providers.WriteItem{Secret: w.secret.Name, Target: t.Address(), Config: cfg, Value: value, Previous: other})
	}
	for _, typ := range types {
		tgt, err := w.a.Registry.NewTarget(typ, settings(w.inv, first[typ], w.a.logger()))
		if err != nil {
			return fmt.Errorf("target %s: %w", typ, err)
		}
		tw, ok := tgt.(providers.TargetWriter)
		if !ok {
			return fmt.Errorf("target %s cannot be written by apply", typ)
		}
		items := byType[typ]
		var resp *providers.WriteResponse
		switch op {
		case deliverOp:
			resp, err = tw.Deliver(ctx, providers.DeliverRequest{Items: items})
		case revertOp:
			resp, err = tw.Revert(ctx, providers.RevertRequest{Items: items})
		case retireOp:
			resp, err = tw.Retire(ctx, providers.RetireRequest{Items: items})
		}
		if err != nil {
			return fmt.Errorf("target %s: %w", typ, err)
		}
		for i, r := range resp.Results {
			if r.Err != nil {
				return fmt.Errorf("%s: %w", items[i].Target, r.Err)
			}
		}
	}
	return nil
}

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

func (a *Applier) journalOf(name string) *state.Rotation {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.State.Rotations[name]
}

func (a *Applier) journal(j *state.Rotation) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.State.Rotations[j.Secret] = j
	if err := a.Lock.Write(a.State); err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	return nil
}

func (a *Applier) forget(name string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if _, ok := a.State.Rotations[name]; !ok {
		return
	}
	delete(a.State.Rotations, name)
	if err := a.Lock.Write(a.State); err != nil {
		a.logger().Error("journal: cannot clear a finished rotation", "secret", name, "error", err)
	}
}

func (a *Applier) audit(w *work, j *state.Rotation, step state.Step, outcome, detail string) {
	if a.Audit == nil {
		return
	}
	err := a.Audit.Append(state.AuditRecord{
		Time: a.now().UTC(), Operator: a.Operator, Secret: w.secret.Address(), Rotation: j.ID,
		Action: w.change.Action.String(), Step: step, Outcome: outcome, Detail: detail,
	})
	if err != nil {
		a.logger().Error("audit log", "error", err)
	}
}

func (a *Applier) emit(e Event) {
	if a.Events == nil {
		return
	}
	if e.Time.IsZero() {
		e.Time = a.now()
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.Events(e)
}

func (a *Applier) hook(secret string, step state.Step, done bool) {
	if a.AfterStep != nil {
		a.AfterStep(secret, step, done)
	}
}

func (a *Applier) now() time.Time {
	if a.Now == nil {
		return time.Now()
	}
	return a.Now()
}

func (a *Applier) logger() hclog.Logger {
	if a.Logger == nil {
		return hclog.NewNullLogger()
	}
	return a.Logger
}

func (a *Applier) parallelism() int {
	if a.Parallelism < 1 {
		return DefaultParallelism
	}
	return a.Parallelism
}

// newRotationID names a rotation: sortable by time, unique by chance.
func newRotationID(now time.Time) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return "r-" + now.UTC().Format("20060102T150405") + "-" + hex.EncodeToString(b)
}

func orUnknown(s string) string {
	if s == "" {
		return "not staged by rotplan"
	}
	return s
}

func stringAttr(v cty.Value, name string) string {
	if v == cty.NilVal || !v.IsKnown() || v.IsNull() || !v.Type().IsObjectType() || !v.Type().HasAttribute(name) {
		return ""
	}
	a := v.GetAttr(name)
	if !a.IsKnown() || a.IsNull() || a.Type() != cty.String {
		return ""
	}
	return a.AsString()
}
