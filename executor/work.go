package executor

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/zclconf/go-cty/cty"

	"github.com/rotplan/rotplan/config"
	"github.com/rotplan/rotplan/executor/state"
	"github.com/rotplan/rotplan/internal/sensitive"
	"github.com/rotplan/rotplan/planner"
	"github.com/rotplan/rotplan/providers"
)

// work is one change of one secret in an apply: its lifecycle state and
// what it needs to carry it out.
type work struct {
	a      *Applier
	inv    *config.Inventory
	secret *config.Secret
	change *planner.Change
	kind   kind
	// action is what the change does: the plan's action, or retire for the
	// retire a rotation does first.
	action planner.Action
	state  State
	// err is why the change failed, was skipped or is rolling back.
	err error
	// failedFrom is the state a failed change was in when it failed.
	failedFrom State
	// waiting marks a change skipped for want of the operator.
	waiting bool
	// id names the change in the audit log: the rotation's id for a
	// rotation, a fresh one otherwise.
	id string
	// j is a rotation's journal entry; nil for other changes, and for a
	// rotation until it has something to resume.
	j *state.Rotation

	store providers.StoreWriter
	ref   providers.SecretRef
	// records are what the secret's targets asked its store to keep
	// (providers.TargetRecorder), by target address, as last read or
	// written.
	records map[string]string
	// value is what targets get: a rotation's candidate, or the current
	// value for a sync or a retire. other is the value it replaces: the old
	// current of a rotation, the previous value of a sync or a retire.
	value, other sensitive.Value

	// first is the retire a rotation waits for, when the store holds a
	// previous value that must be retired before the new one takes its
	// slot.
	first *work
	// confirmed is set on a retire whose revocation the operator confirmed.
	confirmed bool
	// issued names the credential an issuer minted for this rotation, ""
	// when none was, or once it is revoked.
	issued string
	// operatorValue is a manual secret's new value, given before the
	// rotation started; operatorErr says why there is none.
	operatorValue sensitive.Value
	operatorErr   error

	// needed caches the values of the secrets this one needs, for decoding
	// its blocks.
	needed map[string]cty.Value

	started, stepStarted time.Time
}

func (a *Applier) newWork(inv *config.Inventory, s *config.Secret, c *planner.Change, k kind) *work {
	action := c.Action
	if k == kindRetire {
		action = planner.Retire
	}
	return &work{a: a, inv: inv, secret: s, change: c, kind: k, action: action, id: newID(time.Now()), started: time.Now()}
}

// retiresFirst reports whether w is the retire a rotation does first.
func (w *work) retiresFirst() bool { return w.action != w.change.Action }

// open connects the work to its secret's store.
func (w *work) open() error {
	s := w.secret
	st, err := w.a.Providers.Store(w.inv, s.Store)
	if err != nil {
		return err
	}
	sw, ok := st.(providers.StoreWriter)
	if !ok {
		return fmt.Errorf("store %s cannot be written by apply", s.Store.Type)
	}
	w.store, w.ref = sw, providers.SecretRef{Name: s.Name, Config: s.Store.Config}
	return nil
}

// undone reports whether the change's new value will not become current
// in this apply: it rolled back, is rolling back, was skipped, or failed
// before anything of it was staged.
func (w *work) undone() bool {
	switch w.state {
	case StateRollingBack, StateRolledBack, StateSkipped:
		return true
	case StateFailed:
		return w.failedFrom != StateVerified
	}
	return false
}

// passed reports whether the change's value passed its checks: it waits
// for its promote, was promoted, or only its promote failed (the value
// works everywhere and the next apply promotes it).
func (w *work) passed() bool {
	return w.state == StateVerified || w.state == StatePromoted || w.state == StateFailed && w.failedFrom == StateVerified
}

