package views

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/rotplan/rotplan/planner"
)

// PlanHuman writes the plan for a person: each action with its reason,
// store, targets and checks, then warnings, errors and a one-line summary.
func PlanHuman(w io.Writer, p *planner.Plan, color bool) {
	c := palette(color)
	var actions, warnings, errs []*planner.Change
	for _, ch := range p.Changes {
		switch {
		case ch.Status == planner.StatusError:
			errs = append(errs, ch)
		case ch.Action != planner.NoOp:
			actions = append(actions, ch)
		}
		if ch.Action == planner.NoOp && (ch.Status == planner.StatusDueSoon || ch.Status == planner.StatusInProgress) || len(ch.Warnings) > 0 {
			warnings = append(warnings, ch)
		}
	}

	at := p.At.UTC().Format("2006-01-02 15:04 MST")
	if r := p.RunningApply; r != nil {
		fmt.Fprintf(w, "%s an apply is running: %s, since %s. What it is doing shows as in progress.\n\n", c.yellow("Note:"), r.Holder, r.Since.UTC().Format(time.RFC3339))
	}
	switch {
	case len(actions) == 0 && len(errs) == 0 && len(warnings) == 0:
		fmt.Fprintf(w, "No changes. As of %s every secret is current and in sync.\n", at)
	case len(actions) == 0:
		below := "the warnings and errors"
		if len(errs) == 0 {
			below = "the warnings"
		} else if len(warnings) == 0 {
			below = "the errors"
		}
		fmt.Fprintf(w, "No actions as of %s; see %s below.\n", at, below)
	default:
		fmt.Fprintf(w, "rotplan will perform these actions, as of %s:\n", at)
		for _, ch := range actions {
			fmt.Fprintln(w)
			writeAction(w, ch, c)
		}
	}

	if len(warnings) > 0 {
		fmt.Fprintf(w, "\n%s\n", c.bold(c.yellow("Warnings:")))
		for _, ch := range warnings {
			lines := ch.Warnings
			if ch.Status == planner.StatusDueSoon || ch.Status == planner.StatusInProgress {
				lines = append([]string{ch.Reason}, lines...)
			}
			for _, l := range lines {
				fmt.Fprintf(w, "  %s %s (%s): %s\n", c.yellow("!"), ch.Address, ch.Status, l)
			}
		}
	}
	if len(errs) > 0 {
		fmt.Fprintf(w, "\n%s\n", c.bold(c.red("Errors:")))
		for _, ch := range errs {
			fmt.Fprintf(w, "  %s %s: %s\n", c.red("x"), ch.Address, ch.Error)
		}
	}

	fmt.Fprintf(w, "\n%s\n", c.bold(Summary(p)))
	if n := p.Count().Errors; n > 0 {
		fmt.Fprintf(w, "%s could not be planned; see the errors above.\n", CountNoun(n, "secret"))
	}
}

// Summary is the plan's one-line count.
func Summary(p *planner.Plan) string {
	n := p.Count()
	var parts []string
	if n.Create > 0 {
		parts = append(parts, fmt.Sprintf("%d to create", n.Create))
	}
	parts = append(parts, fmt.Sprintf("%d to rotate", n.Rotate), fmt.Sprintf("%d to sync", n.Sync), fmt.Sprintf("%d to retire", n.Retire))
	if n.Resume > 0 {
		parts = append(parts, fmt.Sprintf("%d to resume", n.Resume))
	}
	if n.Rollback > 0 {
		parts = append(parts, fmt.Sprintf("%d to roll back", n.Rollback))
	}
	parts = append(parts, fmt.Sprintf("%d unchanged", n.Unchanged))
	return "Plan: " + strings.Join(parts, ", ") + "."
}

// actionLine is how the heading of each kind of action reads.
func actionLine(ch *planner.Change, c palette) string {
	switch {
	case ch.Manual && (ch.Action == planner.Create || ch.Action == planner.Rotate):
		return c.cyan("?") + " " + c.bold(ch.Address) + " waits for a person to make its new value"
	case ch.Action == planner.Create:
		return c.green("+") + " " + c.bold(ch.Address) + " will be created"
	case ch.Action == planner.Rotate:
		return c.yellow("~") + " " + c.bold(ch.Address) + " will be rotated"
	case ch.Action == planner.Sync:
		return c.cyan(">") + " " + c.bold(ch.Address) + " will be synced to its targets"
	case ch.Action == planner.Retire && ch.Status == planner.StatusDrifted:
		return c.red("-") + " " + c.bold(ch.Address) + " will retire credentials rotplan did not make"
	case ch.Action == planner.Retire:
		return c.red("-") + " " + c.bold(ch.Address) + " will retire its previous value"
	case ch.Action == planner.Resume:
		return c.yellow("*") + " " + c.bold(ch.Address) + " will resume its interrupted rotation"
	case ch.Action == planner.Rollback:
		return c.red("<") + " " + c.bold(ch.Address) + " will finish rolling back its failed rotation"
	}
	return ch.Address
}

func writeAction(w io.Writer, ch *planner.Change, c palette) {
	fmt.Fprintf(w, "  %s (%s)\n", actionLine(ch, c), ch.Status)
	fmt.Fprintf(w, "      %s\n", ch.Reason)
	field := func(name, text string) {
		fmt.Fprintf(w, "      %-9s %s\n", name+":", strings.ReplaceAll(strings.TrimSpace(text), "\n", "\n"+strings.Repeat(" ", 16)))
	}
	if ch.RetireFirst {
		field("first", "retires its previous value: "+ch.RetireReason)
		if ch.RevokeInstructions != "" {
			field("revoke", ch.RevokeInstructions)
		}
	}
	switch {
	case ch.Action == planner.Retire && ch.RevokeInstructions != "":
		field("how", ch.RevokeInstructions)
	case ch.Action != planner.Retire && ch.Instructions != "":
		field("how", ch.Instructions)
	}
	fmt.Fprintf(w, "      %-9s %s\n", "store:", ch.Store)
	if ch.Action == planner.Create || ch.Action == planner.Rotate {
		fmt.Fprintf(w, "      %-9s %s\n", "generate:", ch.Generate)
	}
	if len(ch.Targets) > 0 {
		parts := make([]string, len(ch.Targets))
		for i, t := range ch.Targets {
			parts[i] = t.Address
			switch t.Action {
			case planner.Deliver:
				parts[i] += " (deliver)"
			case planner.Retire:
				parts[i] += " (drop previous)"
				if t.Unknown > 0 {
					parts[i] = t.Address + " (drop previous and " + CountNoun(t.Unknown, "unknown credential") + ")"
				}
			}
		}
		fmt.Fprintf(w, "      %-9s %s\n", "targets:", strings.Join(parts, ", "))
	}
	if len(ch.Checks) > 0 && ch.Action != planner.Retire {
		fmt.Fprintf(w, "      %-9s %s\n", "checks:", strings.Join(ch.Checks, ", "))
	}
	if len(ch.Needs) > 0 {
		fmt.Fprintf(w, "      %-9s %s\n", "after:", strings.Join(ch.Needs, ", "))
	}
	for _, note := range ch.Notes {
		fmt.Fprintf(w, "      %-9s %s\n", "note:", note)
	}
}

// CountNoun writes "1 secret", "2 secrets".
func CountNoun(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
