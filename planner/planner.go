package planner

import (
	"fmt"
	"strings"
	"time"

	"github.com/rotplan/rotplan/config"
	"github.com/rotplan/rotplan/internal/dag"
)

// Options narrow or force a plan.
type Options struct {
	// Targets limits the plan to these secrets (by name), what they need,
	// and what must rotate with them. Empty means every secret.
	Targets []string
	// Replace forces these secrets (by name) to rotate.
	Replace []string
}

// Order returns the inventory's secrets in dependency order: each after the
// secrets it needs, ties kept in declaration order. config has already
// rejected cycles.
func Order(inv *config.Inventory) []*config.Secret {
	g := dag.New(len(inv.Secrets))
	for _, s := range inv.Secrets {
		for _, name := range s.Needs() {
			g.AddEdge(inv.Secret(name).Index, s.Index)
		}
	}
	order, _ := g.Sort()
	out := make([]*config.Secret, len(order))
	for i, n := range order {
		out[i] = inv.Secrets[n]
	}
	return out
}

// Make decides what each secret needs as of now.
func Make(inv *config.Inventory, obs *Observations, now time.Time, opts Options) (*Plan, error) {
	for _, list := range [][]string{opts.Targets, opts.Replace} {
		for _, name := range list {
			if inv.Secret(name) == nil {
				return nil, fmt.Errorf("secret.%s is not declared in the inventory", name)
			}
		}
	}
	replace := setOf(opts.Replace)
	inScope := scope(inv, opts)

	plan := &Plan{At: now, RunningApply: obs.RunningApply}
	changed := map[string]*Change{} // the secrets that get a new value
	for _, s := range Order(inv) {
		c := newChange(s)
		o := obs.Secrets[s.Name]
		assess(c, s, o, now, replace[s.Name], obs.RunningApply)

		// A secret made from another is made again when that one changes.
		for _, from := range s.Derives {
			src := changed[from]
			if src == nil {
				continue
			}
			because := fmt.Sprintf("derived from %s, which gets a new value", src.Address)
			switch {
			case upgradable(c):
				c.Status, c.Action, c.Reason = StatusDue, Rotate, because
				if c.Manual {
					c.Status = StatusManual
				}
				retireFirst(c, s, o, now)
			case c.Action == Rotate:
				c.Reason += "; also " + because
			default:
				continue
			}
			c.Cause = src.Address
			break
		}
		if !inScope[s.Name] && c.Cause == "" {
			continue
		}
		if c.Action == Create || c.Action == Rotate || c.Action == Resume {
			changed[s.Name] = c
			for i, t := range s.Targets {
				c.Targets[i].Action = Deliver
				if t.Schema != nil && t.Schema.RotationNote != nil && t.Config.IsWhollyKnown() {
					if note := t.Schema.RotationNote(t.Config); note != "" {
						c.Notes = append(c.Notes, t.Address()+": "+note)
					}
				}
				if n := c.Targets[i].Unknown; n > 0 {
					c.Notes = append(c.Notes, fmt.Sprintf("%s already accepts %s that rotplan did not make; plan reports it until a retire removes it", t.Address(), credentials(n)))
				}
			}
		}
		plan.Changes = append(plan.Changes, c)
	}
	return plan, nil
}

func newChange(s *config.Secret) *Change {
	c := &Change{
		Secret:    s.Name,
		Address:   s.Address(),
		Frequency: s.Frequency,
		Grace:     s.Grace,
	}
	if s.Store != nil {
		c.Store = s.Store.Type
	}
	if s.Generate != nil {
		c.Generate = s.Generate.Type
		c.Manual = s.Generate.Schema != nil && s.Generate.Schema.Manual
		c.Instructions = s.Generate.StringAttr("instructions")
		c.RevokeInstructions = s.Generate.StringAttr("revoke_instructions")
	}
	for _, t := range s.Targets {
		c.Targets = append(c.Targets, TargetChange{Address: t.Address()})
	}
	for _, v := range s.Verify {
		c.Checks = append(c.Checks, v.Address())
	}
	for _, n := range s.Needs() {
		c.Needs = append(c.Needs, "secret."+n)
	}
	return c
}

