package executor

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/rotplan/rotplan/config"
	"github.com/rotplan/rotplan/executor/state"
	"github.com/rotplan/rotplan/internal/atomicfile"
	"github.com/rotplan/rotplan/internal/sensitive"
	"github.com/rotplan/rotplan/planner"
)

// DefaultParallelism is how many secrets apply works on at once.
const DefaultParallelism = 4

// DefaultStopTimeout is how long, after the first interrupt, the changes
// in flight may take to finish before their calls are cancelled and they
// roll back; a rollback gets as long again.
const DefaultStopTimeout = 2 * time.Minute

// errInterruptedBefore skips what had not started when apply was
// interrupted; errInterruptedAsking, everything, when the operator
// interrupted a question.
var (
	errInterruptedBefore = errors.New("apply was interrupted before it started")
	errInterruptedAsking = errors.New("apply was interrupted at a question, before it changed anything")
)

// Applier carries out a plan: each change moves through its lifecycle (see
// State), in dependency order, journaled in state as it goes.
type Applier struct {
	// Providers are the run's provider instances, shared with the
	// observation that made the plan.
	Providers   *Providers
	Logger      hclog.Logger
	Parallelism int
	// StopTimeout bounds the work in flight after the first interrupt;
	// zero means DefaultStopTimeout.
	StopTimeout time.Duration
	// Now stamps what stores record (rotated-at, retire-after); nil means
	// time.Now. The audit log and events always have the real time.
	Now func() time.Time
	// Events receives progress; calls are serialised.
	Events func(Event)
	// Operator answers apply's questions; nil means nobody can be asked,
	// so manual values and revocations wait.
	Operator Operator
	// Who names the person or job running the apply, for the audit log.
	Who string

	// Lock is the held state lock; State is the state read under it. Each
	// journal change writes one rotation's entry through Lock, against
	// State's serial.
	Lock  state.Lock
	State *state.State
	Audit *state.Audit

	// AfterStep, when set, is called once each step has begun and once it
	// is done (journaled); tests use it to kill the process at every point.
	AfterStep func(secret string, step state.Step, done bool)

	mu sync.Mutex // guards State, Lock writes, Events, candidates and seen
	// candidates are the values staged in this apply and not promoted yet,
	// by secret: what is made from them reads these, not the stores'
	// current values.
	candidates map[string]sensitive.Value
	// seen is every value this apply handled, for redact.
	seen []sensitive.Value
}

// Apply carries out every change of the plan that has an action, and
// returns the tally. ctx is cancelled by the first interrupt: from then on
// nothing new starts, and what is in flight finishes, or rolls back, within
// StopTimeout (see operations).
//
// The operator's questions come first. Then the changes go in dependency
// levels: a level's changes move through the protocol together, so each
// target type gets one call per step for all of them (one update, and one
// restart, per Fly app rather than one per secret). A rotation is promoted
// once everything made from its value has passed its checks; if any of
// that fails, they roll back together. A change whose upstream failed is
// skipped; unrelated ones go on.
func (a *Applier) Apply(ctx context.Context, inv *config.Inventory, plan *planner.Plan) Result {
	a.removeStaleTemps(inv)
	works := a.works(inv, plan)
	a.sweep(ctx, inv, works)
	if err := a.ask(ctx, works); err != nil {
		for _, w := range works {
			_ = w.advance(StateSkipped, errInterruptedAsking)
		}
		return tally(works, true)
	}
	ops, stopOps := a.operations(ctx)
	defer stopOps()

	g := newGraph(works)
	for _, level := range g.levels() {
		var ready []*work
		for _, w := range level {
			switch up := g.failedUpstream(w); {
			case ctx.Err() != nil:
				_ = w.advance(StateSkipped, errInterruptedBefore)
			case up != nil:
				_ = w.advance(StateSkipped, fmt.Errorf("upstream failed: %s (%s)", up.secret.Address(), up.state))
			default:
				ready = append(ready, w)
			}
		}
		a.runLevel(ctx, ops, ready)
		a.settle(ctx, ops, g)
	}
	return tally(works, ctx.Err() != nil)
}

// operations returns the context provider calls run under. The first
// interrupt (ctx done) does not cancel it: it says so, and StopTimeout
// later cancels the calls still running, whose rotations then roll back.
// A second interrupt is the caller's to handle: it exits at once and the
// journal lets the next apply resume.
func (a *Applier) operations(ctx context.Context) (context.Context, context.CancelFunc) {
	ops, cancel := context.WithCancel(context.WithoutCancel(ctx))
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		select {
		case <-ops.Done():
			return
		case <-ctx.Done():
		}
		if ops.Err() != nil {
			return // apply ended as the interrupt came
		}
		a.emit(Event{Kind: EventInterrupted, Message: fmt.Sprintf("interrupted: starting nothing new; what is in flight finishes, or rolls back, within %s. Interrupt again to stop at once: the next apply resumes from the journal.", a.stopTimeout())})
		t := time.NewTimer(a.stopTimeout())
		defer t.Stop()
		select {
		case <-ops.Done():
		case <-t.C:
			cancel()
		}
	}()
	// Stopping waits for the watcher: nothing is reported once Apply has
	// returned.
	return ops, func() {
		cancel()
		<-exited
	}
}

