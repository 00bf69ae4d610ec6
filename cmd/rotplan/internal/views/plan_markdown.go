package views

import (
	"fmt"
	"io"
	"strings"

	"github.com/rotplan/rotplan/planner"
)

// PlanMarkdown writes the plan as a pull request comment: the summary, a
// table of actions, then warnings and errors.
func PlanMarkdown(w io.Writer, p *planner.Plan) {
	fmt.Fprintf(w, "### rotplan plan\n\n**%s**", Summary(p))
	if n := p.Count().Errors; n > 0 {
		fmt.Fprintf(w, " %s could not be planned.", CountNoun(n, "secret"))
	}
	fmt.Fprintf(w, "\n\nEvaluated as of %s.\n", p.At.UTC().Format("2006-01-02 15:04 MST"))
	if r := p.RunningApply; r != nil {
		fmt.Fprintf(w, "\n:hourglass: An apply is running: %s, since %s.\n", cell(r.Holder), r.Since.UTC().Format("2006-01-02 15:04 MST"))
	}

	var rows, notes []string
	for _, ch := range p.Changes {
		if ch.Action != planner.NoOp {
			targets := make([]string, len(ch.Targets))
			for i, t := range ch.Targets {
				targets[i] = "`" + t.Address + "`"
			}
			reason := ch.Reason
			if ch.RetireFirst {
				reason += "<br>First retires its previous value: " + ch.RetireReason
				if ch.RevokeInstructions != "" {
					reason += "<br>Revoke: " + ch.RevokeInstructions
				}
			}
			switch {
			case ch.Action == planner.Retire && ch.RevokeInstructions != "":
				reason += "<br>How: " + ch.RevokeInstructions
			case ch.Action != planner.Retire && ch.Instructions != "":
				reason += "<br>How: " + ch.Instructions
			}
			rows = append(rows, fmt.Sprintf("| `%s` | %s | %s | %s | %s |",
				ch.Address, ch.Action, ch.Status, cell(reason), cell(strings.Join(targets, ", "))))
		}
		switch {
		case ch.Status == planner.StatusError:
			notes = append(notes, fmt.Sprintf("- :x: `%s`: %s", ch.Address, cell(ch.Error)))
		case ch.Action == planner.NoOp && (ch.Status == planner.StatusDueSoon || ch.Status == planner.StatusInProgress):
			notes = append(notes, fmt.Sprintf("- :warning: `%s` (%s): %s", ch.Address, ch.Status, cell(ch.Reason)))
		}
		for _, warning := range ch.Warnings {
			notes = append(notes, fmt.Sprintf("- :warning: `%s`: %s", ch.Address, cell(warning)))
		}
	}
	switch {
	case len(rows) == 0 && len(notes) == 0:
		fmt.Fprintln(w, "\nNo changes: every secret is current and in sync.")
	case len(rows) == 0:
		fmt.Fprintln(w, "\nNo actions; see the notes below.")
	default:
		fmt.Fprintln(w, "\n| Secret | Action | Status | Why | Targets |")
		fmt.Fprintln(w, "|---|---|---|---|---|")
		for _, r := range rows {
			fmt.Fprintln(w, r)
		}
	}
	if len(notes) > 0 {
		fmt.Fprintln(w)
		for _, n := range notes {
			fmt.Fprintln(w, n)
		}
	}
}

// cell escapes text for a Markdown table cell.
func cell(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", "<br>", "\r", "").Replace(s)
}