// fail ends a step that failed: a rotation with a value in its targets
// rolls back, anything else has failed.
func (w *work) fail(step state.Step, err error) {
	w.a.audit(w, step, "failed", err.Error())
	switch w.state {
	case StateStaged, StateSet, StateDelivered:
		if w.kind == kindRotation {
			_ = w.advance(StateRollingBack, err)
			return
		}
	}
	w.failedFrom = w.state
	_ = w.advance(StateFailed, err)
}

// prepare gets a change ready for the steps that write: a rotation
// generated and staged (or carried on from where an interrupted apply left
// it), a sync's or a retire's values read.
func (w *work) prepare(ctx context.Context) {
	w.started = time.Now()
	reason := w.change.Reason
	if w.retiresFirst() {
		reason = w.change.RetireReason
	}
	w.a.emit(Event{Kind: EventSecretStarted, Secret: w.change.Address, Action: w.action, Message: reason})
	if err := w.open(); err != nil {
		w.fail("", err)
		return
	}
	switch w.kind {
	case kindRotation, kindRollback:
		w.prepareRotation(ctx)
		return
	}
	meta, err := w.inspect(ctx)
	if err == nil {
		w.records = meta.Records
		if w.value, err = w.read(ctx, providers.SlotCurrent); err == nil {
			w.other, err = w.read(ctx, providers.SlotPrevious)
		}
	}
	if err != nil {
		w.fail("", err)
	}
}

// prepareRotation generates and stages the new value, or picks up the one
// an interrupted apply staged, from the state its journal recorded.
func (w *work) prepareRotation(ctx context.Context) {
	meta, err := w.inspect(ctx)
	if err != nil {
		w.fail("", err)
		return
	}
	w.records = meta.Records
	if w.other, err = w.read(ctx, providers.SlotCurrent); err != nil {
		w.fail("", err)
		return
	}
	pending := meta.Pending
	j := w.a.journalOf(w.secret.Name)
	if j != nil && (pending == nil || pending.Rotation != j.ID) {
		// Nothing of the journaled rotation is staged: an apply was killed
		// after promoting or rolling it back, or before staging. It is
		// over, and the plan asks for a new one; what an issuer minted for
		// it and nobody holds is revoked first.
		if err := w.sweepMinted(ctx, j); err != nil {
			w.fail("", err)
			return
		}
		w.a.forget(j)
		j = nil
	}
	switch {
	case pending != nil && pending.Rotation == "":
		w.fail("", fmt.Errorf("the store holds a pending value that rotplan did not stage: another rotation is under way; finish or discard it first"))
		return
	case pending != nil:
		w.resume(ctx, j, pending)
		return
	case w.kind == kindRollback:
		// The rollback finished after the plan was made.
		_ = w.advance(StateSkipped, errors.New("nothing is left to roll back"))
		return
	}

	if w.first != nil && w.first.state != StateRetired {
		why := fmt.Errorf("its previous value could not be retired first: %w", w.first.err)
		if w.first.waiting {
			why = fmt.Errorf("its previous value must be retired first, and that %w", errWaiting)
		}
		_ = w.advance(StateSkipped, why)
		return
	}
	if w.manual() && w.operatorValue.IsEmpty() {
		err := w.operatorErr
		if err == nil || errors.Is(err, ErrNoOperatorValue) {
			_ = w.advance(StateSkipped, fmt.Errorf("%w: %w", errWaiting, ErrNoOperatorValue))
			return
		}
		w.fail(state.StepGenerate, err)
		return
	}

	w.j = &state.Rotation{ID: w.id, Secret: w.secret.Name, Action: w.change.Action.String(), Started: time.Now().UTC()}
	if _, ok := w.issuer(); ok {
		// Journaled before the issuer is called: a crash during the call
		// leaves the journal to say a credential may have been minted.
		if err := w.advance(StateMinting, nil); err != nil {
			w.fail(state.StepGenerate, err)
			return
		}
	}
	w.begin(state.StepGenerate)
	if w.value, w.issued, err = w.generate(ctx); err == nil {
		err = w.advance(StateGenerated, nil)
	}
	if err != nil {
		w.fail(state.StepGenerate, err)
		return
	}
	w.begin(state.StepStage)
	_, err = w.store.Stage(ctx, providers.StageRequest{Secret: w.ref, Value: w.value, Rotation: w.j.ID, Now: w.a.now()})
	if err == nil {
		err = w.advance(StateStaged, nil)
	}
	if err != nil {
		err = fmt.Errorf("stage in store %s: %w", w.secret.Store.Type, err)
		if rerr := w.revokeMinted(ctx, w.value); rerr != nil {
			err = fmt.Errorf("%w; revoking the minted credential failed too, the next apply revokes it: %v", err, rerr)
		}
		w.fail(state.StepStage, err)
		return
	}
	w.a.setCandidate(w.secret.Name, w.value)
}