// assess sets a change's status, action and reason from what was observed.
// The first condition that holds wins, most urgent first.
func assess(c *Change, s *config.Secret, o *SecretObservation, now time.Time, replace bool, running *RunningApply) {
	if o == nil {
		c.Status, c.Error = StatusError, "not observed"
		c.Reason = c.Error
		return
	}
	for i, t := range o.Targets {
		if i < len(c.Targets) {
			c.Targets[i].Holds, c.Targets[i].Unknown, c.Targets[i].Error = t.Holds, t.Unknown, t.Err
		}
	}
	if o.Err != "" {
		c.Status, c.Error, c.Reason = StatusError, o.Err, o.Err
		return
	}
	for _, t := range o.Targets {
		if t.Err != "" {
			c.Status, c.Error = StatusError, t.Address+": "+t.Err
			c.Reason = c.Error
			return
		}
	}

	if o.Exists {
		c.RotatedAt = o.CurrentCreatedAt
		if !o.RotatedAt.IsZero() {
			c.RotatedAt = o.RotatedAt
		}
		c.DueAt = c.RotatedAt.Add(s.Frequency)
	}
	if o.Previous != nil {
		c.RetireAfter = o.Previous.RetireAfter
	}
	age := now.Sub(c.RotatedAt)
	soon := c.DueAt.Add(-s.Notice)
	if o.Exists && age < 0 {
		c.Warnings = append(c.Warnings, fmt.Sprintf("the store says the value was rotated on %s, after the time this plan is evaluated as of; check the clocks, or plan with a later -at", day(c.RotatedAt)))
		age = 0
	}

	switch {
	case o.Pending != nil && o.Pending.Resumable && running != nil:
		c.Status = StatusInProgress
		doing := "rotating it"
		if o.Pending.Failed {
			doing = "rolling back its failed rotation"
		}
		c.Reason = fmt.Sprintf("an apply is running and %s: %s, since %s", doing, running.Holder, running.Since.UTC().Format(time.RFC3339))
	case o.Pending != nil && o.Pending.Failed:
		c.Status, c.Action = StatusInProgress, Rollback
		c.Reason = fmt.Sprintf("rolling back: a check of the value staged on %s failed and the rollback did not finish; apply finishes it (targets back to the current value, the failed value discarded)", day(o.Pending.CreatedAt))
	case o.Pending != nil && o.Pending.Resumable:
		c.Status, c.Action = StatusInProgress, Resume
		c.Reason = fmt.Sprintf("a rotation staged a new value on %s and was interrupted; apply resumes it", day(o.Pending.CreatedAt))
	case o.Pending != nil:
		c.Status = StatusInProgress
		c.Reason = fmt.Sprintf("the store holds a pending value from %s that this rotplan did not stage: another rotation is under way; finish or cancel it before rotating here", day(o.Pending.CreatedAt))
	case o.ManagedBy != "":
		c.Status = StatusOK
		c.Reason = fmt.Sprintf("rotation is managed by %s; rotplan leaves it alone", o.ManagedBy)
	case !o.Exists:
		c.Status, c.Action = StatusMissing, Create
		c.Reason = "the store holds no value yet"
		if c.Manual {
			c.Status = StatusManual
			c.Reason += "; a person must create it"
		}
	case replace:
		c.Status, c.Action = StatusDue, Rotate
		c.Reason = "replacement requested with -replace"
		if c.Manual {
			c.Status = StatusManual
		}
		retireFirst(c, s, o, now)
	case !now.Before(c.DueAt):
		c.Status, c.Action = StatusDue, Rotate
		c.Reason = fmt.Sprintf("rotated %s ago on %s, every %s: due since %s", ago(age), day(c.RotatedAt), config.FormatDuration(s.Frequency), day(c.DueAt))
		if c.Manual {
			c.Status = StatusManual
			c.Reason += "; a person must create the new value"
		}
		retireFirst(c, s, o, now)
	default:
		c.Status = StatusOK
		c.Reason = fmt.Sprintf("rotated %s ago on %s, every %s: next due %s", ago(age), day(c.RotatedAt), config.FormatDuration(s.Frequency), day(c.DueAt))
		dueSoon := !now.Before(soon)
		if dueSoon {
			c.Status = StatusDueSoon
			c.Reason = fmt.Sprintf("due on %s, in %s (rotated %s ago on %s, every %s)", day(c.DueAt), ago(c.DueAt.Sub(now)), ago(age), day(c.RotatedAt), config.FormatDuration(s.Frequency))
		}
		if drift := drifted(c); drift != "" {
			if dueSoon {
				c.Warnings = append(c.Warnings, c.Reason)
			}
			c.Status, c.Action, c.Reason = StatusDrifted, Sync, drift
			for i := range c.Targets {
				if c.Targets[i].Holds == HoldsOther || c.Targets[i].Holds == HoldsNothing {
					c.Targets[i].Action = Deliver
				}
			}
		} else if o.Previous != nil && !now.Before(o.Previous.RetireAfter) {
			if dueSoon {
				c.Warnings = append(c.Warnings, c.Reason)
			}
			c.Status, c.Action = StatusRetiring, Retire
			c.Reason = fmt.Sprintf("the previous value's grace of %s ended on %s", config.FormatDuration(s.Grace), day(o.Previous.RetireAfter))
			if unknown := unknownCredentials(c); unknown != "" {
				c.Reason += "; also " + unknown
			}
			if c.RevokeInstructions != "" {
				c.Reason += "; retire: waiting for the operator's confirmation that it is revoked"
			}
			for i := range c.Targets {
				c.Targets[i].Action = Retire // drop the previous value wherever it is still held
			}
		} else if unknown := unknownCredentials(c); unknown != "" {
			if dueSoon {
				c.Warnings = append(c.Warnings, c.Reason)
			}
			c.Status, c.Action, c.Reason = StatusDrifted, Retire, unknown+"; retire removes it"
			for i := range c.Targets {
				if c.Targets[i].Unknown > 0 {
					c.Targets[i].Action = Retire
				}
			}
		}
	}
}

