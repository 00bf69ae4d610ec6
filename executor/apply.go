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

	mu sync.Mutex // guards State, Lock writes, Events and candidates
	// candidates are the values staged in this apply and not promoted yet,
	// by secret: what is made from them reads these, not the stores'
	// current values.
	candidates map[string]sensitive.Value
}

func (a *Applier) setCandidate(name string, v sensitive.Value) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.candidates == nil {
		a.candidates = map[string]sensitive.Value{}
	}
	if v.IsEmpty() {
		delete(a.candidates, name)
		return
	}
	a.candidates[name] = v
}

func (a *Applier) candidate(name string) (sensitive.Value, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	v, ok := a.candidates[name]
	return v, ok
}

// Apply runs every change of the plan that has an action. Secrets go in
// dependency levels: a level's secrets move through the protocol together,
// so each target type gets one call per phase for all of them (one update,
// and one restart, per Fly app rather than one per secret), and a level
// starts once the one before it has passed its checks. Promotes come last,
// see promote. A secret whose upstream failed is skipped; unrelated secrets
// go on.
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

	outcomes := map[string]Outcome{}
	var result Result
	var all []*work
	for _, level := range levels(inv, changes, planned) {
		var ws []*work
		for _, c := range level {
			s := inv.Secret(c.Secret)
			if up := failedUpstream(s, planned, outcomes); up != "" {
				a.emit(Event{Kind: EventSecretSkipped, Secret: c.Address, Action: c.Action, Message: "upstream failed: secret." + up})
				outcomes[c.Secret] = OutcomeSkipped
				all = append(all, &work{a: a, inv: inv, secret: s, change: c, settled: true, outcome: OutcomeSkipped})
				continue
			}
			ws = append(ws, &work{a: a, inv: inv, secret: s, change: c})
		}
		a.runLevel(ctx, ws)
		for _, w := range ws {
			// A rotation that passed its checks waits for its promote
			// (below), and counts as done for the levels after it.
			outcomes[w.secret.Name] = w.outcome
		}
		all = append(all, ws...)
	}
	a.promote(ctx, all)
	for _, w := range all {
		result.add(w.change.Action, w.outcome)
	}
	return result
}

// promote ends the rotations that passed their checks. A value something
// else is made from (a password inside a DSN) is promoted only if what is
// made from it passed too; otherwise it rolls back with it, so consumers
// never hold a derived value made from a password that was undone.
func (a *Applier) promote(ctx context.Context, ws []*work) {
	byName := make(map[string]*work, len(ws))
	for _, w := range ws {
		byName[w.secret.Name] = w
	}
	for _, f := range ws {
		if !f.rotating() || f.live() {
			continue // not a rotation, or one that passed
		}
		// f did not finish: undo every passed rotation it is made from.
		stack := append([]string(nil), f.secret.Derives...)
		for len(stack) > 0 {
			name := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			src := byName[name]
			if src == nil || !src.live() || !src.rotating() {
				continue
			}
			src.cause = fmt.Errorf("%s, made from this value, did not finish", f.secret.Address())
			stack = append(stack, src.secret.Derives...)
		}
	}
	a.rollback(ctx, filter(ws, func(w *work) bool { return !w.settled && w.cause != nil }))
	a.each(filter(ws, func(w *work) bool { return w.live() && w.rotating() }), func(w *work) {
		if err := w.step(state.StepPromote, func() error {
			now := w.a.now()
			_, err := w.store.Promote(ctx, providers.PromoteRequest{Secret: w.ref, Rotation: w.j.ID, Now: now, RetireAfter: now.Add(w.secret.Grace)})
			return err
		}); err != nil {
			w.settle(OutcomeFailed, fmt.Errorf("promote in store %s: %w", w.secret.Store.Type, err))
			return
		}
		w.finish("done")
		w.settle(OutcomeDone, nil)
	})
}

// levels groups changes by dependency depth among the planned secrets. The
// plan lists changes in dependency order, so one pass suffices.
func levels(inv *config.Inventory, changes []*planner.Change, planned map[string]bool) [][]*planner.Change {
	depth := map[string]int{}
	var out [][]*planner.Change
	for _, c := range changes {
		d := 0
		for _, need := range inv.Secret(c.Secret).Needs() {
			if planned[need] && depth[need]+1 > d {
				d = depth[need] + 1
			}
		}
		depth[c.Secret] = d
		for len(out) <= d {
			out = append(out, nil)
		}
		out[d] = append(out[d], c)
	}
	return out
}