// resume picks up the rotation whose value the store holds as pending: from
// the state its journal recorded, or from staged when the journal is gone
// (the store shows it was staged), or rolling back when the store marks it
// failed.
func (w *work) resume(ctx context.Context, j *state.Rotation, pending *providers.Version) {
	at := StateStaged
	if j != nil {
		if s, ok := parseState(j.State); ok && s > StateStaged {
			at = s
		}
	} else {
		j = &state.Rotation{ID: pending.Rotation, Secret: w.secret.Name, Action: w.change.Action.String(), Started: pending.CreatedAt}
	}
	if pending.Failed {
		at = StateRollingBack
	}
	w.id, w.j, w.issued = j.ID, j, j.Issued
	var err error
	if w.value, err = w.read(ctx, providers.SlotPending); err != nil {
		w.fail("", err)
		return
	}
	if at == StateRollingBack {
		cause := errors.New("a check failed in an earlier apply")
		if j.Error != "" {
			cause = errors.New(j.Error)
		}
		if w.kind == kindRollback {
			_ = w.advance(StateRollingBack, cause)
			return
		}
		// The plan saw an interrupted rotation; the journal says it was
		// rolling back: this apply finishes the rollback, nothing more.
		w.kind = kindRollback
		w.restore(StateRollingBack)
		w.err = cause
		return
	}
	if w.kind == kindRollback {
		// The plan saw a failed pending value; the store now has one to
		// carry on. Leave it for the next plan to say which.
		_ = w.advance(StateSkipped, errors.New("the store's pending value is no longer marked failed; run plan again"))
		return
	}
	w.restore(at)
	w.a.setCandidate(w.secret.Name, w.value)
}

// restore puts a resumed rotation back in the state its journal recorded:
// not a move, but where the lifecycle stood when an apply stopped.
func (w *work) restore(s State) {
	w.state = s
	w.a.audit(w, "", "resumed at "+s.String(), "")
}

// promote makes the verified value current. If the store refuses, the value
// still works everywhere: the rotation stays verified in the journal, and
// the next apply promotes it.
func (w *work) promote(ctx context.Context) {
	w.begin(state.StepPromote)
	now := w.a.now()
	_, err := w.store.Promote(ctx, providers.PromoteRequest{Secret: w.ref, Rotation: w.j.ID, Now: now, RetireAfter: now.Add(w.secret.Grace)})
	if err == nil {
		err = w.advance(StatePromoted, nil)
	}
	if err != nil {
		w.fail(state.StepPromote, fmt.Errorf("promote in store %s: %w; the new value works in every target: run apply again to promote it", w.secret.Store.Type, err))
	}
}

// inspect reads the secret's metadata as the store has it now: apply is
// about to change it, so a store whose listing may lag reads it
// consistently (InspectRequest.Acts is nil).
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