// works makes one work per change with an action, in plan order. A
// rotation that retires its previous value first gets a retire work just
// before it.
func (a *Applier) works(inv *config.Inventory, plan *planner.Plan) []*work {
	var out []*work
	for _, c := range plan.Changes {
		if c.Action == planner.NoOp || c.Status == planner.StatusError {
			continue
		}
		s := inv.Secret(c.Secret)
		w := a.newWork(inv, s, c, kindOf(c.Action))
		if c.RetireFirst {
			retire := a.newWork(inv, s, c, kindRetire)
			w.first = retire
			out = append(out, retire)
		}
		out = append(out, w)
	}
	return out
}

// runLevel carries a level's changes through the protocol step by step.
// Each step that writes to targets makes one call per target type for the
// whole level; the others run per secret, -parallelism at a time. Calls
// run under ops; ctx only says whether apply was interrupted.
func (a *Applier) runLevel(ctx, ops context.Context, ws []*work) {
	// Retires first: a rotation takes the previous slot only once the value
	// in it is retired.
	a.retire(ops, filter(ws, func(w *work) bool { return w.kind == kindRetire }))

	a.each(filter(ws, func(w *work) bool { return w.kind != kindRetire }), func(w *work) {
		if ctx.Err() != nil && w.state == StatePlanned {
			_ = w.advance(StateSkipped, errInterruptedBefore)
			return
		}
		w.prepare(ops)
	})

	// set, then deliver: rotations staged (or resumed before these steps)
	// and syncs.
	writing := func(w *work) bool {
		return w.kind == kindRotation && (w.state == StateStaged || w.state == StateSet) ||
			w.kind == kindSync && (w.state == StatePlanned || w.state == StateSet)
	}
	set := filter(ws, func(w *work) bool {
		return writing(w) && w.state != StateSet && w.hasTargets(authenticating)
	})
	a.batch(set, state.StepSet, StateSet, func(ws []*work) map[*work]error {
		return a.writeTargets(ops, ws, authenticating, deliverOp)
	})
	deliver := filter(ws, func(w *work) bool { return writing(w) && w.hasTargets(holdingCopies) })
	a.batch(deliver, state.StepDeliver, StateDelivered, func(ws []*work) map[*work]error {
		return a.writeTargets(ops, ws, holdingCopies, deliverOp)
	})

	// verify: every rotation, and syncs that have checks.
	a.each(filter(ws, func(w *work) bool {
		switch w.kind {
		case kindRotation:
			return w.state == StateStaged || w.state == StateSet || w.state == StateDelivered
		case kindSync:
			return !terminal(w.state) && len(w.secret.Verify) > 0
		}
		return false
	}), func(w *work) {
		w.begin(state.StepVerify)
		if err := w.verify(ops, w.value); err != nil {
			w.fail(state.StepVerify, err)
			return
		}
		if err := w.advance(StateVerified, nil); err != nil {
			w.fail(state.StepVerify, err)
		}
	})

	for _, w := range filter(ws, func(w *work) bool { return w.kind == kindSync && !terminal(w.state) }) {
		_ = w.advance(StateSynced, nil)
	}
}

// settle ends what the levels so far leave ready to end. A rotation whose
// new value will not become current takes with it every rotation made from
// its value and every rotation its value is made from that has not been
// promoted: a DSN is never left holding a password that was undone, nor a
// password promoted under a DSN that was. Then what is rolling back rolls
// back, and each verified rotation whose whole family of derived rotations
// has passed its checks is promoted.
func (a *Applier) settle(ctx, ops context.Context, g *graph) {
	for changed := true; changed; {
		changed = false
		for _, w := range g.rotations {
			if !w.undone() {
				continue
			}
			for _, r := range g.related(w) {
				if r.state == StateVerified {
					_ = r.advance(StateRollingBack, fmt.Errorf("%s, made from the same value, did not finish", w.secret.Address()))
					changed = true
				}
			}
		}
	}
	a.rollback(ctx, filter(g.rotations, func(w *work) bool { return w.state == StateRollingBack && w.store != nil }))

	ready := filter(g.rotations, func(w *work) bool { return w.state == StateVerified && g.familyPassed(w) })
	a.each(ready, func(w *work) { w.promote(ops) })
}