// failedUpstream names a secret this one needs whose change did not finish.
func failedUpstream(s *config.Secret, planned map[string]bool, outcomes map[string]Outcome) string {
	for _, need := range s.Needs() {
		if planned[need] && outcomes[need] != OutcomeDone {
			return need
		}
	}
	return ""
}

// runLevel carries a level's changes through the protocol phase by phase.
// Each phase that writes to targets makes one call per target type for the
// whole level; the others run per secret, -parallelism at a time.
func (a *Applier) runLevel(ctx context.Context, ws []*work) {
	a.each(ws, func(w *work) { w.prepare(ctx) })

	// set, then deliver: rotations and syncs.
	for _, phase := range []struct {
		step          state.Step
		authenticates bool
	}{{state.StepSet, true}, {state.StepDeliver, false}} {
		batch := filter(ws, func(w *work) bool {
			return w.live() && w.change.Action != planner.Retire && w.hasTargets(phase.authenticates)
		})
		errs := a.batchStep(batch, phase.step, func(batch []*work) map[*work]error {
			return a.writeBatch(ctx, batch, phase.authenticates, deliverOp)
		})
		for w, err := range errs {
			w.failed(err)
		}
	}

	// retire: previous values leave targets (copies first), then stores.
	retiring := filter(ws, func(w *work) bool { return w.live() && w.change.Action == planner.Retire })
	errs := a.batchStep(retiring, state.StepRetire, func(batch []*work) map[*work]error {
		errs := map[*work]error{}
		withPrevious := filter(batch, func(w *work) bool { return !w.other.IsEmpty() })
		for _, authenticates := range []bool{false, true} {
			for w, err := range a.writeBatch(ctx, without(withPrevious, errs), authenticates, retireOp) {
				errs[w] = err
			}
		}
		for _, w := range without(batch, errs) {
			if _, err := w.store.RetirePrevious(ctx, providers.RetirePreviousRequest{Secret: w.ref}); err != nil {
				errs[w] = fmt.Errorf("retire in store %s: %w", w.secret.Store.Type, err)
			}
		}
		return errs
	})
	for w, err := range errs {
		w.failed(err)
	}

	// verify: every rotation, and syncs that have checks.
	a.each(filter(ws, func(w *work) bool {
		return w.live() && (w.rotating() || w.change.Action == planner.Sync && len(w.secret.Verify) > 0)
	}), func(w *work) {
		if err := w.step(state.StepVerify, func() error { return w.verify(ctx, w.value) }); err != nil {
			w.failed(err)
		}
	})

	a.rollback(ctx, filter(ws, func(w *work) bool { return !w.settled && w.cause != nil }))

	// Syncs and retires are done; rotations that passed wait for promote.
	a.each(filter(ws, func(w *work) bool { return w.live() && !w.rotating() }), func(w *work) {
		if w.change.Action == planner.Retire {
			w.revokeChecklist(ctx)
		}
		w.finish("done")
		w.settle(OutcomeDone, nil)
	})
}

// rollback returns every target of the given rotations to the old value,
// copies first and then the systems that check logins, and discards the
// candidates; the stores' current values were never touched.
func (a *Applier) rollback(ctx context.Context, ws []*work) {
	for _, w := range ws {
		a.mu.Lock() // the entry is marshalled with the others under this lock
		w.j.RollingBack, w.j.Error = true, w.cause.Error()
		a.mu.Unlock()
	}
	errs := a.batchStep(ws, state.StepRollback, func(batch []*work) map[*work]error {
		errs := map[*work]error{}
		// A failed first rotation has no old value to go back to; the
		// targets still drop the candidate, each as it can.
		for _, authenticates := range []bool{false, true} {
			for w, err := range a.writeBatch(ctx, without(batch, errs), authenticates, revertOp) {
				errs[w] = err
			}
		}
		for _, w := range without(batch, errs) {
			if _, err := w.store.Discard(ctx, providers.DiscardRequest{Secret: w.ref, Rotation: w.j.ID}); err != nil {
				errs[w] = fmt.Errorf("discard in store %s: %w", w.secret.Store.Type, err)
			}
		}
		return errs
	})
	for _, w := range ws {
		if err := errs[w]; err != nil {
			w.settle(OutcomeFailed, fmt.Errorf("%w; rollback failed too, run apply again to finish it: %v", w.cause, err))
			continue
		}
		a.setCandidate(w.secret.Name, sensitive.Value{})
		w.finish("rolled back")
		w.settle(OutcomeRolledBack, fmt.Errorf("rolled back: %w", w.cause))
	}
}

