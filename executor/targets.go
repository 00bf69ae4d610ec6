package executor

import (
	"context"
	"fmt"

	"github.com/rotplan/rotplan/config"
	"github.com/rotplan/rotplan/executor/state"
	"github.com/rotplan/rotplan/internal/sensitive"
	"github.com/rotplan/rotplan/providers"
)

// targetRole tells the targets that check logins with a value (a database
// role, a Redis user) from those that hold copies of it (an env file).
type targetRole bool

const (
	authenticating targetRole = true
	holdingCopies  targetRole = false
)

// writeOp is what a batch of writes does at targets.
type writeOp int

const (
	deliverOp writeOp = iota // hold value, keep other (the old) where dual
	revertOp                 // hold other (the old) again, drop value
	retireOp                 // drop other (the previous), keep only value
)

// hasTargets reports whether the secret has targets of the given role.
func (w *work) hasTargets(role targetRole) bool {
	for _, t := range w.secret.Targets {
		if t.Schema != nil && t.Schema.Authenticates == bool(role) {
			return true
		}
	}
	return false
}

// retire removes previous values: from the targets, copies first and then
// the systems that check logins, then from the stores. A retire whose
// revocation only a person can do, and which they did not confirm, waits.
func (a *Applier) retire(ctx context.Context, ws []*work) {
	var ready []*work
	for _, w := range ws {
		if w.revokeInstructions() != "" && !w.confirmed {
			_ = w.advance(StateSkipped, fmt.Errorf("%w: retire waits for the confirmation that the previous value is revoked; run apply on a terminal, or apply -revoked %s once it is", errWaiting, w.secret.Address()))
			continue
		}
		ready = append(ready, w)
	}
	a.each(ready, func(w *work) { w.prepare(ctx) })
	ready = filter(ready, func(w *work) bool { return w.state == StatePlanned })
	a.batch(ready, state.StepRetire, StateRetired, func(ws []*work) map[*work]error {
		errs := map[*work]error{}
		for _, role := range []targetRole{holdingCopies, authenticating} {
			for w, err := range a.writeTargets(ctx, without(ws, errs), role, retireOp) {
				errs[w] = err
			}
		}
		for _, w := range without(ws, errs) {
			// The issuer revokes the previous value before the store lets
			// it go: the store is the last place that names it.
			if !w.other.IsEmpty() {
				if err := w.revokeMinted(ctx, w.other); err != nil {
					errs[w] = err
					continue
				}
			}
			if _, err := w.store.RetirePrevious(ctx, providers.RetirePreviousRequest{Secret: w.ref}); err != nil {
				errs[w] = fmt.Errorf("retire in store %s: %w", w.secret.Store.Type, err)
			}
		}
		return errs
	})
}

// rollback returns every target of the given rotations to the old value,
// copies first and then the systems that check logins, and discards the
// candidates; the stores' current values were never touched. The store
// marks each candidate failed first, so a plan made while this runs, or
// after it was cut short, says "rolling back". A rollback runs to its own
// deadline, whatever interrupted apply: it is what leaves every target
// working.
func (a *Applier) rollback(ctx context.Context, ws []*work) {
	if len(ws) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), a.stopTimeout())
	defer cancel()
	for _, w := range ws {
		if m, ok := w.store.(providers.FailureMarker); ok {
			if _, err := m.MarkFailed(ctx, providers.MarkFailedRequest{Secret: w.ref, Rotation: w.j.ID}); err != nil {
				a.logger().Warn("cannot mark the failed value in the store; rolling back anyway", "secret", w.secret.Address(), "error", a.redact(err.Error()))
			}
		}
	}
	causes := make(map[*work]error, len(ws))
	for _, w := range ws {
		causes[w] = w.err
	}
	for _, w := range ws {
		w.begin(state.StepRollback)
	}
	errs := map[*work]error{}
	// A failed first rotation has no old value to go back to; the targets
	// still drop the candidate, each as it can.
	for _, role := range []targetRole{holdingCopies, authenticating} {
		for w, err := range a.writeTargets(ctx, without(ws, errs), role, revertOp) {
			errs[w] = err
		}
	}
	for _, w := range without(ws, errs) {
		if _, err := w.store.Discard(ctx, providers.DiscardRequest{Secret: w.ref, Rotation: w.j.ID}); err != nil {
			errs[w] = fmt.Errorf("discard in store %s: %w", w.secret.Store.Type, err)
			continue
		}
		// A minted candidate is revoked once no target and no store
		// holds it; if the revoke fails, the journal keeps the rollback
		// and the next apply sweeps it.
		if err := w.revokeMinted(ctx, w.value); err != nil {
			errs[w] = err
		}
	}
	for _, w := range ws {
		if err := errs[w]; err != nil {
			w.fail(state.StepRollback, fmt.Errorf("%w; rollback failed too, run apply again to finish it: %v", causes[w], err))
			continue
		}
		a.setCandidate(w.secret.Name, sensitive.Value{})
		_ = w.advance(StateRolledBack, causes[w])
	}
}

// writeTargets sends one operation to the targets of the given role of
// every work: one call per provider instance for all of them. It returns the
// works that failed.
func (a *Applier) writeTargets(ctx context.Context, ws []*work, role targetRole, op writeOp) map[*work]error {
	type entry struct {
		w    *work
		item providers.WriteItem
	}
	errs := map[*work]error{}
	records := map[*work]map[string]string{}
	byInstance := map[instanceKey][]entry{}
	first := map[instanceKey]*config.Block{} // a block the instance serves
	var keys []instanceKey
	for _, w := range ws {
		value, other := w.value, w.other
		if op == revertOp {
			value, other = w.other, w.value // the old value back; the candidate dropped
		}
		var mine []entry
		var blocks []*config.Block
		for _, t := range w.secret.Targets {
			if t.Schema == nil || t.Schema.Authenticates != bool(role) {
				continue
			}
			cfg, err := w.decode(ctx, t, sensitive.Value{})
			var v, prev sensitive.Value
			if err == nil {
				v, err = fieldOf(t, value)
			}
			if err == nil {
				prev, err = fieldOf(t, other)
			}
			if err != nil {
				errs[w] = err
				break
			}
			mine = append(mine, entry{w, providers.WriteItem{Secret: w.secret.Name, Target: t.Address(), Config: cfg, Value: v, Previous: prev, Recorded: w.records[t.Address()]}})
			blocks = append(blocks, t)
		}
		if errs[w] != nil {
			continue
		}
		for i, e := range mine {
			key := keyOf(blocks[i])
			if first[key] == nil {
				first[key] = blocks[i]
				keys = append(keys, key)
			}
			byInstance[key] = append(byInstance[key], e)
		}
	}
	for _, key := range keys {
		entries, typ := byInstance[key], key.typ
		fail := func(err error) {
			for _, e := range entries {
				if errs[e.w] == nil {
					errs[e.w] = err
				}
			}
		}
		tgt, err := a.Providers.Target(entries[0].w.inv, first[key])
		if err != nil {
			fail(err)
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
			e := entries[i]
			if r.Err != nil && errs[e.w] == nil {
				errs[e.w] = fmt.Errorf("%s: %w", e.item.Target, r.Err)
			}
			if r.Err == nil && r.Record != "" {
				if records[e.w] == nil {
					records[e.w] = map[string]string{}
				}
				records[e.w][e.item.Target] = r.Record
			}
		}
	}
	// What the targets hold now is recorded in each secret's store, for
	// plan to compare with (a Fly app's digests).
	for _, w := range ws {
		if r := records[w]; r != nil {
			w.record(ctx, r)
		}
	}
	return errs
}
