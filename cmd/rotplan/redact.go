package main

import (
	"github.com/rotplan/rotplan/config"
	"github.com/rotplan/rotplan/planner"
)

// redactPlan takes out of the plan's texts what env() and file() read for
// settings that are not public, in an untrusted inventory: a provider's
// error made while observing may quote its configuration. Addresses and
// type names come from the inventory's labels and need no redaction.
func redactPlan(plan *planner.Plan, inv *config.Inventory) {
	for _, c := range plan.Changes {
		for _, s := range []*string{&c.Reason, &c.Error, &c.Instructions, &c.RevokeInstructions, &c.RetireReason} {
			*s = inv.Redact(*s)
		}
		for i := range c.Notes {
			c.Notes[i] = inv.Redact(c.Notes[i])
		}
		for i := range c.Warnings {
			c.Warnings[i] = inv.Redact(c.Warnings[i])
		}
		for i := range c.Targets {
			c.Targets[i].Error = inv.Redact(c.Targets[i].Error)
		}
	}
}