// retireFirst makes a rotation retire the previous value the store still
// holds before the new value takes its slot, so that value is never
// dropped without being retired (and, for a manual secret, revoked).
func retireFirst(c *Change, s *config.Secret, o *SecretObservation, now time.Time) {
	if o == nil || o.Previous == nil {
		return
	}
	c.RetireFirst = true
	if !now.Before(o.Previous.RetireAfter) {
		c.RetireReason = fmt.Sprintf("the previous value's grace of %s ended on %s", config.FormatDuration(s.Grace), day(o.Previous.RetireAfter))
	} else {
		c.RetireReason = fmt.Sprintf("the previous value's grace runs until %s; the rotation needs its slot, so it is retired early", o.Previous.RetireAfter.UTC().Format("2006-01-02 15:04 MST"))
	}
	if c.RevokeInstructions != "" {
		c.RetireReason += "; the operator confirms it is revoked first"
	}
}

// unknownCredentials describes the targets that accept credentials rotplan
// did not make.
func unknownCredentials(c *Change) string {
	var parts []string
	for _, t := range c.Targets {
		if t.Unknown > 0 {
			parts = append(parts, fmt.Sprintf("%s accepts %s that rotplan did not make", t.Address, credentials(t.Unknown)))
		}
	}
	return strings.Join(parts, "; ")
}

func credentials(n int) string {
	if n == 1 {
		return "1 credential"
	}
	return fmt.Sprintf("%d credentials", n)
}

// drifted describes the targets that do not hold the store's current value.
func drifted(c *Change) string {
	var parts []string
	for _, t := range c.Targets {
		switch t.Holds {
		case HoldsOther:
			parts = append(parts, t.Address+" holds a different value")
		case HoldsNothing:
			parts = append(parts, t.Address+" holds no value")
		}
	}
	return strings.Join(parts, "; ")
}

// upgradable reports whether a change may be turned into a rotation because
// a secret it derives from changes.
func upgradable(c *Change) bool {
	switch c.Status {
	case StatusOK, StatusDueSoon, StatusDrifted, StatusRetiring:
		return true
	}
	return false
}

// scope is the set of secrets a targeted plan covers: the targets and,
// transitively, what they need. Secrets that must rotate with one in scope
// join during planning.
func scope(inv *config.Inventory, opts Options) map[string]bool {
	in := make(map[string]bool, len(inv.Secrets))
	if len(opts.Targets) == 0 {
		for _, s := range inv.Secrets {
			in[s.Name] = true
		}
		return in
	}
	stack := append(append([]string(nil), opts.Targets...), opts.Replace...)
	for len(stack) > 0 {
		name := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if in[name] {
			continue
		}
		in[name] = true
		stack = append(stack, inv.Secret(name).Needs()...)
	}
	return in
}

func setOf(names []string) map[string]bool {
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[n] = true
	}
	return m
}

// day writes a date the way the plan shows dates.
func day(t time.Time) string { return t.UTC().Format("2006-01-02") }

// ago writes a duration in the largest whole unit people read easily.
func ago(d time.Duration) string {
	switch {
	case d >= 2*config.Day:
		return plural(int(d/config.Day), "day")
	case d >= 2*time.Hour:
		return plural(int(d/time.Hour), "hour")
	case d >= 2*time.Minute:
		return plural(int(d/time.Minute), "minute")
	default:
		return plural(int(d/time.Second), "second")
	}
}

func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return fmt.Sprintf("%d %ss", n, unit)
}