// record keeps what targets asked to record, when the store can and it
// changed. A record not kept costs no correctness: the target observes as
// it can without it. So a failure is logged, not the work's.
func (w *work) record(ctx context.Context, records map[string]string) {
	changed := map[string]string{}
	for addr, r := range records {
		if r != "" && w.records[addr] != r {
			changed[addr] = r
		}
	}
	rec, ok := w.store.(providers.TargetRecorder)
	if len(changed) == 0 || !ok {
		return
	}
	if _, err := rec.RecordTargets(ctx, providers.RecordTargetsRequest{Secret: w.ref, Records: changed}); err != nil {
		w.a.logger().Warn("cannot keep what the targets recorded in the store; they report drift as unknown until the next write", "secret", w.secret.Address(), "error", w.a.redact(err.Error()))
		return
	}
	if w.records == nil {
		w.records = map[string]string{}
	}
	for addr, r := range changed {
		w.records[addr] = r
	}
}

// read returns a slot's value, empty when the slot is.
func (w *work) read(ctx context.Context, slot providers.Slot) (sensitive.Value, error) {
	v, err := readValue(ctx, w.store, w.ref, slot)
	w.a.remember(v)
	return v, err
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

// generate makes the next value: the operator's for a manual secret,
// otherwise the generator's, with the values of the secrets the block
// references. For an issuer it also returns the minted credential's id.
func (w *work) generate(ctx context.Context) (sensitive.Value, string, error) {
	b := w.secret.Generate
	if w.manual() {
		return w.operatorValue, "", nil
	}
	cfg, err := w.decode(ctx, b, sensitive.Value{})
	if err != nil {
		return sensitive.Value{}, "", err
	}
	gen, err := w.a.Providers.Generator(w.inv, b)
	if err != nil {
		return sensitive.Value{}, "", err
	}
	resp, err := gen.Generate(ctx, providers.GenerateRequest{Secret: w.secret.Name, Config: cfg, Rotation: w.j.ID})
	if err != nil {
		return sensitive.Value{}, "", fmt.Errorf("generate %s: %w", b.Type, err)
	}
	w.a.remember(resp.Value)
	return resp.Value, resp.ID, nil
}

// issuer returns the secret's generator when it is an issuer.
func (w *work) issuer() (providers.Issuer, bool) {
	if w.manual() {
		return nil, false
	}
	gen, err := w.a.Providers.Generator(w.inv, w.secret.Generate)
	if err != nil {
		return nil, false
	}
	is, ok := gen.(providers.Issuer)
	return is, ok
}

// revokeMinted revokes a value the secret's issuer minted: the candidate of
// a rotation that rolls back (its id journaled), or a previous value that
// retires. Nothing to do for other generators.
func (w *work) revokeMinted(ctx context.Context, v sensitive.Value) error {
	is, ok := w.issuer()
	if !ok {
		return nil
	}
	cfg, err := w.decode(ctx, w.secret.Generate, sensitive.Value{})
	if err != nil {
		return err
	}
	id := ""
	if w.j != nil {
		id = w.j.Issued
	}
	if _, err := is.Revoke(ctx, providers.RevokeRequest{Secret: w.secret.Name, Config: cfg, ID: id, Value: v}); err != nil {
		return fmt.Errorf("revoke at %s: %w", w.secret.Generate.Type, err)
	}
	w.issued = ""
	return nil
}

// sweepMinted revokes what a journaled rotation that no store holds may
// have minted: an apply killed while the issuer minted, or before the store
// took the value, or after the store discarded it and before the revoke.
// The values the store holds are kept.
func (w *work) sweepMinted(ctx context.Context, j *state.Rotation) error {
	is, ok := w.issuer()
	if !ok {
		return nil
	}
	cfg, err := w.decode(ctx, w.secret.Generate, sensitive.Value{})
	if err != nil {
		return err
	}
	var keep []sensitive.Value
	for _, slot := range []providers.Slot{providers.SlotCurrent, providers.SlotPrevious, providers.SlotPending} {
		v, err := w.read(ctx, slot)
		if err != nil {
			return err
		}
		if !v.IsEmpty() {
			keep = append(keep, v)
		}
	}
	resp, err := is.Sweep(ctx, providers.SweepRequest{Secret: w.secret.Name, Config: cfg, Rotation: j.ID, Since: j.Started, Keep: keep})
	if err != nil {
		return fmt.Errorf("revoke what rotation %s minted at %s: %w", j.ID, w.secret.Generate.Type, err)
	}
	if len(resp.Revoked) > 0 {
		w.a.audit(w, state.StepRollback, "revoked what an interrupted rotation minted", strings.Join(resp.Revoked, ", "))
	}
	return nil
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
		v, err := ctyValue(w.secret, self)
		if err != nil {
			return cty.NilVal, err
		}
		values[w.secret.Name] = v
	}
	cfg, diags := b.Decode(w.inv.EvalContext(values))
	if diags.HasErrors() {
		// Values enter the evaluation marked sensitive: diagnostics never
		// quote them.
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
		other := w.inv.Secret(name)
		if v, ok := w.a.candidate(name); ok {
			cv, err := ctyValue(other, v)
			if err != nil {
				return nil, err
			}
			values[name] = cv
			continue
		}
		st, err := w.a.Providers.Store(w.inv, other.Store)
		if err != nil {
			return nil, err
		}
		v, err := readValue(ctx, st, providers.SecretRef{Name: name, Config: other.Store.Config}, providers.SlotCurrent)
		if err != nil {
			return nil, fmt.Errorf("secret.%s: %w", name, err)
		}
		w.a.remember(v)
		cv, err := ctyValue(other, v)
		if err != nil {
			return nil, err
		}
		values[name] = cv
	}
	w.needed = values
	return values, nil
}