// batch runs one step for works that take it together: each is reported
// as begun, fn runs once for all of them, and each that fn did not fail
// moves to `to`; the others fail the step.
func (a *Applier) batch(ws []*work, step state.Step, to State, fn func([]*work) map[*work]error) {
	if len(ws) == 0 {
		return
	}
	for _, w := range ws {
		w.begin(step)
	}
	errs := fn(ws)
	for _, w := range ws {
		err := errs[w]
		if err == nil {
			err = w.advance(to, nil)
		}
		if err != nil {
			w.fail(step, err)
		}
	}
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

// sweep drops journal entries that have nothing left to resume: a rotation
// killed after its promote or before it staged anything, of a secret the
// plan has no change for. An entry whose value is still staged stays.
func (a *Applier) sweep(ctx context.Context, inv *config.Inventory, works []*work) {
	planned := map[string]bool{}
	for _, w := range works {
		planned[w.secret.Name] = true
	}
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
			a.forget(j) // the secret left the inventory
			continue
		}
		w := a.newWork(inv, s, &planner.Change{Secret: s.Name, Address: s.Address()}, kindRotation)
		if err := w.open(); err != nil {
			continue
		}
		meta, err := w.inspect(ctx)
		if err != nil || (meta.Pending != nil && meta.Pending.Rotation == j.ID) {
			continue
		}
		if err := w.sweepMinted(ctx, j); err != nil {
			a.logger().Warn("cannot revoke what an interrupted rotation minted; the journal keeps it", "secret", s.Address(), "error", a.redact(err.Error()))
			continue
		}
		a.forget(j)
	}
}

// removeStaleTemps removes the temporary files that a writer killed between
// writing and renaming left beside the files the inventory writes: they
// hold values in clear. Apply holds the state lock, so no other apply of
// this inventory is writing them now.
func (a *Applier) removeStaleTemps(inv *config.Inventory) {
	seen := map[string]bool{}
	for _, s := range inv.Secrets {
		for _, b := range append([]*config.Block{s.Store}, s.Targets...) {
			if b == nil {
				continue
			}
			for _, d := range b.Destinations {
				if d.File == "" || seen[d.File] {
					continue
				}
				seen[d.File] = true
				removed, err := atomicfile.RemoveStale(d.File)
				if err != nil {
					a.logger().Warn("cannot remove temporary files left by a crash", "file", d.File, "error", err)
				}
				if len(removed) > 0 {
					a.logger().Info("removed temporary files left by a crash", "file", d.File, "count", len(removed))
				}
			}
		}
	}
}

// journal records that a rotation reached state s: its entry is written
// through the lock, against the serial last written. Journal writes are
// not cancelled by an interrupt: the backend bounds each one.
func (a *Applier) journal(j *state.Rotation, s State, cause error, issued string) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	j.State, j.Updated, j.Issued = s.String(), time.Now().UTC(), issued
	if s == StateRollingBack && cause != nil {
		j.Error = a.redactLocked(cause.Error())
	}
	serial, err := a.Lock.PutRotation(context.Background(), a.State.Serial, j)
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	a.State.Serial = serial
	a.State.Rotations[j.Secret] = j
	return nil
}

// forget drops a rotation's journal entry.
func (a *Applier) forget(j *state.Rotation) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if cur, ok := a.State.Rotations[j.Secret]; !ok || cur.ID != j.ID {
		return
	}
	serial, err := a.Lock.DeleteRotation(context.Background(), a.State.Serial, j.Secret)
	if err != nil {
		a.logger().Error("journal: cannot clear a finished rotation", "secret", j.Secret, "error", err)
		return
	}
	a.State.Serial = serial
	delete(a.State.Rotations, j.Secret)
}

func (a *Applier) audit(w *work, step state.Step, outcome, detail string) {
	if a.Audit == nil {
		return
	}
	err := a.Audit.Append(state.AuditRecord{
		Time: time.Now().UTC(), Operator: a.Who, Secret: w.secret.Address(), Rotation: w.id,
		Action: w.action.String(), Step: step, Outcome: outcome, Detail: a.redact(detail),
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
		e.Time = time.Now()
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	e.Message = a.redactLocked(e.Message)
	a.Events(e)
}

func (a *Applier) hook(secret string, step state.Step, done bool) {
	if a.AfterStep != nil {
		a.AfterStep(secret, step, done)
	}
}

// remember records a value this apply handles, so redact can take it out
// of anything printed or written.
func (a *Applier) remember(v sensitive.Value) {
	if v.IsEmpty() {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.seen = append(a.seen, v)
}

// redact replaces every value this apply handled with (sensitive). Errors
// are built not to hold values; this is the last guard before a message
// reaches the operator, the audit log or the journal.
func (a *Applier) redact(s string) string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.redactLocked(s)
}

func (a *Applier) redactLocked(s string) string {
	if s == "" {
		return s
	}
	for _, v := range a.seen {
		if r := v.Reveal(); len(r) >= 4 && strings.Contains(s, r) {
			s = strings.ReplaceAll(s, r, sensitive.Redacted)
		}
	}
	return s
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

func (a *Applier) journalOf(name string) *state.Rotation {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.State.Rotations[name]
}

// now is the time stores record.
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

func (a *Applier) stopTimeout() time.Duration {
	if a.StopTimeout <= 0 {
		return DefaultStopTimeout
	}
	return a.StopTimeout
}

// newID names a rotation or another change in the journal and the audit
// log: sortable by time, unique by chance.
func newID(now time.Time) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return "r-" + now.UTC().Format("20060102T150405") + "-" + hex.EncodeToString(b)
}