// writeBatch sends one operation to the targets of every work given that
// authenticate (or, with false, that hold copies): one call per target
// type for all of them. It returns the works that failed.
func (a *Applier) writeBatch(ctx context.Context, ws []*work, authenticates bool, op writeOp) map[*work]error {
	type entry struct {
		w    *work
		item providers.WriteItem
	}
	errs := map[*work]error{}
	byType := map[string][]entry{}
	first := map[string]*config.Block{} // whose provider settings the type uses
	var types []string
	for _, w := range ws {
		value, other := w.value, w.other
		if op == revertOp {
			value, other = w.other, w.value // the old value back; the candidate dropped
		}
		var mine []entry
		var blocks []*config.Block
		for _, t := range w.secret.Targets {
			if t.Schema == nil || t.Schema.Authenticates != authenticates {
				continue
			}
			cfg, err := w.decode(ctx, t, sensitive.Value{})
			if err != nil {
				errs[w] = err
				break
			}
			mine = append(mine, entry{w, providers.WriteItem{Secret: w.secret.Name, Target: t.Address(), Config: cfg, Value: value, Previous: other}})
			blocks = append(blocks, t)
		}
		if errs[w] != nil {
			continue
		}
		for i, e := range mine {
			typ := blocks[i].Type
			if first[typ] == nil {
				first[typ] = blocks[i]
				types = append(types, typ)
			}
			byType[typ] = append(byType[typ], e)
		}
	}
	for _, typ := range types {
		entries := byType[typ]
		fail := func(err error) {
			for _, e := range entries {
				if errs[e.w] == nil {
					errs[e.w] = err
				}
			}
		}
		tgt, err := a.Registry.NewTarget(typ, settings(entries[0].w.inv, first[typ], a.logger()))
		if err != nil {
			fail(fmt.Errorf("target %s: %w", typ, err))
			continue
		}
		tw, ok := tgt.(providers.TargetWriter)
		if !ok {
			fail(fmt.Errorf("target %s cannot be written by apply", typ))
			continue
		}
		items := make([]providers.WriteItem, len(entries))
		for i, e := range entries {
			items[i] = e.item
		}
		var resp *providers.WriteResponse
		switch op {
		case deliverOp:
			resp, err = tw.Deliver(ctx, providers.DeliverRequest{Items: items})
		case revertOp:
			resp, err = tw.Revert(ctx, providers.RevertRequest{Items: items})
		case retireOp:
			resp, err = tw.Retire(ctx, providers.RetireRequest{Items: items})
		}
		if err == nil && len(resp.Results) != len(items) {
			err = fmt.Errorf("provider answered %d of %d items", len(resp.Results), len(items))
		}
		if err != nil {
			fail(fmt.Errorf("target %s: %w", typ, err))
			continue
		}
		for i, r := range resp.Results {
			if r.Err != nil && errs[entries[i].w] == nil {
				errs[entries[i].w] = fmt.Errorf("%s: %w", entries[i].item.Target, r.Err)
			}
		}
	}
	return errs
}

// batchStep journals step as begun for every work, runs fn once for all of
// them, and journals it as done for each that fn did not fail.
func (a *Applier) batchStep(ws []*work, step state.Step, fn func([]*work) map[*work]error) map[*work]error {
	errs := map[*work]error{}
	var begun []*work
	for _, w := range ws {
		if err := w.begin(step); err != nil {
			errs[w] = err
			continue
		}
		begun = append(begun, w)
	}
	if len(begun) == 0 {
		return errs
	}
	started := a.now()
	for w, err := range fn(begun) {
		errs[w] = err
	}
	for _, w := range begun {
		if err := errs[w]; err != nil {
			a.audit(w, w.j, step, "failed", err.Error())
			continue
		}
		if err := w.end(step, a.now().Sub(started)); err != nil {
			errs[w] = err
		}
	}
	return errs
}

// each runs fn for every work, -parallelism at a time.
func (a *Applier) each(ws []*work, fn func(*work)) {
	sem := make(chan struct{}, a.parallelism())
	var wg sync.WaitGroup
	for _, w := range ws {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			fn(w)
		}()
	}
	wg.Wait()
}

func filter(ws []*work, keep func(*work) bool) []*work {
	var out []*work
	for _, w := range ws {
		if keep(w) {
			out = append(out, w)
		}
	}
	return out
}

// without returns the works that have no error yet.
func without(ws []*work, errs map[*work]error) []*work {
	return filter(ws, func(w *work) bool { return errs[w] == nil })
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

func (a *Applier) journalOf(name string) *state.Rotation {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.State.Rotations[name]
}

// journal applies update to a rotation's journal entry and writes the
// state. Entries change under the lock only: the state is marshalled whole,
// other secrets' entries included.
func (a *Applier) journal(j *state.Rotation, update func()) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	update()
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