// ctyValue is a secret's value as inventory expressions read it
// (secret.NAME.value): a string, or for a structured value an object of
// its fields.
func ctyValue(s *config.Secret, v sensitive.Value) (cty.Value, error) {
	names := s.Fields()
	if len(names) == 0 {
		return cty.StringVal(v.Reveal()), nil
	}
	fields, err := v.Fields()
	if err != nil {
		return cty.NilVal, fmt.Errorf("%s: %w", s.Address(), err)
	}
	attrs := make(map[string]cty.Value, len(names))
	for _, name := range names {
		f, ok := fields[name]
		if !ok {
			return cty.NilVal, fmt.Errorf("%s: the value has no field %q", s.Address(), name)
		}
		attrs[name] = cty.StringVal(f.Reveal())
	}
	return cty.ObjectVal(attrs), nil
}

// fieldOf is what a target or a check of the secret gets of its value: the
// field the block names, or the whole value.
func fieldOf(b *config.Block, v sensitive.Value) (sensitive.Value, error) {
	if b.Field == "" || v.IsEmpty() {
		return v, nil
	}
	f, err := v.Field(b.Field)
	if err != nil {
		return sensitive.Value{}, fmt.Errorf("%s: %w", b.Address(), err)
	}
	return f, nil
}

// verify runs every check against value.
func (w *work) verify(ctx context.Context, value sensitive.Value) error {
	for _, b := range w.secret.Verify {
		cfg, err := w.decode(ctx, b, value)
		if err != nil {
			return err
		}
		v, err := w.a.Providers.Verifier(w.inv, b)
		if err != nil {
			return fmt.Errorf("%s: %w", b.Address(), err)
		}
		checked, err := fieldOf(b, value)
		if err != nil {
			return err
		}
		// Each check keeps to its own deadline (an http check's timeout, a
		// few attempts for a login).
		_, err = v.Verify(ctx, providers.VerifyRequest{Secret: w.secret.Name, Config: cfg, Value: checked})
		if err != nil {
			w.a.emit(Event{Kind: EventCheckFailed, Secret: w.secret.Address(), Action: w.action, Step: state.StepVerify, Message: b.Address() + ": " + err.Error()})
			return fmt.Errorf("check %s failed: %w", b.Address(), err)
		}
	}
	return nil
}
